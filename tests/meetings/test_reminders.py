"""Reminders 24 hours before each date: to those going, exactly once."""
import logging
from datetime import timedelta

import pytest

from community.extensions import db
from community.meetings import reminders
from community.meetings.actions import rsvps, scheduling
from community.moderation import actions as moderation
from tests.factories import add_member, give_second_factor, make_circle, make_user

from .conftest import at, dates_of, day, notes_for, schedule


@pytest.fixture
def world(app):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    people = {name: add_member(circle, make_user(name)) for name in
              ("Gina Going", "Max Maybe", "Dan Declined", "Wes Waiting", "Ron Removed")}
    return circle, owner, people


def test_those_going_are_reminded_once_24_hours_before(world):
    circle, owner, p = world
    meeting = schedule(owner, circle, capacity="2")
    [date] = dates_of(meeting)
    for name, answer in [("Gina Going", "going"), ("Ron Removed", "going"),
                         ("Max Maybe", "maybe"), ("Dan Declined", "declined"),
                         ("Wes Waiting", "going")]:
        rsvps.rsvp(p[name], circle.slug, date.id, answer)
    moderation.remove_member(owner, circle.slug, p["Ron Removed"].id)  # Wes gets Ron's seat
    rsvps.rsvp(owner, circle.slug, date.id, "going")  # and the owner waits
    start = date.starts_at
    assert reminders.send_due_reminders(start - timedelta(hours=24, minutes=1)) == 0  # too early
    assert reminders.send_due_reminders(start - timedelta(hours=23, minutes=59)) == 2
    assert reminders.send_due_reminders(start - timedelta(hours=23)) == 0  # idempotent
    for name in ("Gina Going", "Wes Waiting"):
        [note] = notes_for(p[name], "meeting_reminder")
        assert "Reminder: Monthly meetup" in note.text and "19:00" in note.text
        assert note.url == f"/c/{circle.slug}/m/{meeting.id}"
    for name in ("Max Maybe", "Dan Declined", "Ron Removed"):
        assert notes_for(p[name], "meeting_reminder") == []
    assert notes_for(owner, "meeting_reminder") == []  # waitlisted


def test_the_reminder_is_in_the_recipients_own_zone(world):
    circle, owner, p = world
    traveller = add_member(circle, make_user("Tara Traveller", timezone="Asia/Tokyo"))
    [date] = dates_of(schedule(owner, circle, start=at(day(5), 10)))
    rsvps.rsvp(traveller, circle.slug, date.id, "going")
    reminders.send_due_reminders(date.starts_at - timedelta(hours=2))
    local = date.starts_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert local.strftime("%H:%M") in notes_for(traveller, "meeting_reminder")[0].text


def test_no_reminders_for_cancelled_or_past_dates(world):
    circle, owner, p = world
    series = schedule(owner, circle, repeat="weekly", count="3")
    first, second, _ = dates_of(series)
    one_off = schedule(owner, circle, start=at(day(40), 12))
    [other] = dates_of(one_off)
    for date in (first, second, other):
        rsvps.rsvp(p["Gina Going"], circle.slug, date.id, "going")
    scheduling.cancel_occurrence(owner, circle.slug, second.id, "Clash")
    scheduling.cancel_meeting(owner, circle.slug, one_off.id, "Off")
    assert reminders.send_due_reminders(second.starts_at - timedelta(hours=1)) == 0
    assert reminders.send_due_reminders(other.starts_at - timedelta(hours=1)) == 0
    assert reminders.send_due_reminders(first.starts_at + timedelta(minutes=1)) == 0  # begun
    assert notes_for(p["Gina Going"], "meeting_reminder") == []


def test_each_date_of_a_series_gets_its_own_reminder(world):
    circle, owner, p = world
    dates = dates_of(schedule(owner, circle, repeat="weekly", count="3"))
    for date in dates:
        rsvps.rsvp(p["Gina Going"], circle.slug, date.id, "going")
    for date in dates:
        assert reminders.send_due_reminders(date.starts_at - timedelta(hours=3)) == 1
    assert len(notes_for(p["Gina Going"], "meeting_reminder")) == 3


