"""Rows of threads, as the dashboard, a circle's home and its thread list show
them: read as plain rows, each drawn once per distinct look and kept
(community/fast/fragments.py), its time a slot filled in the viewer's zone.

Loading each listed thread as an ORM object with its two people joined in
full, then drawing every row through Jinja on every request, was most of
those pages (bench/findings.md, 29). A row shows only the columns below.
"""
from datetime import datetime
from typing import NamedTuple

from markupsafe import Markup
from sqlalchemy import bindparam, func, or_, select, union
from sqlalchemy.orm import aliased

from ..accounts.models import User
from ..challenges.models import Challenge
from ..challenges.phases import effective_phase
from ..fast.fragments import clean, kept_row
from ..fast.prepared import inline, prepared
from ..templating import time_writer
from ..timeutil import utcnow
from .models import Thread, ThreadState

HOME_CHALLENGES = 10  # on a circle's home, beside its latest threads


class ThreadRow(NamedTuple):
    """A listed thread as one viewer sees it: its key, but for the time's words."""

    id: int
    circle_id: int
    title: str
    pinned: bool
    locked: bool
    unread: int  # posts new to the viewer
    phase: str | None  # a challenge's phase now (challenges.phases), None for a discussion
    awaiting_update: bool  # a challenge whose presenter has been asked how it went
    author: str | None  # the starter's name; None once they have deleted their account
    reply_count: int
    last_post_at: datetime
    last_poster: str | None


def listing(circle_ids: list[int], user_id: int, limit: int, offset: int = 0) -> list[ThreadRow]:
    """A page of threads (pinned first, then by last activity) with the viewer's read state."""
    return _rows(_listing_statement.values({
        "circle_ids": circle_ids, "user_id": user_id, "limit": limit, "offset": offset}))


def counted_listing(circle_id: int, user_id: int, limit: int, offset: int = 0) -> tuple[list[ThreadRow], int]:
    """listing, for one circle, with how many threads it has in the same
    statement (a subquery asked once: on PostgreSQL a round trip fewer;
    bench/findings.md, 39); asked alone only past the last page, where no row brings it."""
    found = _counted_listing_statement.values({
        "circle_ids": [circle_id], "user_id": user_id, "limit": limit, "offset": offset})
    if found:
        total = found[0][-1]
    else:
        total = 0 if offset == 0 else _thread_count.scalar({"circle_id": circle_id})
    return _rows(row[:-1] for row in found), total


def home_rows(circle_id: int, user_id: int, latest: int) -> list[ThreadRow]:
    """The circle's `latest` threads first, then its open challenges and those
    waiting for an update that are not among them."""
    return _rows(_home_statement.values({"circle_id": circle_id, "user_id": user_id, "limit": latest}))


_ORDER = (Thread.pinned.desc(), Thread.last_post_at.desc(), Thread.id.desc())


@prepared
def _listing_statement():
    """The page's ids are chosen first and only those threads are joined to their
    authors and read state: joined before the LIMIT, PostgreSQL hash-joined every
    person on the site to every thread of the circles (bench/findings.md, 8).
    Prepared: dashboards, circle homes and lists all run it.
    """
    page = (select(Thread.id).where(Thread.circle_id.in_(bindparam("circle_ids", expanding=True)))
            .order_by(*_ORDER).limit(inline("limit")).offset(inline("offset")).subquery())
    return _columns().join(page, page.c.id == Thread.id).order_by(*_ORDER)


@prepared
def _counted_listing_statement():
    in_circles = Thread.circle_id.in_(bindparam("circle_ids", expanding=True))
    counted = select(func.count(Thread.id)).where(in_circles).correlate(None).scalar_subquery()
    return _listing_statement.statement.add_columns(counted)


@prepared
def _thread_count():
    return select(func.count(Thread.id)).where(Thread.circle_id == bindparam("circle_id"))


