"""A mention in chat tells the member named, as one in a thread does (issue 20, item 3)."""
from datetime import UTC, datetime

from sqlalchemy import select

from community.chat import actions as chat
from community.chat.models import ChatMessage
from community.circles.actions import update_circle
from community.extensions import db
from community.moderation import actions as moderation
from community.notifications.actions import set_preferences
from community.notifications.dispatch import dispatch_notifications
from community.notifications.models import Notification, OutboxMail
from tests.chat.conftest import call, post

NOON_UTC = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def mentions_of(user) -> list[Notification]:
    return db.session.scalars(select(Notification).where(
        Notification.user_id == user.id, Notification.kind == "mention")
        .order_by(Notification.id)).all()


def test_a_mention_in_chat_notifies_the_member_with_a_link_to_the_message(connect, people):
    circle, gareth, priya = people["circle"], people["member"], people["other"]
    answer = call(connect(gareth), "send_message", {
        "circle": circle.slug, "body": f"@{priya.handle} can you share the rota?", "client_id": "m-1"})
    assert answer["ok"], answer
    [note] = mentions_of(priya)
    assert note.text == "Gareth Lloyd mentioned you in chat in Berkshire Leaders"
    assert note.url == f"/c/{circle.slug}/chat#message-{answer['message']['id']}"
    assert (note.circle_id, note.actor_id) == (circle.id, gareth.id)
    assert "rota" in note.excerpt


def test_only_active_members_other_than_the_author_are_told(people):
    circle, gareth, priya = people["circle"], people["member"], people["other"]
    outsider, owner = people["outsider"], people["owner"]
    moderation.remove_member(owner, circle.slug, priya.id)
    post(gareth, circle, f"@{gareth.handle} @{priya.handle} @{outsider.handle} @{owner.handle} hi")
    assert mentions_of(gareth) == [] and mentions_of(priya) == [] and mentions_of(outsider) == []
    assert len(mentions_of(owner)) == 1


def test_a_mention_added_by_an_edit_notifies_once(people):
    circle, gareth, priya, owner = people["circle"], people["member"], people["other"], people["owner"]
    message = post(gareth, circle, "Who has the rota?")
    assert mentions_of(priya) == []
    chat.edit_message(gareth, message["id"], f"Who has the rota, @{priya.handle}?")
    assert len(mentions_of(priya)) == 1
    chat.edit_message(gareth, message["id"], f"Who has the rota now, @{priya.handle}?")
    chat.edit_message(gareth, message["id"], "Who has the rota?")
    chat.edit_message(gareth, message["id"], f"@{priya.handle}: who has the rota?")
    assert len(mentions_of(priya)) == 1
    chat.edit_message(gareth, message["id"], f"@{priya.handle} @{owner.handle}: who has the rota?")
    assert len(mentions_of(priya)) == 1 and len(mentions_of(owner)) == 1


def test_a_mention_sent_twice_with_the_same_client_id_notifies_once(people):
    circle, gareth, priya = people["circle"], people["member"], people["other"]
    post(gareth, circle, f"@{priya.handle} hello", client_id="again")
    post(gareth, circle, f"@{priya.handle} hello", client_id="again")
    assert len(mentions_of(priya)) == 1


def test_a_chat_mention_follows_the_same_preferences(people):
    circle, gareth, priya = people["circle"], people["member"], people["other"]
    set_preferences(priya, {"mention": "off"})
    post(gareth, circle, f"@{priya.handle} hello")
    dispatch_notifications(NOON_UTC)
    assert db.session.scalars(select(OutboxMail).where(
        OutboxMail.to_address == priya.email)).all() == []


def test_the_email_carries_no_message_text_unless_the_circle_allows_excerpts(people):
    circle, gareth, priya, owner = people["circle"], people["member"], people["other"], people["owner"]
    post(gareth, circle, f"@{priya.handle} the figures are 42")
    dispatch_notifications(NOON_UTC)
    [mail] = db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == priya.email)).all()
    assert mail.subject == "Gareth Lloyd mentioned you in chat in Berkshire Leaders"
    assert "figures" not in mail.text_body and "figures" not in mail.html_body
    message_id = db.session.scalar(select(ChatMessage.id).order_by(ChatMessage.id.desc()))
    assert f"/c/{circle.slug}/chat#message-{message_id}" in mail.text_body
    update_circle(owner, circle.slug, name=circle.name, email_excerpts=True)
    post(gareth, circle, f"@{priya.handle} and now 43")
    dispatch_notifications(NOON_UTC)
    mails = db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == priya.email)
                               .order_by(OutboxMail.id)).all()
    assert "and now 43" in mails[-1].text_body
