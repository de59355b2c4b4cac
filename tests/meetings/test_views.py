"""Meetings pages through HTTP: lists, forms, a meeting's page, RSVPs, polls,
visits, the panels, clear errors for bad input, and bounded query counts."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from community.extensions import db
from community.meetings import queries
from community.meetings.actions import polls, rsvps, scheduling, visits
from community.meetings.models import RSVP, DatePoll, Meeting, MeetingOccurrence
from community.notifications.models import Notification
from community.timeutil import utcnow
from tests.factories import add_member, make_circle, make_user

from .conftest import at, dates_of, day, schedule


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def world(app, auth):
    owner = make_user("Olive Owner")
    circle = make_circle(owner, name="Berkshire Leaders")
    member = add_member(circle, make_user("Mia Member", organisation="Kennet GP Practice"))
    return circle, owner, member


def form(**overrides) -> dict:
    data = {"title": "Monthly meetup", "description": "We *talk*.", "start": at(day(10)),
            "duration": "120", "end": "", "timezone": "Europe/London", "location": "Reading",
            "online_link": "", "capacity": "", "repeat": "none", "interval": "1",
            "month_week": "", "count": "", "until": "", "host_user_id": "",
            "host_organisation": "", "host_offer_id": ""}
    data.update(overrides)
    return data


def assert_inputs_labelled(page: str) -> None:
    """Every visible input, select and textarea has a <label for> (keyboard and screen readers)."""
    labels = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', page))
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", page):
        if re.search(r'type="(hidden|submit)"', tag):
            continue
        [field_id] = re.findall(r'\bid="([^"]+)"', tag)
        assert field_id in labels, tag


# --- Lists and empty states ------------------------------------------------------------------

def test_empty_states_say_what_to_do_next(client, auth, world):
    circle, owner, member = world
    auth.login(member)
    index = text(client.get(f"/c/{circle.slug}/meetings/"))
    assert "Nothing is planned yet" in index and "Schedule a meeting" in index
    assert "start a date poll" in index and "Offer to host a visit" in index
    assert 'aria-current="page"' in index and ">Meetings</a>" in index  # the circle's tab
    assert "No meetings have happened yet" in text(client.get(f"/c/{circle.slug}/meetings/past"))
    home = text(client.get(f"/c/{circle.slug}/"))
    assert "Next meetings" in home and "Nothing planned yet" in home
    assert "No meetings coming up in your circles" in text(client.get("/"))


def test_one_word_for_each_thing(client, auth, world):
    """Date polls are "date polls", a poll's middle answer is "Maybe" as in RSVPs,
    "Venue" is where and "Places available" how many, and a meeting made with a
    date is "scheduled"."""
    circle, owner, member = world
    auth.login(member)
    index = text(client.get(f"/c/{circle.slug}/meetings/"))
    assert "Start a date poll" in index and ">Date polls<" in index
    assert "Find a time" not in index and "Finding a time" not in index
    new = text(client.get(f"/c/{circle.slug}/meetings/new"))
    assert '<label for="location">Venue</label>' in new
    assert '<label for="capacity">Places available</label>' in new
    assert "Propose" not in new and "Schedule meeting" in new
    poll_new = text(client.get(f"/c/{circle.slug}/polls/new"))
    assert "Start a date poll" in poll_new and "if need be" not in poll_new.lower()
    response = client.post(f"/c/{circle.slug}/meetings/new", data=form(), follow_redirects=True)
    page = text(response)
    assert "Your meeting is scheduled" in page and "proposed" not in page
    assert "Venue:</strong> Reading" in page
    [note] = db.session.scalars(select(Notification.text).where(
        Notification.user_id == owner.id, Notification.kind == "meeting_created"))
    assert note == "Mia Member scheduled a meeting in Berkshire Leaders: Monthly meetup"
    poll = polls.create_poll(owner, circle.slug, title="When?", timezone="Europe/London",
                             duration="60", location="Reading", capacity="5",
                             options=[at(day(20), 12), at(day(21), 12)])
    poll_page = text(client.get(f"/c/{circle.slug}/polls/{poll.id}"))
    assert ">Maybe</label>" in poll_page and "If need be" not in poll_page
    assert ">Date poll<" in poll_page and "5 places available" in poll_page


def test_propose_then_see_it_everywhere(client, auth, world):
    circle, owner, member = world
    auth.login(member)
    page = client.get(f"/c/{circle.slug}/meetings/new")
    assert page.status_code == 200
    assert_inputs_labelled(text(page))
    assert '<option selected value="Europe/London">' in text(page)  # the organiser's zone
    response = client.post(f"/c/{circle.slug}/meetings/new", data=form(capacity="12"))
    meeting = db.session.scalar(select(Meeting))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/c/{circle.slug}/m/{meeting.id}"
    shown = text(client.get(response.headers["Location"]))
    assert "Monthly meetup" in shown and "<em>talk</em>" in shown
    assert "Places available:</strong> 12 of 12" in shown
    for path in (f"/c/{circle.slug}/meetings/", f"/c/{circle.slug}/", "/"):
        assert "Monthly meetup" in text(client.get(path)), path


@pytest.mark.parametrize("overrides,words", [
    ({"title": "x" * 10_240}, "at most 200 characters"),
    ({"title": "Evil\r\nBEGIN:VEVENT\r\nSUMMARY:x"}, "must be a single line"),
    ({"start": "tomorrow-ish"}, "isn't a date and time we understand"),
    ({"start": "2031-13-45T25:61"}, "isn't a date and time we understand"),
    ({"duration": "", "end": at(day(9))}, "The end must be after the start"),
    ({"capacity": "0"}, "whole number from 1"),
    ({"capacity": "-3"}, "whole number from 1"),
    ({"capacity": "99999999999"}, "whole number from 1"),
    ({"timezone": "Narnia/Cair_Paravel"}, "Choose a timezone from the list"),
    # A folder of the zone database, and a name too long for a file: were 500s (OSError).
    ({"timezone": "Europe"}, "Choose a timezone from the list"),
    ({"timezone": "Europe/" + "x" * 300}, "Choose a timezone from the list"),
    # The offer's id is a hidden field: its error is shown above the form, not beside it.
    ({"host_offer_id": " "}, "Enter the offer"),
    ({"repeat": "weekly;BYDAY=MO,TU,WE,TH,FR,SA,SU;COUNT=9999"}, "Choose how the meeting repeats"),
    ({"repeat": "weekly", "count": "10\r\nRRULE:FREQ=SECONDLY"}, "whole number from 2"),
    ({"repeat": "weekly", "count": "", "until": "20991231T000000Z;FREQ=DAILY"},
     "isn't a date we understand"),
    ({"online_link": "javascript:alert(document.cookie)"}, "must be a web address"),
])
def test_bad_input_is_a_400_with_a_clear_message_and_nothing_stored(client, auth, world,
                                                                     overrides, words):
    circle, owner, member = world
    auth.login(member)
    response = client.post(f"/c/{circle.slug}/meetings/new", data=form(**overrides))
    assert response.status_code == 400
    page = text(response)
    assert words in page.replace("&#39;", "'")
    assert 'aria-invalid="true"' in page or 'class="alert alert--error"' in page
    assert db.session.scalar(select(func.count(Meeting.id))) == 0


# --- A meeting's page and RSVPs -----------------------------------------------------------------

def test_times_in_the_viewers_zone_with_the_meetings_noted(client, auth, world):
    circle, owner, member = world
    meeting = schedule(owner, circle, start=at(day(10), 19))
    auth.login(member)
    page = text(client.get(f"/c/{circle.slug}/m/{meeting.id}"))
    assert "19:00–21:00" in page and "(Europe/London)" not in page  # same zone: no note
    member.timezone = "Asia/Kolkata"
    db.session.commit()
    page = text(client.get(f"/c/{circle.slug}/m/{meeting.id}"))
    local = meeting.starts_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Kolkata"))
    assert f"{local:%H:%M}" in page and "(Europe/London)" in page and "19:00–21:00" in page


def test_rsvp_buttons_waitlist_and_attendees(client, auth, world):
    circle, owner, member = world
    meeting = schedule(owner, circle, capacity="1")
    [date] = dates_of(meeting)
    rsvps.rsvp(owner, circle.slug, date.id, "going")
    auth.login(member)
    url = f"/c/{circle.slug}/m/{meeting.id}"
    page = text(client.get(url))
    assert "Every place is taken" in page and 'aria-pressed="false"' in page
    response = client.post(f"{url}/dates/{date.id}/rsvp", data={"answer": "going"})
    assert response.status_code == 303 and response.headers["Location"] == f"{url}#rsvp"
    page = text(client.get(url))
    assert "number 1</strong> on the waitlist" in page
    assert "Waitlist (1), in order" in page and "Olive Owner" in page
    assert page.count('aria-pressed="true"') == 1


def test_refused_answers_show_the_page_with_the_reason(client, auth, world, clock):
    circle, owner, member = world
    meeting = schedule(owner, circle)
    [date] = dates_of(meeting)
    auth.login(member)
    url = f"/c/{circle.slug}/m/{meeting.id}/dates/{date.id}/rsvp"
    bad = client.post(url, data={"answer": "definitely"})
    assert bad.status_code == 400 and "Choose going, maybe or can" in text(bad)
    clock(date.starts_at + timedelta(minutes=5))
    late = client.post(url, data={"answer": "going"})
    assert late.status_code == 400 and "already begun" in text(late)
    assert db.session.scalar(select(func.count(RSVP.id))) == 0


def test_series_pages_list_dates_and_manage_single_dates(client, auth, world):
    circle, owner, member = world
    meeting = schedule(owner, circle, repeat="weekly", count="20")
    dates = dates_of(meeting)
    auth.login(owner)
    page = text(client.get(f"/c/{circle.slug}/m/{meeting.id}"))
    assert "Weekly on" in page and "and 8 more to come (20 dates in all)" in page
    second = f"/c/{circle.slug}/m/{meeting.id}?date={dates[1].id}"
    assert "Move this date" in text(client.get(second))
    actions_url = f"/c/{circle.slug}/m/{meeting.id}/dates/{dates[1].id}"
    move = client.get(f"{actions_url}/move")
    assert move.status_code == 200 and 'value="120"' in text(move)
    assert_inputs_labelled(text(move))
    bad = client.post(f"{actions_url}/move", data={"start": "soon", "duration": "60"})
    assert bad.status_code == 400 and "understand" in text(bad)
    moved = client.post(f"{actions_url}/move", data={"start": at(day(30), 12), "duration": "60"})
    assert moved.status_code == 302
    assert "Moved" in text(client.get(second))
    cancel = client.get(f"{actions_url}/cancel")
    assert "data-confirm=" in text(cancel)
    assert client.post(f"{actions_url}/cancel", data={"reason": ""}).status_code == 400
    assert client.post(f"{actions_url}/cancel", data={"reason": "Clash"}).status_code == 302
    assert "This date is cancelled" in text(client.get(second))
    # A date of another meeting can't be reached through this one.
    other = dates_of(schedule(owner, circle))[0]
    assert client.get(f"/c/{circle.slug}/m/{meeting.id}?date={other.id}").status_code == 404
    assert client.get(f"/c/{circle.slug}/m/{meeting.id}?date=x").status_code == 404
    assert client.get(f"/c/{circle.slug}/m/{meeting.id}/dates/{other.id}/move").status_code == 404


def test_the_meetings_page_shows_a_series_once_with_its_next_dates_folded(client, auth, world):
    circle, owner, member = world
    series = schedule(owner, circle, title="Monthly meetup", repeat="weekly", count="12")
    schedule(owner, circle, title="Coffee", start=at(day(12)))
    visits.offer_to_host(member, circle.slug)
    dates = dates_of(series)
    scheduling.cancel_occurrence(owner, circle.slug, dates[0].id, "Clash")
    rsvps.rsvp(member, circle.slug, dates[1].id, "going")
    auth.login(member)
    page = text(client.get(f"/c/{circle.slug}/meetings/"))
    coming = page.split('aria-label="Coming dates"')[1].split("</section>")[0]
    assert coming.count(">Monthly meetup</a>") == 1 and coming.count(">Coffee</a>") == 1
    # Its entry is its next date that still stands, with the pattern and how many remain.
    [entry] = [e for e in coming.split('<li class="meeting-item">') if ">Monthly meetup<" in e]
    assert f"date={dates[1].id}" in entry.split(">Monthly meetup</a>")[0]
    assert "Weekly on" in entry and "11 dates to come" in entry and "You: Going" in entry
    folded = entry.split("<details")[1].split("</details>")[0]
    assert [f"date={d.id}" in folded for d in dates[:5]] == [True] * 4 + [False]
    assert "Cancelled" in folded and "Every date of the series" in folded
    assert "Visits on offer" in page and "would host the circle" in page


def test_edit_and_cancel_pages(client, auth, world):
    circle, owner, member = world
    meeting = schedule(owner, circle, capacity="4", repeat="monthly", count="3")
    auth.login(owner)
    edit = client.get(f"/c/{circle.slug}/m/{meeting.id}/edit")
    page = text(edit)
    assert 'value="Monthly meetup"' in page and 'value="4"' in page and 'value="3"' in page
    assert_inputs_labelled(page)
    response = client.post(f"/c/{circle.slug}/m/{meeting.id}/edit",
                           data=form(title="New name", capacity="6", repeat="monthly",
                                     count="3", start=page.split('name="start"')[1]
                                     .split('value="')[1].split('"')[0]))
    assert response.status_code == 302
    assert db.session.get(Meeting, meeting.id).title == "New name"
    cancel = client.get(f"/c/{circle.slug}/m/{meeting.id}/cancel")
    assert "data-confirm=" in text(cancel) and "Every date is cancelled" in text(cancel)
    refused = client.post(f"/c/{circle.slug}/m/{meeting.id}/cancel", data={"reason": " "})
    assert refused.status_code == 400 and "Enter the reason" in text(refused)
    client.post(f"/c/{circle.slug}/m/{meeting.id}/cancel", data={"reason": "Snowed in"})
    page = text(client.get(f"/c/{circle.slug}/m/{meeting.id}"))
    assert "This series is cancelled." in page and "Snowed in" in page
    assert ">Edit</a>" not in page


def test_a_begun_series_edit_form_locks_its_pattern(client, auth, world, clock):
    circle, owner, member = world
    meeting = schedule(owner, circle, repeat="weekly", count="4")
    clock(dates_of(meeting)[0].ends_at + timedelta(hours=1))
    auth.login(owner)
    page = text(client.get(f"/c/{circle.slug}/m/{meeting.id}/edit"))
    assert "This series has begun" in page and 'type="hidden" name="start"' in page
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page))
    response = client.post(f"/c/{circle.slug}/m/{meeting.id}/edit",
                           data=form(**{k: v for k, v in fields.items() if k != "csrf_token"},
                                     count="3"))
    assert response.status_code == 302
    assert len(dates_of(meeting)) == 3


# --- Polls and visits --------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["options-²", "options-" + "9" * 5_000])
def test_poll_form_ignores_option_keys_that_are_not_numbers(client, auth, world, key):
    """WTForms' FieldList called int() on any suffix that passes isdigit(): a 500."""
    circle, owner, member = world
    auth.login(member)
    data = {"title": "Summer social", "timezone": "Europe/London", "duration": "180",
            "location": "The Meadows", "options-0": at(day(20), 12), key: at(day(27), 12)}
    refused = client.post(f"/c/{circle.slug}/polls/new", data=data)
    assert refused.status_code == 400 and "Offer from 2 to 10 times" in text(refused)
    assert db.session.scalar(select(func.count(DatePoll.id))) == 0


