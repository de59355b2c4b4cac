"""iCalendar: one meeting, a series with its exceptions, and the personal feed.

Every .ics the app serves is parsed twice, by the Python `icalendar` library and
by Mozilla's ical.js (through node), and the local times each gives are checked
against the dates the app stored.
"""
import re
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from community.extensions import db
from community.meetings.actions import scheduling
from community.moderation import actions as moderation
from tests.conftest import AuthActions
from tests.factories import add_member, give_second_factor, make_circle, make_user

from .conftest import (
    LONDON,
    at,
    dates_of,
    day,
    local_text,
    page_body,
    parse_with_icaljs,
    schedule,
    utc_text,
)


@pytest.fixture
def world(app):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    member = add_member(circle, make_user("Mia Member"))
    return circle, owner, member


def signed_in(app, user):
    client = app.test_client()
    AuthActions(client).login(user)
    return client


def fetch_ics(client, circle, meeting) -> bytes:
    response = client.get(f"/c/{circle.slug}/m/{meeting.id}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    return response.get_data()


def events(ics: bytes) -> list:
    return Calendar.from_ical(ics).walk("VEVENT")


def assert_well_formed(ics: bytes) -> None:
    """CRLF line ends, lines folded to 75 octets, no bare CR or LF inside a line."""
    assert ics.endswith(b"\r\n")
    for line in ics.split(b"\r\n")[:-1]:
        assert len(line) <= 75, line
        assert b"\r" not in line and b"\n" not in line


def occurrence_times(parsed: dict, uid: str) -> list[tuple[str, str, str | None]]:
    [event] = [e for e in parsed["events"] if e["uid"] == uid]
    return [(o["start_local"], o["start_utc"], o["status"]) for o in event["occurrences"]]


# --- One meeting ---------------------------------------------------------------------------

def test_a_one_off_meeting(app, world):
    circle, owner, member = world
    meeting = schedule(owner, circle, title="Coffee", description="Bring questions",
                       online_link="https://meet.example.org/c")
    ics = fetch_ics(signed_in(app, member), circle, meeting)
    assert_well_formed(ics)
    [event] = events(ics)
    assert str(event["UID"]) == meeting.uid and str(event["SUMMARY"]) == "Coffee"
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event.decoded("DTSTART") == meeting.starts_at.astimezone(LONDON)
    assert event.decoded("DTEND") == meeting.ends_at.astimezone(LONDON)
    assert event["SEQUENCE"] == 0 and str(event["STATUS"]) == "CONFIRMED"
    assert "Bring questions" in str(event["DESCRIPTION"])
    assert "https://meet.example.org/c" in str(event["DESCRIPTION"])
    assert str(event["URL"]).endswith(f"/c/{circle.slug}/m/{meeting.id}")
    assert [tz["TZID"] for tz in Calendar.from_ical(ics).walk("VTIMEZONE")] == ["Europe/London"]
    parsed = parse_with_icaljs(ics)
    assert parsed["timezones"] == ["Europe/London"]
    assert occurrence_times(parsed, meeting.uid) == [
        (local_text(meeting.starts_at, "Europe/London"), utc_text(meeting.starts_at),
         "CONFIRMED")]


def test_uid_is_stable_and_sequence_rises_with_each_change(app, world):
    circle, owner, member = world
    meeting = schedule(owner, circle)
    client = signed_in(app, member)
    seen = [events(fetch_ics(client, circle, meeting))[0]]
    scheduling.update_meeting(owner, circle.slug, meeting.id,
                              title="Renamed", start=at(day(12), 18), duration=60,
                              timezone="Europe/London", location="Newbury")
    seen.append(events(fetch_ics(client, circle, meeting))[0])
    scheduling.cancel_meeting(owner, circle.slug, meeting.id, "Nobody can make it")
    seen.append(events(fetch_ics(client, circle, meeting))[0])
    assert {str(e["UID"]) for e in seen} == {meeting.uid}
    assert [int(e["SEQUENCE"]) for e in seen] == [0, 1, 2]
    assert str(seen[-1]["STATUS"]) == "CANCELLED"
    assert "Nobody can make it" in str(seen[-1]["DESCRIPTION"])
    parsed = parse_with_icaljs(fetch_ics(client, circle, meeting))
    assert parsed["events"][0]["status"] == "CANCELLED" and parsed["events"][0]["sequence"] == 2
    assert parsed["events"][0]["occurrences"][0]["start_local"].endswith("T18:00:00")


# --- A series with exceptions ----------------------------------------------------------------

def test_a_series_with_a_cancelled_and_a_moved_date(app, world):
    circle, owner, member = world
    meeting = schedule(owner, circle, start=at(day(7)), repeat="weekly", count="5")
    dates = dates_of(meeting)
    scheduling.cancel_occurrence(owner, circle.slug, dates[1].id, "Bank holiday")
    moved_to = dates[3].starts_at.astimezone(LONDON).replace(hour=12) + timedelta(days=1)
    scheduling.move_occurrence(owner, circle.slug, dates[3].id,
                               start=moved_to.strftime("%Y-%m-%dT%H:%M"), duration="90")
    ics = fetch_ics(signed_in(app, member), circle, meeting)
    assert_well_formed(ics)
    master, override = events(ics)
    assert str(master["UID"]) == str(override["UID"]) == meeting.uid
    assert master["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=5;INTERVAL=1;BYDAY=" + \
        meeting.rrule.split("BYDAY=")[1].split(";")[0].encode()
    assert [d.dt for d in master["EXDATE"].dts] == [dates[1].original_start.astimezone(LONDON)]
    assert master["EXDATE"].params["TZID"] == "Europe/London"
    assert override.decoded("RECURRENCE-ID") == dates[3].original_start.astimezone(LONDON)
    assert override.decoded("DTSTART") == moved_to
    assert int(master["SEQUENCE"]) == int(override["SEQUENCE"]) == 2
    # ical.js expands the series to exactly the dates the app shows.
    expected = []
    for date in dates_of(meeting):
        if date.cancelled_at is None:
            expected.append((local_text(date.starts_at, "Europe/London"),
                             utc_text(date.starts_at), "CONFIRMED"))
    assert occurrence_times(parse_with_icaljs(ics), meeting.uid) == expected


@pytest.mark.parametrize("month", [3, 10])
def test_ics_times_are_right_across_the_clock_change(app, world, month):
    circle, owner, member = world
    year = day(0).year + 1
    change = max(d for d in (day(0).replace(year=year, month=month, day=n) for n in range(25, 32))
                 if d.weekday() == 6)
    meeting = schedule(owner, circle, start=at(change - timedelta(days=12)), repeat="weekly",
                       count="4")
    ics = fetch_ics(signed_in(app, member), circle, meeting)
    parsed = occurrence_times(parse_with_icaljs(ics), meeting.uid)
    assert [local[-8:] for local, _, _ in parsed] == ["19:00:00"] * 4
    assert [utc for _, utc, _ in parsed] == [utc_text(d.starts_at) for d in dates_of(meeting)]
    assert len({utc[11:13] for _, utc, _ in parsed}) == 2  # the UTC hour moves once


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "UTC"])
def test_other_zones_and_utc(app, world, zone):
    circle, owner, member = world
    meeting = schedule(owner, circle, timezone=zone, start=at(day(9), 9), repeat="monthly",
                       count="3")
    ics = fetch_ics(signed_in(app, member), circle, meeting)
    master = events(ics)[0]
    if zone == "UTC":
        assert b"DTSTART:" in ics and b"Z\r\n" in ics  # UTC needs no VTIMEZONE
    else:
        assert master["DTSTART"].params["TZID"] == zone
        assert [t["TZID"] for t in Calendar.from_ical(ics).walk("VTIMEZONE")] == [zone]
    parsed = occurrence_times(parse_with_icaljs(ics), meeting.uid)
    assert [utc for _, utc, _ in parsed] == [utc_text(d.starts_at) for d in dates_of(meeting)]
    assert {local.rstrip("Z")[-8:] for local, _, _ in parsed} == {"09:00:00"}


