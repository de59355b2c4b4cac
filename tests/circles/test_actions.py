"""Circle rules, through the actions."""
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.exceptions import Forbidden, NotFound

from community.circles import actions as circles
from community.circles.models import Circle, JoinRequest, Membership
from community.errors import ActionError, Conflict
from community.extensions import db
from community.moderation import actions as moderation
from community.moderation.models import AuditEvent
from community.notifications.models import Notification
from community.policy import access_circle, needs_pledge
from community.timeutil import utcnow
from tests.factories import add_member, make_circle, make_user


def membership(circle, user) -> Membership | None:
    return db.session.scalar(select(Membership).where(
        Membership.circle_id == circle.id, Membership.user_id == user.id))


def audit_actions(circle) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.circle_id == circle.id).order_by(AuditEvent.id)))


# --- Creating and configuring ---------------------------------------------------------

def test_creator_becomes_owner_and_slug_is_unique(app):
    owner = make_user()
    first = make_circle(owner, name="Berkshire Leaders 2025")
    second = make_circle(owner, name="Berkshire Leaders 2025")
    assert (first.slug, second.slug) == ("berkshire-leaders-2025", "berkshire-leaders-2025-2")
    assert membership(first, owner).role == "owner"
    assert audit_actions(first) == ["circle.created"]


def test_slug_for_a_name_without_latin_letters(app):
    assert make_circle(name="«Лидеры»").slug == "circle"


@pytest.mark.parametrize("fields,field", [
    ({"name": "  "}, "name"), ({"name": "x" * 121}, "name"),
    ({"join_policy": "open"}, "join_policy"), ({"cohort": "c" * 81}, "cohort"),
])
def test_invalid_circle_fields(app, fields, field):
    with pytest.raises(ActionError) as err:
        circles.create_circle(make_user(), **{"name": "Valid", **fields})
    assert err.value.field == field
    assert db.session.query(Circle).count() == 0


def test_only_owners_change_settings(app):
    owner = make_user()
    circle = make_circle(owner)
    moderator = add_member(circle, role="moderator")
    with pytest.raises(Forbidden):
        circles.update_circle(moderator, circle.slug, name="Hijacked")
    circles.update_circle(owner, circle.slug, name="Renamed", join_policy="request",
                          pledge_required=True, pledge_text="Keep it here.")
    assert (circle.name, circle.join_policy, circle.pledge_required) == ("Renamed", "request", True)
    assert circle.slug == "berkshire-leaders"  # links stay valid after a rename


# --- The pledge ---------------------------------------------------------------------

def test_pledge_must_be_accepted_and_again_after_the_text_changes(app):
    owner = make_user()
    circle = make_circle(owner)
    member = add_member(circle)
    circles.update_circle(owner, circle.slug, name=circle.name, pledge_required=True,
                          pledge_text="Nothing leaves the room.")
    _, m = access_circle(member, circle.slug)
    assert needs_pledge(circle, m)
    _, owner_m = access_circle(owner, circle.slug)
    assert not needs_pledge(circle, owner_m)  # the owner who set it has accepted it
    circles.accept_pledge(member, circle.slug)
    assert not needs_pledge(circle, m) and m.pledge_accepted_at is not None
    assert "member.pledge_accepted" in audit_actions(circle)
    circles.update_circle(owner, circle.slug, name=circle.name, pledge_required=True,
                          pledge_text="Nothing leaves the room. Ever.")
    assert needs_pledge(circle, m)


# --- Invitations ----------------------------------------------------------------------