def test_poll_pages(client, auth, world):
    circle, owner, member = world
    auth.login(member)
    new = client.get(f"/c/{circle.slug}/polls/new")
    assert_inputs_labelled(text(new))
    data = {"title": "Summer social", "timezone": "Europe/London", "duration": "180",
            "location": "The Meadows", "options-0": at(day(20), 12)}
    refused = client.post(f"/c/{circle.slug}/polls/new", data=data)
    assert refused.status_code == 400 and "Offer from 2 to 10 times" in text(refused)
    data["options-1"] = at(day(27), 12)
    created = client.post(f"/c/{circle.slug}/polls/new", data=data)
    poll = db.session.scalar(select(DatePoll))
    assert created.headers["Location"] == f"/c/{circle.slug}/polls/{poll.id}"
    first, second = polls.poll_options(poll)
    polls.vote(owner, circle.slug, poll.id, {first.id: "no", second.id: "yes"})
    voted = client.post(f"/c/{circle.slug}/polls/{poll.id}/vote",
                        data={f"option-{first.id}": "maybe", f"option-{second.id}": "yes"})
    assert voted.status_code == 303
    page = text(client.get(f"/c/{circle.slug}/polls/{poll.id}"))
    assert "Olive Owner" in page and "Mia Member (you)" in page and ">Best<" in page
    assert "✓" in page and "Maybe</span>" in page and "Choose the time" in page
    bad = client.post(f"/c/{circle.slug}/polls/{poll.id}/vote",
                      data={f"option-{first.id}": "definitely"})
    assert bad.status_code == 400 and "Answer yes, maybe or no" in text(bad)
    index = text(client.get(f"/c/{circle.slug}/meetings/"))
    assert "Summer social" in index and "2 answered" in index
    scheduled = client.post(f"/c/{circle.slug}/polls/{poll.id}/schedule",
                            data={"option_id": str(second.id)})
    meeting = db.session.scalar(select(Meeting))
    assert scheduled.headers["Location"] == f"/c/{circle.slug}/m/{meeting.id}"
    assert "the meeting is" in text(client.get(f"/c/{circle.slug}/polls/{poll.id}"))
    again = client.post(f"/c/{circle.slug}/polls/{poll.id}/schedule",
                        data={"option_id": str(first.id)})
    assert again.status_code == 409 and "already closed" in text(again)


