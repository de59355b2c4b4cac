"""Seats and reminders under concurrency, on SQLite and PostgreSQL.

Each racing call runs in its own thread, app context, session and connection,
as requests on different workers (or reminder loops in different server
processes) would; a barrier releases them together.
"""
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from community.extensions import db
from community.meetings import reminders
from community.meetings.actions import rsvps
from community.meetings.models import RSVP
from community.notifications.models import Notification
from tests.factories import add_member, make_circle, make_user

from .conftest import dates_of, race, schedule

PARTICIPANTS = 20
SEATS = 5


def members(circle, n):
    return [add_member(circle, make_user(f"Racer {i:02d}")) for i in range(n)]


def rows_of(date):
    return list(db.session.scalars(select(RSVP).where(RSVP.occurrence_id == date.id)))


def test_twenty_parallel_rsvps_for_five_seats(engine_app):
    """The last seat is never given twice: exactly 5 going, 15 waitlisted in arrival order."""
    owner = make_user()
    circle = make_circle(owner)
    people = members(circle, PARTICIPANTS)
    [date] = dates_of(schedule(owner, circle, capacity=str(SEATS)))
    outcomes = race(engine_app, *[(rsvps.rsvp, person.id, circle.slug, date.id, "going")
                                for person in people])
    assert all(o[0] == "ok" for o in outcomes)
    db.session.expire_all()
    rows = sorted(rows_of(date), key=lambda r: r.id)  # ids are handed out under the lock
    assert Counter(r.answer for r in rows) == {"going": SEATS, "waitlisted": PARTICIPANTS - SEATS}
    # Arrival order: the first five to take the lock are going, the rest queue after them.
    assert [r.answer for r in rows] == ["going"] * SEATS + ["waitlisted"] * (PARTICIPANTS - SEATS)
    queue = sorted((r for r in rows if r.answer == "waitlisted"),
                   key=lambda r: (r.waitlisted_at, r.id))
    assert [r.id for r in queue] == [r.id for r in rows[SEATS:]]
    assert [r.responded_at for r in rows] == sorted(r.responded_at for r in rows)


def test_withdrawals_racing_new_answers_never_overfill(engine_app):
    """Three going withdraw while three more say going: still exactly `capacity`
    going, and the seats go to the waitlist first, in its order."""
    owner = make_user()
    circle = make_circle(owner)
    people = members(circle, 9)
    [date] = dates_of(schedule(owner, circle, capacity="3"))
    for person in people[:6]:  # 0-2 going, 3-5 waiting
        rsvps.rsvp(person, circle.slug, date.id, "going")
    calls = [(rsvps.rsvp, p.id, circle.slug, date.id, "declined") for p in people[:3]]
    calls += [(rsvps.rsvp, p.id, circle.slug, date.id, "going") for p in people[6:]]
    race(engine_app, *calls)
    db.session.expire_all()
    answers = {r.user_id: r.answer for r in rows_of(date)}
    assert Counter(answers.values()) == {"going": 3, "declined": 3, "waitlisted": 3}
    assert {u for u, a in answers.items() if a == "going"} == {p.id for p in people[3:6]}
    promoted = db.session.scalar(select(func.count(Notification.id)).where(
        Notification.kind == "waitlist_promoted"))
    assert promoted == 3


def test_parallel_reminder_runs_send_each_reminder_once(engine_app, monkeypatch):
    """Several server processes run the loop at once: every reminder goes out once."""
    owner = make_user()
    circle = make_circle(owner)
    people = members(circle, 12)
    [date] = dates_of(schedule(owner, circle))
    for person in people:
        rsvps.rsvp(person, circle.slug, date.id, "going")
    monkeypatch.setattr(reminders, "BATCH", 3)  # small batches, so the runs interleave
    now = date.starts_at - timedelta(hours=2)
    outcomes = race(engine_app, *[(reminders.send_due_reminders, None, now) for _ in range(4)])
    assert sum(o[1] for o in outcomes) == len(people)
    db.session.expire_all()
    sent = Counter(db.session.scalars(select(Notification.user_id).where(
        Notification.kind == "meeting_reminder")))
    assert sent == {p.id: 1 for p in people}
    assert reminders.send_due_reminders(now) == 0
