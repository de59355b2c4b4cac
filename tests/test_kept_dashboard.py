"""The dashboard is kept whole (main.views.DashboardFrame): after any change to
what it shows, the page served is the page an empty memo renders; its times are
slots named by their moments (fast.fragments.MOMENT), written for each viewer."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import delete

from community import timefmt
from community.accounts.models import User
from community.chat import actions as chat
from community.circles import actions as circles
from community.circles.models import Circle
from community.extensions import db
from community.fast.fragments import MEMO, Frozen, frozen, thawed
from community.moderation.actions import change_role
from community.notifications.models import Notification
from community.threads.models import Thread
from community.timeutil import utcnow
from tests.factories import add_member, make_circle, make_thread, make_user
from tests.kept import assert_shown_afresh, served_and_fresh, update
from tests.meetings.conftest import dates_of, schedule


@pytest.fixture
def world(app):
    """(circle, owner, Helen a member, a thread the owner started)."""
    owner = make_user("Olive Owner")
    circle = make_circle(owner, name="Berkshire Leaders")
    helen = add_member(circle, make_user("Helen Marsh"))
    return circle, owner, helen, make_thread(circle, owner, title="Winter pressures")


def _open_circle(owner) -> Circle:
    return make_circle(owner, name="Open Door Leaders", join_policy="request")


# Each change alters something the dashboard shows, beyond its list of threads
# (tests/threads/test_kept_rows.py changes those).
CHANGES = {
    "the viewer renames themselves": lambda c, o, h: update(User, h.id, display_name="Helen Marsh-Adeyemi"),
    "a chat message arrives": lambda c, o, h: chat.send_message(o, c.slug, "Anyone around?", "cid-1"),
    "a meeting is scheduled": lambda c, o, h: schedule(o, c, title="Spring meetup"),
    "the viewer asks to join a circle": lambda c, o, h: circles.request_to_join(
        h, _open_circle(o).slug, "I run a GP practice"),
    "a thread starts": lambda c, o, h: make_thread(c, o, title="Budgets"),
    "the viewer moves to Tokyo": lambda c, o, h: update(User, h.id, timezone="Asia/Tokyo"),
    "the viewer becomes a moderator": lambda c, o, h: change_role(o, c.slug, h.id, "moderator"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_after_a_change_the_dashboard_served_is_the_dashboard_rendered_afresh(client, auth, world, change):
    circle, owner, helen, _ = world
    auth.login(helen)
    assert_shown_afresh(client, "/", lambda: CHANGES[change](circle, owner, helen))


def test_the_panels_and_requests_show_on_the_kept_page(client, auth, world):
    circle, owner, helen, _ = world
    chat.send_message(owner, circle.slug, "Anyone around?", "cid-1")
    schedule(owner, circle, title="Spring meetup")
    opened = _open_circle(owner)
    circles.request_to_join(helen, opened.slug, "I run a GP practice")
    auth.login(helen)
    served, fresh = served_and_fresh(client, "/")
    assert served == fresh
    for shown in ("Welcome, Helen Marsh", "Winter pressures", "Spring meetup", "Unread chat",
                  "Your requests to join", "Open Door Leaders"):
        assert shown in served, shown
    # The withdraw form comes back to the dashboard, with this session's token.
    withdraw = served[served.index(f"/circles/{opened.slug}/request/withdraw"):]
    assert 'name="next" value="/"' in withdraw[:600]
    assert re.search(r'name="csrf_token" value="[^"\x00]+"', withdraw)


def test_one_kept_dashboard_shows_each_viewer_their_own_times(app, world):
    circle, owner, helen, thread = world
    moment = utcnow() - timedelta(days=3)
    # Helen's twin: her name, circles, role, read state and bell, in another zone.
    twin = add_member(circle, make_user("Helen Marsh", timezone="Asia/Tokyo"))
    update(Thread, thread.id, last_post_at=moment)
    meeting = schedule(owner, circle, title="Spring meetup")
    db.session.execute(delete(Notification))  # the bell: the same for both
    db.session.commit()
    pages = {}
    for person in (helen, twin):  # the same name, circles, roles and read state
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = f"{person.id}:{person.session_token}"
        pages[person.timezone] = client.get("/").get_data(as_text=True)
        if person is helen:
            kept = set(MEMO.items)
            assert any(key[0] == "main/dashboard.html" for key in kept)  # kept whole
    assert set(MEMO.items) == kept, "the twin was not served the page kept for Helen"
    london, tokyo = pages["Europe/London"], pages["Asia/Tokyo"]
    starts = dates_of(meeting)[0].starts_at
    for page, zone in ((london, "Europe/London"), (tokyo, "Asia/Tokyo")):
        assert timefmt.full(moment, zone, "24") in page  # the thread's last post, in their zone
        assert timefmt.full(starts, zone, "24") in page  # the meeting's, too
    assert timefmt.full(moment, "Asia/Tokyo", "24") not in london


def test_relative_times_move_on_while_the_page_is_kept(client, auth, world, monkeypatch):
    circle, owner, helen, thread = world
    update(Thread, thread.id, last_post_at=utcnow() - timedelta(minutes=5))
    auth.login(helen)
    assert "5 minutes ago" in client.get("/").get_data(as_text=True)
    later = utcnow() + timedelta(minutes=30)
    monkeypatch.setattr("community.timeutil.utcnow", lambda: later)
    served = client.get("/").get_data(as_text=True)
    assert ">35 minutes ago<" in served and ">5 minutes ago<" not in served


def test_a_circle_name_cannot_open_a_slot_on_the_kept_page(client, auth, world):
    """Names reach the page from the database: one holding the slot mark is
    shown with it replaced, never as a slot (the request class drops NUL from
    forms; this one got in some other way)."""
    circle, owner, helen, _ = world
    update(Circle, circle.id, name="Berkshire\x00csrf\x00Leaders")
    chat.send_message(owner, circle.slug, "Anyone around?", "cid-1")
    auth.login(helen)
    served, fresh = served_and_fresh(client, "/")
    assert served == fresh and "Berkshire\ufffdcsrf\ufffdLeaders" in served and "\x00" not in served


def test_a_panels_data_must_be_plain_values():
    """A panel that gave an ORM object could show, through its attributes, what
    the key does not hold: the dashboard refuses it."""
    data = {"threads": [("a", 1)], "circles": {3: ("x", None)}}
    assert isinstance(frozen(data), Frozen) and thawed(frozen(data)) == {
        "threads": (("a", 1),), "circles": {3: ("x", None)}}
    with pytest.raises(TypeError, match="plain values, not User"):
        frozen({"viewer": User()})
    with pytest.raises(TypeError, match="plain values, not User"):
        frozen({"rows": [("a", 1, User())]})  # in a row of plain values too
    row = ("a", 1, None)
    assert frozen({"rows": [row]}) == Frozen([("rows", (row,))])
    assert frozen({"rows": [row]})[0][1][0] is row  # a row of plain values is kept as it is


def test_the_dashboard_sends_the_same_statements_kept_or_not(client, auth, world, count_queries):
    circle, owner, helen, _ = world
    auth.login(helen)
    client.get("/")
    with count_queries() as kept:
        client.get("/")
    MEMO.clear()
    with count_queries() as fresh:
        client.get("/")
    assert kept.count == fresh.count <= 8