def test_offer_a_visit_and_plan_it(client, auth, world):
    circle, owner, member = world
    auth.login(member)
    page = client.get(f"/c/{circle.slug}/meetings/host")
    assert 'value="Kennet GP Practice"' in text(page)
    assert client.post(f"/c/{circle.slug}/meetings/host",
                       data={"organisation": "", "note": "x"}).status_code == 400
    client.post(f"/c/{circle.slug}/meetings/host",
                data={"organisation": "Kennet GP Practice", "note": "See our new clinic",
                      "places": "9"})
    index = text(client.get(f"/c/{circle.slug}/meetings/"))
    assert ("would host the circle at <strong>Kennet GP Practice</strong>, with 9 places "
            "available") in index
    offer_id = re.search(r"offer=(\d+)", index).group(1)
    auth.logout()
    auth.login(owner)
    prefilled = text(client.get(f"/c/{circle.slug}/meetings/new?offer={offer_id}"))
    assert 'value="Visit to Kennet GP Practice"' in prefilled
    # The host's note and places come with the offer, not typed again.
    assert "See our new clinic</textarea>" in prefilled
    assert re.search(r'id="capacity"[^>]*value="9"|value="9"[^>]*id="capacity"', prefilled)
    response = client.post(f"/c/{circle.slug}/meetings/new?offer={offer_id}",
                           data=form(title="Clinic visit", host_offer_id=offer_id,
                                     host_user_id=str(member.id),
                                     host_organisation="Kennet GP Practice"))
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "Mia Member</a> at Kennet GP Practice" in page and ">Visit<" in page
    assert "Kennet GP Practice</strong>" not in text(client.get(f"/c/{circle.slug}/meetings/"))


