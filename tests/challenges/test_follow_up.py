"""Follow-up: "how did it go?" at 9:00 the presenter's time, once, however many workers run."""
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from community.challenges import actions as challenges
from community.challenges.models import Challenge, FollowUp
from community.challenges.phases import follow_up_time, local_morning
from community.extensions import db
from community.notifications.models import Notification
from community.timeutil import utcnow
from tests.challenges.helpers import make_room, to_phase
from tests.racing import engine_app, race  # noqa: F401 - the fixture


@pytest.mark.parametrize(("zone", "day", "utc"), [
    ("Europe/London", date(2027, 3, 26), datetime(2027, 3, 26, 9, 0, tzinfo=UTC)),  # GMT
    ("Europe/London", date(2027, 3, 29), datetime(2027, 3, 29, 8, 0, tzinfo=UTC)),  # BST from the 28th
    ("Asia/Kolkata", date(2027, 3, 26), datetime(2027, 3, 26, 3, 30, tzinfo=UTC)),
    ("Asia/Kolkata", date(2027, 3, 29), datetime(2027, 3, 29, 3, 30, tzinfo=UTC)),  # no DST there
])
def test_a_commitments_date_means_nine_in_the_morning_where_the_presenter_is(zone, day, utc):
    assert local_morning(day, zone) == utc


def test_the_default_follow_up_is_four_weeks_on_at_nine_local_across_a_dst_change():
    # Reflected on a March evening in London (GMT); four weeks on is in BST.
    reflected = datetime(2027, 3, 10, 19, 0, tzinfo=UTC)
    assert follow_up_time(reflected, 28, "Europe/London") == datetime(2027, 4, 7, 8, 0, tzinfo=UTC)
    # 19:00 UTC is already the 11th in Kolkata: the four weeks count from there.
    assert follow_up_time(reflected, 28, "Asia/Kolkata") == datetime(2027, 4, 8, 3, 30, tzinfo=UTC)


@pytest.mark.parametrize("zone", ["Europe/London", "Asia/Kolkata"])
def test_reflecting_schedules_each_dated_commitment_and_the_general_follow_up(app, zone):
    room = make_room(presenter_zone=zone, follow_up_days=14)
    to_phase(room, "ideas")
    challenges.move_phase(room.presenter, room.slug, room.challenge.id, "ideas")
    due = (utcnow() + timedelta(days=120)).date()
    challenges.reflect(room.presenter, room.slug, room.challenge.id, "What I heard",
                       [("Meet both leads", due.isoformat()), ("Write it down", "")])
    rows = db.session.scalars(select(FollowUp).where(FollowUp.challenge_id == room.challenge.id)
                              .order_by(FollowUp.due_at)).all()
    assert [r.due_at for r in rows] == sorted([
        follow_up_time(db.session.get(Challenge, room.challenge.id).reflected_at, 14, zone),
        local_morning(due, zone)])


def _asked(user_id: int) -> int:
    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user_id, Notification.kind == "challenge_follow_up"))


def test_the_presenter_is_asked_once_when_due_and_their_update_tells_the_circle(app):
    room = make_room()
    to_phase(room, "follow_up")
    follow_up = db.session.scalar(select(FollowUp).where(FollowUp.challenge_id == room.challenge.id))
    assert challenges.send_due_follow_ups(follow_up.due_at - timedelta(minutes=1)) == 0
    assert challenges.send_due_follow_ups(follow_up.due_at) == 1
    assert challenges.send_due_follow_ups(follow_up.due_at + timedelta(hours=1)) == 0
    assert _asked(room.presenter.id) == 1
    note = db.session.scalar(select(Notification).where(Notification.kind == "challenge_follow_up"))
    assert "Two teams" not in note.text and note.excerpt is None  # no content: it may be emailed
    assert db.session.get(Challenge, room.challenge.id).awaiting_update_since is not None
    post = challenges.post_to_challenge(room.presenter, room.slug, room.challenge.id, "update",
                                        "I met both leads; it went well.")
    assert post.kind == "update"
    assert db.session.get(Challenge, room.challenge.id).awaiting_update_since is None
    told = set(db.session.scalars(select(Notification.user_id).where(
        Notification.kind == "challenge_update")))
    assert told == {room.owner.id, room.moderator.id, room.member.id}


def test_a_presenter_who_left_is_not_asked(app):
    from community.circles import actions as circles

    room = make_room()
    to_phase(room, "follow_up")
    circles.leave_circle(room.presenter, room.slug)
    assert challenges.send_due_follow_ups(utcnow() + timedelta(days=400)) == 0


def test_racing_workers_ask_once(engine_app):  # noqa: F811
    room = make_room()
    to_phase(room, "follow_up")
    follow_up_id = db.session.scalar(select(FollowUp.id).where(FollowUp.challenge_id == room.challenge.id))
    later = utcnow() + timedelta(days=60)
    outcomes = race(engine_app, *[(challenges.send_follow_up, None, follow_up_id, later)] * 4)
    assert sorted(result for _, result in outcomes) == [False, False, False, True]
    outcomes = race(engine_app, *[(challenges.send_due_follow_ups, None, later)] * 3)
    assert [result for _, result in outcomes] == [0, 0, 0]
    db.session.expire_all()
    assert _asked(room.presenter.id) == 1


def test_racing_sweeps_send_each_follow_up_once(engine_app):  # noqa: F811
    rooms = [make_room() for _ in range(3)]
    for room in rooms:
        to_phase(room, "follow_up")
    later = utcnow() + timedelta(days=60)
    outcomes = race(engine_app, *[(challenges.send_due_follow_ups, None, later)] * 4)
    assert sum(result for _, result in outcomes) == 3
    db.session.expire_all()
    assert [_asked(room.presenter.id) for room in rooms] == [1, 1, 1]
