"""The meetings lists' entries come from the memo (meetings.rows.date_rows):
after any change to what an entry shows, the list served must be exactly the
list rendered afresh for this viewer; its times are theirs."""
import re

import pytest

from community.accounts.models import User
from community.circles.models import Circle
from community.fast.fragments import MEMO
from community.meetings.actions import polls, rsvps, scheduling, visits
from community.moderation.actions import change_role
from tests.factories import add_member, make_circle, make_user
from tests.kept import assert_shown_afresh, update
from tests.meetings.conftest import at, dates_of, day, schedule


@pytest.fixture
def world(app):
    owner = make_user("Olive Owner")
    circle = make_circle(owner, name="Berkshire Leaders")
    member = add_member(circle, make_user("Mia Member"))
    series = schedule(owner, circle, title="Monthly meetup", repeat="weekly", count="8")
    one_off = schedule(owner, circle, title="Coffee", start=at(day(12)), timezone="America/New_York")
    return circle, owner, member, series, one_off


CHANGES = {
    "someone says they're going": lambda c, o, m, s, x: rsvps.rsvp(o, c.slug, dates_of(x)[0].id, "going"),
    "the viewer answers maybe": lambda c, o, m, s, x: rsvps.rsvp(m, c.slug, dates_of(s)[1].id, "maybe"),
    "a date is cancelled": lambda c, o, m, s, x: scheduling.cancel_occurrence(o, c.slug, dates_of(s)[1].id,
                                                                              "Clash"),
    "a date is moved": lambda c, o, m, s, x: scheduling.move_occurrence(
        o, c.slug, dates_of(s)[2].id, start=at(day(40), 12), duration=60),
    "the meeting is cancelled": lambda c, o, m, s, x: scheduling.cancel_meeting(o, c.slug, x.id, "Off"),
    "the viewer moves to Tokyo": lambda c, o, m, s, x: update(User, m.id, timezone="Asia/Tokyo"),
    "the viewer reads a 12-hour clock": lambda c, o, m, s, x: update(User, m.id, clock="12"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_after_a_change_the_entries_served_are_the_entries_rendered_afresh(client, auth, world, change):
    circle, owner, member, series, one_off = world
    auth.login(member)
    url = f"/c/{circle.slug}/meetings/"
    assert_shown_afresh(client, url, lambda: CHANGES[change](circle, owner, member, series, one_off))


def _poll(c, o):
    return polls.create_poll(o, c.slug, title="Summer social", timezone="Europe/London", duration="120",
                             location="Christchurch Meadows",
                             options=[at(day(20), 12), at(day(27), 12)])


def _vote(c, o, m):
    poll = _poll(c, o)
    option = polls.poll_options(poll)[0]
    polls.vote(m, c.slug, poll.id, {option.id: "yes"})


# What the rest of the coming list shows: the polls, the offers, the circle's head.
LIST_CHANGES = {
    "a poll opens": lambda c, o, m, s, x: _poll(c, o),
    "someone answers a poll": lambda c, o, m, s, x: _vote(c, o, m),
    "an offer to host arrives": lambda c, o, m, s, x: visits.offer_to_host(o, c.slug, "Reading Gaol",
                                                                           places="12"),
    "the viewer offers, and may withdraw it": lambda c, o, m, s, x: visits.offer_to_host(m, c.slug, "HMP"),
    "the circle is renamed": lambda c, o, m, s, x: update(Circle, c.id, name="Thames Valley Leaders"),
    "a new series starts": lambda c, o, m, s, x: schedule(o, c, title="Walk and talk", repeat="weekly",
                                                          count="3"),
}


@pytest.mark.parametrize("change", LIST_CHANGES)
def test_the_coming_list_is_kept_whole_and_shows_every_change(client, auth, world, change):
    circle, owner, member, series, one_off = world
    auth.login(member)
    url = f"/c/{circle.slug}/meetings/"
    client.get(url)
    assert any(key[0] == "meetings/index.html" for key in MEMO.items)  # the page, kept whole
    assert_shown_afresh(client, url, lambda: LIST_CHANGES[change](circle, owner, member, series, one_off))


def test_who_may_withdraw_an_offer_is_part_of_the_kept_page(make_app, world):
    """The same offer shows a Withdraw button to its host and to staff only:
    viewers who may and may not are served different pages, whoever came first."""
    from tests.conftest import AuthActions

    app = make_app()
    circle, owner, member, series, one_off = world
    other = add_member(circle, make_user("Omar Other"))
    visits.offer_to_host(member, circle.slug, "Reading Gaol")
    MEMO.clear()

    def withdraw_shown(person) -> bool:
        client = app.test_client()
        AuthActions(client).login(person)
        return ">Withdraw<" in client.get(f"/c/{circle.slug}/meetings/").get_data(as_text=True)

    assert withdraw_shown(member) and not withdraw_shown(other) and withdraw_shown(owner)
    change_role(owner, circle.slug, other.id, "moderator")
    assert withdraw_shown(other)


def test_the_coming_lists_pages_are_kept_apart(client, auth, world):
    circle, owner, member, series, one_off = world
    for n in range(25):
        schedule(owner, circle, title=f"One-off {n:02d}", start=at(day(60 + n)))
    auth.login(member)
    first = client.get(f"/c/{circle.slug}/meetings/").get_data(as_text=True)
    second = client.get(f"/c/{circle.slug}/meetings/?page=2").get_data(as_text=True)
    assert "Later →" in first and "← Sooner" in second
    assert re.findall(r"One-off \d+", first)[-1] < re.findall(r"One-off \d+", second)[0]
    assert second == client.get(f"/c/{circle.slug}/meetings/?page=2").get_data(as_text=True)


def test_an_entry_shows_each_viewer_the_time_their_way_and_the_meeting_s_own(make_app, world):
    """The New York coffee, to a London member on a 24-hour clock and a Tokyo
    member on a 12-hour one: one kept entry, two ways of reading its time."""
    from tests.conftest import AuthActions

    app = make_app()
    circle, owner, member, series, one_off = world
    kenji = add_member(circle, make_user("Kenji Mori", timezone="Asia/Tokyo", clock="12"))
    MEMO.clear()
    entries = {}
    for person in (member, kenji):
        client = app.test_client()
        AuthActions(client).login(person)
        page = client.get(f"/c/{circle.slug}/meetings/").get_data(as_text=True)
        entries[person.display_name] = next(entry for entry in page.split('<li class="meeting-item">')
                                            if ">Coffee<" in entry)
    mia, ken = entries["Mia Member"], entries["Kenji Mori"]
    assert "(America/New York)" in mia and "(America/New York)" in ken
    assert re.search(r"\d{2}:\d{2}–\d{2}:\d{2}", mia) and re.search(r"\d{1,2}:\d{2} [ap]m", ken)
    times = re.compile(r'<time.*?</time>( · <span class="meta">[^<]*</span>)?', re.S)
    assert times.sub("", mia) == times.sub("", ken)
    kept = [key for key in MEMO.items if key[0] == "meetings/_date_row.html"]
    assert sum(1 for key in kept if key[2].title == "Coffee") == 1


NEXT_DATE_CHANGES = {
    **{name: CHANGES[name] for name in ("a date is cancelled", "the meeting is cancelled",
                                        "the viewer moves to Tokyo", "the viewer reads a 12-hour clock")},
    "the next date is moved": lambda c, o, m, s, x: scheduling.move_occurrence(
        o, c.slug, dates_of(s)[0].id, start=at(day(11), 8), duration=60),
}


@pytest.mark.parametrize("page", ["circle home", "dashboard"])
@pytest.mark.parametrize("change", NEXT_DATE_CHANGES)
def test_the_next_dates_served_are_the_dates_rendered_afresh(client, auth, world, change, page):
    """The circle home's and the dashboard's next dates are kept rows too
    (meetings.rows.next_date_rows): each change shows, the viewer's way."""
    circle, owner, member, series, one_off = world
    auth.login(member)
    url = f"/c/{circle.slug}/" if page == "circle home" else "/"
    assert_shown_afresh(client, url,
                        lambda: NEXT_DATE_CHANGES[change](circle, owner, member, series, one_off))
    assert "meetings/_next_date.html" in {key[0] for key in MEMO.items}
