"""The in-app notification centre and the bell."""
import re

from sqlalchemy import select

from community.extensions import db
from community.moderation import actions as moderation
from community.notifications.actions import notify, set_preferences
from community.notifications.models import Notification
from community.threads import actions as threads
from tests.factories import add_member, make_circle, make_thread, make_user


def text(response) -> str:
    return response.get_data(as_text=True)


def bell(page: str) -> int:
    match = re.search(r'class="bell"[^>]*data-unread="(\d+)"', page)
    return int(match.group(1))


def test_bell_counts_unread_and_the_centre_lists_them(client, auth):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh"))
    thread = make_thread(circle, owner, title="Funding cliff")
    threads.post_reply(owner, circle.slug, thread.id, f"@{helen.handle} what do you think?")
    auth.login(helen)
    page = text(client.get("/"))
    assert bell(page) == 2
    centre = text(client.get("/notifications"))
    assert "Olive Owner started “Funding cliff”" in centre
    assert "Olive Owner mentioned you in “Funding cliff”" in centre
    assert centre.count("notification--unread") == 2


def test_opening_a_notification_marks_it_read_and_follows_its_link(client, auth):
    owner = make_user()
    circle = make_circle(owner)
    helen = add_member(circle)
    thread = make_thread(circle, owner)
    note = db.session.scalar(select(Notification).where(Notification.user_id == helen.id,
                                                        Notification.kind == "new_thread"))
    auth.login(helen)
    response = client.post(f"/notifications/{note.id}/open")
    assert response.headers["Location"] == f"/c/{circle.slug}/t/{thread.id}?page=1#post-1"
    assert db.session.get(Notification, note.id).read_at is not None
    assert bell(text(client.get("/"))) == 0


def test_someone_elses_notification_cannot_be_opened(client, auth):
    owner = make_user()
    circle = make_circle(owner)
    helen = add_member(circle)
    make_thread(circle, helen)
    note = db.session.scalar(select(Notification).where(Notification.user_id == owner.id,
                                                        Notification.kind == "new_thread"))
    auth.login(helen)
    assert client.post(f"/notifications/{note.id}/open").status_code == 404


def test_mark_all_read(client, auth):
    owner = make_user()
    circle = make_circle(owner)
    helen = add_member(circle)
    for n in range(3):
        make_thread(circle, owner, title=f"T{n}")
    auth.login(helen)
    client.post("/notifications/read")
    assert bell(text(client.get("/"))) == 0


def test_notifications_from_a_circle_left_behind_disappear(client, auth):
    owner = make_user()
    circle = make_circle(owner)
    helen = add_member(circle)
    make_thread(circle, owner, title="Secret plans")
    moderation.remove_member(owner, circle.slug, helen.id)
    auth.login(helen)
    page = text(client.get("/notifications"))
    assert "Secret plans" not in page
    # What remains is the news of the removal itself, and only that.
    assert f"You are no longer a member of {circle.name}." in page
    assert bell(text(client.get("/"))) == 1


def test_kinds_turned_off_are_hidden(client, auth):
    user = make_user()
    notify(user.id, "new_thread", "A new thread", "/")
    notify(user.id, "mention", "A mention", "/")
    db.session.commit()
    set_preferences(user, {"new_thread": "off"})
    auth.login(user)
    page = text(client.get("/notifications"))
    assert "A mention" in page and "A new thread" not in page


def test_the_centre_is_paginated_and_has_an_empty_state(client, auth):
    user = make_user()
    auth.login(user)
    assert "Nothing yet" in text(client.get("/notifications"))
    for n in range(31):
        notify(user.id, "mention", f"Note {n:02d}", "/")
    db.session.commit()
    first = text(client.get("/notifications"))
    assert "Note 30" in first and "Note 00" not in first and "Page 1 of 2" in first
    assert "Note 00" in text(client.get("/notifications?page=2"))


def test_open_never_redirects_off_site(client, auth):
    user = make_user()
    note = notify(user.id, "mention", "odd", "https://evil.example/")
    db.session.commit()
    auth.login(user)
    assert client.post(f"/notifications/{note.id}/open").headers["Location"] == "/notifications"


# --- Seen, read, and one item per post ------------------------------------------------