def test_a_cancelled_series(app, world):
    circle, owner, member = world
    meeting = schedule(owner, circle, repeat="weekly", count="3")
    dates = dates_of(meeting)
    scheduling.move_occurrence(owner, circle.slug, dates[2].id, start=at(day(30)), duration="60")
    scheduling.cancel_meeting(owner, circle.slug, meeting.id, "The venue closed")
    ics = fetch_ics(signed_in(app, member), circle, meeting)
    assert {str(e["STATUS"]) for e in events(ics)} == {"CANCELLED"}
    parsed = parse_with_icaljs(ics)
    assert {o["status"] for o in parsed["events"][0]["occurrences"]} == {"CANCELLED"}


# --- Text that tries to break out ------------------------------------------------------------

def test_text_is_escaped_and_folded_so_nothing_injects_a_line(app, world):
    circle, owner, member = world
    title = "Budget; cuts, and \\ backslashes — " + "long " * 30
    title = " ".join(title.split())[:200]
    description = ("Line one\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil\r\nSUMMARY:Injected\r\n"
                   "ATTENDEE:mailto:x@example.org\n;,\\")
    meeting = schedule(owner, circle, title=title, description=description,
                       location="Room 1; Floor 2, Reading")
    ics = fetch_ics(signed_in(app, member), circle, meeting)
    assert_well_formed(ics)
    [event] = events(ics)
    assert str(event["SUMMARY"]) == title
    assert str(event["LOCATION"]) == "Room 1; Floor 2, Reading"
    assert "END:VEVENT" in str(event["DESCRIPTION"]) and "ATTENDEE" not in event
    assert not re.search(rb"\r\n(UID:evil|SUMMARY:Injected|ATTENDEE)", ics)
    parsed = parse_with_icaljs(ics)
    assert [e["uid"] for e in parsed["events"]] == [meeting.uid]
    assert parsed["events"][0]["summary"] == title
    assert "BEGIN:VEVENT" in parsed["events"][0]["description"]


