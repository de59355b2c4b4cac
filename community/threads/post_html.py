"""A post's HTML on a thread page: kept (community/fast/fragments.py) per distinct post.

A post looks the same to every viewer with the same rights over it, until it is
edited, removed, reacted to or its author renames themselves: each of those is
a new PostFace, so a new key. The CSRF token and its times are slots. A page's
posts are numbered into the page (fragments.numbered), so their times are
slots of the page. The page's own key holds each post's row instead
(threads.views._shown): a face is made only when the page is drawn.
"""
from datetime import datetime
from functools import cache
from typing import NamedTuple

from .. import timefmt
from ..fast.fragments import Parts, clean, parts_of
from ..files.places import FileFace
from .models import REACTION_LABELS, REACTIONS


class Reacted(NamedTuple):
    """One kind of reaction a post has had: in its key, only the kinds it has."""

    key: str
    names: tuple[str, ...]  # who reacted so, in order
    mine: bool


class ReactionButton(NamedTuple):
    key: str
    emoji: str
    label: str
    names: tuple[str, ...]
    mine: bool


class PostFace(NamedTuple):
    """Everything a post shows one viewer, bar the slots."""

    id: int
    number: int
    removed: bool
    author_id: int | None
    author: tuple[str, str, str] | None  # display name, job title, organisation
    created_at: datetime | None
    edited: bool
    html: str
    reactions: tuple[Reacted, ...]  # a short key: most posts have none (the buttons: _context)
    files: tuple[FileFace, ...]  # attached files (files.places), oldest first
    can_quote: bool
    can_edit: bool
    can_delete: bool
    can_report: bool
    place: tuple[str, int, int]  # circle slug, thread id, page: its links
    unread: bool  # new to the viewer
    first_unread: bool  # the first of those: the page opens here
    kind: str | None = None  # in a challenge: a question, an idea... (shown as a label)


def face(post, reactions: tuple[Reacted, ...], files: tuple[FileFace, ...],
         rights: tuple[bool, bool, bool, bool], place: tuple[str, int, int],
         first_unread: int | None) -> PostFace:
    """A post's key. A removed post keeps nothing of its content, files or author."""
    unread = (first_unread is not None and post.number >= first_unread, post.number == first_unread)
    if post.removed:
        return PostFace(post.id, post.number, True, None, None, None, False, "", (), (),
                        False, False, False, False, place, *unread, getattr(post, "kind", None))
    author = (post.author_name, post.job_title or "", post.organisation or "") if post.author_id else None
    return PostFace(post.id, post.number, False, post.author_id, author, post.created_at,
                    post.edited_at is not None, post.html, reactions, files, *rights, place, *unread,
                    getattr(post, "kind", None))


def post_parts(view: PostFace) -> Parts:
    """The post's kept HTML, its slots unfilled: csrf, and its times (time_slots)."""
    return parts_of("threads/_post.html", _context, view)


def time_slots(post, number: int, zone: str | None, clock: str, slots: dict[str, str],
               now: datetime) -> None:
    """Put the times of the page's post `number` (see fragments.numbered) in `slots`,
    in the viewer's zone and on their clock (community/timefmt.py), as of `now`
    (one moment for the whole page)."""
    if post.removed:
        return
    created_title, created_ago, edited_title, edited_ago = _slot_names(number)
    slots[created_title], slots[created_ago] = timefmt.titled(post.created_at, zone, clock, now)
    if post.edited_at is not None:
        slots[edited_title], slots[edited_ago] = timefmt.titled(post.edited_at, zone, clock, now)


TIME_SLOTS = ("created_title", "created_ago", "edited_title", "edited_ago")


@cache
def _slot_names(number: int) -> tuple[str, str, str, str]:
    # The same twenty posts' names on every page: written once, not four f-strings a post.
    return tuple(f"{name}#{number}" for name in TIME_SLOTS)


def _context(view: PostFace) -> dict:
    return {"post": view._replace(html=clean(view.html),
                                  author=tuple(map(clean, view.author)) if view.author else None,
                                  reactions=_buttons(view.reactions),
                                  files=tuple(f._replace(name=clean(f.name)) for f in view.files))}


def _buttons(reacted: tuple[Reacted, ...]) -> tuple[ReactionButton, ...]:
    """A button for every kind of reaction, in order, with who chose it."""
    chosen = {r.key: r for r in reacted}
    none = Reacted("", (), False)
    return tuple(ReactionButton(key, emoji, REACTION_LABELS[key], chosen.get(key, none).names,
                                chosen.get(key, none).mine)
                 for key, emoji in REACTIONS.items())