def test_invite_token_is_stored_only_as_a_hash(app):
    owner = make_user()
    circle = make_circle(owner)
    invitation, token = moderation.create_invitation(owner, circle.slug)
    assert len(token) >= 40
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in invitation.token_hash
    assert invitation.expires_at - utcnow() > timedelta(days=13, hours=23)  # 14 days default
    assert circles.find_invitation(token) == invitation
    assert circles.find_invitation(token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_accepting_is_idempotent(app):
    owner = make_user()
    circle = make_circle(owner)
    invitation, token = moderation.create_invitation(owner, circle.slug, max_uses=2)
    guest = make_user()
    circles.accept_invitation(guest, token)
    circles.accept_invitation(guest, token)
    assert invitation.uses == 1
    assert membership(circle, guest).status == "active"


@pytest.mark.parametrize("spoil,code", [
    (lambda inv: setattr(inv, "expires_at", utcnow() - timedelta(seconds=1)), "expired"),
    (lambda inv: setattr(inv, "revoked_at", utcnow()), "revoked"),
    (lambda inv: setattr(inv, "uses", 1), "used_up"),
])
def test_spoilt_links_are_refused_with_a_reason(app, spoil, code):
    owner = make_user()
    circle = make_circle(owner)
    invitation, token = moderation.create_invitation(owner, circle.slug, max_uses=1)
    spoil(invitation)
    db.session.commit()
    with pytest.raises(ActionError) as err:
        circles.accept_invitation(make_user(), token)
    assert err.value.code == code
    assert db.session.query(Membership).count() == 1


def test_link_bound_to_an_email(app):
    owner = make_user()
    circle = make_circle(owner)
    _, token = moderation.create_invitation(owner, circle.slug, email="Helen@Example.org")
    with pytest.raises(ActionError) as err:
        circles.accept_invitation(make_user(email="someone@example.org"), token)
    assert err.value.code == "wrong_email"
    helen = make_user(email="helen@example.org")
    circles.accept_invitation(helen, token)
    assert membership(circle, helen).is_active


def test_unknown_token_is_not_found(app):
    with pytest.raises(NotFound):
        circles.accept_invitation(make_user(), "not-a-token")


@pytest.mark.parametrize("days,max_uses,email,field", [
    (0, None, None, "days"), (91, None, None, "days"), (14, 0, None, "max_uses"),
    (14, 501, None, "max_uses"), (14, None, "not-an-email", "email"),
    # Addresses mail can't be sent to: they sat in the outbox, unsendable.
    (14, None, "\u202e@", "email"), (14, None, "helen@example.org\r\nBcc: x@example.org", "email"),
    (14, None, "helen@example", "email"),
])
def test_invite_options_are_checked(app, days, max_uses, email, field):
    owner = make_user()
    circle = make_circle(owner)
    with pytest.raises(ActionError) as err:
        moderation.create_invitation(owner, circle.slug, days=days, max_uses=max_uses, email=email)
    assert err.value.field == field


def test_revoked_link_stops_working_at_once(app):
    owner = make_user()
    circle = make_circle(owner)
    invitation, token = moderation.create_invitation(owner, circle.slug)
    moderation.revoke_invitation(owner, circle.slug, invitation.id)
    with pytest.raises(ActionError):
        circles.accept_invitation(make_user(), token)
    assert audit_actions(circle)[-1] == "invitation.revoked"


def test_inviter_hears_when_their_link_is_used(app):
    owner = make_user()
    circle = make_circle(owner)
    _, token = moderation.create_invitation(owner, circle.slug)
    circles.accept_invitation(make_user("Helen Marsh"), token)
    note = db.session.scalar(select(Notification).where(Notification.user_id == owner.id))
    assert note.kind == "invitation_accepted" and "Helen Marsh" in note.text
    assert note.url == f"/c/{circle.slug}/members"


# --- Join requests ------------------------------------------------------------------

def test_request_approve_and_notify(app):
    owner = make_user()
    circle = make_circle(owner, join_policy="request")
    moderator = add_member(circle, role="moderator")
    asker = make_user("Daniel Price")
    request = circles.request_to_join(asker, circle.slug, "I was on the 2024 programme.")
    staff_notes = db.session.scalars(select(Notification.user_id).where(
        Notification.kind == "join_request")).all()
    assert sorted(staff_notes) == sorted([owner.id, moderator.id])
    moderation.approve_request(moderator, circle.slug, request.id)
    assert membership(circle, asker).is_active
    note = db.session.scalar(select(Notification).where(Notification.user_id == asker.id))
    assert note.kind == "request_approved" and circle.name in note.text
    with pytest.raises(Conflict):
        moderation.decline_request(owner, circle.slug, request.id)


def test_request_decline_notifies_and_may_ask_again(app):
    owner = make_user()
    circle = make_circle(owner, join_policy="request")
    asker = make_user()
    request = circles.request_to_join(asker, circle.slug, "")
    with pytest.raises(ActionError):
        circles.request_to_join(asker, circle.slug, "again")  # still pending
    moderation.decline_request(owner, circle.slug, request.id)
    assert membership(circle, asker) is None
    assert db.session.scalar(select(Notification.kind).where(
        Notification.user_id == asker.id)) == "request_declined"
    again = circles.request_to_join(asker, circle.slug, "Please reconsider")
    assert again.status == "pending" and again.id == request.id


def test_the_requester_sees_a_decision_even_for_a_circle_they_cannot_read(app):
    """The answer is about their own request: shown in the app and emailed at once,
    with the moderator's reason only when one is given."""
    from community.notifications.actions import visible
    from community.notifications.dispatch import dispatch_notifications
    from community.notifications.models import OutboxMail

    owner = make_user()
    circle = make_circle(owner, name="Pledged", join_policy="request")
    circles.update_circle(owner, circle.slug, name=circle.name, join_policy="request",
                          pledge_required=True, pledge_text="What is said here stays here.")
    declined, approved = make_user(email="no@example.org"), make_user(email="yes@example.org")
    moderation.decline_request(owner, circle.slug,
                               circles.request_to_join(declined, circle.slug, "").id,
                               reason="We are full until the spring.")
    moderation.approve_request(owner, circle.slug, circles.request_to_join(approved, circle.slug, "").id)
    assert [n.text for n in db.session.scalars(visible(declined.id))] == [
        "Your request to join Pledged was declined. The moderator said: We are full until the spring."]
    assert [n.kind for n in db.session.scalars(visible(approved.id))] == ["request_approved"]
    dispatch_notifications(utcnow())
    mail = {m.to_address: m.subject for m in db.session.scalars(select(OutboxMail))}
    assert "We are full until the spring." in mail["no@example.org"]
    assert "Pledged was approved" in mail["yes@example.org"]


def test_a_decline_without_a_reason_says_only_that(app):
    owner = make_user()
    circle = make_circle(owner, join_policy="request")
    asker = make_user()
    moderation.decline_request(owner, circle.slug, circles.request_to_join(asker, circle.slug, "").id)
    note = db.session.scalar(select(Notification).where(Notification.user_id == asker.id))
    assert note.text == f"Your request to join {circle.name} was declined."
    with pytest.raises(ActionError):
        another = circles.request_to_join(make_user(), circle.slug, "")
        moderation.decline_request(owner, circle.slug, another.id, reason="x" * 241)


def test_withdrawing_a_request(app):
    owner = make_user()
    circle = make_circle(owner, join_policy="request")
    asker, other = make_user(), make_user()
    request = circles.request_to_join(asker, circle.slug, "hello")
    assert circles.pending_requests_of(asker) == [circles.PendingRequest(
        request.created_at, circles.RequestedCircle(circle.slug, circle.name, circle.cohort))]
    with pytest.raises(NotFound):
        circles.withdraw_request(other, circle.slug)  # nothing of theirs to withdraw
    assert circles.withdraw_request(asker, circle.slug).status == "withdrawn"
    assert circles.pending_requests_of(asker) == []
    assert moderation.pending_requests(owner, circle.slug)[1] == []
    with pytest.raises(NotFound):
        circles.withdraw_request(asker, circle.slug)
    with pytest.raises(Conflict):
        moderation.approve_request(owner, circle.slug, request.id)
    assert circles.request_to_join(asker, circle.slug, "again").status == "pending"


def test_cannot_request_an_invite_only_circle(app):
    circle = make_circle(join_policy="invite_only")
    with pytest.raises(NotFound):
        circles.request_to_join(make_user(), circle.slug, "hi")


def test_members_cannot_decide_requests(app):
    owner = make_user()
    circle = make_circle(owner, join_policy="request")
    member = add_member(circle)
    request = circles.request_to_join(make_user(), circle.slug, "")
    with pytest.raises(Forbidden):
        moderation.approve_request(member, circle.slug, request.id)
    assert db.session.get(JoinRequest, request.id).status == "pending"


def test_request_from_another_circle_is_not_found(app):
    owner = make_user()
    mine = make_circle(owner, join_policy="request")
    other = make_circle(make_user(), name="Other", join_policy="request")
    request = circles.request_to_join(make_user(), other.slug, "")
    with pytest.raises(NotFound):
        moderation.approve_request(owner, mine.slug, request.id)


# --- Roles, leaving, the last owner --------------------------------------------------

def test_promote_demote_and_transfer(app):
    owner = make_user()
    circle = make_circle(owner)
    alice = add_member(circle)
    moderation.change_role(owner, circle.slug, alice.id, "moderator")
    assert membership(circle, alice).role == "moderator"
    moderation.change_role(owner, circle.slug, alice.id, "member")
    assert membership(circle, alice).role == "member"
    moderation.transfer_ownership(owner, circle.slug, alice.id)
    assert (membership(circle, alice).role, membership(circle, owner).role) == ("owner", "moderator")
    assert audit_actions(circle)[-3:] == ["role.changed", "role.changed", "ownership.transferred"]


def test_the_last_owner_can_neither_leave_nor_be_demoted(app):
    owner = make_user()
    circle = make_circle(owner)
    with pytest.raises(Forbidden):
        circles.leave_circle(owner, circle.slug)
    with pytest.raises(Forbidden):
        moderation.change_role(owner, circle.slug, owner.id, "moderator")
    co_owner = add_member(circle, role="owner")
    moderation.change_role(co_owner, circle.slug, owner.id, "moderator")  # two owners: fine
    with pytest.raises(Forbidden):
        moderation.change_role(co_owner, circle.slug, co_owner.id, "member")
    assert membership(circle, co_owner).role == "owner"


def test_moderators_cannot_change_roles(app):
    owner = make_user()
    circle = make_circle(owner)
    moderator = add_member(circle, role="moderator")
    member = add_member(circle)
    with pytest.raises(Forbidden):
        moderation.change_role(moderator, circle.slug, member.id, "moderator")
    with pytest.raises(Forbidden):
        moderation.transfer_ownership(moderator, circle.slug, member.id)


def test_members_leave(app):
    circle = make_circle()
    member = add_member(circle)
    circles.leave_circle(member, circle.slug)
    assert membership(circle, member).status == "left"
    with pytest.raises(NotFound):
        access_circle(member, circle.slug)


# --- Remove and ban --------------------------------------------------------------------

def test_moderators_remove_members_but_not_their_equals(app):
    owner = make_user()
    circle = make_circle(owner)
    moderator = add_member(circle, role="moderator")
    other_moderator = add_member(circle, role="moderator")
    member = add_member(circle)
    with pytest.raises(Forbidden):
        moderation.remove_member(moderator, circle.slug, other_moderator.id)
    with pytest.raises(Forbidden):
        moderation.remove_member(moderator, circle.slug, owner.id)
    with pytest.raises(Forbidden):
        moderation.remove_member(member, circle.slug, moderator.id)
    moderation.remove_member(moderator, circle.slug, member.id)
    assert membership(circle, member).status == "removed"
    with pytest.raises(NotFound):
        access_circle(member, circle.slug)


def test_removed_member_can_be_invited_back(app):
    owner = make_user()
    circle = make_circle(owner)
    member = add_member(circle)
    moderation.remove_member(owner, circle.slug, member.id)
    _, token = moderation.create_invitation(owner, circle.slug)
    circles.accept_invitation(member, token)
    assert membership(circle, member).status == "active"


def test_banned_member_cannot_rejoin_by_invite_or_request(app):
    owner = make_user()
    circle = make_circle(owner, join_policy="request")
    member = add_member(circle)
    moderation.ban_member(owner, circle.slug, member.id)
    _, token = moderation.create_invitation(owner, circle.slug)
    with pytest.raises(ActionError) as err:
        circles.accept_invitation(member, token)
    assert err.value.code == "banned"
    with pytest.raises(ActionError):
        circles.request_to_join(member, circle.slug, "let me back")
    assert membership(circle, member).status == "banned"
    moderation.unban_member(owner, circle.slug, member.id)
    assert membership(circle, member).status == "removed"  # unbanned is not re-admitted
    circles.accept_invitation(member, token)
    assert membership(circle, member).status == "active"


def test_ban_declines_a_pending_request(app):
    owner = make_user()
    circle = make_circle(owner, join_policy="request")
    member = add_member(circle)
    moderation.remove_member(owner, circle.slug, member.id)
    request = circles.request_to_join(member, circle.slug, "sorry")
    moderation.ban_member(owner, circle.slug, member.id)
    assert db.session.get(JoinRequest, request.id).status == "declined"


# --- The audit log ---------------------------------------------------------------------

def test_every_membership_action_is_audited_with_who_and_whom(app):
    owner = make_user("Olive Owner")
    circle = make_circle(owner, join_policy="request")
    member = add_member(circle, make_user("Tim Target"))
    moderation.ban_member(owner, circle.slug, member.id)
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (event.action, event.actor_id, event.target_user_id) == ("member.banned", owner.id, member.id)
    assert event.created_at is not None


def test_audit_log_is_append_only(app):
    circle = make_circle()
    event = db.session.scalars(select(AuditEvent)).first()
    event.detail = "tampered"
    with pytest.raises(ValueError):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.scalars(select(AuditEvent)).first())
    with pytest.raises(ValueError):
        db.session.commit()
    db.session.rollback()
    assert audit_actions(circle) == ["circle.created"]