def test_calendar_settings_page(client, auth, world):
    circle, owner, member = world
    auth.login(member)
    page = text(client.get("/settings/calendar"))
    assert "Make my feed address" in page and ">Calendar feed</a>" in page
    made = text(client.post("/settings/calendar"))
    assert "Copy it now" in made and "webcal://" in made
    page = text(client.get("/settings/calendar"))
    assert "Your feed is on" in page and page.count("data-confirm=") == 2


# --- Query counts ---------------------------------------------------------------------------------

def busy_circle(circle, owner, meetings: int, people: int):
    """Meetings (some in series), with many people answering."""
    members = [add_member(circle) for _ in range(people)]
    for i in range(meetings):
        meeting = schedule(owner, circle, title=f"Meeting {i}", start=at(day(3 + i), 18),
                           capacity="3", **({"repeat": "weekly", "count": "3"} if i % 2 else {}),
                           host_user_id=str(members[0].id) if members else "")
        for person in members:
            rsvps.rsvp(person, circle.slug, dates_of(meeting)[0].id, "going")
    return members


PAGES = ["/c/{slug}/meetings/", "/c/{slug}/meetings/past", "/c/{slug}/m/{meeting}",
         "/c/{slug}/m/{meeting}?date={date}", "/c/{slug}/m/{meeting}.ics", "/c/{slug}/",
         "/", "/c/{slug}/polls/{poll}", "/c/{slug}/meetings/new", "/c/{slug}/m/{meeting}/edit"]


