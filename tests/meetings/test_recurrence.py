"""Series of dates: the RRULEs, DST on the wall clock, and exceptions to a series."""
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from community.errors import ActionError
from community.extensions import db
from community.meetings.actions import rsvps, scheduling
from community.meetings.models import RSVP, Meeting, MeetingOccurrence
from community.meetings.recurrence import build_rrule, describe, expand, parse_rrule
from tests.factories import add_member, make_circle, make_user

from .conftest import LONDON, at, dates_of, day, meeting_fields, notes_for, schedule


def last_sunday(year: int, month: int) -> date:
    end = date(year, month, 31)
    return end - timedelta(days=(end.weekday() - 6) % 7)


def clock_change_year() -> int:
    """A year whose March and October clock changes are both still to come."""
    return day(0).year + 1


@pytest.fixture
def circle_people(app):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    return circle, {"owner": owner, "member": add_member(circle, make_user("Mia Member")),
                    "other": add_member(circle, make_user("Otto Other"))}


# --- Rules -----------------------------------------------------------------------------------

def test_rules_are_canonical_and_read_back():
    start = datetime(2030, 3, 5, 19, tzinfo=LONDON)  # the first Tuesday of March 2030
    weekly = build_rrule("weekly", start, interval=2, count=10)
    assert weekly == "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=10"
    until = datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC)
    monthly = build_rrule("monthly", start, month_week=1, until_utc=until)
    assert monthly == "FREQ=MONTHLY;INTERVAL=1;BYDAY=1TU;UNTIL=20301231T235959Z"
    assert parse_rrule(monthly)["month_week"] == 1 and parse_rrule(monthly)["until"] == until
    assert build_rrule("none", start) is None
    assert describe(weekly, "Europe/London") == "Every 2 weeks on Tuesday, 10 times"
    assert describe(monthly, "Europe/London") == "Monthly on the first Tuesday, until 31 Dec 2030"
    assert describe("FREQ=MONTHLY;INTERVAL=3;BYDAY=-1FR;COUNT=4", "UTC") == \
        "Every 3 months on the last Friday, 4 times"
    assert describe(None, "UTC") == "Once"


def test_weekly_every_n_weeks(circle_people):
    circle, p = circle_people
    start = day(7)
    meeting = schedule(p["owner"], circle, start=at(start, 18), repeat="weekly", interval="3",
                       count="4")
    starts = [d.starts_at.astimezone(LONDON) for d in dates_of(meeting)]
    assert [s.date() for s in starts] == [start + timedelta(weeks=3 * i) for i in range(4)]
    assert {(s.hour, s.minute) for s in starts} == {(18, 0)}


def test_monthly_on_the_nth_weekday_with_an_end_date(circle_people):
    circle, p = circle_people
    year = day(0).year + 1
    first_tuesday = next(date(year, 1, d) for d in range(1, 8) if date(year, 1, d).weekday() == 1)
    meeting = schedule(p["owner"], circle, start=at(first_tuesday), repeat="monthly",
                       until=date(year, 6, 30).isoformat())
    days = [d.starts_at.astimezone(LONDON).date() for d in dates_of(meeting)]
    assert len(days) == 6
    assert all(d.weekday() == 1 and d.day <= 7 for d in days)  # every first Tuesday
    assert [d.month for d in days] == [1, 2, 3, 4, 5, 6]
    assert meeting.rrule.startswith("FREQ=MONTHLY;INTERVAL=1;BYDAY=1TU;UNTIL=")


def test_monthly_on_the_last_weekday(circle_people):
    circle, p = circle_people
    year = day(0).year + 1
    last_friday = max(date(year, 1, d) for d in range(25, 32) if date(year, 1, d).weekday() == 4)
    meeting = schedule(p["owner"], circle, start=at(last_friday), repeat="monthly",
                       month_week="-1", count="5")
    for d in dates_of(meeting):
        local = d.starts_at.astimezone(LONDON).date()
        assert local.weekday() == 4 and (local + timedelta(days=7)).month != local.month


