"""Jinja's compiled templates, shared by every app of the test run.

Each test builds its own app and so its own Jinja environment, which parsed and
compiled each template the test rendered all over again: after the URL rules,
most of a short test's time. Jinja's bytecode cache (its documented way of
keeping compiled templates between environments) is given to every app here,
held in memory: a template is compiled once per run. Jinja checks each
template's source against the checksum the code was kept with, and the key
below holds what of an environment decides the code compiled (its syntax,
extensions and compile options), so an app configured otherwise compiles its own.
tests/test_compiled_once.py compares each template's code and pages with and without it.
Tests only: production builds its one app once, and compiles each template once.
"""
from flask import Flask
from jinja2 import BytecodeCache


class SharedTemplateCode(BytecodeCache):
    def __init__(self):
        self.code: dict = {}

    @staticmethod
    def _key(bucket) -> tuple:
        env = bucket.environment
        syntax = (env.block_start_string, env.block_end_string, env.variable_start_string,
                  env.variable_end_string, env.comment_start_string, env.comment_end_string,
                  env.line_statement_prefix, env.line_comment_prefix, env.trim_blocks,
                  env.lstrip_blocks, env.newline_sequence, env.keep_trailing_newline)
        autoescape = env.autoescape if isinstance(env.autoescape, bool) else "callable"
        return (bucket.key, syntax, tuple(sorted(env.extensions)), env.optimized,
                env.finalize is not None, autoescape, env.is_async)

    def load_bytecode(self, bucket) -> None:
        code = self.code.get(self._key(bucket))
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket) -> None:
        self.code[self._key(bucket)] = bucket.bytecode_to_string()


SHARED = SharedTemplateCode()
_original_options = Flask.jinja_options


def install() -> None:
    Flask.jinja_options = {**_original_options, "bytecode_cache": SHARED}


def uninstall() -> None:
    Flask.jinja_options = _original_options