def seen_ids(page: str) -> str:
    return re.search(r'data-seen-ids="([\d,]+)"', page).group(1)


def test_opening_the_page_marks_what_it_shows_seen_and_the_bell_drops(client, auth):
    owner = make_user()
    circle = make_circle(owner)
    helen = add_member(circle)
    make_thread(circle, owner, title="First")
    make_thread(circle, owner, title="Second")
    other = notify(owner.id, "mention", "Not Helen's", "/")
    db.session.commit()
    auth.login(helen)
    centre = text(client.get("/notifications"))
    assert bell(centre) == 2  # the GET itself changes nothing; its script posts what it showed
    ids = seen_ids(centre)
    assert len(ids.split(",")) == 2
    answer = client.post("/notifications/seen", data={"ids": f"{ids},{other.id}"},
                         headers={"Accept": "application/json"})
    assert answer.get_json() == {"unread": 0}
    assert bell(text(client.get("/"))) == 0
    centre = text(client.get("/notifications"))
    assert centre.count("notification--unread") == 2  # seen, still unread until opened
    assert "data-seen-ids" not in centre
    assert db.session.get(Notification, other.id).seen_at is None
    make_thread(circle, owner, title="Third")
    assert bell(text(client.get("/"))) == 1


def test_seen_takes_only_ids(client, auth):
    auth.login(make_user())
    for ids in ("", "x", "1,,2", "9" * 40, "-1", "١"):
        assert client.post("/notifications/seen", data={"ids": ids}).status_code == 302


def test_each_item_is_a_real_link_opening_in_a_new_tab_and_its_visit_marks_it_read(client, auth):
    owner = make_user()
    circle = make_circle(owner)
    helen = add_member(circle)
    thread = make_thread(circle, owner)
    note = db.session.scalar(select(Notification).where(Notification.user_id == helen.id))
    auth.login(helen)
    centre = text(client.get("/notifications"))
    link = re.search(r'<a href="([^"]+)" target="_blank" rel="noopener" class="notification__link"\s+'
                     r'data-open-url="([^"]+)"', centre)
    assert link.group(1) == f"/c/{circle.slug}/t/{thread.id}?page=1#post-1"
    answer = client.post(link.group(2), headers={"Accept": "application/json"})
    assert answer.get_json() == {"unread": 0}
    assert db.session.get(Notification, note.id).read_at is not None
    assert "notification--unread" not in text(client.get("/notifications"))


def test_a_reply_that_mentions_a_follower_is_one_item_saying_both(client, auth):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh"))
    thread = make_thread(circle, owner, title="Funding cliff")
    threads.post_reply(helen, circle.slug, thread.id, "I follow this now.")
    threads.post_reply(owner, circle.slug, thread.id, f"@{helen.handle} what do you think?")
    notes = db.session.scalars(select(Notification).where(
        Notification.user_id == helen.id, Notification.kind != "new_thread")).all()
    assert [(n.kind, n.text) for n in notes] == [
        ("mention", "Olive Owner replied in “Funding cliff” and mentioned you")]


def test_a_mention_added_by_an_edit_merges_with_the_reply_already_told(client, auth):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh"))
    thread = make_thread(circle, owner, title="Funding cliff")
    threads.post_reply(helen, circle.slug, thread.id, "I follow this now.")
    post = threads.post_reply(owner, circle.slug, thread.id, "What does everyone think?")
    reply = db.session.scalar(select(Notification).where(Notification.user_id == helen.id,
                                                         Notification.kind == "reply"))
    auth.login(helen)
    client.post(f"/notifications/{reply.id}/open")
    assert bell(text(client.get("/"))) == 1  # the new thread's
    threads.edit_post(owner, circle.slug, post.id, f"What does everyone think? @{helen.handle}?")
    notes = db.session.scalars(select(Notification).where(
        Notification.user_id == helen.id, Notification.kind != "new_thread")).all()
    assert [(n.id, n.kind, n.text) for n in notes] == [
        (reply.id, "mention", "Olive Owner replied in “Funding cliff” and mentioned you")]
    assert notes[0].read_at is None and notes[0].dispatched_at is None  # new again
    assert bell(text(client.get("/"))) == 2
