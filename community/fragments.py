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
import threading
from collections import OrderedDict
from collections.abc import Callable

from flask import current_app
from markupsafe import Markup, escape

# Marks a slot in a rendered fragment. Never in content: the request class
# drops NUL from every form field, and `clean` replaces any that got in otherwise.
SLOT = "\x00"

# What the memo may hold, in characters of HTML (each fragment counted twice:
# its key holds the content too). A typical post is ~3,000; a 20,000-character
# one counts ~90,000. Bounded by size, not count, so long posts can't make the
# memo a worker's biggest cost (the bench's budget is 150 MB a worker).
MEMO_CHARS = 8_000_000


class Slots:
    """What a template writes for a slot: {{ slot.csrf }} marks the slot 'csrf'."""

    def __getattr__(self, name: str) -> Markup:
        return Markup("\x00{}\x00").format(name)


def clean(text: str) -> str:
    return text.replace(SLOT, "\ufffd")


class Memo:
    """The most recently used fragments, up to `limit` characters."""

    def __init__(self, limit: int):
        self.limit, self.size = limit, 0
        self.items: OrderedDict[tuple, tuple[tuple[str, ...], int]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple) -> tuple[str, ...] | None:
        # No lock: each OrderedDict call is atomic, and a hit is most of a page's calls.
        found = self.items.get(key)
        if found is None:
            return None
        try:
            self.items.move_to_end(key)
        except KeyError:  # put() by another thread evicted it just now
            pass
        return found[0]

    def put(self, key: tuple, parts: tuple[str, ...]) -> None:
        size = 2 * sum(map(len, parts))
        with self.lock:
            if size > self.limit or key in self.items:
                return
            self.items[key] = (parts, size)
            self.size += size
            while self.size > self.limit:
                self.size -= self.items.popitem(last=False)[1][1]


MEMO = Memo(MEMO_CHARS)


def kept(template: str, context_of: Callable[[tuple], dict], key: tuple, slots: dict[str, str]) -> Markup:
    """The template rendered with context_of(key), from the memo, its slots filled from `slots`.

    context_of must depend on nothing but the key (it runs only when the key is new).
    """
    memo_key = (template, context_of, key)
    parts = MEMO.get(memo_key)
    if parts is None:
        parts = _render(template, context_of(key))
        MEMO.put(memo_key, parts)
    out = list(parts)
    out[1::2] = [escape(slots[name]) for name in parts[1::2]]
    # Jinja's autoescaped output, and slot values escaped just above.
    return Markup("".join(out))  # nosec B704


def _render(template: str, context: dict) -> tuple[str, ...]:
    """[html, slot name, html, slot name, ..., html]"""
    html = current_app.jinja_env.get_template(template).render(**context, slot=Slots())
    return tuple(html.split(SLOT))