@pytest.mark.parametrize("path", PAGES)
def test_query_count_does_not_grow_with_meetings_or_people(client, auth, count_queries, world,
                                                           path):
    circle, owner, member = world
    first = schedule(owner, circle, repeat="weekly", count="3", capacity="2")
    poll = polls.create_poll(owner, circle.slug, title="When?", timezone="Europe/London",
                             duration="60", location="Reading",
                             options=[at(day(20 + i), 12) for i in range(3)])

    def grow(meetings, people):
        added = busy_circle(circle, owner, meetings, people)
        for person in added:
            rsvps.rsvp(person, circle.slug, dates_of(first)[1].id, "going")
            polls.vote(person, circle.slug, poll.id,
                       {o.id: "yes" for o in polls.poll_options(poll)})
        for offer_maker in added[:3]:
            visits.offer_to_host(offer_maker, circle.slug)

    url = path.format(slug=circle.slug, meeting=first.id, date=dates_of(first)[1].id,
                      poll=poll.id)
    auth.login(owner)
    grow(2, 2)
    client.get(url)  # warm: the first request loads things once per process
    with count_queries() as small:
        assert client.get(url).status_code == 200
    grow(25, 12)
    with count_queries() as large:
        assert client.get(url).status_code == 200
    assert small.count == large.count, (small.statements, large.statements)
    assert large.count <= 12