def test_a_moved_date_is_reminded_again_before_its_new_time(world):
    circle, owner, p = world
    dates = dates_of(schedule(owner, circle, repeat="weekly", count="2"))
    rsvps.rsvp(p["Gina Going"], circle.slug, dates[0].id, "going")
    assert reminders.send_due_reminders(dates[0].starts_at - timedelta(hours=2)) == 1
    scheduling.move_occurrence(owner, circle.slug, dates[0].id, start=at(day(12), 12),
                               duration="60")
    db.session.refresh(dates[0])
    assert reminders.send_due_reminders(dates[0].starts_at - timedelta(hours=2)) == 1
    assert len(notes_for(p["Gina Going"], "meeting_reminder")) == 2


def test_batches_are_drained(world, monkeypatch):
    circle, owner, p = world
    monkeypatch.setattr(reminders, "BATCH", 2)
    [date] = dates_of(schedule(owner, circle))
    for person in p.values():
        rsvps.rsvp(person, circle.slug, date.id, "going")
    assert reminders.send_due_reminders(date.starts_at - timedelta(hours=1)) == 5


def test_the_command_sends_and_is_safe_to_repeat(world, runner, clock):
    circle, owner, p = world
    [date] = dates_of(schedule(owner, circle))
    rsvps.rsvp(p["Gina Going"], circle.slug, date.id, "going")
    clock(date.starts_at - timedelta(hours=5))
    first = runner.invoke(args=["send-reminders"])
    assert first.exit_code == 0 and "Sent 1 meeting reminder(s)." in first.output
    again = runner.invoke(args=["send-reminders"])
    assert "Sent 0 meeting reminder(s)." in again.output


class StopLoop(Exception):
    pass


def test_the_server_loop_keeps_going_after_errors(app, monkeypatch, caplog):
    calls, sleeps = [], []

    def flaky(now=None):
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return 3

    def fake_sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) > 3:
            raise StopLoop

    monkeypatch.setattr(reminders, "send_due_reminders", flaky)
    monkeypatch.setattr(reminders.socketio, "sleep", fake_sleep)
    with caplog.at_level(logging.INFO, logger="community.meetings.reminders"), \
            pytest.raises(StopLoop):
        reminders.run_forever(app)
    assert len(calls) == 3 and sleeps == [5, 60, 60, 60]
    assert "Meeting reminders failed" in caplog.text and "Sent 3 meeting reminder(s)" in caplog.text


def test_the_loop_starts_as_a_background_task(app, monkeypatch):
    started = []
    monkeypatch.setattr(reminders.socketio, "start_background_task",
                        lambda target, *args: started.append((target, args)))
    reminders.start_reminder_loop(app)
    assert started == [(reminders.run_forever, (app,))]


def test_no_reminder_until_a_new_pledge_is_accepted(world):
    """A reminder is a cross-circle list like the feed: a member who has yet to
    accept the circle's pledge may not read its meetings, so isn't reminded."""
    from community.circles import actions as circles

    circle, owner, p = world
    [date] = dates_of(schedule(owner, circle))
    rsvps.rsvp(p["Gina Going"], circle.slug, date.id, "going")
    circles.update_circle(owner, circle.slug, name=circle.name, cohort=circle.cohort,
                          description=circle.description, join_policy=circle.join_policy,
                          pledge_required=True, pledge_text="Nothing leaves the circle.")
    due = date.starts_at - timedelta(hours=2)
    reminders.send_due_reminders(due)
    assert notes_for(p["Gina Going"], "meeting_reminder") == []
    circles.accept_pledge(p["Gina Going"], circle.slug)
    assert reminders.send_due_reminders(due) == 1
    assert len(notes_for(p["Gina Going"], "meeting_reminder")) == 1


def test_no_reminder_without_a_second_factor_the_circle_requires(world):
    from community.circles import actions as circles
    from community.timeutil import utcnow

    circle, owner, p = world
    [date] = dates_of(schedule(owner, circle))
    rsvps.rsvp(p["Gina Going"], circle.slug, date.id, "going")
    owner.second_factor_at = utcnow()
    circles.update_circle(owner, circle.slug, name=circle.name, cohort=circle.cohort,
                          description=circle.description, join_policy=circle.join_policy,
                          require_two_factor=True)
    due = date.starts_at - timedelta(hours=2)
    reminders.send_due_reminders(due)
    assert notes_for(p["Gina Going"], "meeting_reminder") == []
    give_second_factor(p["Gina Going"])
    assert reminders.send_due_reminders(due) == 1
    assert len(notes_for(p["Gina Going"], "meeting_reminder")) == 1
