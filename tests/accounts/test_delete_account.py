"""Deleting one's account: password, what stays as "Former member", what goes, who is refused."""
import uuid

import pytest
from sqlalchemy import func, inspect, select, text

from community.accounts import actions as accounts
from community.accounts.models import User
from community.accounts.security_log import SecurityEvent
from community.chat import actions as chat
from community.chat.models import ChatMessage
from community.circles.models import Circle, Membership
from community.errors import ActionError, Conflict
from community.extensions import db, socketio
from community.moderation import actions as moderation
from community.moderation.models import AuditEvent, Report
from community.notifications.mailer import queue_mail
from community.notifications.models import Notification, OutboxMail
from community.threads import actions as threads
from community.threads.models import Post, Reaction, Thread
from tests.conftest import AuthActions, csrf_token_from
from tests.factories import PASSWORD, add_member, make_circle, make_user


def body(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def world(app):
    """Gareth, a member who wrote things, in Rachel's circle; Rachel answers him."""
    app.config["CHAT_PRESENCE_DELAY"] = 0
    owner = make_user("Rachel Stone")
    circle = make_circle(owner, name="Berkshire Leaders")
    member = add_member(circle, make_user("Gareth Lloyd", email="gareth@example.org"))
    thread = threads.start_thread(member, circle.slug, "Budgets across sectors", "Gareth opens")
    reply = threads.post_reply(owner, circle.slug, thread.id, "Rachel answers @gareth_lloyd")
    threads.toggle_reaction(member, circle.slug, reply.id, "heart")
    message, _ = chat.send_message(member, circle.slug, "Gareth in chat", uuid.uuid4().hex)
    moderation.file_report(member, circle.slug, "post", reply.id, "Gareth reports this")
    return {"owner": owner, "member": member, "circle": circle, "thread": thread,
            "message": message["id"]}


def users_references() -> list[tuple[str, str]]:
    """Every (table, column) with a foreign key to users.id."""
    found = []
    inspector = inspect(db.engine)
    for table in inspector.get_table_names():
        for fk in inspector.get_foreign_keys(table):
            if fk["referred_table"] == "users":
                found += [(table, column) for column in fk["constrained_columns"]]
    return found


def test_deleting_with_the_password(client, auth, world):
    member, circle = world["member"], world["circle"]
    member_id = member.id
    auth.login(member)
    page = client.get("/settings/delete")
    assert page.status_code == 200
    assert '<label for="password">Your password</label>' in body(page)
    response = client.post("/settings/delete", data={"password": PASSWORD})
    assert response.status_code == 200
    assert "Your account is deleted" in body(response)
    db.session.expire_all()
    assert db.session.get(User, member_id) is None
    # Signed out: this browser is sent to sign in.
    assert client.get("/").status_code == 302
    # Nothing points at the account any more (no orphans, nothing blocked the delete).
    for table, column in users_references():
        left = db.session.execute(text(f'SELECT count(*) FROM "{table}" WHERE "{column}" = :id'),
                                  {"id": member_id}).scalar()
        assert left == 0, (table, column)
    # What Gareth wrote stays, without his name; what was his alone went.
    assert db.session.get(Thread, world["thread"].id).author_id is None
    assert db.session.scalar(select(Post.source).where(Post.thread_id == world["thread"].id,
                                                       Post.number == 1)) == "Gareth opens"
    assert db.session.get(ChatMessage, world["message"]).source == "Gareth in chat"
    assert db.session.scalar(select(func.count(Reaction.id))) == 0
    assert db.session.scalar(select(func.count(Membership.id)).where(
        Membership.circle_id == circle.id)) == 1
    report = db.session.scalar(select(Report))
    assert report.reporter_id is None and report.reason == "Gareth reports this"
    assert db.session.scalar(select(func.count(AuditEvent.id))) > 0  # the audit log is kept


def test_the_thread_shows_a_former_member_afterwards(client, auth, world):
    accounts.delete_account(world["member"], PASSWORD)
    auth.login(world["owner"])
    page = body(client.get(f"/c/{world['circle'].slug}/t/{world['thread'].id}?page=1"))
    assert "Former member" in page and "Gareth opens" in page
    assert "Gareth Lloyd" not in page


def test_a_wrong_password_changes_nothing(client, auth, world):
    member = world["member"]
    auth.login(member)
    before = db.session.scalar(select(func.count(SecurityEvent.id)))
    response = client.post("/settings/delete", data={"password": "not my password"})
    assert response.status_code == 400
    assert "That password isn&#39;t right. Your account has not been deleted." in body(response)
    assert 'aria-invalid="true"' in body(response)
    db.session.expire_all()
    assert db.session.get(User, member.id) is not None
    assert db.session.scalar(select(func.count(SecurityEvent.id))) == before
    assert client.get("/settings/profile").status_code == 200  # still signed in
    assert client.post("/settings/delete", data={}).status_code == 400  # no password at all


def test_the_account_cannot_sign_in_again_and_the_email_can_register_anew(client, auth, world):
    accounts.delete_account(world["member"], PASSWORD)
    assert auth.login("gareth@example.org").status_code == 400
    response = client.post("/auth/register", data={
        "email": "Gareth@example.org", "password": "a new long password",
        "display_name": "Gareth Lloyd", "sector": "public", "timezone": "Europe/London"})
    assert response.status_code == 302
    again = db.session.scalar(select(User).where(User.email == "gareth@example.org"))
    # A new member (SQLite may even give it the old id back): nothing old is theirs.
    assert db.session.scalar(select(func.count(Membership.id)).where(
        Membership.user_id == again.id)) == 0
    assert db.session.scalar(select(func.count(Post.id)).where(Post.author_id == again.id)) == 0
    assert client.get(f"/c/{world['circle'].slug}/").status_code == 404


def test_every_session_and_socket_ends(app, world):
    member = world["member"]
    browsers = []
    for _ in range(2):
        http = app.test_client()
        AuthActions(http).login(member)
        chat_socket = socketio.test_client(app, namespace="/chat", flask_test_client=http)
        bell = socketio.test_client(app, namespace="/notifications", flask_test_client=http)
        assert chat_socket.is_connected("/chat") and bell.is_connected("/notifications")
        browsers.append((http, chat_socket, bell))
    response = browsers[0][0].post("/settings/delete", data={"password": PASSWORD})
    assert response.status_code == 200
    for http, chat_socket, bell in browsers:
        assert not chat_socket.is_connected("/chat")
        assert not bell.is_connected("/notifications")
        assert http.get("/").status_code == 302


def test_the_security_log_keeps_the_event_without_the_account(world):
    member_id, email = world["member"].id, world["member"].email
    accounts.delete_account(world["member"], PASSWORD)
    event = db.session.scalars(select(SecurityEvent).order_by(SecurityEvent.id.desc())).first()
    assert (event.kind, event.email, event.user_id) == ("account_deleted", email, None)
    # Earlier events stay, unlinked from the gone account.
    assert db.session.scalar(select(func.count(SecurityEvent.id)).where(
        SecurityEvent.user_id == member_id)) == 0
    assert db.session.scalar(select(func.count(SecurityEvent.id)).where(
        SecurityEvent.email == email, SecurityEvent.kind == "sign_in_failed")) == 0
    assert "account_deleted" in [e for (e,) in db.session.execute(
        select(SecurityEvent.kind).where(SecurityEvent.email == email))]


def test_mail_waiting_for_the_address_is_dropped(world):
    queue_mail(world["member"].email, "Hello", "password_reset", user=world["member"],
               link="x", settings_link="y")
    db.session.commit()
    accounts.delete_account(world["member"], PASSWORD)
    assert db.session.scalar(select(func.count(OutboxMail.id)).where(
        OutboxMail.to_address == "gareth@example.org")) == 0


def test_notifications_about_and_for_the_member(world):
    """Theirs go; others' notifications that name them as actor stay, without the link."""
    owner, member, circle = world["owner"], world["member"], world["circle"]
    threads.post_reply(owner, circle.slug, world["thread"].id, "For Gareth")  # Gareth follows
    threads.start_thread(member, circle.slug, "Another", "Rachel hears of it")
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == member.id)) > 0
    member_id = member.id
    accounts.delete_account(member, PASSWORD)
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == member_id)) == 0
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == owner.id, Notification.actor_id.is_(None))) >= 1


