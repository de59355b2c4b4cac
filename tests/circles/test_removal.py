"""Removing or banning someone: an optional reason, and they are told. Someone whose
membership ends while they write gets a page that says so, with their text."""
import pytest
from sqlalchemy import select

from community.circles import actions as circles
from community.extensions import db
from community.moderation import actions as moderation
from community.moderation.models import AuditEvent
from community.notifications.models import Notification
from community.policy import membership_of
from community.threads import actions as threads
from community.threads.models import Post
from tests.factories import add_member, make_circle, make_user


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def world(app):
    owner = make_user("Rachel Stone")
    circle = make_circle(owner, name="Berkshire Leaders")
    member = add_member(circle, make_user("Gareth Lloyd"))
    thread = threads.start_thread(owner, circle.slug, "Budgets across sectors", "Opening words")
    return {"owner": owner, "circle": circle, "member": member, "thread": thread.id}


def told(user) -> list[Notification]:
    return db.session.scalars(select(Notification).where(
        Notification.user_id == user.id, Notification.kind == "membership_ended")).all()


@pytest.mark.parametrize("verb", ["remove", "ban"])
def test_removing_or_banning_tells_them_with_the_reason(client, auth, world, verb):
    owner, member, circle = world["owner"], world["member"], world["circle"]
    auth.login(owner)
    response = client.post(f"/c/{circle.slug}/manage/members/{member.id}/{verb}",
                           data={"reason": "  Please take a break.  "})
    assert response.status_code == 302
    [note] = told(member)
    assert note.text == ("You are no longer a member of Berkshire Leaders. "
                         "The moderator said: Please take a break.")
    assert note.circle_id is None  # they see it, though they can't read the circle now
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.circle_id == circle.id)
                               .order_by(AuditEvent.id.desc())).first()
    assert (event.target_user_id, event.detail) == (member.id, "Please take a break.")
    auth.logout()
    auth.login(member)
    assert "The moderator said: Please take a break." in text(client.get("/notifications"))


def test_without_a_reason_they_are_told_only_that_it_ended(world):
    moderation.ban_member(world["owner"], world["circle"].slug, world["member"].id)
    assert [n.text for n in told(world["member"])] == ["You are no longer a member of Berkshire Leaders."]


def test_banning_someone_who_already_left_tells_them_nothing(world):
    circles.leave_circle(world["member"], world["circle"].slug)
    moderation.ban_member(world["owner"], world["circle"].slug, world["member"].id)
    assert told(world["member"]) == []


def test_a_too_long_reason_changes_nothing(client, auth, world):
    owner, member, circle = world["owner"], world["member"], world["circle"]
    auth.login(owner)
    response = client.post(f"/c/{circle.slug}/manage/members/{member.id}/remove",
                           data={"reason": "x" * 241})
    assert response.status_code == 303
    assert membership_of(circle.id, member.id).is_active
    assert told(member) == []
    assert "The reason" in text(client.get(f"/c/{circle.slug}/members"))


def test_the_members_page_asks_for_an_optional_reason(client, auth, world):
    auth.login(world["owner"])
    page = text(client.get(f"/c/{world['circle'].slug}/members"))
    assert "Reason for Gareth Lloyd (optional)" in page
    assert f'/manage/members/{world["member"].id}/ban' in page


# --- Writing when the membership has ended -------------------------------------------------

@pytest.mark.parametrize("thread_id", ["real", 999999])
def test_a_removed_member_replying_is_told_and_gets_their_text_back(client, auth, world, thread_id):
    member, circle = world["member"], world["circle"]
    thread_id = world["thread"] if thread_id == "real" else thread_id
    auth.login(member)
    moderation.remove_member(world["owner"], circle.slug, member.id, reason="Please take a break.")
    response = client.post(f"/c/{circle.slug}/t/{thread_id}/reply",
                           data={"body": "My long <b>considered</b> reply"})
    assert response.status_code == 403
    page = text(response)
    assert "You are no longer a member of Berkshire Leaders" in page
    assert "Please take a break." in page
    assert "My long &lt;b&gt;considered&lt;/b&gt; reply</textarea>" in page
    # Nothing of the circle: not the thread (nor whether it exists), not its posts.
    assert "Budgets across sectors" not in page and "Opening words" not in page
    assert client.get(f"/c/{circle.slug}/t/{world['thread']}").status_code == 404
    assert db.session.scalar(select(Post.id).where(Post.source.contains("My long"))) is None


def test_someone_who_left_starting_a_thread_gets_their_text_back(client, auth, world):
    member, circle = world["member"], world["circle"]
    auth.login(member)
    circles.leave_circle(member, circle.slug)
    response = client.post(f"/c/{circle.slug}/threads/new", data={"title": "T", "body": "Draft"})
    assert response.status_code == 403
    page = text(response)
    assert "You are no longer a member of Berkshire Leaders" in page and "You left" in page
    assert "Draft</textarea>" in page


def test_someone_never_in_the_circle_still_gets_a_plain_404(client, auth, world):
    auth.login(make_user("Stranger Danger"))
    circle = world["circle"]
    response = client.post(f"/c/{circle.slug}/t/{world['thread']}/reply", data={"body": "Hi"})
    assert response.status_code == 404
    assert "Berkshire Leaders" not in text(response)
    missing = client.post("/c/no-such-circle/t/1/reply", data={"body": "Hi"})
    assert missing.status_code == 404
