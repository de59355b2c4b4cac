"""What a thread page reads: the thread with the reader's place in it, a page
of posts with their reactions and files. None of these checks a permission: the page's
circle_page decorator has already let the reader into the circle (policy).

Each statement is built once, with parameters: building a select and its
cache key anew cost several times what SQLite took to run it, and the page
needs no ORM objects for posts it only shows.
"""
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased
from werkzeug.exceptions import NotFound

from ..accounts.models import User
from ..fast.nested import in_order, json_rows
from ..fast.prepared import prepared
from ..files.models import Attachment
from ..files.places import FileFace, face_columns, file_face
from .actions import PER_PAGE
from .models import REACTIONS, Post, Reaction, Thread, ThreadState
from .post_html import Reacted


class ThreadRow(NamedTuple):
    """A thread as its page shows it, with the viewer's place in it (None
    before their first visit)."""

    id: int
    circle_id: int
    title: str
    kind: str
    pinned: bool
    locked: bool
    post_count: int
    last_read_number: int | None
    subscription: str | None


def thread_in(circle, thread_id: int, viewer_id: int, page: int) -> tuple[ThreadRow, list["PagePost"]]:
    """A thread of a circle the viewer has already been let into (by circle_page),
    without loading the circle and membership a second time, and the posts of
    its page `page` (as page_of_posts: none beyond its last page), in one
    statement: on PostgreSQL each is a round trip (bench/findings.md, 50).

    :raise NotFound: no such thread in this circle.
    """
    first = (page - 1) * PER_PAGE + 1
    rows = _thread_and_page.values({"thread_id": thread_id, "circle_id": circle.id, "me": viewer_id,
                                    "first": first, "last": first + PER_PAGE - 1})
    if not rows:
        raise NotFound()
    thread = ThreadRow._make(rows[0][:_THREAD_COLUMNS])
    return thread, [PagePost._make(row[_THREAD_COLUMNS:]) for row in rows if row[_THREAD_COLUMNS] is not None]


_THREAD_COLUMNS = len(ThreadRow._fields)


@prepared
def _thread_and_page():
    # The thread's columns on each of its page's rows, or on one row of NULL
    # posts when the page has none. Rows, not ORM objects: a thread page only shows them.
    return (select(Thread.id, Thread.circle_id, Thread.title, Thread.kind, Thread.pinned, Thread.locked,
                   Thread.post_count, ThreadState.last_read_number, ThreadState.subscription,
                   *_post_columns())
            .select_from(Thread)
            .outerjoin(ThreadState, (ThreadState.thread_id == Thread.id)
                       & (ThreadState.user_id == bindparam("me")))
            .outerjoin(Post, (Post.thread_id == Thread.id)
                       & Post.number.between(bindparam("first"), bindparam("last")))
            .outerjoin(User, User.id == Post.author_id)
            .where(Thread.id == bindparam("thread_id"), Thread.circle_id == bindparam("circle_id"))
            .order_by(Post.number).limit(PER_PAGE))


class PagePost(NamedTuple):
    """A post as a thread page shows it, with what its header shows of the
    author (not their bio, email or password hash), and its reactions and
    files as read (fast/nested.py: `reactions_of` and `files_of` decode them
    when the post is drawn)."""

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
    reactions: str | None = None  # [[id, kind, the viewer's?, name], ...]
    files: str | None = None  # [[id, *face_columns()], ...]

    @property
    def removed(self) -> bool:
        return self.deleted_at is not None


def page_of_posts(thread_id: int, first: int, me: int) -> list[PagePost]:
    """Posts numbered first .. first + PER_PAGE - 1, in order, with their
    reactions (which of them are `me`'s, the viewer's) and files: one statement
    however many there are."""
    return _page_of_posts.rows({"thread_id": thread_id, "first": first, "last": first + PER_PAGE - 1,
                                "me": me}, into=PagePost)


@prepared
def _page_of_posts():
    return (select(*_post_columns())
            .outerjoin(User, User.id == Post.author_id)
            .where(Post.thread_id == bindparam("thread_id"),
                   Post.number.between(bindparam("first"), bindparam("last")))
            # The LIMIT (the range holds at most that many) tells PostgreSQL's planner so:
            # without it, it expected ~2,000 rows and hash-joined every person on the site.
            .order_by(Post.number).limit(PER_PAGE))


def _post_columns() -> tuple:
    """PagePost's columns: a post (its author outer-joined as User), its reactions and its files."""
    # Whose a reaction is, not who chose it: the text is the same for every
    # viewer but those who reacted, and so is the kept page's key.
    reactor = aliased(User)  # not the post's author
    reacted = (select(json_rows(Reaction.id, Reaction.emoji, Reaction.user_id == bindparam("me"),
                                reactor.display_name))
               .join_from(Reaction, reactor, reactor.id == Reaction.user_id)
               .where(Reaction.post_id == Post.id).scalar_subquery())
    filed = (select(json_rows(Attachment.id, *face_columns()))
             .where(Attachment.post_id == Post.id).scalar_subquery())
    return (Post.id, Post.number, Post.kind, Post.author_id, Post.html, Post.created_at, Post.edited_at,
            Post.deleted_at, User.display_name, User.job_title, User.organisation, reacted, filed)


def reactions_of(post: PagePost) -> tuple[Reacted, ...]:
    """The kinds of reaction the post has had, in REACTIONS' order, with who chose each."""
    by_emoji: dict[str, list] = {}
    for _, emoji, mine, name in in_order(post.reactions):
        by_emoji.setdefault(emoji, []).append((name, mine))
    return tuple(_reacted(key, by_emoji[key]) for key in REACTIONS if key in by_emoji)


def _reacted(key: str, people: list[tuple[str, bool]]) -> Reacted:
    return Reacted(key, tuple(name for name, _ in people), any(mine for _, mine in people))


def files_of(post: PagePost) -> tuple[FileFace, ...]:
    """The post's files, oldest first."""
    return tuple(file_face(*row[1:]) for row in in_order(post.files))
