"""What owners and moderators do: invite, decide requests, roles, remove, ban."""
import secrets
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update

from ..accounts.actions import normalise_email
from ..accounts.models import User
from ..circles.actions import admit, hash_token
from ..circles.models import Circle, Invitation, JoinRequest, Membership
from ..database import begin_write
from ..errors import ActionError, Conflict, NotFound
from ..extensions import db
from ..notifications.actions import notify
from ..notifications.mailer import queue_mail, site_url
from ..policy import (
    access_circle,
    access_member,
    can_change_role,
    can_decide_requests,
    can_end_membership,
    can_invite,
    can_moderate_content,
    can_transfer_ownership,
    can_unban,
    owner_count,
    require,
    staff_ids,
)
from ..signals import membership_ended
from ..text import clean_text
from ..timeutil import utcnow
from ..urls import path_for
from .audit import record
from .models import AuditEvent, Report
from .reports import REPORTABLE

DEFAULT_INVITE_DAYS = 14
STAFF_ONLY = "Only the circle's owners and moderators can do that."
REASON_MAX = 240  # a reason told to someone turned away; it goes into their notification


# --- Invitations -----------------------------------------------------------------

def create_invitation(actor: User, slug: str, days: int = DEFAULT_INVITE_DAYS,
                      max_uses: int | None = None, email: str | None = None,
                      note: str = "") -> tuple[Invitation, str]:
    """Make an invite link. Returns the invitation and its token (shown only now).

    :raise NotFound: not an active member.
    :raise Forbidden: not an owner or moderator.
    :raise ActionError: days, uses or email out of range.
    """
    circle, membership = access_circle(actor, slug)
    require(can_invite(membership), STAFF_ONLY)
    if not isinstance(days, int) or not 1 <= days <= 90:
        raise ActionError("An invite link can last from 1 to 90 days.", field="days")
    if max_uses is not None and (not isinstance(max_uses, int) or not 1 <= max_uses <= 500):
        raise ActionError("Allow from 1 to 500 uses, or leave it empty for no limit.",
                          field="max_uses")
    email = normalise_email(email) or None
    if email and not _mailable(email):
        raise ActionError("Enter a valid email address, or leave it empty.", field="email")
    note = clean_text(note, field="note", label="The note", max_len=120)
    token = secrets.token_urlsafe(32)
    invitation = Invitation(circle_id=circle.id, created_by_id=actor.id,
                            token_hash=hash_token(token), email=email, note=note,
                            max_uses=max_uses, expires_at=utcnow() + timedelta(days=days))
    db.session.add(invitation)
    db.session.flush()
    record(circle.id, actor.id, "invitation.created",
           detail=f"link #{invitation.id}" + (f" for {email}" if email else ""))
    if email:
        queue_mail(email, f"{actor.display_name} invites you to {circle.name}", "invitation",
                   inviter=actor.display_name, circle_name=circle.name,
                   link=site_url(path_for("circles.invite", token=token)),
                   expires=invitation.expires_at.strftime("%-d %B %Y"),
                   settings_link=site_url("/settings/notifications"))
    db.session.commit()
    return invitation, token


def _mailable(email: str) -> bool:
    """Whether mail can be addressed to it: a line break or a text-direction
    character in an address would leave its invitation unsendable in the outbox."""
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return False
    return len(email) <= 254


def revoke_invitation(actor: User, slug: str, invitation_id: int) -> Invitation:
    """Withdraw an invite link at once.

    :raise NotFound: not a member, or no such link in this circle.
    :raise Forbidden: not an owner or moderator.
    """
    circle, membership = access_circle(actor, slug)
    require(can_invite(membership), STAFF_ONLY)
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.circle_id != circle.id:
        raise NotFound()
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        record(circle.id, actor.id, "invitation.revoked", detail=f"link #{invitation.id}")
        db.session.commit()
    return invitation


def list_invitations(actor: User, slug: str) -> tuple[Circle, list[Invitation]]:
    """:raise NotFound / Forbidden: as create_invitation."""
    circle, membership = access_circle(actor, slug)
    require(can_invite(membership), STAFF_ONLY)
    invitations = db.session.scalars(select(Invitation).where(Invitation.circle_id == circle.id)
                                     .order_by(Invitation.created_at.desc()).limit(200)).all()
    return circle, invitations


# --- Join requests -----------------------------------------------------------------

