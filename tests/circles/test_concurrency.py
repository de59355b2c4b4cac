"""Moderators acting at the same instant leave a consistent state, on every engine.

Each racing action runs in its own thread with its own app context, so it has
its own session and connection, exactly as two requests on two workers would.
A barrier releases the threads together; each case is repeated a few times so
that both orders (and the blocked-then-resumed paths) get exercised.
"""
import threading

import pytest
from sqlalchemy import func, select

from community.accounts.models import User
from community.circles import actions as circles
from community.circles.models import JoinRequest, Membership
from community.extensions import db
from community.moderation import actions as moderation
from community.moderation.models import AuditEvent
from community.notifications.models import Notification
from tests.factories import add_member, make_circle, make_user
from tests.racing import names, race, succeeded

ROUNDS = 5


def membership_of(circle, user) -> tuple[str, str] | None:
    row = db.session.execute(select(Membership.status, Membership.role).where(
        Membership.circle_id == circle.id, Membership.user_id == user.id)).first()
    return None if row is None else tuple(row)


def audit_about(circle, user) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.circle_id == circle.id, AuditEvent.target_user_id == user.id)
        .order_by(AuditEvent.id)))


def notifications_of(user) -> list[str]:
    return list(db.session.scalars(select(Notification.kind).where(
        Notification.user_id == user.id).order_by(Notification.id)))


def last_audit_id() -> int:
    return db.session.scalar(select(func.max(AuditEvent.id))) or 0


def audit_since(mark: int) -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.id > mark)
                                   .order_by(AuditEvent.id)))


def owners_of(circle) -> list[int]:
    return list(db.session.scalars(select(Membership.user_id).where(
        Membership.circle_id == circle.id, Membership.role == "owner",
        Membership.status == "active")))


def staffed_circle():
    """A circle open to requests, with two moderators."""
    circle = make_circle(join_policy="request")
    return circle, add_member(circle, role="moderator"), add_member(circle, role="moderator")


def pending_request(circle):
    requester = make_user()
    return requester, circles.request_to_join(requester, circle.slug, "Hello from Reading")


def test_two_moderators_approving_one_request_admit_once(engine_app):
    """Two moderators approving the same request at once: one wins, one gets Conflict."""
    circle, mod_a, mod_b = staffed_circle()
    for _ in range(ROUNDS):
        requester, request = pending_request(circle)
        outcomes = race(engine_app,
                        (moderation.approve_request, mod_a.id, circle.slug, request.id),
                        (moderation.approve_request, mod_b.id, circle.slug, request.id))
        assert names(outcomes) == ["Conflict", "ok"]
        assert membership_of(circle, requester) == ("active", "member")
        assert db.session.get(JoinRequest, request.id).status == "approved"
        assert audit_about(circle, requester) == ["request.approved"]
        assert notifications_of(requester) == ["request_approved"]


def test_approve_racing_decline_has_one_decision(engine_app):
    """Approve and decline of one request at once: the winner's decision is the only one."""
    circle, mod_a, mod_b = staffed_circle()
    for _ in range(ROUNDS):
        requester, request = pending_request(circle)
        approved, declined = race(
            engine_app,
            (moderation.approve_request, mod_a.id, circle.slug, request.id),
            (moderation.decline_request, mod_b.id, circle.slug, request.id))
        assert names([approved, declined]) == ["Conflict", "ok"]
        winner = "approved" if succeeded(approved) else "declined"
        assert db.session.get(JoinRequest, request.id).status == winner
        expected = ("active", "member") if winner == "approved" else None
        assert membership_of(circle, requester) == expected
        assert audit_about(circle, requester) == [f"request.{winner}"]
        assert notifications_of(requester) == [f"request_{winner}"]


