"""What a thread page reads: the thread with the reader's place in it, a page
of posts and their reactions. None of these checks a permission: the page's
circle_page decorator has already let the reader into the circle (policy).

Each statement is built once, with parameters: building a select and its
cache key anew cost several times what SQLite took to run it, and the page
needs no ORM objects for posts it only shows.
"""
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, select
from werkzeug.exceptions import NotFound

from ..accounts.models import User
from ..fast.prepared import prepared
from ..files.models import Attachment
from ..files.places import FileFace, face_columns, file_face
from .actions import PER_PAGE
from .models import REACTIONS, Post, Reaction, Thread, ThreadState
from .post_html import Reacted


def thread_in(circle, thread_id: int, viewer_id: int):
    """A thread of a circle the viewer has already been let into (by circle_page),
    without loading the circle and membership a second time: a row of the
    thread's id, circle_id, title, kind, pinned, locked and post_count, with the
    viewer's last_read_number and subscription (None before their first visit).

    :raise NotFound: no such thread in this circle.
    """
    thread = _thread_in_circle.first({"thread_id": thread_id, "circle_id": circle.id, "user_id": viewer_id})
    if thread is None:
        raise NotFound()
    return thread


@prepared
def _thread_in_circle():
    # A row, not an ORM object (a thread page only shows it), with the viewer's
    # place joined in: one statement where the page had two.
    return (select(Thread.id, Thread.circle_id, Thread.title, Thread.kind, Thread.pinned, Thread.locked,
                   Thread.post_count, ThreadState.last_read_number, ThreadState.subscription)
            .outerjoin(ThreadState, (ThreadState.thread_id == Thread.id)
                       & (ThreadState.user_id == bindparam("user_id")))
            .where(Thread.id == bindparam("thread_id"), Thread.circle_id == bindparam("circle_id")))


class PagePost(NamedTuple):
    """A post as a thread page shows it, with what its header shows of the
    author (not their bio, email or password hash)."""

    id: int
    number: int
    kind: str | None  # in a challenge, what the post is (challenges.models.POST_KINDS)
    author_id: int | None
    html: str
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    author_name: str | None
    job_title: str | None
    organisation: str | None

    @property
    def removed(self) -> bool:
        return self.deleted_at is not None


def page_of_posts(thread_id: int, first: int) -> list[PagePost]:
    """Posts numbered first .. first + PER_PAGE - 1, in order."""
    return _page_of_posts.rows({"thread_id": thread_id, "first": first, "last": first + PER_PAGE - 1},
                               into=PagePost)


@prepared
def _page_of_posts():
    return (select(Post.id, Post.number, Post.kind, Post.author_id, Post.html, Post.created_at,
                   Post.edited_at, Post.deleted_at, User.display_name, User.job_title, User.organisation)
            .outerjoin(User, User.id == Post.author_id)
            .where(Post.thread_id == bindparam("thread_id"),
                   Post.number.between(bindparam("first"), bindparam("last")))
            # The LIMIT (the range holds at most that many) tells PostgreSQL's planner so:
            # without it, it expected ~2,000 rows and hash-joined every person on the site.
            .order_by(Post.number).limit(PER_PAGE))


def reactions_for(thread_id: int, first: int, me: int) -> dict[int, tuple[Reacted, ...]]:
    """post id -> the kinds of reaction it has had, in REACTIONS' order, with who
    chose each, for the page of the thread's posts from number `first`, in one
    query. Posts without reactions are left out."""
    rows = _reactions.rows({"thread_id": thread_id, "first": first, "last": first + PER_PAGE - 1})
    grouped: dict[int, dict[str, list]] = {}
    for post_id, emoji, user_id, name in rows:
        grouped.setdefault(post_id, {}).setdefault(emoji, []).append((user_id, name))
    return {post_id: tuple(_reacted(key, by_emoji[key], me) for key in REACTIONS if key in by_emoji)
            for post_id, by_emoji in grouped.items()}


def _reacted(key: str, people: list[tuple[int, str]], me: int) -> Reacted:
    return Reacted(key, tuple(name for _, name in people), any(user_id == me for user_id, _ in people))


def _page_ids():
    """The page's post ids, by their numbers, as a table of at most PER_PAGE rows.

    Not a list of ids: an expanding IN list is compiled anew on every run (~40%
    of a statement's cost). Not `post_id IN (subquery)` either: PostgreSQL made
    that a merge join that walked every post on the site in id order to find
    the page's 20 (0.4 s at 1,000,000 posts, bench/findings.md 30); a LIMIT
    keeps the 20 rows a table of their own, joined through the post_id index."""
    return (select(Post.id).where(Post.thread_id == bindparam("thread_id"),
                                  Post.number.between(bindparam("first"), bindparam("last")))
            .order_by(Post.number).limit(PER_PAGE).subquery("page"))


@prepared
def _reactions():
    page = _page_ids()
    return (select(Reaction.post_id, Reaction.emoji, Reaction.user_id, User.display_name)
            .join(page, page.c.id == Reaction.post_id)
            .join(User, User.id == Reaction.user_id).order_by(Reaction.id))


def files_for(thread_id: int, first: int) -> dict[int, tuple[FileFace, ...]]:
    """post id -> its files, oldest first, for the page of the thread's posts
    from number `first`, in one query whatever their number (as
    files.present.files_of, prepared like the page's other reads). Posts
    without files are left out."""
    found: dict[int, list[FileFace]] = {}
    for post_id, *row in _files.rows({"thread_id": thread_id, "first": first,
                                      "last": first + PER_PAGE - 1}):
        found.setdefault(post_id, []).append(file_face(*row))
    return {post_id: tuple(faces) for post_id, faces in found.items()}


@prepared
def _files():
    page = _page_ids()
    return (select(Attachment.post_id, *face_columns())
            .join(page, page.c.id == Attachment.post_id).order_by(Attachment.id))