def _decide(actor: User, slug: str, request_id: int, decision: str, reason: str = "") -> JoinRequest:
    reason = clean_text(reason, field="reason", label="The reason", max_len=REASON_MAX)
    begin_write()
    circle, membership = access_circle(actor, slug, for_update=True)
    require(can_decide_requests(membership), STAFF_ONLY)
    request = db.session.get(JoinRequest, request_id)
    if request is None or request.circle_id != circle.id:
        raise NotFound()
    # Claim the pending request: of two moderators deciding at once, one wins.
    claimed = db.session.execute(
        update(JoinRequest)
        .where(JoinRequest.id == request.id, JoinRequest.status == "pending")
        .values(status=decision, decided_at=utcnow(), decided_by_id=actor.id)
    ).rowcount
    if not claimed:
        db.session.rollback()
        raise Conflict("Someone else has already decided this request.", code="decided")
    if decision == "approved":
        try:
            admit(circle, request.user)
        except ActionError:
            db.session.rollback()
            raise
    db.session.refresh(request)
    record(circle.id, actor.id, f"request.{decision}", target_user_id=request.user_id)
    if decision == "approved":
        text, url = f"Your request to join {circle.name} was approved. Welcome!", \
            path_for("circles.home", slug=circle.slug)
    else:
        text, url = f"Your request to join {circle.name} was declined.", path_for("circles.index")
        if reason:
            text = f"{text} The moderator said: {reason}"
    # News about the person's own account, not the circle's content: they see it
    # whether or not they may read the circle (a decline, a pledge still to accept).
    notify(request.user_id, f"request_{decision}", text, url, actor_id=actor.id)
    db.session.commit()
    return request


def approve_request(actor: User, slug: str, request_id: int) -> JoinRequest:
    """Let someone in who asked to join.

    :raise NotFound: not a member, or no such request here.
    :raise Forbidden: not an owner or moderator.
    :raise Conflict: already decided (by someone else, perhaps at the same moment).
    :raise ActionError: the requester has been banned.
    """
    return _decide(actor, slug, request_id, "approved")


def decline_request(actor: User, slug: str, request_id: int, reason: str = "") -> JoinRequest:
    """Say no to a join request, with a reason for them only if one is given.

    :raise: as approve_request; ActionError for a reason that is too long.
    """
    return _decide(actor, slug, request_id, "declined", reason)


def pending_requests(actor: User, slug: str) -> tuple[Circle, list[JoinRequest]]:
    """:raise NotFound / Forbidden: as approve_request."""
    circle, membership = access_circle(actor, slug)
    require(can_decide_requests(membership), STAFF_ONLY)
    requests = db.session.scalars(select(JoinRequest).where(
        JoinRequest.circle_id == circle.id, JoinRequest.status == "pending"
    ).order_by(JoinRequest.created_at)).all()
    return circle, requests


# --- Roles, removal, bans ------------------------------------------------------------

def _locked_target(actor: User, slug: str, user_id: int) -> tuple[Circle, Membership, Membership]:
    """Lock the circle, then load actor's and target's memberships as they now stand."""
    begin_write()
    circle, membership = access_circle(actor, slug, for_update=True)
    target = access_member(circle, user_id)
    db.session.refresh(target)
    return circle, membership, target


def change_role(actor: User, slug: str, user_id: int, new_role: str) -> Membership:
    """Promote or demote a member (owners only); a circle keeps at least one owner.

    :raise NotFound: not a member, or the target never was.
    :raise Forbidden: not an owner, target not active, or it would leave no owner.
    """
    circle, membership, target = _locked_target(actor, slug, user_id)
    require(can_change_role(membership, target, new_role),
            "Only owners can change roles, and only of current members.")
    if target.role == "owner" and owner_count(circle.id) <= 1:
        require(False, "A circle needs at least one owner. Make someone else an owner first.")
    old_role, target.role = target.role, new_role
    record(circle.id, actor.id, "role.changed", target_user_id=target.user_id,
           detail=f"{old_role} → {new_role}")
    db.session.commit()
    return target


def transfer_ownership(actor: User, slug: str, user_id: int) -> Membership:
    """Hand the circle to another member: they become owner, the actor a moderator.

    :raise NotFound / Forbidden: as change_role.
    """
    circle, membership, target = _locked_target(actor, slug, user_id)
    require(can_transfer_ownership(membership, target),
            "Only an owner can hand over a circle, and only to a current member.")
    target.role = "owner"
    membership.role = "moderator"
    record(circle.id, actor.id, "ownership.transferred", target_user_id=target.user_id)
    db.session.commit()
    return target


def remove_member(actor: User, slug: str, user_id: int, reason: str = "") -> Membership:
    """Take someone out of the circle; they may be invited again later. They are
    told, with the reason if one is given (it goes into the audit log too).

    :raise NotFound: not a member, or the target never was.
    :raise Forbidden: not staff, target of equal or higher rank, or not active.
    :raise ActionError: the reason is too long.
    """
    return _end_membership(actor, slug, user_id, "removed", "member.removed", reason)


def ban_member(actor: User, slug: str, user_id: int, reason: str = "") -> Membership:
    """Remove someone and keep them out: no invite or request lets them back.

    :raise: as remove_member.
    """
    return _end_membership(actor, slug, user_id, "banned", "member.banned", reason)