def test_outsiders_get_no_ics(app, world):
    circle, owner, member = world
    meeting = schedule(owner, circle)
    outsider = signed_in(app, make_user())
    real = outsider.get(f"/c/{circle.slug}/m/{meeting.id}.ics")
    made_up = outsider.get(f"/c/no-such-circle/m/{meeting.id}.ics")
    assert real.status_code == made_up.status_code == 404
    assert page_body(real) == page_body(made_up)
    assert app.test_client().get(f"/c/{circle.slug}/m/{meeting.id}.ics").status_code == 302


# --- The personal feed -------------------------------------------------------------------------

def make_feed(client) -> str:
    response = client.post("/settings/calendar")
    assert response.status_code == 201
    page = response.get_data(as_text=True)
    [url] = re.findall(r'value="(http[^"]+/calendar/[^"]+\.ics)"', page)
    return url.split("://", 1)[1].split("/", 1)[1]  # the path


def test_the_feed_holds_every_meeting_of_my_circles_and_drops_a_circle_i_leave(app, world):
    circle, owner, member = world
    second = make_circle(make_user(), name="Thames Valley")
    add_member(second, member)
    stranger_circle = make_circle(make_user(), name="Not mine")
    mine = schedule(owner, circle, title="Berkshire meetup", description="Private agenda",
                    repeat="weekly", count="3")
    scheduling.cancel_occurrence(owner, circle.slug, dates_of(mine)[1].id, "Clash")
    theirs = scheduling.schedule_meeting(db.session.get(type(member), second.created_by_id),
                                         second.slug, title="Thames visit", start=at(day(4), 10),
                                         duration=60, timezone="America/New_York",
                                         location="Windsor")
    hidden = schedule(db.session.get(type(member), stranger_circle.created_by_id),
                      stranger_circle, title="Not for you")
    path = "/" + make_feed(signed_in(app, member))
    anonymous = app.test_client()  # calendar apps have no session
    response = anonymous.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    ics = response.get_data()
    assert_well_formed(ics)
    by_uid = {str(e["UID"]): e for e in events(ics)}
    assert set(by_uid) == {mine.uid, theirs.uid}
    assert hidden.title.encode() not in ics
    assert b"Private agenda" not in ics  # feeds carry no descriptions
    assert {t["TZID"] for t in Calendar.from_ical(ics).walk("VTIMEZONE")} == {
        "Europe/London", "America/New_York"}
    parsed = parse_with_icaljs(ics)
    assert len(occurrence_times(parsed, mine.uid)) == 2  # three dates, one cancelled
    assert occurrence_times(parsed, theirs.uid)[0][0].endswith("T10:00:00")
    # Removed from the Berkshire circle: its meetings leave the feed.
    moderation.remove_member(owner, circle.slug, member.id)
    assert {str(e["UID"]) for e in events(anonymous.get(path).get_data())} == {theirs.uid}