# --- Refusals ----------------------------------------------------------------------------

def test_the_only_owner_of_a_circle_with_others_is_refused_by_name(client, auth, world):
    owner, circle = world["owner"], world["circle"]
    make_circle(owner, name="Reading Book Club")
    make_circle(owner, name="Another Busy Circle")
    add_member(db.session.scalar(select(Circle).where(Circle.name == "Another Busy Circle")))
    auth.login(owner)
    page = body(client.get("/settings/delete"))
    assert "Berkshire Leaders" in page and "Another Busy Circle" in page
    assert f'href="/c/{circle.slug}/members"' in page
    assert 'name="password"' not in page
    response = client.post("/settings/delete", data={"password": PASSWORD})
    assert response.status_code == 409
    assert "Berkshire Leaders" in body(response) and "Another Busy Circle" in body(response)
    db.session.expire_all()
    assert db.session.get(User, owner.id) is not None
    with pytest.raises(Conflict) as err:
        accounts.delete_account(owner, PASSWORD)
    assert err.value.message.startswith(
        "You are the only owner of Another Busy Circle and Berkshire Leaders. Make another member")


def test_after_handing_over_the_owner_may_go(world):
    owner, member, circle = world["owner"], world["member"], world["circle"]
    with pytest.raises(Conflict):
        accounts.delete_account(owner, PASSWORD)
    moderation.transfer_ownership(owner, circle.slug, member.id)
    accounts.delete_account(owner, PASSWORD)
    db.session.expire_all()
    assert db.session.get(Circle, circle.id) is not None
    assert db.session.scalar(select(Membership.role).where(
        Membership.circle_id == circle.id, Membership.user_id == member.id)) == "owner"


