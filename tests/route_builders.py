"""Werkzeug's URL builders, compiled once per rule for the whole test run.

Nearly every test builds its own app (create_app), and building an app adds its
~150 URL rules; for each, Werkzeug writes and compiles two small Python
functions (the rule's URL builders), which was most of create_app's time and,
in the policy matrices, about half of each test's. The function compiled depends
only on what is hashed below (the rule's parsed parts and its defaults' names,
no default standing in for a part), never on the app, so a rule added to a
second app reuses the first app's function, bound to its own Rule as Werkzeug
binds it. A rule whose default fills one of its parts (the default's value is
compiled in) is compiled afresh every time.

tests/test_compiled_once.py checks every rule of an app built with these against one
built without them, so a Werkzeug that compiles builders differently shows there.
Tests only: production builds its one app once.
"""
from werkzeug.routing.rules import Rule

_original = Rule._compile_builder
_compiled: dict = {}


def _compile_builder_once(self, append_unknown: bool = True):
    defaults = self.defaults or {}
    if any(is_dynamic and name in defaults for is_dynamic, name in self._trace):
        return _original(self, append_unknown)
    key = (append_unknown, self.rule, tuple(self._trace), tuple(defaults))
    builder = _compiled.get(key)
    if builder is None:
        builder = _compiled[key] = _original(self, append_unknown)
    return builder


def install() -> None:
    Rule._compile_builder = _compile_builder_once


def uninstall() -> None:
    Rule._compile_builder = _original
