"""What members do with circles: create, configure, join, leave."""
import hashlib
import hmac
from datetime import datetime
from functools import cache
from typing import NamedTuple

from sqlalchemy import String, bindparam, case, delete, false, func, literal, select, update
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..database import begin_write
from ..errors import ActionError, Conflict, NotFound
from ..extensions import db
from ..fast.prepared import prepared
from ..moderation.audit import ANONYMISED, record
from ..notifications.actions import notify
from ..policy import (
    access_circle,
    access_listed_circle,
    active_membership,
    can_edit_circle,
    can_leave,
    can_request_to_join,
    is_banned,
    membership_of,
    owner_count,
    require,
    staff_ids,
)
from ..signals import membership_ended, pledge_changed, second_factor_required
from ..text import clean_text, slugify
from ..timeutil import utcnow
from ..urls import path_for
from .models import JOIN_POLICIES, Circle, Invitation, JoinRequest, Membership

FORMER_MEMBER = "Former member"  # as threads, chat and meetings show them


def _clean_circle_fields(fields: dict) -> dict:
    clean = {
        "name": clean_text(fields.get("name"), field="name", label="The circle's name",
                           max_len=120, required=True),
        "description": clean_text(fields.get("description"), field="description",
                                  label="The description", max_len=2000, multiline=True),
        "cohort": clean_text(fields.get("cohort"), field="cohort", label="The cohort",
                             max_len=80),
    }
    policy = fields.get("join_policy") or "invite_only"
    if policy not in JOIN_POLICIES:
        raise ActionError("Choose how people join from the list.", field="join_policy")
    clean["join_policy"] = policy
    return clean


def _unique_slug(name: str) -> str:
    base = slugify(name) or "circle"
    taken = set(db.session.scalars(select(Circle.slug).where(Circle.slug.like(f"{base}%"))))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_circle(actor: User, cohort_of: tuple[int, int] | None = None, **fields) -> Circle:
    """Start a circle; the creator becomes its owner. With cohort_of (programme id,
    year; checked by programmes.actions.create_cohort) it is that programme's cohort.

    :raise ActionError: a field is invalid.
    """
    clean = _clean_circle_fields(fields)
    for _attempt in range(3):
        circle = Circle(slug=_unique_slug(clean["name"]), created_by_id=actor.id, **clean)
        db.session.add(circle)
        try:
            db.session.flush()
        except IntegrityError:
            # Another circle took the same slug between our check and insert.
            db.session.rollback()
            continue
        db.session.add(Membership(circle_id=circle.id, user_id=actor.id, role="owner",
                                  pledge_accepted_at=utcnow()))
        if cohort_of is not None:
            from ..programmes.models import ProgrammeCohort

            db.session.add(ProgrammeCohort(circle_id=circle.id, programme_id=cohort_of[0],
                                           year=cohort_of[1]))
        record(circle.id, actor.id, "circle.created")
        db.session.commit()
        return circle
    raise Conflict("Please try again: that name was being taken at the same moment.")


def update_circle(actor: User, slug: str, **fields) -> Circle:
    """Change a circle's settings (owners).

    :raise NotFound: not an active member.
    :raise Forbidden: not an owner.
    :raise ActionError: a field is invalid.
    """
    begin_write()
    circle, membership = access_circle(actor, slug, for_update=True)
    require(can_edit_circle(membership), "Only the circle's owners can change its settings.")
    clean = _clean_circle_fields(fields)
    pledge_text = clean_text(fields.get("pledge_text"), field="pledge_text",
                             label="The pledge", max_len=4000, multiline=True)
    if fields.get("pledge_required") and not pledge_text:
        raise ActionError("Write the pledge members will accept, or turn it off.",
                          field="pledge_text")
    # Left as it is by callers that don't mention it (older forms, scripts).
    requires_factor = bool(fields.get("require_two_factor", circle.require_two_factor))
    changes_factor = requires_factor != circle.require_two_factor
    if changes_factor and requires_factor and not actor.has_second_factor:
        # Else the owner's next page would be the set-up page, these settings
        # (to turn it off again) out of reach too.
        raise ActionError("Set up two-factor sign-in for your own account first: a circle that "
                          "requires it is closed to everyone without it, its owners too.",
                          field="require_two_factor")
    circle.require_two_factor = requires_factor
    now = utcnow()
    if pledge_text and pledge_text != circle.pledge_text:
        circle.pledge_text = pledge_text
        circle.pledge_updated_at = now
    if fields.get("pledge_required") and not circle.pledge_required:
        circle.pledge_updated_at = now  # everyone accepts when it is switched on
    circle.pledge_required = bool(fields.get("pledge_required"))
    circle.audit_visible_to_members = bool(fields.get("audit_visible_to_members"))
    circle.email_excerpts = bool(fields.get("email_excerpts"))
    for key, value in clean.items():
        setattr(circle, key, value)
    # The owner who sets the pledge has accepted it.
    membership.pledge_accepted_at = now
    asks_again = circle.pledge_required and circle.pledge_updated_at == now
    record(circle.id, actor.id, "circle.settings_changed")
    if changes_factor:
        record(circle.id, actor.id, "circle.second_factor_required" if requires_factor
               else "circle.second_factor_optional")
    db.session.commit()
    if asks_again:
        pledge_changed.send(circle)
    if changes_factor and requires_factor:
        second_factor_required.send(circle)
    return circle


