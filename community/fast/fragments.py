"""Pieces of pages rendered once and kept, keyed by everything they show.

Most of a thread page is the same for every viewer with the same rights: its
posts, its reply form, the page around them. Rendering them through Jinja on
every request was most of the page's cost. A kept fragment is rendered once per
distinct *key* (a tuple of everything the fragment shows) and kept in a memo:
changed content is a new key, so nothing is ever stale and nothing needs
invalidating, and a key can only be made by someone who already holds what the
fragment shows. A kept page (kept_page) is made of kept fragments put together.

What differs per request stays out of the key, as named *slots* filled in each
time: the session's CSRF token, times as "5 minutes ago" (now) or in the
viewer's timezone.
"""
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar

from flask import render_template, request, session
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


SLOT_MARKS = Slots()

# True while a kept fragment renders: whatever differs between viewers or
# requests must become a slot, not be written into HTML that others receive.
_rendering: ContextVar[bool] = ContextVar("kept_rendering", default=False)


def rendering_kept() -> bool:
    """Whether a kept fragment is being rendered: csrf_token() then writes the
    'csrf' slot, and the viewer's timezone may not be asked for."""
    return _rendering.get()


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

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.size = 0


MEMO = Memo(MEMO_CHARS)


# A rendered fragment: [html, slot name, html, slot name, ..., html].
Parts = tuple[str, ...]

# Slots that mean the same thing wherever they are: a fragment numbered into a
# page (numbered) keeps these names; its others get the fragment's number.
SHARED_SLOTS = frozenset({"csrf"})


def parts_of(template: str, context_of: Callable[[tuple], dict], key: tuple) -> Parts:
    """The template rendered with context_of(key), from the memo.

    context_of must depend on nothing but the key (it runs only when the key is new).
    """
    memo_key = (template, context_of, key)
    parts = MEMO.get(memo_key)
    if parts is None:
        parts = _render(template, context_of(key))
        MEMO.put(memo_key, parts)
    return parts


def kept_page(template: str, key: tuple, context: Callable[[], dict], slots: dict[str, str],
              inner: dict[str, Callable[[], Parts]] | None = None) -> bytes:
    """A whole page, rendered with context() once per key (and per endpoint and
    layout_state), its slots filled from `slots` on every request: the response
    body, in UTF-8. It is kept encoded: encoding an 80 KB page on every request
    cost more than filling it.

    The caller vouches that `key` holds everything the template shows from the
    context, and everything `inner` gives; what the shared layout shows beyond
    the context is in layout_state(). `inner` maps some of the page's slots to
    the parts to put in their place when the page is kept (say, its posts, as
    `numbered` kept fragments): their slots are filled along with the page's.
    A page with flashed messages to show is rendered afresh: they show once.
    """
    from ..templating import layout_state

    if "_flashes" in session:
        return _filled_utf8(_encoded(_spliced(_render(template, context()), inner or {})), slots)
    memo_key = (template, kept_page, request.endpoint, layout_state(), key)
    parts = MEMO.get(memo_key)
    if parts is None:
        parts = _encoded(_spliced(_render(template, context()), inner or {}))
        MEMO.put(memo_key, parts)
    return _filled_utf8(parts, slots)


def numbered(fragments: list[Parts]) -> Parts:
    """Fragments one after another, as one. Each one's slots get its number
    ("created_ago" in the third becomes "created_ago#2"), except SHARED_SLOTS."""
    out = [""]
    for number, parts in enumerate(fragments):
        out[-1] += parts[0]
        for i in range(1, len(parts), 2):
            name = parts[i]
            out += (name if name in SHARED_SLOTS else f"{name}#{number}", parts[i + 1])
    return tuple(out)


def _spliced(parts: Parts, inner: dict[str, Callable[[], Parts]]) -> Parts:
    out = [parts[0]]
    for i in range(1, len(parts), 2):
        name = parts[i]
        if name in inner:
            piece = inner[name]()
            out[-1] += piece[0]
            out += piece[1:]
            out[-1] += parts[i + 1]
        else:
            out += (name, parts[i + 1])
    return tuple(out)


def _filled_utf8(parts: tuple, slots: dict[str, str]) -> bytes:
    """The page: its _encoded parts with each slot's value, escaped (a Markup
    value is already safe), in UTF-8."""
    values = {name: (value if type(value) is Markup else escape(value)).encode()
              for name, value in slots.items()}
    out = list(parts)
    out[1::2] = map(values.__getitem__, parts[1::2])
    return b"".join(out)


def _encoded(parts: Parts) -> tuple:
    """The HTML parts in UTF-8 (the slot names stay names)."""
    return tuple(part.encode() if i % 2 == 0 else part for i, part in enumerate(parts))


def _render(template: str, context: dict) -> Parts:
    from ..templating import template_csrf_token

    token = _rendering.set(True)
    try:
        # csrf_token given explicitly: Flask-WTF's context processor would
        # otherwise put the real token into HTML kept for others.
        html = render_template(template, **context, slot=SLOT_MARKS, csrf_token=template_csrf_token)
    finally:
        _rendering.reset(token)
    return tuple(html.split(SLOT))