def test_regenerating_kills_the_old_address_and_off_kills_both(app, world):
    circle, owner, member = world
    schedule(owner, circle)
    client = signed_in(app, member)
    old = "/" + make_feed(client)
    settings = client.get("/settings/calendar").get_data(as_text=True)
    assert "Your feed is on" in settings and old not in settings  # shown once only
    new = "/" + make_feed(client)
    anonymous = app.test_client()
    assert anonymous.get(old).status_code == 404
    assert anonymous.get(new).status_code == 200
    client.post("/settings/calendar/off")
    assert anonymous.get(new).status_code == 404


def test_unknown_and_suspended_feeds_are_not_found(app, world):
    circle, owner, member = world
    path = "/" + make_feed(signed_in(app, member))
    anonymous = app.test_client()
    unknown = anonymous.get("/calendar/not-a-real-token.ics")
    assert unknown.status_code == 404  # not a redirect to sign in
    member.suspended_at = member.created_at
    db.session.commit()
    assert anonymous.get(path).status_code == 404
    assert anonymous.get(path).get_data() == unknown.get_data()


def test_an_empty_feed_is_a_valid_calendar(app):
    client = signed_in(app, make_user())
    ics = app.test_client().get("/" + make_feed(client)).get_data()
    assert events(ics) == []
    assert parse_with_icaljs(ics)["events"] == []


def test_feed_is_utc_safe_for_any_viewer_zone(app, world):
    """Times in the feed are the meeting's own zone, whatever the subscriber's."""
    circle, owner, member = world
    member.timezone = "Australia/Sydney"
    db.session.commit()
    meeting = schedule(owner, circle)
    ics = app.test_client().get("/" + make_feed(signed_in(app, member))).get_data()
    [event] = events(ics)
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event.decoded("DTSTART").astimezone(UTC) == meeting.starts_at
    assert event.decoded("DTSTART").astimezone(ZoneInfo("Australia/Sydney")) == \
        meeting.starts_at.astimezone(ZoneInfo("Australia/Sydney"))


def test_circles_whose_pledge_is_not_yet_accepted_stay_out_of_the_feed(app, world):
    from community.circles import actions as circles

    circle, owner, member = world
    meeting = schedule(owner, circle)
    path = "/" + make_feed(signed_in(app, member))
    anonymous = app.test_client()
    assert meeting.title.encode() in anonymous.get(path).get_data()
    circles.update_circle(owner, circle.slug, name=circle.name, cohort=circle.cohort,
                          description=circle.description, join_policy=circle.join_policy,
                          pledge_required=True, pledge_text="Nothing leaves the circle.")
    assert events(anonymous.get(path).get_data()) == []
    assert meeting.title not in signed_in(app, member).get("/").get_data(as_text=True)
    circles.accept_pledge(member, circle.slug)
    assert [str(e["UID"]) for e in events(anonymous.get(path).get_data())] == [meeting.uid]


def test_circles_that_require_a_second_factor_stay_out_of_the_feed_of_members_without_one(app, world):
    from community.circles import actions as circles
    from community.timeutil import utcnow

    circle, owner, member = world
    meeting = schedule(owner, circle)
    path = "/" + make_feed(signed_in(app, member))
    anonymous = app.test_client()
    assert meeting.title.encode() in anonymous.get(path).get_data()
    owner.second_factor_at = utcnow()
    circles.update_circle(owner, circle.slug, name=circle.name, cohort=circle.cohort,
                          description=circle.description, join_policy=circle.join_policy,
                          require_two_factor=True)
    assert events(anonymous.get(path).get_data()) == []  # fetched before: not a stale copy
    give_second_factor(member)
    assert [str(e["UID"]) for e in events(anonymous.get(path).get_data())] == [meeting.uid]