def accept_pledge(actor: User, slug: str) -> Circle:
    """Record that a member accepts the circle's confidentiality pledge.

    :raise NotFound: not an active member.
    """
    circle, membership = access_circle(actor, slug)
    membership.pledge_accepted_at = utcnow()
    record(circle.id, actor.id, "member.pledge_accepted")
    db.session.commit()
    return circle


def leave_circle(actor: User, slug: str, anonymise: bool = False) -> Circle:
    """Leave a circle; with anonymise, what they wrote there stays but shows as
    "Former member" (in the same transaction as the leave).

    :raise NotFound: not an active member.
    :raise Forbidden: the last owner (they must hand ownership over first).
    """
    begin_write()
    circle, membership = access_circle(actor, slug, for_update=True)
    require(can_leave(membership, owner_count(circle.id)),
            "You are this circle's only owner. Make someone else an owner before you leave.")
    membership.status = "left"
    membership.role = "member"
    if anonymise:
        _anonymise_author(circle.id, actor.id)
    record(circle.id, actor.id, "member.left", detail=ANONYMISED if anonymise else "")
    db.session.commit()
    membership_ended.send(circle, user_id=actor.id, reason="left")
    return circle


def _anonymise_author(circle_id: int, user_id: int) -> None:
    """Detach a person's name from everything they wrote or set up in one circle
    (in the caller's transaction): threads, posts, challenges they presented
    (no one is then asked how it went; ideas they held back go), chat messages, meetings and
    date polls they organised or host, meeting dates they were handed to facilitate and
    the challenges they put on agendas, the files they shared (which stay),
    their offers to host, their reactions,
    past RSVPs and poll answers, their reports, and the notifications others got
    about them. The audit log is append-only: it hides the name when it is read
    (moderation.audit.audit_lines). Search entries hold no author.
    """
    from ..agenda.models import AgendaItem, RunSheet
    from ..challenges.models import Challenge, IdeaDraft
    from ..chat.models import ChatMessage
    from ..files.models import Attachment
    from ..meetings.models import RSVP, DatePoll, HostOffer, Meeting, MeetingOccurrence, PollVote
    from ..moderation.models import Report
    from ..threads.models import Post, Reaction, Thread

    mine = {"synchronize_session": False}
    for model, column in ((Thread, Thread.author_id), (Thread, Thread.last_poster_id),
                          (Post, Post.author_id), (ChatMessage, ChatMessage.author_id),
                          (Meeting, Meeting.organiser_id), (Meeting, Meeting.host_user_id),
                          (DatePoll, DatePoll.organiser_id), (DatePoll, DatePoll.host_user_id),
                          (Attachment, Attachment.uploader_id),
                          (Challenge, Challenge.presenter_id),
                          # A date they were handed falls back to its organiser.
                          (RunSheet, RunSheet.facilitator_id),
                          (AgendaItem, AgendaItem.added_by_id)):
        db.session.execute(update(model).where(model.circle_id == circle_id, column == user_id)
                           .values({column: None}).execution_options(**mine))
    # These rows can't be ownerless, so they go (an idea held back was theirs alone).
    db.session.execute(delete(IdeaDraft).where(
        IdeaDraft.author_id == user_id,
        IdeaDraft.challenge_id.in_(select(Challenge.id).where(Challenge.circle_id == circle_id)))
                       .execution_options(**mine))
    db.session.execute(delete(HostOffer).where(HostOffer.circle_id == circle_id,
                                               HostOffer.user_id == user_id)
                       .execution_options(**mine))
    in_circle = select(Post.id).where(Post.circle_id == circle_id)
    db.session.execute(delete(Reaction).where(Reaction.user_id == user_id,
                                              Reaction.post_id.in_(in_circle))
                       .execution_options(**mine))
    # An RSVP or a poll answer is a person's by definition (user_id NOT NULL; a
    # seat count needs someone to hold it), so anonymising one removes it. Coming
    # dates are left to meetings.release_places, after the commit, which passes a
    # freed seat to the waiting list; the past ones go here.
    past = select(MeetingOccurrence.id).where(MeetingOccurrence.circle_id == circle_id,
                                              MeetingOccurrence.starts_at <= utcnow())
    db.session.execute(delete(RSVP).where(RSVP.user_id == user_id, RSVP.occurrence_id.in_(past))
                       .execution_options(**mine))
    polls = select(DatePoll.id).where(DatePoll.circle_id == circle_id)
    db.session.execute(delete(PollVote).where(PollVote.user_id == user_id,
                                              PollVote.poll_id.in_(polls))
                       .execution_options(**mine))
    db.session.execute(update(Report).where(Report.circle_id == circle_id,
                                            Report.reporter_id == user_id)
                       .values(reporter_id=None).execution_options(**mine))
    _anonymise_notifications(circle_id, user_id)


