"""Meetings through their actions: proposing, changing, cancelling, RSVPs and the
waitlist, date polls, visits, and what people are told."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from community.errors import ActionError, Conflict, Forbidden, NotFound
from community.extensions import db
from community.meetings.actions import feeds, polls, rsvps, scheduling, visits
from community.meetings.models import RSVP, DatePoll, HostOffer, Meeting, MeetingOccurrence
from community.moderation import actions as moderation
from community.timeutil import utcnow
from tests.factories import add_member, make_circle, make_user

from .conftest import at, dates_of, day, kinds_for, meeting_fields, notes_for, schedule


@pytest.fixture
def circle_people(app):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    people = {"owner": owner, "moderator": add_member(circle, make_user("Mo Moderator"),
                                                      role="moderator"),
              "organiser": add_member(circle, make_user("Orla Organiser")),
              "member": add_member(circle, make_user("Mia Member")),
              "other": add_member(circle, make_user("Otto Other")),
              "outsider": make_user("Nina Outsider")}
    return circle, people


def answer_of(occurrence, user) -> str | None:
    return db.session.scalar(select(RSVP.answer).where(RSVP.occurrence_id == occurrence.id,
                                                       RSVP.user_id == user.id))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- Proposing ---------------------------------------------------------------------------

def test_any_member_proposes_a_meeting_and_the_circle_is_told(circle_people):
    circle, p = circle_people
    meeting = schedule(p["member"], circle, title="Coffee", capacity="8",
                       online_link="https://meet.example.org/x")
    assert meeting.organiser_id == p["member"].id and meeting.capacity == 8
    assert meeting.timezone == "Europe/London" and meeting.rrule is None
    [only] = dates_of(meeting)
    assert only.starts_at == meeting.starts_at and only.ends_at - only.starts_at == timedelta(hours=2)
    assert only.starts_at.astimezone(meeting.starts_at.tzinfo) == meeting.starts_at
    for role in ("owner", "moderator", "organiser", "other"):
        [note] = notes_for(p[role], "meeting_created")
        assert "Coffee" in note.text and note.url == f"/c/{circle.slug}/m/{meeting.id}"
    assert notes_for(p["member"]) == []  # not told about their own meeting
    assert notes_for(p["outsider"]) == []


def test_description_is_markdown_rendered_safely_and_never_in_notifications(circle_people):
    circle, p = circle_people
    secret = "Our **frank** talk <script>alert(1)</script> about the merger"
    meeting = schedule(p["member"], circle, description=secret)
    assert "<strong>frank</strong>" in meeting.description_html
    assert "<script>" not in meeting.description_html
    assert all("merger" not in n.text for n in notes_for(p["owner"]))


def test_the_default_timezone_is_the_organisers(app):
    owner = make_user(timezone="America/New_York")
    circle = make_circle(owner)
    meeting = scheduling.schedule_meeting(owner, circle.slug, title="Call", start=at(day(5), 9),
                                          duration=60, online_link="https://meet.example.org/a")
    assert meeting.timezone == "America/New_York"
    assert meeting.starts_at.hour in (13, 14)  # 09:00 in New York is 13:00 or 14:00 UTC


def test_end_can_be_given_instead_of_a_duration(circle_people):
    circle, p = circle_people
    meeting = schedule(p["member"], circle, duration="", start=at(day(3), 10),
                       end=at(day(3), 13, 30))
    assert meeting.ends_at - meeting.starts_at == timedelta(hours=3, minutes=30)


def test_non_members_cannot_propose_or_see(circle_people):
    circle, p = circle_people
    with pytest.raises(NotFound):
        schedule(p["outsider"], circle)
    meeting = schedule(p["member"], circle)
    with pytest.raises(NotFound):
        rsvps.rsvp(p["outsider"], circle.slug, dates_of(meeting)[0].id, "going")


HOSTILE = [
    ({"title": ""}, "title", "Enter the title"),
    ({"title": "x" * 10_000}, "title", "at most 200"),
    ({"title": "Meetup\r\nBEGIN:VEVENT"}, "title", "single line"),
    ({"title": "Meetup\nSUMMARY:spoof"}, "title", "single line"),
    ({"location": "Reading\r\nATTENDEE:x"}, "location", "single line"),
    ({"location": "", "online_link": ""}, "location", "Say where"),
    ({"online_link": "javascript:alert(1)"}, "online_link", "https://"),
    ({"online_link": "https://x.org/a\r\nX-EVIL:1"}, "online_link", "single line"),
    ({"start": "not a date"}, "start", "understand"),
    ({"start": "2025-02-30T19:00"}, "start", "understand"),
    ({"start": "9999-01-01T19:00"}, "start", "between 2000 and 2100"),
    ({"start": ""}, "start", "Enter the start"),
    ({"start": at(day(-2))}, "start", "in the past"),
    ({"start": at(day(6 * 366))}, "start", "five years"),
    ({"duration": "", "end": None}, "end", "end time or how long"),
    ({"duration": "", "end": at(day(10), 18)}, "end", "after the start"),
    ({"duration": "", "end": at(day(10), 19)}, "end", "after the start"),
    ({"duration": "0"}, "duration", "from 5"),
    ({"duration": "-30"}, "duration", "whole number"),
    ({"duration": "99999999"}, "duration", "whole number"),
    ({"duration": "1e3"}, "duration", "whole number"),
    ({"capacity": "0"}, "capacity", "from 1"),
    ({"capacity": "-5"}, "capacity", "whole number"),
    ({"capacity": "1000000"}, "capacity", "whole number"),
    ({"capacity": "ten"}, "capacity", "whole number"),
    ({"capacity": "²"}, "capacity", "whole number"),
    ({"repeat": "weekly", "count": "¹²"}, "count", "whole number"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone", "timezone"),
    ({"timezone": "Europe/London\r\nX"}, "timezone", "timezone"),
    ({"repeat": "yearly"}, "repeat", "repeats"),
    ({"repeat": "weekly;COUNT=9999"}, "repeat", "repeats"),
    ({"repeat": "FREQ=DAILY"}, "repeat", "repeats"),
    ({"repeat": "weekly", "count": "3;BYHOUR=1"}, "count", "whole number"),
    ({"repeat": "weekly", "count": "5", "interval": "1;FREQ=DAILY"}, "interval", "whole number"),
    ({"repeat": "weekly", "until": "2030-01-01\r\nBEGIN:VEVENT"}, "until", "understand"),
    ({"repeat": "weekly"}, "count", "Say when the series ends"),
    ({"repeat": "weekly", "count": "4", "until": "2030-01-01"}, "until", "not both"),
    ({"repeat": "weekly", "count": "105"}, "count", "from 2 to 104"),
    ({"repeat": "weekly", "count": "1"}, "count", "from 2 to 104"),
    ({"repeat": "weekly", "interval": "0", "count": "3"}, "interval", "from 1"),
    ({"host_user_id": "999999"}, "host_user_id", "members"),
    ({"host_organisation": "Somewhere"}, "host_user_id", "which member"),
    ({"description": "x" * 10_001}, "description", "at most"),
]


@pytest.mark.parametrize("overrides,field,words", HOSTILE, ids=[f"{h[1]}-{i}" for i, h in
                                                                enumerate(HOSTILE)])
def test_hostile_input_is_refused_clearly_and_stores_nothing(circle_people, overrides, field,
                                                            words):
    circle, p = circle_people
    before = (count(Meeting), count(MeetingOccurrence))
    with pytest.raises(ActionError) as err:
        schedule(p["member"], circle, **overrides)
    assert err.value.field == field
    assert words.lower() in err.value.message.lower()
    db.session.rollback()
    assert (count(Meeting), count(MeetingOccurrence)) == before


def test_a_start_the_clocks_skip_is_refused(circle_people):
    circle, p = circle_people
    year = day(0).year + 1
    # The last Sunday of March: 01:00-02:00 does not exist in London.
    last_sunday = max(d for d in (day(0).replace(year=year, month=3, day=n) for n in range(25, 32))
                      if d.weekday() == 6)
    with pytest.raises(ActionError, match="clocks go forward") as err:
        schedule(p["member"], circle, start=at(last_sunday, 1, 30))
    assert err.value.field == "start"


# --- Changing and cancelling ---------------------------------------------------------------

@pytest.mark.parametrize("role", ["organiser", "moderator", "owner"])
def test_the_organiser_and_staff_edit(circle_people, role):
    circle, p = circle_people
    meeting = schedule(p["organiser"], circle)
    changed = scheduling.update_meeting(p[role], circle.slug, meeting.id,
                                        **meeting_fields(title="Renamed", location="Newbury"))
    assert (changed.title, changed.location, changed.sequence) == ("Renamed", "Newbury", 1)


def test_other_members_cannot_edit_or_cancel(circle_people):
    circle, p = circle_people
    meeting = schedule(p["organiser"], circle)
    with pytest.raises(Forbidden):
        scheduling.update_meeting(p["member"], circle.slug, meeting.id, **meeting_fields(title="X"))
    with pytest.raises(Forbidden):
        scheduling.cancel_meeting(p["member"], circle.slug, meeting.id, "No")
    db.session.rollback()
    assert db.session.get(Meeting, meeting.id).title == "Monthly meetup"


def test_going_and_maybe_are_told_of_each_change_and_others_are_not(circle_people):
    circle, p = circle_people
    meeting = schedule(p["organiser"], circle)
    [date] = dates_of(meeting)
    rsvps.rsvp(p["member"], circle.slug, date.id, "going")
    rsvps.rsvp(p["other"], circle.slug, date.id, "maybe")
    rsvps.rsvp(p["moderator"], circle.slug, date.id, "declined")
    scheduling.update_meeting(p["organiser"], circle.slug, meeting.id,
                              **meeting_fields(start=at(day(11), 18)))
    for role in ("member", "other"):
        [note] = notes_for(p[role], "meeting_changed")
        assert "new time" in note.text and "18:00" in note.text
    assert notes_for(p["moderator"], "meeting_changed") == []
    # Each notice is written on its reader's clock.
    p["member"].clock = "12"
    db.session.commit()
    scheduling.update_meeting(p["organiser"], circle.slug, meeting.id,
                              **meeting_fields(start=at(day(11), 19, 30)))
    assert "7:30 pm" in notes_for(p["member"], "meeting_changed")[-1].text
    assert "19:30" in notes_for(p["other"], "meeting_changed")[-1].text
    assert notes_for(p["organiser"], "meeting_changed") == []  # they made the change
    # RSVPs follow the meeting to its new time.
    assert answer_of(date, p["member"]) == "going"
    db.session.refresh(date)
    assert date.starts_at == meeting.starts_at


def test_saving_without_changes_tells_nobody_and_keeps_the_sequence(circle_people):
    circle, p = circle_people
    meeting = schedule(p["organiser"], circle)
    rsvps.rsvp(p["member"], circle.slug, dates_of(meeting)[0].id, "going")
    scheduling.update_meeting(p["organiser"], circle.slug, meeting.id, **meeting_fields())
    assert db.session.get(Meeting, meeting.id).sequence == 0
    assert notes_for(p["member"], "meeting_changed") == []


def test_cancel_needs_a_reason_and_tells_those_coming(circle_people):
    circle, p = circle_people
    meeting = schedule(p["organiser"], circle)
    [date] = dates_of(meeting)
    rsvps.rsvp(p["member"], circle.slug, date.id, "going")
    rsvps.rsvp(p["other"], circle.slug, date.id, "declined")
    with pytest.raises(ActionError) as err:
        scheduling.cancel_meeting(p["organiser"], circle.slug, meeting.id, "   ")
    assert err.value.field == "reason"
    cancelled = scheduling.cancel_meeting(p["moderator"], circle.slug, meeting.id, "Venue flooded")
    assert cancelled.cancelled_at is not None and cancelled.cancel_reason == "Venue flooded"
    assert cancelled.sequence == 1
    assert [n.kind for n in notes_for(p["member"]) if n.kind.startswith("meeting_c")] == [
        "meeting_created", "meeting_cancelled"]
    assert notes_for(p["other"], "meeting_cancelled") == []
    with pytest.raises(Conflict):
        scheduling.cancel_meeting(p["organiser"], circle.slug, meeting.id, "Again")
    with pytest.raises(ActionError, match="cancelled"):
        rsvps.rsvp(p["other"], circle.slug, date.id, "going")
    with pytest.raises(ActionError, match="cancelled"):
        scheduling.update_meeting(p["organiser"], circle.slug, meeting.id, **meeting_fields())


def test_a_meeting_id_from_another_circle_is_not_found(circle_people):
    circle, p = circle_people
    elsewhere = make_circle(p["member"], name="Elsewhere")
    meeting = schedule(p["organiser"], circle)
    with pytest.raises(NotFound):
        scheduling.update_meeting(p["member"], elsewhere.slug, meeting.id, **meeting_fields())
    with pytest.raises(NotFound):
        rsvps.rsvp(p["member"], elsewhere.slug, dates_of(meeting)[0].id, "going")


# --- RSVPs and the waitlist ------------------------------------------------------------------

def test_rsvp_answers_and_changes(circle_people):
    circle, p = circle_people
    [date] = dates_of(schedule(p["organiser"], circle))
    for answer in ("going", "maybe", "declined", "going"):
        assert rsvps.rsvp(p["member"], circle.slug, date.id, answer).answer == answer
    assert db.session.scalar(select(func.count(RSVP.id))) == 1  # one row per person and date
    with pytest.raises(ActionError) as err:
        rsvps.rsvp(p["member"], circle.slug, date.id, "waitlisted")  # only the rules give that
    assert err.value.field == "answer"
    with pytest.raises(ActionError):
        rsvps.rsvp(p["member"], circle.slug, date.id, "GOING\r\nX")


def test_going_past_capacity_waitlists_in_order_and_withdrawal_promotes_the_first(circle_people):
    circle, p = circle_people
    [date] = dates_of(schedule(p["organiser"], circle, capacity=2))
    assert rsvps.rsvp(p["owner"], circle.slug, date.id, "going").answer == "going"
    assert rsvps.rsvp(p["moderator"], circle.slug, date.id, "going").answer == "going"
    assert rsvps.rsvp(p["member"], circle.slug, date.id, "going").answer == "waitlisted"
    assert rsvps.rsvp(p["other"], circle.slug, date.id, "going").answer == "waitlisted"
    # Saying "going" again keeps your place in the queue.
    assert rsvps.rsvp(p["member"], circle.slug, date.id, "going").answer == "waitlisted"
    rsvps.rsvp(p["owner"], circle.slug, date.id, "declined")
    assert answer_of(date, p["member"]) == "going"
    assert answer_of(date, p["other"]) == "waitlisted"
    [note] = notes_for(p["member"], "waitlist_promoted")
    assert "you're going" in note.text and note.url == f"/c/{circle.slug}/m/{date.meeting_id}"
    assert notes_for(p["other"], "waitlist_promoted") == []
    # Leaving the waitlist frees no seat and promotes nobody.
    rsvps.rsvp(p["other"], circle.slug, date.id, "maybe")
    assert answer_of(date, p["other"]) == "maybe"


def test_maybe_past_capacity_is_just_maybe(circle_people):
    circle, p = circle_people
    [date] = dates_of(schedule(p["organiser"], circle, capacity=1))
    rsvps.rsvp(p["owner"], circle.slug, date.id, "going")
    assert rsvps.rsvp(p["member"], circle.slug, date.id, "maybe").answer == "maybe"


def test_raising_capacity_promotes_the_waitlist_and_lowering_below_going_is_refused(circle_people):
    circle, p = circle_people
    meeting = schedule(p["organiser"], circle, capacity=1)
    [date] = dates_of(meeting)
    for role in ("owner", "moderator", "member"):
        rsvps.rsvp(p[role], circle.slug, date.id, "going")
    scheduling.update_meeting(p["organiser"], circle.slug, meeting.id, **meeting_fields(capacity=2))
    assert answer_of(date, p["moderator"]) == "going"
    assert answer_of(date, p["member"]) == "waitlisted"
    assert len(notes_for(p["moderator"], "waitlist_promoted")) == 1
    with pytest.raises(ActionError, match="2 people are already going") as err:
        scheduling.update_meeting(p["organiser"], circle.slug, meeting.id,
                                  **meeting_fields(capacity=1))
    assert err.value.field == "capacity"
    scheduling.update_meeting(p["organiser"], circle.slug, meeting.id,
                              **meeting_fields(capacity=""))  # no limit: everyone waiting is in
    assert answer_of(date, p["member"]) == "going"


def test_no_answers_for_dates_under_way(circle_people, clock):
    circle, p = circle_people
    meeting = schedule(p["organiser"], circle)
    clock(meeting.starts_at + timedelta(minutes=1))
    with pytest.raises(ActionError, match="begun"):
        rsvps.rsvp(p["member"], circle.slug, dates_of(meeting)[0].id, "going")


def test_leaving_the_circle_gives_your_seat_to_the_waitlist(circle_people):
    circle, p = circle_people
    [date] = dates_of(schedule(p["organiser"], circle, capacity=1))
    rsvps.rsvp(p["member"], circle.slug, date.id, "going")
    rsvps.rsvp(p["other"], circle.slug, date.id, "going")
    moderation.remove_member(p["owner"], circle.slug, p["member"].id)
    assert answer_of(date, p["member"]) is None
    assert answer_of(date, p["other"]) == "going"
    assert len(notes_for(p["other"], "waitlist_promoted")) == 1


def test_removed_member_seats_are_never_counted(circle_people, monkeypatch):
    """Even if releasing their places failed, a removed member holds no seat."""
    circle, p = circle_people
    [date] = dates_of(schedule(p["organiser"], circle, capacity=1))
    rsvps.rsvp(p["member"], circle.slug, date.id, "going")
    monkeypatch.setattr(rsvps, "release_places", lambda *a: (_ for _ in ()).throw(
        RuntimeError("boom")))
    moderation.ban_member(p["owner"], circle.slug, p["member"].id)  # logged, not raised
    assert rsvps.rsvp(p["other"], circle.slug, date.id, "going").answer == "going"


# --- Date polls ------------------------------------------------------------------------------

def poll_fields(**overrides):
    fields = {"title": "Summer social", "description": "A picnic", "timezone": "Europe/London",
              "duration": "240", "location": "Christchurch Meadows",
              "options": [at(day(20), 12), "", at(day(27), 12), at(day(34), 12)]}
    fields.update(overrides)
    return fields


def test_poll_flow_from_options_to_a_meeting(circle_people):
    circle, p = circle_people
    poll = polls.create_poll(p["organiser"], circle.slug, **poll_fields())
    options = polls.poll_options(poll)
    assert len(options) == 3 and all(o.ends_at - o.starts_at == timedelta(hours=4) for o in options)
    assert len(notes_for(p["member"], "poll_created")) == 1
    polls.vote(p["member"], circle.slug, poll.id, {options[0].id: "yes", options[1].id: "no"})
    polls.vote(p["other"], circle.slug, poll.id, {str(options[0].id): "maybe",
                                                  str(options[2].id): "yes"})
    # A second vote replaces the first.
    polls.vote(p["member"], circle.slug, poll.id, {options[0].id: "no", options[1].id: "yes"})
    meeting = polls.schedule_from_poll(p["organiser"], circle.slug, poll.id, options[1].id)
    assert (meeting.title, meeting.location, meeting.starts_at) == (
        "Summer social", "Christchurch Meadows", options[1].starts_at)
    assert meeting.ends_at == options[1].ends_at and meeting.organiser_id == p["organiser"].id
    poll = db.session.get(DatePoll, poll.id)
    assert (poll.status, poll.meeting_id) == ("scheduled", meeting.id)
    for voter in ("member", "other"):
        [note] = notes_for(p[voter], "poll_closed")
        assert "Summer social" in note.text and note.url.endswith(f"/m/{meeting.id}")
    assert notes_for(p["owner"], "poll_closed") == []  # not a voter: told of the meeting
    assert len(notes_for(p["owner"], "meeting_created")) == 1
    with pytest.raises(ActionError, match="closed"):
        polls.vote(p["member"], circle.slug, poll.id, {options[0].id: "yes"})
    with pytest.raises(Conflict):
        polls.schedule_from_poll(p["organiser"], circle.slug, poll.id, options[0].id)


def test_a_scheduled_poll_keeps_its_answers_as_rsvps(circle_people, clock):
    circle, p = circle_people
    poll = polls.create_poll(p["organiser"], circle.slug, **poll_fields(capacity="3"))
    chosen, other = polls.poll_options(poll)[:2]
    start = utcnow()
    # The organiser said maybe, but organises: going. The votes' order is what
    # counts, not who joined first: a "no" turned "yes" later queues from then.
    for minutes, who, answer in ((1, "organiser", "maybe"), (2, "moderator", "no"),
                                 (3, "other", "yes"), (4, "owner", "maybe"),
                                 (5, "member", "yes"), (6, "moderator", "yes")):
        clock(start + timedelta(minutes=minutes))
        polls.vote(p[who], circle.slug, poll.id, {chosen.id: answer, other.id: "no"})
    clock(start + timedelta(minutes=7))
    meeting = polls.schedule_from_poll(p["organiser"], circle.slug, poll.id, chosen.id)
    [date] = dates_of(meeting)
    assert {who: answer_of(date, p[who]) for who in ("organiser", "other", "member",
                                                     "moderator", "owner")} == {
        "organiser": "going", "other": "going", "member": "going",
        "moderator": "waitlisted", "owner": "maybe"}
    told = {who: notes_for(p[who], "poll_closed")[0].text
            for who in ("other", "member", "moderator", "owner")}
    assert "You're down as going, as you said yes" in told["other"]
    assert "waitlist" in told["moderator"]
    assert "You're down as maybe, as you said maybe" in told["owner"]
    assert all("You can change your answer" in text for text in told.values())
    # The answers are ordinary RSVPs: a seat given back goes to the first waiting.
    rsvps.rsvp(p["member"], circle.slug, date.id, "declined")
    assert answer_of(date, p["moderator"]) == "going"


def test_a_poll_s_host_and_organiser_are_going_and_a_no_is_only_asked(circle_people):
    circle, p = circle_people
    poll = polls.create_poll(p["organiser"], circle.slug,
                             **poll_fields(host_user_id=p["other"].id))
    option = polls.poll_options(poll)[0]
    polls.vote(p["member"], circle.slug, poll.id, {option.id: "no"})
    meeting = polls.schedule_from_poll(p["moderator"], circle.slug, poll.id, option.id)
    [date] = dates_of(meeting)
    assert answer_of(date, p["organiser"]) == answer_of(date, p["other"]) == "going"
    assert answer_of(date, p["member"]) is None and answer_of(date, p["owner"]) is None
    assert "as its host" in notes_for(p["other"], "poll_closed")[0].text
    assert "as its organiser" in notes_for(p["organiser"], "poll_closed")[0].text
    assert "Say whether you're going" in notes_for(p["member"], "poll_closed")[0].text


@pytest.mark.parametrize("options,words", [
    ([at(day(20), 12)], "from 2 to 10"),
    ([at(day(20 + i), 12) for i in range(11)], "from 2 to 10"),
    ([at(day(20), 12), at(day(20), 12)], "twice"),
    ([at(day(20), 12), at(day(-1), 12)], "past"),
    ([at(day(20), 12), "31/12/2030 noon"], "understand"),
    ("2030-01-01T12:00", "from 2 to 10"),
])
def test_poll_options_are_checked(circle_people, options, words):
    circle, p = circle_people
    with pytest.raises(ActionError, match=words) as err:
        polls.create_poll(p["member"], circle.slug, **poll_fields(options=options))
    assert err.value.field == "options"
    db.session.rollback()
    assert count(DatePoll) == 0


def test_votes_are_checked(circle_people):
    circle, p = circle_people
    poll = polls.create_poll(p["organiser"], circle.slug, **poll_fields())
    other = polls.create_poll(p["organiser"], circle.slug, **poll_fields())
    option = polls.poll_options(poll)[0]
    foreign = polls.poll_options(other)[0]
    for answers in ({option.id: "definitely"}, {foreign.id: "yes"}, {}, {"x": "yes"},
                    {option.id: ""}, {"²": "yes"}, {"9" * 40: "yes"}, {True: "yes"}):
        with pytest.raises(ActionError):
            polls.vote(p["member"], circle.slug, poll.id, answers)


def test_only_the_poll_organiser_and_staff_schedule_or_close(circle_people):
    circle, p = circle_people
    poll = polls.create_poll(p["organiser"], circle.slug, **poll_fields())
    option = polls.poll_options(poll)[0]
    with pytest.raises(Forbidden):
        polls.schedule_from_poll(p["member"], circle.slug, poll.id, option.id)
    with pytest.raises(Forbidden):
        polls.close_poll(p["member"], circle.slug, poll.id)
    polls.vote(p["member"], circle.slug, poll.id, {option.id: "yes"})
    polls.close_poll(p["moderator"], circle.slug, poll.id)
    assert db.session.get(DatePoll, poll.id).status == "closed"
    assert "without a date" in notes_for(p["member"], "poll_closed")[0].text


# --- Visits ----------------------------------------------------------------------------------

def test_offer_to_host_then_plan_the_visit(circle_people):
    circle, p = circle_people
    host = p["member"]
    offer = visits.offer_to_host(host, circle.slug, note="Come and see the new ward")
    assert offer.organisation == host.organisation  # their own, by default
    again = visits.offer_to_host(host, circle.slug, organisation="HMP Thameside")
    assert again.id == offer.id and again.organisation == "HMP Thameside"  # updated, not doubled
    meeting = schedule(p["organiser"], circle, title="Visit", host_offer_id=offer.id,
                       location="Forbury Road")
    assert (meeting.host_user_id, meeting.host_organisation) == (host.id, "HMP Thameside")
    assert db.session.get(HostOffer, offer.id).meeting_id == meeting.id
    with pytest.raises(ActionError, match="already taken"):
        schedule(p["organiser"], circle, host_offer_id=offer.id)


def test_a_visit_planned_from_an_offer_has_host_and_organiser_going(circle_people):
    circle, p = circle_people
    host = p["member"]
    offer = visits.offer_to_host(host, circle.slug, note="Ward tour", places="6")
    assert (offer.note, offer.places) == ("Ward tour", 6)
    meeting = schedule(p["organiser"], circle, title="Visit", host_offer_id=offer.id,
                       capacity="6", repeat="weekly", count="2")
    for date in dates_of(meeting):
        assert answer_of(date, host) == answer_of(date, p["organiser"]) == "going"
        assert answer_of(date, p["other"]) is None
    # The host is told that their own offer is planned, not that "a meeting" is.
    [note] = notes_for(host, "visit_planned")
    assert "planned the visit you offered to host: Visit" in note.text
    assert "going" in note.text and note.url.endswith(f"/m/{meeting.id}")
    assert notes_for(host, "meeting_created") == []
    assert len(notes_for(p["other"], "meeting_created")) == 1
    with pytest.raises(ActionError) as err:
        visits.offer_to_host(host, circle.slug, places="0")
    assert err.value.field == "places"


def test_a_meeting_can_name_its_host(circle_people):
    circle, p = circle_people
    meeting = schedule(p["organiser"], circle, host_user_id=str(p["member"].id))
    assert meeting.host_organisation == p["member"].organisation
    with pytest.raises(ActionError) as err:
        schedule(p["organiser"], circle, host_user_id=p["outsider"].id)
    assert err.value.field == "host_user_id"


def test_withdrawing_offers(circle_people):
    circle, p = circle_people
    offer = visits.offer_to_host(p["member"], circle.slug)
    with pytest.raises(Forbidden):
        visits.withdraw_host_offer(p["other"], circle.slug, offer.id)
    visits.withdraw_host_offer(p["moderator"], circle.slug, offer.id)
    assert db.session.get(HostOffer, offer.id).withdrawn_at is not None
    with pytest.raises(NotFound):
        visits.withdraw_host_offer(p["member"], circle.slug, 999999)
    with pytest.raises(ActionError) as err:
        visits.offer_to_host(p["member"], circle.slug, organisation="A\nB")
    assert err.value.field == "organisation"


def test_a_member_who_leaves_withdraws_their_offer(circle_people):
    circle, p = circle_people
    offer = visits.offer_to_host(p["member"], circle.slug)
    moderation.remove_member(p["owner"], circle.slug, p["member"].id)
    assert db.session.get(HostOffer, offer.id).withdrawn_at is not None


# --- Calendar feed tokens -------------------------------------------------------------------

def test_feed_tokens_are_stored_hashed_and_replaced(app):
    user = make_user()
    first = feeds.create_calendar_feed(user)
    assert feeds.find_calendar_feed(first).user_id == user.id
    assert first not in feeds.calendar_feed_of(user).token_hash
    second = feeds.create_calendar_feed(user)
    assert feeds.find_calendar_feed(first) is None
    assert feeds.find_calendar_feed(second).user_id == user.id
    feeds.delete_calendar_feed(user)
    assert feeds.find_calendar_feed(second) is None
    assert feeds.find_calendar_feed("") is None and feeds.find_calendar_feed("x" * 500) is None


def test_notifications_link_to_the_date_and_name_no_description(circle_people):
    circle, p = circle_people
    meeting = schedule(p["organiser"], circle, repeat="weekly", count="3",
                       description="Confidential agenda")
    second = dates_of(meeting)[1]
    rsvps.rsvp(p["member"], circle.slug, second.id, "going")
    scheduling.cancel_occurrence(p["organiser"], circle.slug, second.id, "Bank holiday")
    [note] = notes_for(p["member"], "meeting_cancelled")
    assert note.url == f"/c/{circle.slug}/m/{meeting.id}?date={second.id}"
    assert "Confidential" not in note.text and "is cancelled" in note.text
    assert note.circle_id == circle.id
    assert utcnow() - note.created_at < timedelta(minutes=1)
    assert kinds_for(p["other"]) == ["meeting_created"]


# --- Both engines ---------------------------------------------------------------------------

def test_series_listed_once_and_a_poll_s_answers_kept_on_both_engines(engine_app):
    """The list's window queries and a poll's answers as RSVPs, on SQLite and PostgreSQL."""
    from community.meetings import queries

    owner = make_user()
    circle = make_circle(owner)
    voter = add_member(circle, make_user("Val Voter"))
    series = schedule(owner, circle, title="Series", repeat="weekly", count="6")
    dates = dates_of(series)
    scheduling.cancel_occurrence(owner, circle.slug, dates[0].id, "Clash")
    one_off = schedule(owner, circle, title="One-off", start=at(day(3)))
    poll = polls.create_poll(owner, circle.slug, **poll_fields(capacity="1"))
    option = polls.poll_options(poll)[0]
    polls.vote(voter, circle.slug, poll.id, {option.id: "yes"})
    meeting = polls.schedule_from_poll(owner, circle.slug, poll.id, option.id)
    [date] = dates_of(meeting)
    assert (answer_of(date, owner), answer_of(date, voter)) == ("going", "waitlisted")
    with engine_app.test_request_context("/"):
        page = queries.upcoming(circle, utcnow(), owner)
        assert [o.meeting_id for o in page.items] == [one_off.id, series.id, meeting.id]
        assert page.items[1].id == dates[1].id and page.total == 3
        folded, coming = queries.folded_dates([series.id], utcnow(), owner)
    assert [o.id for o in folded[series.id]] == [d.id for d in dates[:4]]
    assert coming == {series.id: 5}