def test_the_feed_answers_304_until_something_in_it_changes(app, world):
    """Calendar apps poll the feed; an unchanged feed is a 304, and any change
    (a meeting edited, one date moved) is a new body at once."""
    circle, owner, member = world
    meeting = schedule(owner, circle, title="Berkshire meetup", start=at(day(7)), repeat="weekly",
                       count="3")
    path = "/" + make_feed(signed_in(app, member))
    calendar_app = app.test_client()
    first = calendar_app.get(path)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and "no-cache" in first.headers["Cache-Control"]
    again = calendar_app.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert calendar_app.get(path).get_data() == first.get_data()

    def changed() -> bytes:
        nonlocal etag
        response = calendar_app.get(path, headers={"If-None-Match": etag})
        assert response.status_code == 200 and response.headers["ETag"] != etag
        etag = response.headers["ETag"]
        return response.get_data()

    scheduling.update_meeting(owner, circle.slug, meeting.id, title="Renamed meetup",
                              start=at(day(7)), duration=60, timezone="Europe/London",
                              location="Newbury", repeat="weekly", count="3")
    assert b"Renamed meetup" in changed()
    third = dates_of(meeting)[2]
    moved_to = third.starts_at.astimezone(LONDON).replace(hour=12)
    scheduling.move_occurrence(owner, circle.slug, third.id,
                               start=moved_to.strftime("%Y-%m-%dT%H:%M"), duration="90")
    assert b"RECURRENCE-ID" in changed()


def _a_feed_with_everything(app, world) -> str:
    """A one-off with a host, and a series with a moved and a cancelled date."""
    circle, owner, member = world
    schedule(owner, circle, title="Visit", start=at(day(3)), host_user_id=str(member.id),
             host_organisation="Riverside Trust")
    series = schedule(owner, circle, title="Weekly", start=at(day(7)), repeat="weekly", count="4")
    second, third = dates_of(series)[1:3]
    moved_to = third.starts_at.astimezone(LONDON).replace(hour=12)
    scheduling.move_occurrence(owner, circle.slug, third.id,
                               start=moved_to.strftime("%Y-%m-%dT%H:%M"), duration="90")
    scheduling.cancel_occurrence(owner, circle.slug, second.id, reason="Snow")
    return "/" + make_feed(signed_in(app, member))


def test_the_feeds_version_read_as_rows_is_the_version_of_what_it_shows(app, world):
    """A poll works the version out from plain rows (queries.feed_version_rows);
    a body is kept under the version of the meetings it was built from. The two
    must agree, or every poll would build the feed afresh."""
    from community.meetings import feed_cache, queries
    from community.meetings.models import CalendarFeed
    from community.timeutil import utcnow

    _a_feed_with_everything(app, world)
    user = db.session.scalars(select(CalendarFeed)).one().user
    now = utcnow()
    rows = queries.feed_version_rows(user, now)
    entries = queries.feed_meetings(user, now)
    assert feed_cache.rows_of(entries) == rows
    assert [len(dates) for *_, dates in rows] == [2, 1]  # the series' moved and cancelled; the one-off's
    assert {host for _, _, host, _ in rows} == {"", "Mia Member"}
    assert feed_cache.version(rows, "http://x/") == feed_cache.version(feed_cache.rows_of(entries), "http://x/")


def test_a_poll_of_a_kept_feed_loads_no_meeting(app, world):
    """Once built, the feed is answered (a 304, or the kept body) from two
    prepared reads: no meeting, date, circle or host is loaded as an object."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    path = _a_feed_with_everything(app, world)
    calendar_app = app.test_client()
    first = calendar_app.get(path)
    loaded = []
    listen = lambda state: loaded.append(str(state.statement))  # noqa: E731
    event.listen(Session, "do_orm_execute", listen)
    try:
        again = calendar_app.get(path)
        unchanged = calendar_app.get(path, headers={"If-None-Match": first.headers["ETag"]})
    finally:
        event.remove(Session, "do_orm_execute", listen)
    assert again.get_data() == first.get_data() and again.headers["ETag"] == first.headers["ETag"]
    assert unchanged.status_code == 304
    assert not [sql for sql in loaded if "FROM meetings" in sql or "meeting_occurrences" in sql], loaded