def _anonymise_notifications(circle_id: int, user_id: int) -> None:
    """What others were told about the person's doings in the circle ("Gareth
    replied in ...") now reads "Former member replied in ...". Every such text
    starts with the actor's name (the notify calls), so only a leading name is
    replaced: the same words elsewhere in a title are left alone."""
    from ..notifications.models import Notification

    name = db.session.scalar(select(User.display_name).where(User.id == user_id)) or ""
    text = Notification.text
    named = func.substr(text, 1, len(name)) == name if name else false()
    rewritten = func.substr(literal(FORMER_MEMBER, String) + func.substr(text, len(name) + 1,
                                                                         type_=String), 1, 300)
    db.session.execute(update(Notification).where(Notification.circle_id == circle_id,
                                                  Notification.actor_id == user_id)
                       .values(text=case((named, rewritten), else_=text), actor_id=None)
                       .execution_options(synchronize_session=False))


def request_to_join(actor: User, slug: str, message: str) -> JoinRequest:
    """Ask to join a circle whose join policy is `request`.

    :raise NotFound: no such listed circle.
    :raise ActionError: already a member, banned, or a request is pending.
    """
    circle = access_listed_circle(slug)
    message = clean_text(message, field="message", label="Your message", max_len=500,
                         multiline=True)
    membership = membership_of(circle.id, actor.id)
    request = db.session.scalar(select(JoinRequest).where(
        JoinRequest.circle_id == circle.id, JoinRequest.user_id == actor.id))
    if not can_request_to_join(circle, membership, request):
        if membership is not None and membership.is_active:
            raise ActionError("You are already a member of this circle.", code="member")
        if request is not None and request.status == "pending":
            raise ActionError("Your request is waiting for a moderator.", code="pending") from None
        # Banned: say no without saying why, as Slack and Discourse do.
        raise ActionError("You can't ask to join this circle.", code="refused")
    if request is None:
        request = JoinRequest(circle_id=circle.id, user_id=actor.id)
        db.session.add(request)
    request.status, request.message, request.created_at = "pending", message, utcnow()
    request.decided_at = request.decided_by_id = None
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ActionError("Your request is waiting for a moderator.", code="pending") from None
    _notify_staff_of_request(circle, actor)
    db.session.commit()
    return request


def withdraw_request(actor: User, slug: str) -> JoinRequest:
    """Take back one's own pending request to join (the moderators' queue drops it).

    :raise NotFound: no such listed circle, or no pending request of the actor's.
    """
    begin_write()
    circle = access_listed_circle(slug)
    withdrawn = db.session.execute(
        update(JoinRequest).where(JoinRequest.circle_id == circle.id, JoinRequest.user_id == actor.id,
                                  JoinRequest.status == "pending")
        .values(status="withdrawn", decided_at=utcnow())).rowcount
    if not withdrawn:
        db.session.rollback()
        raise NotFound()
    request = db.session.scalar(select(JoinRequest).where(
        JoinRequest.circle_id == circle.id, JoinRequest.user_id == actor.id)
        .execution_options(populate_existing=True))
    db.session.commit()
    return request


class RequestedCircle(NamedTuple):
    slug: str
    name: str
    cohort: str | None


class PendingRequest(NamedTuple):
    """A request to join as its requester's dashboard shows it (plain: it only shows)."""

    created_at: datetime
    circle: RequestedCircle


