"""Pieces of pages rendered once and kept, keyed by everything they show.

Most of a thread page is the same for every viewer with the same rights: its
posts, its reply form, the page around them. Rendering them through Jinja on
every request was most of the page's cost (bench/findings.md, 13 and 17). A
kept fragment is rendered once per distinct *key* (a tuple of everything the
fragment shows) and kept in a memo: changed content is a new key, so nothing is
ever stale and nothing needs invalidating, and a key can only be made by
someone who already holds what the fragment shows. A kept page (kept_page) is
made of kept fragments put together.

What differs per request stays out of the key, as named *slots* filled in each
time: the session's CSRF token, flashed messages, times as "5 minutes ago"
(now) or in the viewer's zone.

Safe by construction: while a kept fragment renders, whatever could tell one
viewer or request from another is refused (OFF_LIMITS: a template that touches
one raises, naming it), so a kept page can show nothing of a viewer that isn't
in its key or a slot.
"""
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from datetime import date
from functools import lru_cache

from flask import render_template
from markupsafe import Markup, escape

from ..security import csrf_token

# What a key may hold as it is (frozen): values that are what they show.
PLAIN = (str, int, float, date)  # bool is an int; a datetime a date

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
# The layout a kept page is rendered in (kept_page's `layout`, part of its key).
_layout: ContextVar[tuple | None] = ContextVar("kept_layout", default=None)

# What a kept fragment's template may not use: each tells one viewer or request
# from another. Given to its render as Guarded stand-ins, which raise.
OFF_LIMITS = ("current_user", "request", "session", "g", "membership", "circle", "get_flashed_messages")


def rendering_kept() -> bool:
    """Whether a kept fragment is being rendered: csrf_token() then writes the
    'csrf' slot, and the viewer's timezone may not be asked for."""
    return _rendering.get()


def kept_layout() -> tuple:
    """The layout state the kept page being rendered was given (and is keyed by).

    :raise RuntimeError: no kept page is rendering, or it was given none.
    """
    layout = _layout.get()
    if not _rendering.get() or layout is None:
        raise RuntimeError("no kept page's layout: give kept_page(layout=...) what the layout shows")
    return layout


class Guarded:
    """`target` for templates, except while a kept fragment renders: then any use
    of it raises, naming it. Stands in for Flask's request, session, g and
    get_flashed_messages among the template globals (macros imported without
    context see only those), and, with no target, for OFF_LIMITS in a kept
    fragment's own context."""

    __slots__ = ("_name", "_target")

    def __init__(self, name: str, target=None):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_target", target)

    def _get(self):
        if _rendering.get() or self._target is None:
            raise RuntimeError(f"{self._name!r} can't be used in a kept fragment: it would show one "
                               "viewer's value to others. Put what the page shows in its key or a slot.")
        return self._target

    def __getattr__(self, name):
        return getattr(self._get(), name)

    def __getitem__(self, key):
        return self._get()[key]

    def __contains__(self, item):
        return item in self._get()

    def __iter__(self):
        return iter(self._get())

    def __len__(self):
        return len(self._get())

    def __bool__(self):
        return bool(self._get())

    def __call__(self, *args, **kwargs):
        return self._get()(*args, **kwargs)

    def __str__(self):
        return str(self._get())

    def __eq__(self, other):
        return self._get() == other

    def __ne__(self, other):
        return self._get() != other

    def __hash__(self):
        return hash(self._get())

    def __repr__(self):
        return f"<Guarded {self._name}>"


def guard_globals(env) -> None:
    """Make the Jinja environment's per-request globals refuse kept renders."""
    for name in OFF_LIMITS:
        if name in env.globals:
            env.globals[name] = Guarded(name, env.globals[name])


def template_csrf_token() -> str:
    """csrf_token() in templates: the session's token, or the 'csrf' slot in a kept fragment."""
    return SLOT_MARKS.csrf if rendering_kept() else csrf_token()


def clean(text: str) -> str:
    return text.replace(SLOT, "\ufffd")


