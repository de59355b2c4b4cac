"""The chat page, its panels on the circle home and dashboard, and what they cost."""
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from community.chat import actions as chat
from community.chat.models import ChatMessage
from community.circles.models import Membership
from community.extensions import db
from community.moderation import actions as moderation
from tests.chat.conftest import post
from tests.conftest import AuthActions
from tests.factories import add_member, make_circle, make_user


def text(response) -> str:
    return response.get_data(as_text=True)


def login(app, user):
    client = app.test_client()
    AuthActions(client).login(user)
    return client


# --- The page -------------------------------------------------------------------------------

def test_the_chat_page_for_a_member(app, people):
    circle = people["circle"]
    response = login(app, people["member"]).get(f"/c/{circle.slug}/chat")
    assert response.status_code == 200
    html = text(response)
    # The client is the vendored socket.io and our own script, by src; no inline script (CSP).
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert '/static/vendor/socket.io/socket.io.min.js' in html
    assert '/static/js/chat.js' in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert f'data-circle="{circle.slug}"' in html
    assert f'data-me="{people["member"].id}"' in html
    assert 'data-timezone="Europe/London"' in html
    # The composer is labelled for screen readers and keyboards.
    assert '<label for="chat-body">' in html and 'id="chat-body"' in html
    # The Chat tab shows, and is marked as the current page.
    assert re.search(r'<a href="/c/[^"]+/chat" aria-current="page">Chat</a>', html)


def test_without_javascript_the_page_says_so_and_links_to_the_threads(app, people):
    circle = people["circle"]
    html = text(login(app, people["member"]).get(f"/c/{circle.slug}/chat"))
    noscript = re.search(r"<noscript>(.*?)</noscript>", html, re.S).group(1)
    assert "Live chat needs JavaScript" in noscript
    assert f'href="/c/{circle.slug}/threads' in noscript
    # The live chat itself stays hidden until the script shows it.
    assert re.search(r'<div id="chat" class="chat" hidden', html)


def test_moderators_get_the_moderator_flag(app, people):
    circle = people["circle"]
    assert 'data-moderator="true"' in text(login(app, people["moderator"]).get(f"/c/{circle.slug}/chat"))
    assert 'data-moderator="false"' in text(login(app, people["member"]).get(f"/c/{circle.slug}/chat"))


@pytest.mark.parametrize("who", ["outsider", "banned"])
def test_the_chat_page_is_a_404_for_non_members_as_for_a_missing_circle(app, people, who):
    circle = people["circle"]
    if who == "banned":
        moderation.ban_member(people["owner"], circle.slug, people["other"].id)
        user = people["other"]
    else:
        user = people["outsider"]
    client = login(app, user)
    assert client.get(f"/c/{circle.slug}/chat").status_code == 404
    assert client.get("/c/no-such-circle/chat").status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, people):
    for path in (f"/c/{people['circle'].slug}/chat", "/c/no-such-circle/chat"):
        response = client.get(path)
        assert response.status_code == 302 and "/auth/login" in response.location


def test_the_pledge_comes_before_the_chat(app, people):
    from community.circles import actions as circles

    circle = people["circle"]
    circles.update_circle(people["owner"], circle.slug, name=circle.name, pledge_required=True,
                          pledge_text="Nothing leaves the circle.")
    response = login(app, people["member"]).get(f"/c/{circle.slug}/chat")
    assert response.status_code == 302 and "/pledge" in response.location


def test_the_vendored_client_and_its_licence_are_served(client):
    with client.get("/static/vendor/socket.io/socket.io.min.js") as script:
        assert script.status_code == 200 and b"Socket.IO v4." in script.data[:200]
    with client.get("/static/vendor/socket.io/LICENSE") as licence:
        assert licence.status_code == 200 and b"MIT License" in licence.data
    with client.get("/static/js/chat.js") as js:
        assert js.status_code == 200