def pending_requests_of(user: User) -> list[PendingRequest]:
    """The person's own requests still waiting for a moderator, newest first."""
    return [PendingRequest(created_at, RequestedCircle(slug, name, cohort))
            for created_at, slug, name, cohort in _pending_requests_of.values({"user_id": user.id})]


@prepared
def _pending_requests_of():
    # On every dashboard: prepared.
    return (select(JoinRequest.created_at, Circle.slug, Circle.name, Circle.cohort)
            .join(Circle, Circle.id == JoinRequest.circle_id)
            .where(JoinRequest.user_id == bindparam("user_id"), JoinRequest.status == "pending")
            .order_by(JoinRequest.created_at.desc()))


def _notify_staff_of_request(circle: Circle, requester: User) -> None:
    url = path_for("moderation.requests", slug=circle.slug)
    for user_id in staff_ids(circle.id):
        notify(user_id, "join_request", f"{requester.display_name} asked to join {circle.name}",
               url, circle_id=circle.id, actor_id=requester.id)


def admit(circle: Circle, user: User) -> Membership:
    """Make someone an active member (in the caller's transaction).

    :raise ActionError: they are banned from this circle.
    """
    membership = membership_of(circle.id, user.id, for_update=True)
    if is_banned(membership):
        raise ActionError("This account can't join this circle.", code="banned")
    if membership is None:
        membership = Membership(circle_id=circle.id, user_id=user.id)
        db.session.add(membership)
    elif not membership.is_active:
        membership.role, membership.joined_at = "member", utcnow()
        membership.pledge_accepted_at = None
    membership.status = "active"
    db.session.flush()
    return membership


# --- Invitations -----------------------------------------------------------------

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_invitation(token: str) -> Invitation | None:
    """The invitation a token opens, or None. Compared in constant time."""
    if not token or len(token) > 100:
        return None
    digest = hash_token(token)
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == digest))
    if invitation is None or not hmac.compare_digest(invitation.token_hash, digest):
        return None
    return invitation


INVITE_REFUSALS = {
    "revoked": "This invite link has been withdrawn. Ask the person who sent it for a new one.",
    "expired": "This invite link has expired. Ask the person who sent it for a new one.",
    "used_up": "This invite link has been used as many times as it allows. Ask for a new one.",
}


def accept_invitation(actor: User, token: str) -> Circle:
    """Join a circle with an invite link. Idempotent for someone already in.

    :raise NotFound: the token opens nothing.
    :raise ActionError: revoked, expired, used up, bound to another address, or banned.
    """
    begin_write()
    invitation = find_invitation(token)
    if invitation is None:
        raise NotFound()
    circle = invitation.circle
    existing = membership_of(circle.id, actor.id)
    if existing is not None and existing.is_active:
        db.session.rollback()
        return circle
    now = utcnow()
    state = invitation.state(now)
    if state != "usable":
        raise ActionError(INVITE_REFUSALS[state], code=state)
    if invitation.email and invitation.email != actor.email:
        raise ActionError("This invite link was made for a different email address. "
                          "Sign in with that address, or ask for a link of your own.",
                          code="wrong_email")
    # Count the use only if the link is still usable at this instant.
    claimed = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.revoked_at.is_(None),
               Invitation.expires_at > now,
               (Invitation.max_uses.is_(None)) | (Invitation.uses < Invitation.max_uses))
        .values(uses=Invitation.uses + 1)
    ).rowcount
    if not claimed:
        db.session.rollback()
        raise ActionError(INVITE_REFUSALS["used_up"], code="used_up")
    try:
        admit(circle, actor)
    except ActionError:
        db.session.rollback()
        raise
    record(circle.id, actor.id, "member.joined_by_invite")
    if invitation.created_by_id and invitation.created_by_id != actor.id:
        notify(invitation.created_by_id, "invitation_accepted",
               f"{actor.display_name} joined {circle.name} with your invite link",
               path_for("circles.members", slug=circle.slug), circle_id=circle.id,
               actor_id=actor.id)
    db.session.commit()
    return circle


def my_circles(user: User) -> list[tuple[Circle, Membership]]:
    """The user's active circles, by name."""
    rows = db.session.execute(_my_circles(), {"user_id": user.id})
    return [(r.Circle, r.Membership) for r in rows]


@cache
def _my_circles():
    # On every dashboard: built once (building it cost more than running it).
    return (select(Circle, Membership)
            .join(Membership, active_membership(bindparam("user_id"), Circle.id))
            .order_by(Circle.name))

