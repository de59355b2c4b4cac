"""Pieces of pages rendered once and kept, keyed by everything they show.

Most of a thread page is the same for every viewer with the same rights: its
posts, its reply form. Rendering them through Jinja on every request was most
of the page's cost. A kept fragment is rendered once per distinct *key* (a
tuple of everything the fragment shows) and kept in a memo: changed content is
a new key, so nothing is ever stale and nothing needs invalidating, and a key
can only be made by someone who already holds what the fragment shows.

What differs per request stays out of the key, as named *slots* filled in each
time: the session's CSRF token, times as "5 minutes ago" (now) or in the
viewer's timezone.
"""
from collections.abc import Callable
from functools import lru_cache

from flask import current_app
from markupsafe import Markup, escape

# Marks a slot in a rendered fragment. Never in content: the request class
# drops NUL from every form field, and `clean` replaces any that got in otherwise.
SLOT = "\x00"

# Fragments kept (the most recently used; a post is ~5 KB with its key).
MEMO_SIZE = 2048


class Slots:
    """What a template writes for a slot: {{ slot.csrf }} marks the slot 'csrf'."""

    def __getattr__(self, name: str) -> Markup:
        return Markup("\x00{}\x00").format(name)


def clean(text: str) -> str:
    return text.replace(SLOT, "\ufffd")


def kept(template: str, context_of: Callable[[tuple], dict], key: tuple, slots: dict[str, str]) -> Markup:
    """The template rendered with context_of(key), from the memo, its slots filled from `slots`.

    context_of must depend on nothing but the key (it runs only when the key is new).
    """
    parts = _render(template, context_of, key)
    out = list(parts)
    out[1::2] = [escape(slots[name]) for name in parts[1::2]]
    # Jinja's autoescaped output, and slot values escaped just above.
    return Markup("".join(out))  # nosec B704


@lru_cache(maxsize=MEMO_SIZE)
def _render(template: str, context_of: Callable[[tuple], dict], key: tuple) -> tuple[str, ...]:
    """[html, slot name, html, slot name, ..., html]"""
    html = current_app.jinja_env.get_template(template).render(**context_of(key), slot=Slots())
    return tuple(html.split(SLOT))