def test_a_meetings_page_reads_the_meeting_its_date_and_run_sheet_in_one_statement(
        client, auth, world, count_queries):
    """The meeting, the date its page opens on (or ?date names) and that date's run
    sheet come in one statement, not three: on PostgreSQL each statement is a round
    trip (bench/findings.md, 42). A one-off's page sends four: the viewer with the
    circle, that one, who answered, and the files; a series' page two more (its
    next dates, how many)."""
    circle, owner, member = world
    once = schedule(owner, circle, title="Once")
    series = schedule(owner, circle, title="Weekly", repeat="weekly", count="3")
    auth.login(member)
    for url, sent_at_most in ((f"/c/{circle.slug}/m/{once.id}", 4),
                              (f"/c/{circle.slug}/m/{series.id}?date={dates_of(series)[2].id}", 6)):
        client.get(url)
        with count_queries() as sent:
            assert client.get(url).status_code == 200
        assert sent.count == sent_at_most, sent.statements
        [read] = [sql for sql in sent.statements if "run_sheets" in sql]
        assert re.search(r"FROM meetings\b.*JOIN meeting_occurrences\b", read, re.S), read


def test_the_meetings_lists_read_their_answers_polls_and_offers_beside_their_dates(
        client, auth, world, count_queries, clock):
    """The coming list sends three statements: the viewer with the circle; the
    page of dates, each with its answers; the open polls with the open offers.
    A series on the page adds its folded dates (with the viewer's answers to
    them). The past list reads its dates with their answers in one
    statement, not two. Each statement is a round trip on PostgreSQL
    (bench/findings.md, 52): the coming list sent five."""
    circle, owner, member = world
    once = schedule(owner, circle, title="Once", capacity="1")
    rsvps.rsvp(owner, circle.slug, dates_of(once)[0].id, "going")
    rsvps.rsvp(member, circle.slug, dates_of(once)[0].id, "going")
    polls.create_poll(owner, circle.slug, title="When?", timezone="Europe/London", duration="60",
                      location="Reading", options=[at(day(20 + i), 12) for i in range(2)])
    visits.offer_to_host(member, circle.slug, organisation="Kennet GP Practice")
    auth.login(member)
    coming = f"/c/{circle.slug}/meetings/"
    for expected in (3, 4):
        client.get(coming)
        with count_queries() as sent:
            page = text(client.get(coming))
        assert sent.count == expected, sent.statements
        assert "1 going" in page and "1 waiting" in page and "When?" in page and "Kennet GP Practice" in page
        series = schedule(owner, circle, title="Weekly", repeat="weekly", count="3")
    rsvps.rsvp(member, circle.slug, dates_of(series)[1].id, "maybe")
    assert "You: Maybe" in text(client.get(coming))
    clock(utcnow() + timedelta(days=30))
    client.get(f"/c/{circle.slug}/meetings/past")
    with count_queries() as sent:
        past = text(client.get(f"/c/{circle.slug}/meetings/past"))
    [answered] = [sql for sql in sent.statements if "meeting_rsvps" in sql]
    assert "FROM meeting_occurrences" in answered, sent.statements
    assert "1 going of 1 places, 1 waiting" in past and "You: On the waitlist" in past


