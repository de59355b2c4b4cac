"""Who may do what in chat: every role × every socket event, through the test client."""
import pytest
from sqlalchemy import select

from community.accounts.models import User
from community.chat.models import ChatMessage
from community.circles import actions as circles
from community.extensions import db
from community.moderation import actions as moderation
from tests.chat.conftest import call, post
from tests.factories import add_member, make_user

ROLES = ["signed_out", "non_member", "site_admin", "banned", "removed", "left", "member",
         "moderator", "owner"]
OUTSIDERS = {"non_member", "site_admin", "banned", "removed", "left"}
# event -> roles that may do it to someone else's message / in the circle
ALLOWED = {
    "join": {"member", "moderator", "owner"},
    "send_message": {"member", "moderator", "owner"},
    "typing": {"member", "moderator", "owner"},
    "load_older": {"member", "moderator", "owner"},
    "mark_read": {"member", "moderator", "owner"},
    "report_message": {"member", "moderator", "owner"},
    "delete_message": {"moderator", "owner"},
    "edit_message": set(),
}


@pytest.fixture
def world(people):
    circle, owner = people["circle"], people["owner"]
    actors = {"owner": owner, "moderator": people["moderator"], "member": people["member"],
              "non_member": people["outsider"]}
    for status in ("banned", "removed", "left"):
        actors[status] = add_member(circle, make_user(f"Was {status.title()}"))
    moderation.ban_member(owner, circle.slug, actors["banned"].id)
    moderation.remove_member(owner, circle.slug, actors["removed"].id)
    circles.leave_circle(actors["left"], circle.slug)
    admin = make_user("Sam Siteadmin")
    admin.is_site_admin = True
    db.session.commit()
    actors["site_admin"] = admin
    target = post(people["other"], circle, "Someone else's message")
    return circle, actors, target


def payload(event, circle, target):
    return {
        "join": {"circle": circle.slug},
        "send_message": {"circle": circle.slug, "body": "hello", "client_id": f"p-{event}"},
        "typing": {"circle": circle.slug},
        "load_older": {"circle": circle.slug, "before_id": target["id"] + 1},
        "mark_read": {"circle": circle.slug, "id": target["id"]},
        "report_message": {"id": target["id"], "reason": "check this"},
        "delete_message": {"id": target["id"]},
        "edit_message": {"id": target["id"], "body": "changed"},
    }[event]


@pytest.mark.parametrize("event", sorted(ALLOWED))
@pytest.mark.parametrize("role", ROLES)
def test_chat_matrix(connect, world, role, event):
    circle, actors, target = world
    sc = connect(None if role == "signed_out" else actors[role])
    if role == "signed_out":
        assert not sc.is_connected("/chat")
        return
    answer = call(sc, event, payload(event, circle, target))
    if role in ALLOWED[event]:
        assert answer["ok"] is True, answer
    elif role in OUTSIDERS:
        # Outsiders learn nothing: the answer for a missing circle or message.
        assert answer["error"] == "not_found", answer
    else:
        assert answer["error"] == "forbidden", answer
    stored = db.session.get(ChatMessage, target["id"])
    db.session.refresh(stored)
    assert stored.removed is (event == "delete_message" and role in ALLOWED[event])
    assert stored.source in ("Someone else's message", "")
    sent = db.session.scalar(select(ChatMessage).where(ChatMessage.client_id == "p-send_message"))
    assert (sent is not None) is (event == "send_message" and role in ALLOWED[event])
    if sent is not None:
        assert db.session.get(User, sent.author_id).id == actors[role].id