def test_the_first_date_must_fall_in_the_chosen_week(circle_people):
    circle, p = circle_people
    year = day(0).year + 1
    second_tuesday = next(date(year, 1, d) for d in range(8, 15) if date(year, 1, d).weekday() == 1)
    with pytest.raises(ActionError, match="first Tuesday") as err:
        schedule(p["owner"], circle, start=at(second_tuesday), repeat="monthly", month_week="1",
                 count="3")
    assert err.value.field == "month_week"
    with pytest.raises(ActionError, match="last Tuesday"):
        schedule(p["owner"], circle, start=at(second_tuesday), repeat="monthly",
                 month_week="last", count="3")
    # Left to itself, the week is taken from the first date.
    meeting = schedule(p["owner"], circle, start=at(second_tuesday), repeat="monthly", count="3")
    assert "BYDAY=2TU" in meeting.rrule


def test_series_are_bounded(circle_people):
    circle, p = circle_people
    with pytest.raises(ActionError, match="more than 104 dates"):
        schedule(p["owner"], circle, repeat="weekly", until=(day(10) + timedelta(weeks=110))
                 .isoformat())
    with pytest.raises(ActionError, match="five years"):
        schedule(p["owner"], circle, repeat="monthly", interval="12", count="7")
    with pytest.raises(ActionError, match="only one date"):
        schedule(p["owner"], circle, repeat="weekly", until=day(12).isoformat())
    with pytest.raises(ActionError, match="before the first"):
        schedule(p["owner"], circle, repeat="weekly", until=day(9).isoformat())
    meeting = schedule(p["owner"], circle, repeat="weekly", count="104")
    assert len(dates_of(meeting)) == 104


# --- Daylight saving ----------------------------------------------------------------------

@pytest.mark.parametrize("month", [3, 10])
def test_a_london_evening_stays_at_19_00_across_the_clock_change(circle_people, month):
    """Weekly at 19:00 Europe/London across the change: 19:00 local every week,
    so the UTC instant moves by an hour (GMT 19:00Z <-> BST 18:00Z)."""
    circle, p = circle_people
    change = last_sunday(clock_change_year(), month)
    first = change - timedelta(days=12)  # a Tuesday, two weeks before
    meeting = schedule(p["owner"], circle, start=at(first), repeat="weekly", count="4")
    starts = [d.starts_at for d in dates_of(meeting)]
    assert [s.astimezone(LONDON).strftime("%H:%M") for s in starts] == ["19:00"] * 4
    utc_hours = [s.astimezone(UTC).hour for s in starts]
    assert utc_hours == ([19, 19, 18, 18] if month == 3 else [18, 18, 19, 19])
    assert all(b - a in (timedelta(days=7, hours=-1), timedelta(days=7, hours=1))
               or b - a == timedelta(days=7) for a, b in zip(starts, starts[1:], strict=False))