def test_feed_query_count_is_bounded(app, count_queries, world):
    circle, owner, member = world
    client = app.test_client()
    from tests.conftest import AuthActions

    AuthActions(client).login(member)
    made = text(client.post("/settings/calendar"))
    path = "/" + re.search(r'value="https?://[^/]+/(calendar/[^"]+)"', made).group(1)
    anonymous = app.test_client()
    schedule(owner, circle)
    with count_queries() as small:  # built: no body kept for this version yet
        anonymous.get(path)
    with count_queries() as kept:
        anonymous.get(path)
    for i in range(20):
        meeting = schedule(owner, circle, title=f"M{i}", repeat="weekly", count="4")
        scheduling.cancel_occurrence(owner, circle.slug, dates_of(meeting)[1].id, "x")
    with count_queries() as large:
        assert b"M19" in anonymous.get(path).get_data()
    with count_queries() as kept_large:
        assert b"M19" in anonymous.get(path).get_data()
    # The feed, its version's two reads, and only to build a body: its meetings and dates.
    assert small.count == large.count <= 5
    assert kept.count == kept_large.count == 3, kept_large.statements


def test_no_meeting_rows_are_half_written_by_a_refused_edit(client, auth, world):
    circle, owner, member = world
    meeting = schedule(owner, circle, repeat="weekly", count="3")
    auth.login(owner)
    before = db.session.scalar(select(func.count(MeetingOccurrence.id)))
    response = client.post(f"/c/{circle.slug}/m/{meeting.id}/edit",
                           data=form(repeat="weekly", count="200"))
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(MeetingOccurrence.id))) == before
    assert db.session.get(Meeting, meeting.id).rrule.endswith("COUNT=3")