# --- Unread counts ------------------------------------------------------------------------------

def test_the_circle_home_shows_unread_chat_messages(app, people):
    circle, member = people["circle"], people["member"]
    client = login(app, member)
    assert "up to date with the live chat" in text(client.get(f"/c/{circle.slug}/"))
    ids = [post(people["other"], circle, f"m{i}")["id"] for i in range(3)]
    post(member, circle, "my own does not count")
    html = text(client.get(f"/c/{circle.slug}/"))
    assert re.search(r'<span class="badge">3</span>\s*unread messages', html)
    chat.mark_read(member, circle.slug, ids[1])
    assert re.search(r'<span class="badge">1</span>\s*unread message\b',
                     text(client.get(f"/c/{circle.slug}/")))


def test_unread_counting_stops_where_the_badge_says_99_plus(app, people):
    """A chat never opened costs the dashboard no more than one read daily: the
    count stops at UNREAD_SHOWN, and the badge reads "99+" from there."""
    circle, member = people["circle"], people["member"]
    first = post(people["other"], circle, "m0")
    start = db.session.get(ChatMessage, first["id"])
    later = [ChatMessage(circle_id=circle.id, seq=start.seq + i, author_id=people["other"].id,
                         client_id=uuid.uuid4().hex, source=f"m{i}", html=f"<p>m{i}</p>",
                         created_at=start.created_at + timedelta(seconds=i))
             for i in range(1, chat.UNREAD_SHOWN + 5)]  # past the rate limit: stored as sending would
    db.session.add_all(later)
    db.session.commit()
    ids = [first["id"], *(message.id for message in later)]
    assert chat.unread_counts(member.id, [circle.id]) == {circle.id: chat.UNREAD_SHOWN}
    client = login(app, member)
    for page in ("/", f"/c/{circle.slug}/"):
        assert '<span class="badge">99+</span>' in text(client.get(page)), page
    chat.mark_read(member, circle.slug, ids[10])  # 94 left: counted exactly again
    assert chat.unread_counts(member.id, [circle.id]) == {circle.id: chat.UNREAD_SHOWN - 6}


def test_messages_from_before_someone_joined_are_not_unread(app, people):
    circle = people["circle"]
    post(people["other"], circle, "before you came")
    newcomer = add_member(circle, make_user("Helen Marsh"))
    membership = db.session.scalar(select(Membership).where(Membership.user_id == newcomer.id))
    assert chat.unread_counts(newcomer.id, [circle.id]) == {}
    later = post(people["other"], circle, "welcome Helen")
    # (the same second as joining must still count)
    assert membership.joined_at < db.session.get(ChatMessage, later["id"]).created_at
    assert chat.unread_counts(newcomer.id, [circle.id]) == {circle.id: 1}


def test_deleted_messages_are_not_unread(app, people):
    circle = people["circle"]
    message = post(people["other"], circle, "oops")
    chat.delete_message(people["other"], message["id"])
    assert chat.unread_counts(people["member"].id, [circle.id]) == {}


def test_the_dashboard_lists_circles_with_unread_chat(app, people):
    circle, member = people["circle"], people["member"]
    client = login(app, member)
    assert "Unread chat" not in text(client.get("/"))
    quiet = make_circle(member, name="Quiet Circle")
    post(people["other"], circle, "hello")
    post(people["other"], circle, "anyone?")
    html = text(client.get("/"))
    assert "Unread chat" in html
    section = html[html.index("Unread chat"):]
    assert f'href="/c/{circle.slug}/chat"' in section and '<span class="badge">2</span>' in section
    assert f"/c/{quiet.slug}/chat" not in section


def _bulk_messages(circle, author, n: int) -> None:
    first = (db.session.scalar(select(func.max(ChatMessage.seq))
                               .where(ChatMessage.circle_id == circle.id)) or 0) + 1
    db.session.add_all(ChatMessage(circle_id=circle.id, seq=first + i, author_id=author.id,
                                   client_id=uuid.uuid4().hex, source=f"bulk {i}",
                                   html=f"<p>bulk {i}</p>") for i in range(n))
    db.session.commit()


