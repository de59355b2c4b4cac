"""A meeting's page comes from the memo whole (meetings/page.py): after any
change to what it shows, and whoever was served it before, the page served
must be exactly the page rendered afresh for this viewer."""
import re
from datetime import timedelta

import pytest

from community.accounts.models import User
from community.circles.models import Circle, Membership
from community.extensions import db
from community.fast.fragments import MEMO
from community.meetings.actions import rsvps, scheduling
from tests.factories import add_member, make_circle, make_user
from tests.kept import assert_shown_afresh, update
from tests.meetings.conftest import at, dates_of, day, schedule


@pytest.fixture
def world(app):
    owner = make_user("Olive Owner")
    circle = make_circle(owner, name="Berkshire Leaders")
    member = add_member(circle, make_user("Mia Member"))
    other = add_member(circle, make_user("Oscar Other", organisation="Riverside Trust"))
    series = schedule(owner, circle, title="Monthly meetup", repeat="weekly", count="8",
                      timezone="America/New_York", capacity="2")
    rsvps.rsvp(other, circle.slug, dates_of(series)[0].id, "going")  # one of two places
    db.session.commit()
    return circle, owner, member, other, series


def _membership_id(circle, user) -> int:
    return db.session.scalar(db.select(Membership.id).where(Membership.circle_id == circle.id,
                                                            Membership.user_id == user.id))


def _first(series) -> int:
    return dates_of(series)[0].id


def _waitlisted(circle, owner, member, other, series) -> None:
    for person in (owner, member):  # the second place, then the waitlist
        rsvps.rsvp(person, circle.slug, _first(series), "going")


