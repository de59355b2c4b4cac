"""A circle's challenges page: those open (with their phase now, the presenter
and how long the phase has lasted), those waiting for the presenter's
follow-up update, and the closed ones, a page at a time.

Two statements whatever the circle holds: the open and waiting ones (at most
OPEN_MOST, newest first), and a page of closed ones with their total (a window
count). "Open" is read from the stored phase: time moves a challenge on only
through Questions and Ideas, never into Follow-up, so the stored phase says
which list it belongs to and phases.effective_phase says where in it.
"""
from datetime import datetime
from functools import cache
from typing import NamedTuple

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import aliased

from ..accounts.models import User
from ..extensions import db
from ..fast.prepared import inline
from ..threads.models import Thread, ThreadState
from .models import PHASE_LABELS, Challenge
from .phases import effective_phase

OPEN_MOST = 100  # open and waiting challenges shown at once (a circle has a handful)
CLOSED_PER_PAGE = 20


class ChallengeRow(NamedTuple):
    id: int
    thread_id: int
    title: str
    presenter: str  # the presenter's name, or "a former member"
    phase: str
    phase_label: str
    phase_started_at: datetime  # when the phase now began (a timed phase: when the last one ended)
    phase_ends_at: datetime | None
    in_phase_for: str  # "for 3 days"
    awaiting_since: datetime | None
    reflected_at: datetime | None
    last_update_at: datetime | None
    unread: int


def lasted(since: datetime, now: datetime) -> str:
    """How long since `since`, in the largest whole unit: "for 3 days", "for 1 hour"."""
    seconds = max(0, (now - since).total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"for {n} {unit}{'s' if n != 1 else ''}"
    return "for under a minute"


def _columns():
    presenter = aliased(User)
    return (select(Challenge.id, Challenge.thread_id, Challenge.presenter_id, Challenge.phase,
                   Challenge.phase_started_at, Challenge.questions_minutes, Challenge.ideas_minutes,
                   Challenge.awaiting_update_since, Challenge.reflected_at, Challenge.last_update_at,
                   Thread.title, Thread.post_count, presenter.display_name.label("presenter_name"),
                   ThreadState.last_read_number)
            .join(Thread, Thread.id == Challenge.thread_id)
            .outerjoin(presenter, presenter.id == Challenge.presenter_id)
            .outerjoin(ThreadState, (ThreadState.thread_id == Thread.id)
                       & (ThreadState.user_id == bindparam("user_id")))
            .where(Challenge.circle_id == bindparam("circle_id")))


@cache
def _open_statement():
    return (_columns().where(or_(Challenge.phase != "follow_up",
                                 Challenge.awaiting_update_since.is_not(None)))
            .order_by(Challenge.id.desc()).limit(OPEN_MOST))


@cache
def _closed_statement():
    return (_columns().add_columns(func.count().over().label("total"))
            .where(Challenge.phase == "follow_up", Challenge.awaiting_update_since.is_(None))
            .order_by(func.coalesce(Challenge.last_update_at, Challenge.reflected_at).desc(),
                      Challenge.id.desc())
            .limit(inline("limit")).offset(inline("offset")))


def _row(row, now: datetime) -> ChallengeRow:
    phase = effective_phase(row, now)
    return ChallengeRow(row.id, row.thread_id, row.title, row.presenter_name or "a former member",
                        phase.name, PHASE_LABELS[phase.name], phase.started_at, phase.ends_at,
                        lasted(phase.started_at, now), row.awaiting_update_since, row.reflected_at,
                        row.last_update_at, max(0, row.post_count - (row.last_read_number or 0)))


class ChallengeLists(NamedTuple):
    open: list[ChallengeRow]
    waiting: list[ChallengeRow]
    closed: list[ChallengeRow]
    closed_total: int
    page: int
    pages: int


def challenge_lists(circle_id: int, user_id: int, page: int, now: datetime) -> ChallengeLists:
    """The circle's challenges as its list page shows them to this member."""
    params = {"circle_id": circle_id, "user_id": user_id}
    current = [_row(row, now) for row in db.session.execute(_open_statement(), params)]
    closed = db.session.execute(_closed_statement(), {
        **params, "limit": CLOSED_PER_PAGE, "offset": (page - 1) * CLOSED_PER_PAGE}).all()
    if not closed and page > 1:  # past the last page: the total is still wanted
        total = db.session.scalar(select(func.count(Challenge.id)).where(
            Challenge.circle_id == circle_id, Challenge.phase == "follow_up",
            Challenge.awaiting_update_since.is_(None)))
    else:
        total = closed[0].total if closed else 0
    return ChallengeLists([row for row in current if row.phase != "follow_up"],
                          [row for row in current if row.phase == "follow_up"],
                          [_row(row, now) for row in closed], total, page,
                          max(1, -(-total // CLOSED_PER_PAGE)))