def test_past_meetings_are_paginated_with_bounded_queries(client, auth, count_queries, world,
                                                          clock):
    circle, owner, member = world
    meetings = [schedule(owner, circle, title=f"Old {i}", start=at(day(2 + i), 18))
                for i in range(3)]
    for meeting in meetings:
        rsvps.rsvp(member, circle.slug, dates_of(meeting)[0].id, "going")
    auth.login(member)
    real_now = meetings[0].created_at
    later = clock(dates_of(meetings[-1])[0].ends_at + timedelta(days=400))
    url = f"/c/{circle.slug}/meetings/past"
    client.get(url)
    with count_queries() as small:
        page = text(client.get(url))
    assert "Old 2" in page and "You: Going" in page
    clock(real_now)
    for i in range(25):
        schedule(owner, circle, title=f"Older {i}", start=at(day(40 + i), 18))
    clock(later)
    with count_queries() as large:
        page = text(client.get(url))
    assert small.count == large.count
    assert "Page 1 of 2" in page and "Older →" in page
    assert "Older 24" in page and "Old 0" not in page  # latest first
    assert "Old 0" in text(client.get(url + "?page=2"))
    assert "No more dates" not in text(client.get(f"/c/{circle.slug}/meetings/?page=9"))


def test_the_coming_list_pages_through_its_dates_soonest_first(client, auth, world):
    circle, owner, member = world
    for i in range(queries.PER_PAGE + 2):
        schedule(owner, circle, title=f"Session {i:02d}", start=at(day(5 + i), 18))
    auth.login(member)
    url = f"/c/{circle.slug}/meetings/"
    first = text(client.get(url))
    assert "Page 1 of 2" in first and "Later →" in first
    assert "Session 00" in first and f"Session {queries.PER_PAGE - 1:02d}" in first
    assert f"Session {queries.PER_PAGE:02d}" not in first
    second = text(client.get(url + "?page=2"))
    assert "← Sooner" in second and f"Session {queries.PER_PAGE + 1:02d}" in second
    assert "Session 00" not in second


def test_the_lists_of_dates_count_them_with_the_rows_they_show(client, auth, count_queries, world,
                                                                clock):
    """Each list's count of dates comes with its page's rows (a window over
    every date the list finds anyway), not from a statement of its own: on
    PostgreSQL each statement is a round trip (bench/findings.md, 39). Past
    the last page, where no row brings it, the count is asked alone."""
    circle, owner, member = world
    for i in range(queries.PER_PAGE + 2):
        schedule(owner, circle, title=f"Session {i:02d}", start=at(day(5 + i), 18))
    auth.login(member)
    coming, past = f"/c/{circle.slug}/meetings/", f"/c/{circle.slug}/meetings/past"
    counts = lambda statements: [s for s in statements if re.match(r"\s*SELECT count\(\*\)", s)]  # noqa: E731
    client.get(coming + "?page=2")
    for url, shows in ((coming, "Page 1 of 2"), (coming + "?page=2", "Page 2 of 2")):
        with count_queries() as sent:
            page = text(client.get(url))
        assert shows in page and not counts(sent.statements), sent.statements
    with count_queries() as beyond:
        assert client.get(coming + "?page=9").status_code == 200
    assert len(counts(beyond.statements)) == 1
    clock(utcnow() + timedelta(days=60))  # every date is over: the past list, latest first
    with count_queries() as sent:
        page = text(client.get(past + "?page=2"))
    assert "Page 2 of 2" in page and "Session 00" in page and not counts(sent.statements)


def test_a_meeting_page_reads_its_meeting_once(client, auth, count_queries, world):
    """The date a meeting's page opens on finds its meeting in the session: joined
    in again, with its circle, organiser and host, it cost a fifth of the page."""
    circle, owner, member = world
    meeting = schedule(owner, circle, title="Reading group", repeat="weekly", count="3")
    auth.login(owner)
    client.get(f"/c/{circle.slug}/m/{meeting.id}")  # warm
    for path in [f"/c/{circle.slug}/m/{meeting.id}",
                 f"/c/{circle.slug}/m/{meeting.id}?date={dates_of(meeting)[1].id}"]:
        with count_queries() as counted:
            response = client.get(path)
        assert response.status_code == 200 and b"Reading group" in response.data
        reading = [sql for sql in counted.statements if re.search(r"\bmeetings(_\d+)?\.title\b", sql)]
        assert len(reading) == 1, reading