@pytest.mark.parametrize("path", ["/c/{slug}/", "/c/{slug}/chat", "/"])
def test_query_count_does_not_grow_with_messages_or_circles(app, people, count_queries, path):
    circle, member = people["circle"], people["member"]
    client = login(app, member)
    url = path.format(slug=circle.slug)
    client.get(url)  # warm
    with count_queries() as small:
        assert client.get(url).status_code == 200
    _bulk_messages(circle, people["other"], 300)
    for i in range(4):
        other = make_circle(member, name=f"Another Circle {i}")
        _bulk_messages(other, member, 5)
        add_member(other, people["other"])
        _bulk_messages(other, people["other"], 20)
    with count_queries() as large:
        assert client.get(url).status_code == 200
    assert small.count == large.count, large.statements


def test_the_chat_panels_cost_one_query_each(app, people, count_queries):
    from community.chat.views import dashboard, home_panel
    from community.circles.actions import my_circles

    circle, member = people["circle"], people["member"]
    membership = db.session.scalar(select(Membership).where(
        Membership.circle_id == circle.id, Membership.user_id == member.id))
    circles = my_circles(member)
    with count_queries() as q:
        home_panel(circle, membership)
    assert q.count == 1
    with count_queries() as q:
        dashboard(member, circles)
    assert q.count == 1


# --- The moderation queue ------------------------------------------------------------------------

def test_a_reported_message_shows_in_the_moderation_queue(app, people):
    circle = people["circle"]
    message = post(people["member"], circle, "Something *unkind*")
    chat.report_message(people["other"], message["id"], "Not how we speak to each other")
    html = text(login(app, people["moderator"]).get(f"/c/{circle.slug}/manage/reports"))
    assert "a chat message" in html and "Not how we speak to each other" in html
    assert "<em>unkind</em>" in html
    assert f'href="/c/{circle.slug}/chat#message-{message["id"]}"' in html


def test_the_audit_log_names_a_moderators_deletion(app, people):
    circle = people["circle"]
    message = post(people["member"], circle, "Remove me")
    chat.delete_message(people["moderator"], message["id"])
    html = text(login(app, people["owner"]).get(f"/c/{circle.slug}/manage/audit"))
    assert "deleted a chat message by" in html


# --- Demo ------------------------------------------------------------------------------------------

def test_the_demo_gives_a_circle_a_few_days_of_chat(app):
    from community.chat.demo import seed_demo
    from community.circles import actions as circles
    from community.demo import COHORT

    names = ["Rachel Stone"] + [row[0] for row in COHORT if row[0] != "Rachel Stone"]
    people = {name: make_user(name) for name in names}
    circle = make_circle(people["Rachel Stone"], name="Berkshire Leaders 2025")
    for name in names[1:]:
        add_member(circle, people[name])
    circles.update_circle(people["Rachel Stone"], circle.slug, name=circle.name,
                          pledge_required=True, pledge_text="Stays here.")
    for name in names[1:]:
        circles.accept_pledge(people[name], circle.slug)
    seed_demo(circle, people)
    rows = db.session.scalars(select(ChatMessage).where(ChatMessage.circle_id == circle.id)
                              .order_by(ChatMessage.id)).all()
    assert len(rows) >= 25
    days = {m.created_at.date() for m in rows}
    assert len(days) >= 3
    assert [m.created_at for m in rows] == sorted(m.created_at for m in rows)
    assert rows[-1].created_at - rows[0].created_at >= timedelta(days=2)
    assert len({m.author_id for m in rows}) >= 5
    # Some of it is unread for the owner, so the demo shows the counts.
    assert chat.unread_counts(people["Rachel Stone"].id, [circle.id]).get(circle.id, 0) > 0