def test_expansion_matches_the_wall_clock_in_another_zone():
    start = datetime(2031, 3, 4, 9, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
    starts = expand(start, "America/New_York", "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;COUNT=3")
    # The US clocks change on the second Sunday of March (9 March 2031).
    assert [s.astimezone(UTC).hour for s in starts] == [14, 13, 13]
    assert {s.astimezone(ZoneInfo("America/New_York")).hour for s in starts} == {9}


def test_viewers_in_another_zone_see_the_shifted_hour(client, auth, circle_people):
    """In the weeks when the US has changed its clocks and the UK hasn't, a
    London 19:00 is 15:00 in New York, not 14:00."""
    circle, p = circle_people
    year = clock_change_year()
    us_change = date(year, 3, 8) + timedelta(days=(6 - date(year, 3, 8).weekday()) % 7)
    first = us_change - timedelta(days=5)  # a Tuesday before the US change
    meeting = schedule(p["owner"], circle, start=at(first), repeat="weekly", count="2")
    viewer = add_member(circle, make_user("Nate NewYork", timezone="America/New_York"))
    auth.login(viewer)
    page = client.get(f"/c/{circle.slug}/m/{meeting.id}?date={dates_of(meeting)[1].id}")
    text = page.get_data(as_text=True)
    assert "15:00–17:00" in text  # the viewer's clock
    assert "19:00–21:00 GMT (Europe/London)" in text  # and the meeting's own


# --- Exceptions: one date cancelled or moved ------------------------------------------------

def test_each_date_has_its_own_rsvps_and_can_be_cancelled_or_moved(circle_people):
    circle, p = circle_people
    meeting = schedule(p["owner"], circle, repeat="weekly", count="4", capacity="1")
    first, second, third, fourth = dates_of(meeting)
    rsvps.rsvp(p["member"], circle.slug, first.id, "going")
    assert rsvps.rsvp(p["other"], circle.slug, first.id, "going").answer == "waitlisted"
    assert rsvps.rsvp(p["other"], circle.slug, second.id, "going").answer == "going"
    rsvps.rsvp(p["member"], circle.slug, third.id, "going")
    cancelled = scheduling.cancel_occurrence(p["owner"], circle.slug, second.id, "Bank holiday")
    assert cancelled.cancelled_at is not None and cancelled.cancel_reason == "Bank holiday"
    new_start = third.starts_at.astimezone(LONDON).replace(hour=18, minute=30)
    moved = scheduling.move_occurrence(p["owner"], circle.slug, third.id,
                                       start=new_start.strftime("%Y-%m-%dT%H:%M"), duration="90")
    assert moved.moved_at is not None and moved.starts_at == new_start.astimezone(UTC)
    assert moved.original_start == third.original_start  # the RECURRENCE-ID stays put
    assert moved.ends_at - moved.starts_at == timedelta(minutes=90)
    assert db.session.get(Meeting, meeting.id).sequence == 2
    # The rest of the series is untouched.
    db.session.refresh(first)
    db.session.refresh(fourth)
    assert first.cancelled_at is None and first.moved_at is None and fourth.moved_at is None
    assert [n.text for n in notes_for(p["other"], "meeting_cancelled")] and \
        "moves to" in notes_for(p["member"], "meeting_changed")[0].text
    with pytest.raises(ActionError, match="cancelled"):
        rsvps.rsvp(p["member"], circle.slug, second.id, "going")
    with pytest.raises(ActionError, match="cancelled"):
        scheduling.move_occurrence(p["owner"], circle.slug, second.id, start=at(day(30)),
                                   duration="60")


def test_single_date_changes_are_checked(circle_people):
    circle, p = circle_people
    series = schedule(p["owner"], circle, repeat="weekly", count="3")
    one_off = schedule(p["owner"], circle)
    date_id = dates_of(series)[0].id
    with pytest.raises(ActionError, match="past"):
        scheduling.move_occurrence(p["owner"], circle.slug, date_id, start=at(day(-1)),
                                   duration="60")
    with pytest.raises(ActionError, match="five years"):
        scheduling.move_occurrence(p["owner"], circle.slug, date_id, start=at(day(6 * 366)),
                                   duration="60")
    with pytest.raises(ActionError, match="single line|understand"):
        scheduling.move_occurrence(p["owner"], circle.slug, date_id,
                                   start=at(day(12)) + "\r\nRRULE:FREQ=SECONDLY", duration="60")
    with pytest.raises(ActionError) as err:
        scheduling.move_occurrence(p["owner"], circle.slug, date_id, start=at(day(12)),
                                   duration="", end=at(day(12), 18))
    assert err.value.field == "end"
    with pytest.raises(ActionError, match="one-off"):
        scheduling.cancel_occurrence(p["owner"], circle.slug, dates_of(one_off)[0].id, "x")
    with pytest.raises(ActionError) as err:
        scheduling.cancel_occurrence(p["owner"], circle.slug, date_id, "")
    assert err.value.field == "reason"


def series_fields(first: date, **overrides):
    fields = meeting_fields(start=at(first), repeat="weekly", count="6")
    fields.update(overrides)
    return fields


def test_rescheduling_a_series_before_it_begins_keeps_rsvps_in_order(circle_people):
    circle, p = circle_people
    first = day(8)
    meeting = schedule(p["owner"], circle, **series_fields(first))
    dates = dates_of(meeting)
    rsvps.rsvp(p["member"], circle.slug, dates[2].id, "going")
    # A week later, half an hour earlier: every date takes its neighbour's old slot.
    later = first + timedelta(weeks=1)
    scheduling.update_meeting(p["owner"], circle.slug, meeting.id,
                              **series_fields(later, start=at(later, 18, 30)))
    moved = dates_of(meeting)
    assert [d.id for d in moved] == [d.id for d in dates]
    assert moved[2].starts_at.astimezone(LONDON).date() == later + timedelta(weeks=2)
    assert moved[2].starts_at.astimezone(LONDON).strftime("%H:%M") == "18:30"
    assert db.session.scalar(db.select(RSVP.occurrence_id).where(
        RSVP.user_id == p["member"].id)) == dates[2].id
    assert "The dates of" in notes_for(p["member"], "meeting_changed")[0].text


def test_changing_only_the_end_keeps_moves_and_cancellations(circle_people):
    circle, p = circle_people
    meeting = schedule(p["owner"], circle, **series_fields(day(8)))
    dates = dates_of(meeting)
    scheduling.cancel_occurrence(p["owner"], circle.slug, dates[1].id, "Clash")
    scheduling.move_occurrence(p["owner"], circle.slug, dates[2].id,
                               start=at(day(8 + 15), 12), duration="60")
    scheduling.update_meeting(p["owner"], circle.slug, meeting.id,
                              **series_fields(day(8), count="8"))
    after = dates_of(meeting)
    assert len(after) == 8 and after[1].cancelled_at is not None and after[2].moved_at is not None
    scheduling.update_meeting(p["owner"], circle.slug, meeting.id,
                              **series_fields(day(8), count="3"))
    assert [d.id for d in dates_of(meeting)] == [d.id for d in dates[:3]]
    assert "COUNT=3" in db.session.get(Meeting, meeting.id).rrule


def test_a_series_that_has_begun_can_only_change_its_end(circle_people, clock):
    circle, p = circle_people
    meeting = schedule(p["owner"], circle, **series_fields(day(8)))
    dates = dates_of(meeting)
    clock(dates[2].ends_at + timedelta(hours=1))  # three dates have happened
    with pytest.raises(ActionError, match="already begun") as err:
        scheduling.update_meeting(p["owner"], circle.slug, meeting.id,
                                  **series_fields(day(8), start=at(day(8), 18)))
    assert err.value.field == "start"
    with pytest.raises(ActionError, match="already begun"):
        scheduling.update_meeting(p["owner"], circle.slug, meeting.id,
                                  **series_fields(day(8), interval="2"))
    with pytest.raises(ActionError, match="already happened") as err:
        scheduling.update_meeting(p["owner"], circle.slug, meeting.id,
                                  **series_fields(day(8), count="2"))
    assert err.value.field == "until"
    assert len(dates_of(meeting)) == 6  # nothing half-done
    scheduling.update_meeting(p["owner"], circle.slug, meeting.id, **series_fields(day(8), count="4"))
    assert len(dates_of(meeting)) == 4
    # Editing the words of a begun series is fine too.
    scheduling.update_meeting(p["owner"], circle.slug, meeting.id,
                              **series_fields(day(8), count="4", title="Renamed"))
    assert db.session.get(Meeting, meeting.id).title == "Renamed"
    assert db.session.scalar(db.select(db.func.count(MeetingOccurrence.id))) == 4