@prepared
def _home_statement():
    """The circle home's latest threads and, in the same statement, its open
    challenges and those waiting for an update (the home page's statements
    are counted: bench/findings.md)."""
    latest = (select(Thread.id.label("id")).where(Thread.circle_id == bindparam("circle_id"))
              .order_by(*_ORDER).limit(inline("limit")).subquery())
    challenges = (select(Challenge.thread_id.label("id"))
                  .where(Challenge.circle_id == bindparam("circle_id"),
                         or_(Challenge.phase != "follow_up",
                             Challenge.awaiting_update_since.is_not(None)))
                  .order_by(Challenge.id.desc()).limit(HOME_CHALLENGES).subquery())
    ids = union(select(latest.c.id), select(challenges.c.id)).subquery()
    return _columns().join(ids, ids.c.id == Thread.id).order_by(*_ORDER)


def _columns():
    """What a row shows, the viewer's read position, and what a challenge's
    phase is worked out from."""
    author, last_poster = aliased(User), aliased(User)
    return (select(Thread.id, Thread.circle_id, Thread.title, Thread.pinned, Thread.locked,
                   Thread.post_count, Thread.removed_count, Thread.last_post_at,
                   author.display_name, last_poster.display_name, ThreadState.last_read_number,
                   Challenge.thread_id, Challenge.phase, Challenge.phase_started_at,
                   Challenge.questions_minutes, Challenge.ideas_minutes,
                   Challenge.awaiting_update_since)
            .select_from(Thread)
            .outerjoin(author, author.id == Thread.author_id)
            .outerjoin(last_poster, last_poster.id == Thread.last_poster_id)
            .outerjoin(ThreadState, (ThreadState.thread_id == Thread.id)
                       & (ThreadState.user_id == bindparam("user_id")))
            .outerjoin(Challenge, Challenge.thread_id == Thread.id))


class _Timing(NamedTuple):
    """What challenges.phases.effective_phase reads of a challenge."""

    phase: str
    phase_started_at: datetime
    questions_minutes: int | None
    ideas_minutes: int | None


def _rows(result) -> list[ThreadRow]:
    now = utcnow()
    rows = []
    for (id_, circle_id, title, pinned, locked, post_count, removed_count, last_post_at,
         author, last_poster, read, challenge_id, *timing, awaiting_since) in result:
        phase = effective_phase(_Timing(*timing), now).name if challenge_id else None
        rows.append(ThreadRow(id_, circle_id, title, pinned, locked, max(0, post_count - (read or 0)),
                              phase, awaiting_since is not None, author,
                              max(0, post_count - removed_count - 1), last_post_at, last_poster))
    return rows


def thread_rows(rows: list[ThreadRow], circles_by_id: dict, show_circle: bool) -> Markup:
    """A list of threads (the rows in their <ul>), as the circle home, the
    dashboard and the thread list show it: called straight from their
    templates, with no template of its own to include."""
    return Markup('<ul class="list thread-list">%s</ul>') % _items(rows, circles_by_id, show_circle)


def _items(rows: list[ThreadRow], circles_by_id: dict, show_circle: bool) -> Markup:
    """The rows' <li>s (templates/threads/_thread_row.html): each drawn once per
    look and circle, its last post's time written for this viewer (in a kept
    page, the page's slot for that moment)."""
    html = []
    write_time = time_writer()
    for row in rows:
        circle = circles_by_id[row.circle_id]
        html.append(kept_row("threads/_thread_row.html", _row_context,
                             (row, circle.slug, circle.name if show_circle else None),
                             {"last_post": write_time(row.last_post_at)}))
    return Markup("").join(html)


def _row_context(key: tuple) -> dict:
    row, slug, circle_name = key
    return {"row": row._replace(title=clean(row.title), author=row.author and clean(row.author),
                                last_poster=row.last_poster and clean(row.last_poster)),
            "slug": slug, "circle_name": circle_name and clean(circle_name),
            "phase": row.phase, "awaiting_update": row.awaiting_update}
