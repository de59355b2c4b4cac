"""A circle's home is kept whole (circles.views.HomeFrame): after any change to
what it shows, the home served is the home an empty memo renders, and its times
are each viewer's own (slots named by their moments, fast.fragments.MOMENT)."""
from datetime import timedelta

import pytest
from sqlalchemy import delete

from community import timefmt
from community.accounts.models import User
from community.challenges import actions as challenges
from community.chat import actions as chat
from community.circles import actions as circles
from community.circles.models import Circle
from community.extensions import db
from community.fast.fragments import MEMO
from community.moderation.actions import change_role
from community.notifications.models import Notification
from community.threads.models import Thread
from community.timeutil import utcnow
from tests.factories import add_member, make_circle, make_thread, make_user
from tests.kept import assert_shown_afresh, served_and_fresh, update
from tests.meetings.conftest import schedule


@pytest.fixture
def world(app):
    """(circle, owner, Helen a member, a thread the owner started)."""
    owner = make_user("Olive Owner")
    circle = make_circle(owner, name="Berkshire Leaders", join_policy="request")
    helen = add_member(circle, make_user("Helen Marsh"))
    return circle, owner, helen, make_thread(circle, owner, title="Winter pressures")


def _home(circle) -> str:
    return f"/c/{circle.slug}/"


# Each change alters something the home shows, beyond its rows of threads and
# its Members card (tests/threads/test_kept_rows.py, test_kept_members.py).
CHANGES = {
    "the description is edited": lambda c, o, h: circles.update_circle(
        o, c.slug, name=c.name, description="Leaders of Berkshire, ten days in 2025.",
        cohort=c.cohort, join_policy=c.join_policy),
    "the description is removed": lambda c, o, h: update(Circle, c.id, description=""),
    "a chat message arrives": lambda c, o, h: chat.send_message(o, c.slug, "Anyone around?", "cid-1"),
    "a meeting is scheduled": lambda c, o, h: schedule(o, c, title="Spring meetup"),
    "a challenge opens": lambda c, o, h: challenges.open_challenge(
        o, c.slug, "Two teams, one budget", "We are merging.", "Where do I start?"),
    "a thread starts": lambda c, o, h: make_thread(c, o, title="Budgets"),
    "the viewer becomes a moderator": lambda c, o, h: change_role(o, c.slug, h.id, "moderator"),
    "the viewer moves to Tokyo": lambda c, o, h: update(User, h.id, timezone="Asia/Tokyo"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_after_a_change_the_home_served_is_the_home_rendered_afresh(client, auth, world, change):
    circle, owner, helen, _ = world
    auth.login(helen)
    assert_shown_afresh(client, _home(circle), lambda: CHANGES[change](circle, owner, helen))
    assert any(key[0] == "circles/home.html" for key in MEMO.items)  # kept whole


def test_join_requests_waiting_show_to_staff_only(client, auth, world):
    circle, owner, helen, _ = world
    circles.request_to_join(make_user("Kenji Mori"), circle.slug, "I run a college")
    auth.login(helen)
    assert "join request" not in client.get(_home(circle)).get_data(as_text=True)
    auth.logout()
    auth.login(owner)
    served, fresh = served_and_fresh(client, _home(circle))
    assert served == fresh and "1 join request</a> waiting for a decision" in served


def test_the_members_card_brings_the_circles_counts_with_its_people(client, auth, world,
                                                                     count_queries):
    """The members and the join requests waiting are counted in the statement
    that reads the Members card's people, not one of their own: on PostgreSQL
    each statement is a round trip (bench/findings.md, 39)."""
    circle, owner, _, _ = world
    circles.request_to_join(make_user("Kenji Mori"), circle.slug, "I run a college")
    auth.login(owner)
    client.get(_home(circle))
    with count_queries() as sent:
        page = client.get(_home(circle)).get_data(as_text=True)
    assert "1 join request</a> waiting" in page and 'Members <span class="pill">2</span>' in page
    counting = [s for s in sent.statements if "join_requests" in s or "count(memberships" in s]
    assert len(counting) == 1 and "users.display_name" in counting[0], counting


def test_the_home_shows_each_viewer_their_own_times(app, world):
    circle, owner, helen, thread = world
    twin = add_member(circle, make_user("Helen Marsh", timezone="Asia/Tokyo"))
    moment = utcnow() - timedelta(days=3)
    update(Thread, thread.id, last_post_at=moment)
    db.session.execute(delete(Notification))  # the bell: the same for both
    db.session.commit()
    MEMO.clear()
    pages = {}
    for person in (helen, twin):  # the same role, read state and bell: one kept home
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = f"{person.id}:{person.session_token}"
        pages[person.timezone] = client.get(_home(circle)).get_data(as_text=True)
    homes = [key for key in MEMO.items if key[0] == "circles/home.html"]
    assert len(homes) == 1
    for zone, page in pages.items():
        assert timefmt.full(moment, zone, "24") in page