# Each change alters something the page shows: its key, or one of its slots.
CHANGES = {
    "the viewer says they're going": lambda c, o, m, x, s: rsvps.rsvp(m, c.slug, _first(s), "going"),
    "someone else can't go after all": lambda c, o, m, x, s: rsvps.rsvp(x, c.slug, _first(s),
                                                                          "declined"),
    "the viewer lands on the waitlist": _waitlisted,
    "an attendee hides their organisation": lambda c, o, m, x, s: update(User, x.id,
                                                                         organisation_visibility="nobody"),
    "the organiser renames themselves": lambda c, o, m, x, s: update(User, o.id, display_name="Olive Oak"),
    "the date is moved": lambda c, o, m, x, s: scheduling.move_occurrence(
        o, c.slug, _first(s), start=at(day(3), 12), duration=60),
    "the date is cancelled": lambda c, o, m, x, s: scheduling.cancel_occurrence(
        o, c.slug, _first(s), "Clash"),
    "a later date is cancelled": lambda c, o, m, x, s: scheduling.cancel_occurrence(
        o, c.slug, dates_of(s)[3].id, "Holiday"),
    "the series is cancelled": lambda c, o, m, x, s: scheduling.cancel_meeting(o, c.slug, s.id, "Over"),
    "the viewer is made a moderator": lambda c, o, m, x, s: update(Membership, _membership_id(c, m),
                                                                   role="moderator"),
    "the viewer moves to Tokyo": lambda c, o, m, x, s: update(User, m.id, timezone="Asia/Tokyo"),
    "the viewer moves to New York": lambda c, o, m, x, s: update(User, m.id, timezone="America/New_York"),
    "the viewer reads a 12-hour clock": lambda c, o, m, x, s: update(User, m.id, clock="12"),
    "the circle is renamed": lambda c, o, m, x, s: update(Circle, c.id, name="Thames Valley Leaders"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_after_a_change_the_page_served_is_the_page_rendered_afresh(client, auth, world, change):
    circle, owner, member, other, series = world
    auth.login(member)
    url = f"/c/{circle.slug}/m/{series.id}"
    assert_shown_afresh(client, url, lambda: CHANGES[change](circle, owner, member, other, series))


def test_each_viewer_is_served_their_own_page_whoever_warmed_the_memo(make_app, world):
    """Organiser, moderator, member, a member yet to accept the pledge, a member
    in another zone and one on a 12-hour clock each ask for the page after all
    the others have: what each is served must be what an empty memo renders for them."""
    from community.circles import actions as circles
    from tests.conftest import AuthActions

    app = make_app(WTF_CSRF_ENABLED=True)
    circle, owner, member, other, series = world
    moderator = add_member(circle, make_user("Mo Moderator"), role="moderator")
    tokyo = add_member(circle, make_user("Kenji Mori", timezone="Asia/Tokyo"))
    pending = add_member(circle, make_user("Pat Pending"))
    twelve = add_member(circle, make_user("Hank Twelve", clock="12"))
    circles.update_circle(owner, circle.slug, name=circle.name, pledge_required=True,
                          pledge_text="What is said here stays here.")
    for person in (owner, moderator, member, other, tokyo, twelve):
        circles.accept_pledge(person, circle.slug)
    rsvps.rsvp(member, circle.slug, _first(series), "going")  # the last place
    rsvps.rsvp(tokyo, circle.slug, _first(series), "going")  # the waitlist
    db.session.commit()
    viewers = {"organiser": owner, "moderator": moderator, "member": member, "pledge pending": pending,
               "waitlisted, another zone": tokyo, "another clock": twelve}
    clients = {}
    for name, person in viewers.items():
        clients[name] = app.test_client()
        AuthActions(clients[name]).login(person, csrf=True)
    url = f"/c/{circle.slug}/m/{series.id}"

    def page(name):
        response = clients[name].get(url)
        return response.status_code, response.headers.get("Location"), response.get_data(as_text=True)

    for name in viewers:
        MEMO.clear()
        for others in viewers:
            if others != name:
                page(others)  # the memo holds every other viewer's pages
        served = page(name)
        MEMO.clear()
        assert served == page(name), name
    assert page("pledge pending")[0] == 302  # sent to the pledge, not to anyone's page
    shown = {name: page(name)[2]
             for name in ("organiser", "member", "waitlisted, another zone", "another clock")}
    assert "Edit</a>" in shown["organiser"] and "Edit</a>" not in shown["member"]
    assert "<strong>number 1</strong>" in shown["waitlisted, another zone"]
    assert "<strong>number" not in shown["member"]
    tokens = [set(re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', html)) for html in shown.values()]
    assert all(len(found) == 1 for found in tokens) and len(set().union(*tokens)) == len(tokens)
    titles = re.compile(r'<time datetime="[^"]+" title="[^"]+, (\d+:\d\d(?: [ap]m)?)">')
    assert all(re.fullmatch(r"\d\d:\d\d", t) for t in titles.findall(shown["member"]))
    assert titles.findall(shown["another clock"])
    assert all(re.fullmatch(r"\d{1,2}:\d\d [ap]m", t) for t in titles.findall(shown["another clock"]))
    when = {name: re.search(r"<strong>When:</strong>(.*?)</li>", html, re.S).group(1)
            for name, html in shown.items()}
    assert when["waitlisted, another zone"] != when["member"]  # each in their own zone
    assert all("New York" in text for text in when.values())  # and in the meeting's own


def test_the_page_shows_a_date_as_it_stands_now(client, auth, world, clock):
    """What turns on the time (answers open, "this date has passed", moving a
    date) is in the page's key: the same date, an hour after it ended, is another page."""
    circle, owner, member, other, series = world
    auth.login(owner)
    first = dates_of(series)[0]
    url = f"/c/{circle.slug}/m/{series.id}?date={first.id}"
    before = client.get(url).get_data(as_text=True)
    assert "Move this date" in before and "This date has passed" not in before
    clock(first.ends_at + timedelta(hours=1))
    after = client.get(url).get_data(as_text=True)
    assert "This date has passed" in after and "Move this date" not in after
    assert "answers are closed" in after


def test_a_meeting_page_seen_before_draws_only_its_agenda_card(app, client, auth, world):
    """Drawing the whole page on every request was a third of its time
    (bench/findings.md, 35): once kept, only the Agenda card, which shows the
    run sheet as of now, is drawn again."""
    from flask import template_rendered

    circle, owner, member, other, series = world
    auth.login(member)
    url = f"/c/{circle.slug}/m/{series.id}"
    drawn = []
    record = lambda sender, template, context, **extra: drawn.append(template.name)  # noqa: E731
    template_rendered.connect(record, app)
    try:
        client.get(url)
        first, drawn[:] = list(drawn), []
        response = client.get(url)
    finally:
        template_rendered.disconnect(record, app)
    assert response.status_code == 200 and b"Monthly meetup" in response.data
    assert "meetings/meeting.html" in first
    assert drawn == ["agenda/_card.html"]