def cleaned(value):
    """A key with every string in it clean()ed, through nested (named) tuples:
    the context of a page whose key is a tree of plain rows."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, tuple):
        items = [cleaned(item) for item in value]
        return value._make(items) if hasattr(value, "_make") else type(value)(items)
    return value


class Frozen(tuple):
    """A dict in a key: its (key, value) items, in order (frozen, thawed)."""


def frozen(value):
    """A panel's data as part of a key: dicts, lists and tuples all the way
    down, made tuples. Anything but plain values (an ORM object, whose
    attributes a template could read beyond what the key holds) is refused."""
    if isinstance(value, dict):
        return Frozen((key, frozen(item)) for key, item in value.items())
    if isinstance(value, tuple | list):
        if isinstance(value, tuple) and all(item is None or isinstance(item, PLAIN) for item in value):
            return value  # a row of plain values (most are): kept as it is, not made again
        items = [frozen(item) for item in value]
        return value._make(items) if hasattr(value, "_make") else tuple(items)
    if value is None or isinstance(value, PLAIN):
        return value
    raise TypeError(f"a kept page's key holds plain values, not {type(value).__name__}")


def thawed(value):
    """A frozen value with its dicts back, for the template."""
    if isinstance(value, Frozen):
        return {key: thawed(item) for key, item in value}
    if isinstance(value, tuple) and not hasattr(value, "_make"):
        return tuple(thawed(item) for item in value)
    return value


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
SHARED_SLOTS = frozenset({"csrf", "next"})  # "next": the page a row's form comes back to

# A slot named by what it shows: "@", a kind and its values, "@"-separated
# (templating.moment_slot: "@relative@2026-12-04T10:00:00+00:00"), a time
# written for each viewer. It means the same wherever it is (numbered keeps its
# name), and a kept page fills it from its name alone (kept_page's `moments`):
# a template shows a time without its view naming the slot.
MOMENT = "@"


def parts_of(template: str, context_of: Callable[[tuple], dict], key: tuple) -> Parts:
    """The template rendered with context_of(key), from the memo.

    context_of must depend on nothing but the key (it runs only when the key is new).
    """
    memo_key = (template, context_of, key)
    parts = MEMO.get(memo_key)
    if parts is None:
        parts = _render(template, lambda: context_of(key))
        MEMO.put(memo_key, parts)
    return parts


def kept_page(template: str, key: tuple, context: Callable[[], dict], slots: dict[str, str],
              inner: dict[str, Callable[[], Parts]] | None = None, layout: tuple | None = None,
              moments: Callable[[str], str] | None = None) -> bytes:
    """A whole page, rendered with context() once per key and layout, its slots
    filled from `slots` on every request: the response body, in UTF-8. It is
    kept encoded: encoding an 80 KB page on every request cost about as much as
    filling it (bench/findings.md, 18).

    The caller vouches that `key` holds everything the template shows from the
    context, and everything `inner` gives; `layout` is what the shared layout
    shows beyond the context (templating.layout_state: the nav, the bell), given
    to it through kept_layout(). `inner` maps some of the page's slots to the
    parts to put in their place when the page is kept (say, its posts, as
    `numbered` kept fragments): their slots are filled along with the page's.
    `moments` writes, from its name alone, each slot named by what it shows
    (MOMENT): a time in this viewer's zone.
    """
    memo_key = (template, kept_page, layout, key)
    parts = MEMO.get(memo_key)
    if parts is None:
        parts = _encoded(_spliced(_render(template, context, layout), inner or {}))
        MEMO.put(memo_key, parts)
    if moments is not None:
        slots.update((name, moments(name)) for name in parts[1::2] if name[0] == MOMENT)
    return _filled_utf8(parts, slots)


def numbered(fragments: list[Parts]) -> Parts:
    """Fragments one after another, as one. Each one's slots get its number
    ("created_ago" in the third becomes "created_ago#2"), except SHARED_SLOTS."""
    out = [""]
    for number, parts in enumerate(fragments):
        out[-1] += parts[0]
        for i in range(1, len(parts), 2):
            name = parts[i]
            shared = name in SHARED_SLOTS or name[0] == MOMENT
            out += (name if shared else f"{name}#{number}", parts[i + 1])
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


def kept_row(template: str, context_of: Callable[[tuple], dict], key: tuple,
             slots: dict[str, str]) -> Markup:
    """One row of a list, drawn once per key (parts_of), its slots filled for
    this request: lists of threads, files... in pages rendered as usual."""
    return filled(parts_of(template, context_of, key), slots)


def filled(parts: Parts, slots: dict[str, str]) -> Markup:
    """A kept fragment with each slot's value, escaped (a Markup value is
    already safe): for a fragment placed in a page rendered as usual."""
    out = list(parts)
    out[1::2] = (_as_html(slots[name]) for name in parts[1::2])
    return Markup("".join(out))  # nosec B704  # our templates' output, and the slots escaped above


def _filled_utf8(parts: tuple, slots: dict[str, str]) -> bytes:
    """The page: its _encoded parts with each slot's value, escaped (a Markup
    value is already safe), in UTF-8."""
    try:
        values = {name: _utf8_html(value) for name, value in slots.items()}
    except TypeError:  # a value that can't be a key: not kept
        values = {name: _as_html(value).encode() for name, value in slots.items()}
    out = list(parts)
    out[1::2] = map(values.__getitem__, parts[1::2])
    return b"".join(out)


@lru_cache(maxsize=4096, typed=True)
def _utf8_html(value) -> bytes:
    """A slot's value as HTML in UTF-8, kept: a page's forty slots hold the same
    times and token on every load (bench/findings.md, 47). Typed: a Markup value
    and a string of the same text are not escaped alike."""
    return _as_html(value).encode()


_TO_ESCAPE = re.compile("[&<>\"']").search


def _as_html(value) -> str:
    """A slot's value as HTML: a Markup value as it is, and so a string with
    nothing to escape. escape() made a Markup of each, about 0.9 µs against
    0.15 to look (a thread page fills 40 times and dates)."""
    if type(value) is Markup or (type(value) is str and not _TO_ESCAPE(value)):
        return value
    return escape(value)


def _encoded(parts: Parts) -> tuple:
    """The HTML parts in UTF-8 (the slot names stay names)."""
    return tuple(part.encode() if i % 2 == 0 else part for i, part in enumerate(parts))


def _render(template: str, context: Callable[[], dict], layout: tuple | None = None) -> Parts:
    # The context is made while the fragment renders, under the same guards: a
    # list drawn for it writes its times as slots, not in this viewer's zone.
    token, laid_out = _rendering.set(True), _layout.set(layout)
    try:
        context = context()
        taken = OFF_LIMITS_NAMES.intersection(context)
        if taken:
            raise ValueError(f"a kept fragment's context can't hold {sorted(taken)}: "
                             "give it what it shows, from its key")
        # csrf_token given explicitly: Flask-WTF's context processor would
        # otherwise put the real token into HTML kept for others. The stand-ins
        # outrank what the context processors give (current_user, request, ...).
        html = render_template(template, **context, **_STAND_INS, slot=SLOT_MARKS,
                               csrf_token=template_csrf_token)
    finally:
        _layout.reset(laid_out)
        _rendering.reset(token)
    return tuple(html.split(SLOT))


OFF_LIMITS_NAMES = frozenset(OFF_LIMITS)
_STAND_INS = {name: Guarded(name) for name in OFF_LIMITS}
