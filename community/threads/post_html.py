"""A post's HTML on a thread page, rendered once for everything it shows.

Twenty posts were most of a thread page's cost (Jinja, ~0.2 ms a post: the
author line, five reaction buttons, the action links). A post looks the same
to every viewer who has the same rights over it, until it is edited, removed,
reacted to or its author changes their name, so its HTML is kept in a memo
keyed by *everything it shows* (`PostFace`): a changed post is a new key, so
nothing is ever stale and nothing needs invalidating, and a key can only be
made by someone who already holds the post's content.

What differs per request stays out of the key, as slots filled in each time:
the CSRF token (per session), and times as "5 minutes ago" (now) and in the
viewer's timezone.
"""
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from flask import current_app
from markupsafe import Markup, escape

from ..templating import ago, localtime
from ..urls import url_pattern

# Marks a slot in a rendered post. Never in a post's content: the request class
# drops NUL from every form field, and _render replaces any that got in otherwise.
SLOT = "\x00"
SLOTS = ("csrf", "created_title", "created_ago", "edited_title", "edited_ago")

# Posts whose HTML is kept (the newest used; ~5 KB each with their key).
MEMO_SIZE = 2048


class ReactionButton(NamedTuple):
    key: str
    emoji: str
    label: str
    names: tuple[str, ...]  # who reacted so, in order
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
    reactions: tuple[ReactionButton, ...]
    can_quote: bool
    can_edit: bool
    can_delete: bool
    can_report: bool
    place: tuple[str, int, int]  # circle slug, thread id, page: its links


def face(post, reactions: tuple[ReactionButton, ...], rights: tuple[bool, bool, bool, bool],
         place: tuple[str, int, int]) -> PostFace:
    """A post's key. A removed post keeps nothing of its content or author."""
    if post.removed:
        return PostFace(post.id, post.number, True, None, None, None, False, "", (),
                        False, False, False, False, place)
    author = (post.author_name, post.job_title or "", post.organisation or "") if post.author_id else None
    return PostFace(post.id, post.number, False, post.author_id, author,
                    post.created_at, post.edited_at is not None, post.html, reactions, *rights, place)


def post_html(post, view: PostFace, csrf: str, zone: str | None) -> Markup:
    """The post's HTML for this request: the kept rendering with its slots filled.

    csrf is the viewer's token, zone their timezone (see viewer_zone).
    """
    parts = _render(view)
    if len(parts) == 1:
        return Markup(parts[0])
    slots = {"csrf": csrf}
    if not view.removed:
        slots["created_title"] = localtime(post.created_at, zone=zone)
        slots["created_ago"] = ago(post.created_at, zone)
        if post.edited_at is not None:
            slots["edited_title"] = localtime(post.edited_at, zone=zone)
            slots["edited_ago"] = ago(post.edited_at, zone)
    out = list(parts)
    out[1::2] = [escape(slots[name]) for name in parts[1::2]]
    return Markup("".join(out))


@lru_cache(maxsize=MEMO_SIZE)
def _render(view: PostFace) -> tuple[str, ...]:
    """The post rendered with its slots marked: [html, slot name, html, slot name, ..., html]."""
    clean = lambda text: text.replace(SLOT, "\ufffd")  # noqa: E731
    view = view._replace(html=clean(view.html),
                         author=tuple(map(clean, view.author)) if view.author else None)
    slug, thread_id, page = view.place
    html = current_app.jinja_env.get_template("threads/_post.html").render(
        post=view, links=_links(slug, thread_id, page),
        slot={name: Markup(f"{SLOT}{name}{SLOT}") for name in SLOTS})
    parts = tuple(html.split(SLOT))
    if not all(name in SLOTS for name in parts[1::2]):
        raise ValueError(f"post {view.id}: a slot marker is out of place")
    return parts


def _links(slug: str, thread_id: int, page: int) -> dict:
    """URL builders for the links a post carries (id -> URL)."""
    return {"react": url_pattern("threads.react", "post_id", slug=slug),
            "edit": url_pattern("threads.edit", "post_id", slug=slug),
            "delete": url_pattern("threads.delete", "post_id", slug=slug),
            "report": url_pattern("threads.report", "post_id", slug=slug),
            "quote": url_pattern("threads.show", "quote", slug=slug, thread_id=thread_id, page=page),
            "profile": url_pattern("circles.profile", "user_id")}