def test_removal_racing_promotion_ends_consistent(engine_app):
    """Owner promotes X while a moderator removes X: one takes effect, the log agrees."""
    circle = make_circle(join_policy="request")
    owner = db.session.get(User, circle.created_by_id)
    mod = add_member(circle, role="moderator")
    for _ in range(ROUNDS):
        member = add_member(circle)
        promoted, removed = race(
            engine_app,
            (moderation.change_role, owner.id, circle.slug, member.id, "moderator"),
            (moderation.remove_member, mod.id, circle.slug, member.id))
        assert names([promoted, removed]) == ["Forbidden", "ok"]
        if succeeded(promoted):  # promoted first: a moderator can't remove a moderator
            assert membership_of(circle, member) == ("active", "moderator")
            assert audit_about(circle, member) == ["role.changed"]
        else:  # removed first: only current members can be promoted
            assert membership_of(circle, member) == ("removed", "member")
            assert audit_about(circle, member) == ["member.removed"]


@pytest.mark.parametrize("move", ["leave", "demote"])
def test_two_owners_stepping_down_keep_an_owner(engine_app, move):
    """Both owners leave, or demote each other, at once: the circle keeps one owner."""
    for _ in range(ROUNDS):
        a = make_user()
        circle = make_circle(a, join_policy="request")
        b = add_member(circle, role="owner")
        if move == "leave":
            calls = [(circles.leave_circle, a.id, circle.slug),
                     (circles.leave_circle, b.id, circle.slug)]
        else:
            calls = [(moderation.change_role, a.id, circle.slug, b.id, "member"),
                     (moderation.change_role, b.id, circle.slug, a.id, "member")]
        mark = last_audit_id()
        outcomes = race(engine_app, *calls)
        assert names(outcomes) == ["Forbidden", "ok"]
        assert len(owners_of(circle)) == 1
        assert audit_since(mark) == ["member.left" if move == "leave" else "role.changed"]


# --- A decision made while another waits on the circle's lock ----------------------
# Deterministic interleaving: the first action writes and then pauses (holding the
# lock, not yet committed); the second starts and blocks on the lock; the first then
# commits. The second must judge the actor by the membership as it now stands.

def hold_then(app, monkeypatch, first, second) -> list[str]:
    written, go = threading.Event(), threading.Event()
    real_record = moderation.record

    def record_then_pause(*args, **kwargs):
        event = real_record(*args, **kwargs)
        written.set()
        go.wait(5)
        return event

    monkeypatch.setattr(moderation, "record", record_then_pause)
    errors: list[str] = []

    def run(call):
        action, actor_id, *args = call
        with app.app_context():
            try:
                action(db.session.get(User, actor_id), *args)
            except Exception as exc:  # noqa: BLE001 - reported to the test
                errors.append(type(exc).__name__)
            finally:
                db.session.remove()

    db.session.commit()
    first_thread = threading.Thread(target=run, args=(first,))
    first_thread.start()
    assert written.wait(5)
    second_thread = threading.Thread(target=run, args=(second,))
    second_thread.start()
    second_thread.join(0.5)  # it is now waiting for the circle's lock (PostgreSQL)
    go.set()
    first_thread.join(10)
    second_thread.join(10)
    return errors


def test_a_ban_is_not_undone_by_a_leave_waiting_on_the_lock(engine_app, monkeypatch):
    circle = make_circle(join_policy="request")
    owner = db.session.get(User, circle.created_by_id)
    member = add_member(circle)
    errors = hold_then(engine_app, monkeypatch,
                       (moderation.ban_member, owner.id, circle.slug, member.id),
                       (circles.leave_circle, member.id, circle.slug))
    assert errors == ["NotFound"]
    assert db.session.scalar(select(Membership.status).where(
        Membership.circle_id == circle.id, Membership.user_id == member.id)) == "banned"


def test_a_demoted_owner_cannot_hand_over_the_circle(engine_app, monkeypatch):
    first_owner = make_user()
    circle = make_circle(first_owner, join_policy="request")
    second_owner = add_member(circle, role="owner")
    member = add_member(circle)
    errors = hold_then(engine_app, monkeypatch,
                       (moderation.change_role, second_owner.id, circle.slug, first_owner.id, "member"),
                       (moderation.transfer_ownership, first_owner.id, circle.slug, member.id))
    assert errors == ["Forbidden"]
    roles = dict(db.session.execute(select(Membership.user_id, Membership.role).where(
        Membership.circle_id == circle.id)).all())
    assert (roles[first_owner.id], roles[second_owner.id], roles[member.id]) == (
        "member", "owner", "member")