def _end_membership(actor, slug, user_id, status, action, reason: str = "") -> Membership:
    reason = clean_text(reason, field="reason", label="The reason", max_len=REASON_MAX)
    circle, membership, target = _locked_target(actor, slug, user_id)
    require(can_end_membership(membership, target, status),
            "You can only do that to members below your own role.")
    was_active = target.is_active
    target.status, target.role = status, "member"
    if status == "banned":
        # A pending request must not let them back in.
        db.session.execute(update(JoinRequest).where(
            JoinRequest.circle_id == circle.id, JoinRequest.user_id == target.user_id,
            JoinRequest.status == "pending").values(status="declined", decided_at=utcnow(),
                                                    decided_by_id=actor.id))
    record(circle.id, actor.id, action, target_user_id=target.user_id, detail=reason)
    told = ended_text(circle.name, reason) if was_active else ""
    if told:
        # News about their own account, not the circle's content: no circle_id, so
        # they see it though they can no longer read the circle.
        notify(target.user_id, "membership_ended", told, path_for("circles.index"),
               actor_id=actor.id)
    db.session.commit()
    membership_ended.send(circle, user_id=target.user_id, reason=status, message=told)
    return target


def ended_text(circle_name: str, reason: str = "") -> str:
    """What a removed or banned member is told."""
    text = f"You are no longer a member of {circle_name}."
    return f"{text} The moderator said: {reason}" if reason else text


def ending_reason(circle_id: int, user_id: int) -> str:
    """The reason the moderator gave when they last removed or banned the person
    from the circle ("" if none was given)."""
    return db.session.scalar(
        select(AuditEvent.detail).where(AuditEvent.circle_id == circle_id,
                                        AuditEvent.target_user_id == user_id,
                                        AuditEvent.action.in_(("member.removed", "member.banned")))
        .order_by(AuditEvent.id.desc()).limit(1)) or ""


def unban_member(actor: User, slug: str, user_id: int) -> Membership:
    """Lift a ban; the person is not back in, but may be invited again.

    :raise NotFound / Forbidden: as remove_member.
    """
    circle, membership, target = _locked_target(actor, slug, user_id)
    require(can_unban(membership, target), "Only owners and moderators can lift a ban.")
    target.status = "removed"
    record(circle.id, actor.id, "member.unbanned", target_user_id=target.user_id)
    db.session.commit()
    return target


# --- Reports -------------------------------------------------------------------

def file_report(actor: User, slug: str, kind: str, target_id: int, reason: str) -> Report:
    """Flag a post or message for the circle's moderators.

    :raise NotFound: not a member, or no such thing in this circle.
    :raise ActionError: no reason given, or already reported by this member.
    """
    circle, _ = access_circle(actor, slug)
    reportable = REPORTABLE.get(kind)
    target = reportable.load(circle, target_id) if reportable else None
    if target is None:
        raise NotFound()
    reason = clean_text(reason, field="reason", label="The reason", max_len=1000,
                        required=True, multiline=True)
    duplicate = db.session.scalar(select(Report.id).where(
        Report.circle_id == circle.id, Report.kind == kind, Report.target_id == target_id,
        Report.reporter_id == actor.id, Report.status == "open"))
    if duplicate:
        raise ActionError("You have already reported this; the moderators will look at it.",
                          code="duplicate")
    report = Report(circle_id=circle.id, reporter_id=actor.id, kind=kind,
                    target_id=target_id, reason=reason)
    db.session.add(report)
    db.session.flush()
    url = path_for("moderation.reports", slug=circle.slug)
    for user_id in staff_ids(circle.id):
        if user_id != actor.id:
            notify(user_id, "report_filed", f"Something in {circle.name} was reported", url,
                   circle_id=circle.id)
    db.session.commit()
    return report


def decide_report(actor: User, slug: str, report_id: int, decision: str) -> Report:
    """Dismiss a report, or remove what it points at. Audited; the reporter is told.

    :raise NotFound: not a member, or no such report here.
    :raise Forbidden: not an owner or moderator.
    :raise Conflict: someone already decided it.
    """
    if decision not in ("dismissed", "removed"):  # not an assert: it must hold under python -O too
        raise ValueError(f"unknown decision {decision!r}")
    begin_write()
    circle, membership = access_circle(actor, slug, for_update=True)
    require(can_moderate_content(membership), STAFF_ONLY)
    report = db.session.get(Report, report_id)
    if report is None or report.circle_id != circle.id:
        raise NotFound()
    if report.status != "open":
        raise Conflict("Someone else has already dealt with this report.", code="decided")
    reportable = REPORTABLE[report.kind]
    target = reportable.load(circle, report.target_id)
    author = reportable.summary(target)["author"] if target is not None else None
    if decision == "removed" and target is not None:
        reportable.remove(actor, circle, target)
    # Every open report on the same thing is settled by one decision.
    siblings = db.session.scalars(select(Report).where(
        Report.circle_id == circle.id, Report.kind == report.kind,
        Report.target_id == report.target_id, Report.status == "open")).all()
    now = utcnow()
    for each in siblings:
        each.status, each.decided_at, each.decided_by_id = decision, now, actor.id
        if each.reporter_id:
            outcome = "removed" if decision == "removed" else "reviewed and left in place"
            notify(each.reporter_id, "report_outcome",
                   f"Your report in {circle.name} was {outcome} by a moderator",
                   path_for("circles.home", slug=circle.slug), circle_id=circle.id)
    record(circle.id, actor.id, f"report.{decision}",
           target_user_id=author.id if author else None, detail=f"{report.kind} #{report.target_id}")
    db.session.commit()
    return report