def test_a_co_owned_circle_does_not_block(world):
    owner, member, circle = world["owner"], world["member"], world["circle"]
    moderation.change_role(owner, circle.slug, member.id, "owner")
    accounts.delete_account(owner, PASSWORD)
    assert db.session.get(Circle, circle.id) is not None


def test_a_circle_with_nobody_else_in_it_goes_with_the_account(client, auth, app):
    loner = make_user("Lone Owner")
    solo = make_circle(loner, name="Just Me")
    threads.start_thread(loner, solo.slug, "Notes to self", "Only I read this")
    shared = make_circle(make_user(), name="Shared Circle")
    add_member(shared, loner)
    auth.login(loner)
    page = body(client.get("/settings/delete"))
    assert "<strong>Just Me</strong>" in page and "deleted too" in page
    assert client.post("/settings/delete", data={"password": PASSWORD}).status_code == 200
    db.session.expire_all()
    assert db.session.get(Circle, solo.id) is None
    assert db.session.scalar(select(func.count(Thread.id)).where(Thread.circle_id == solo.id)) == 0
    assert db.session.get(Circle, shared.id) is not None


def test_the_last_site_admin_is_refused_but_another_admin_may_go(app):
    admin = make_user("Site Admin")
    admin.is_site_admin = True
    db.session.commit()
    with pytest.raises(Conflict, match="only admin"):
        accounts.delete_account(admin, PASSWORD)
    other = make_user("Second Admin")
    other.is_site_admin = True
    db.session.commit()
    accounts.delete_account(admin, PASSWORD)
    assert db.session.get(User, other.id) is not None
    with pytest.raises(Conflict):
        accounts.delete_account(other, PASSWORD)


def test_a_wrong_password_is_checked_before_anything_else(world):
    with pytest.raises(ActionError) as err:
        accounts.delete_account(world["owner"], "wrong password")
    assert err.value.code == "bad_password"


def test_csrf_is_required(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        assert AuthActions(client).login(user, csrf=True).status_code == 302
        assert client.post("/settings/delete", data={"password": PASSWORD}).status_code == 400
        assert db.session.get(User, user.id) is not None
        token = csrf_token_from(client, "/settings/delete")
        response = client.post("/settings/delete", data={"password": PASSWORD, "csrf_token": token})
        assert response.status_code == 200
        db.session.expire_all()
        assert db.session.get(User, user.id) is None


def full_meeting(circle, organiser, seated, waiting) -> int:
    """A meeting with one place, taken by seated, with waiting on its waiting list;
    its date's id."""
    from datetime import timedelta

    from community.meetings.actions import rsvps, scheduling
    from community.meetings.models import MeetingOccurrence
    from community.timeutil import utcnow

    start = (utcnow() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    meeting = scheduling.schedule_meeting(organiser, circle.slug, title="Small room", start=start,
                                          duration=60, timezone="Europe/London",
                                          location="Reading", capacity="1")
    occurrence_id = db.session.scalar(select(MeetingOccurrence.id).where(
        MeetingOccurrence.meeting_id == meeting.id))
    rsvps.rsvp(seated, circle.slug, occurrence_id, "going")
    assert rsvps.rsvp(waiting, circle.slug, occurrence_id, "going").answer == "waitlisted"
    return occurrence_id


def test_their_seat_at_a_full_meeting_goes_to_the_waiting_list(world):
    from community.meetings.models import RSVP

    owner, member, circle = world["owner"], world["member"], world["circle"]
    full_meeting(circle, owner, seated=member, waiting=owner)
    accounts.delete_account(member, PASSWORD)
    db.session.expire_all()
    assert db.session.scalar(select(RSVP.answer).where(RSVP.user_id == owner.id)) == "going"
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == owner.id, Notification.kind == "waitlist_promoted")) == 1


def test_a_deletion_refused_under_the_lock_gives_no_seat_away(world, monkeypatch):
    """The co-owner leaves between the first look and the locked re-check, so the
    deletion is refused: the seat is still the owner's, nobody was promoted or told."""
    from community.circles import actions as circles
    from community.database import begin_write
    from community.meetings.models import RSVP

    owner, co_owner, circle = world["owner"], world["member"], world["circle"]
    moderation.change_role(owner, circle.slug, co_owner.id, "owner")
    waiting = add_member(circle)
    occurrence_id = full_meeting(circle, owner, seated=owner, waiting=waiting)

    def co_owner_leaves_first():
        monkeypatch.setattr(accounts, "begin_write", begin_write)  # once
        circles.leave_circle(co_owner, circle.slug)
        begin_write()

    monkeypatch.setattr(accounts, "begin_write", co_owner_leaves_first)
    with pytest.raises(Conflict) as err:
        accounts.delete_account(owner, PASSWORD)
    assert err.value.code == "sole_owner"
    db.session.expire_all()
    assert db.session.get(User, owner.id) is not None
    answers = dict(db.session.execute(select(RSVP.user_id, RSVP.answer).where(
        RSVP.occurrence_id == occurrence_id)).all())
    assert answers == {owner.id: "going", waiting.id: "waitlisted"}
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == waiting.id, Notification.kind == "waitlist_promoted")) == 0
