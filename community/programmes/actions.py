"""What programme staff and site admins do with programmes, and what a circle's
staff do with bulk invitations."""
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update

from ..accounts import security_log
from ..accounts.actions import normalise_email
from ..accounts.models import User
from ..circles.actions import create_circle, hash_token
from ..circles.models import Circle, Invitation
from ..database import begin_write
from ..errors import ActionError, NotFound
from ..extensions import db
from ..moderation.actions import DEFAULT_INVITE_DAYS, STAFF_ONLY, _mailable
from ..moderation.audit import record
from ..notifications.bounces import MailBounce, bounced_among
from ..notifications.mailer import queue_mail, site_url
from ..policy import (
    access_account,
    access_circle,
    access_programme,
    active_count,
    can_bulk_invite,
    can_create_programme,
    can_grant_programme_staff,
    is_programme_staff,
    members_by_email,
    require,
)
from ..text import clean_text
from ..timeutil import utcnow
from ..urls import path_for
from . import people_list
from .models import InvitationBatch, Programme, ProgrammeCohort, ProgrammeStaff

FIRST_YEAR, LAST_YEAR = 1950, 2100
PREVIEW_LIFETIME = timedelta(hours=24)
NOT_STAFF = "Only programme staff and site admins can do that."


# --- The programme staff role (site admins) ------------------------------------------

def grant_programme_staff(admin: User, email: str, programme_id: int | None = None) -> User:
    """Give an account the programme staff role, and a hand on one programme if named.

    :raise Forbidden: not a site admin with a second factor.
    :raise NotFound: no such programme.
    :raise ActionError: no account uses that address.
    """
    require(can_grant_programme_staff(admin), "Only site admins with a second factor can do that.")
    address = normalise_email(email)
    user = db.session.scalar(select(User).where(User.email == address)) if address else None
    if user is None:
        raise ActionError("No account uses that email address. Ask them to sign up first.",
                          field="email")
    programme = None
    if programme_id is not None:
        programme = db.session.get(Programme, programme_id)
        if programme is None:
            raise NotFound()
    detail = f"by {admin.display_name}"
    if not user.is_programme_staff:
        user.is_programme_staff = True
        security_log.record("programme_staff_granted", user=user, detail=detail)
    if programme is not None and not _staff_row(programme.id, user.id):
        db.session.add(ProgrammeStaff(programme_id=programme.id, user_id=user.id,
                                      added_by_id=admin.id))
        security_log.record("programme_staff_granted", user=user,
                            detail=f"{detail}, for {programme.name}")
    db.session.commit()
    return user


def revoke_programme_staff(admin: User, user_id: int) -> User:
    """Take the role away: they no longer manage any programme (the circles they
    are in are theirs as before).

    :raise Forbidden: not a site admin with a second factor, or their own account.
    :raise NotFound: no such account.
    """
    user = access_account(admin, user_id, "Ask another site admin to change your own role.")
    if user.is_programme_staff:
        user.is_programme_staff = False
        security_log.record("programme_staff_revoked", user=user,
                            detail=f"by {admin.display_name}")
        db.session.commit()
    return user


def programme_staff_people() -> list[tuple[User, list[str]]]:
    """Everyone with the role, with the names of the programmes they staff (two statements)."""
    people = list(db.session.scalars(select(User).where(User.is_programme_staff.is_(True))
                                     .order_by(User.display_name).limit(500)))
    names: dict[int, list[str]] = {p.id: [] for p in people}
    if people:
        for user_id, name in db.session.execute(
                select(ProgrammeStaff.user_id, Programme.name)
                .join(Programme, Programme.id == ProgrammeStaff.programme_id)
                .where(ProgrammeStaff.user_id.in_(names)).order_by(Programme.name)):
            names[user_id].append(name)
    return [(p, names[p.id]) for p in people]


def _staff_row(programme_id: int, user_id: int) -> ProgrammeStaff | None:
    return db.session.scalar(select(ProgrammeStaff).where(
        ProgrammeStaff.programme_id == programme_id, ProgrammeStaff.user_id == user_id))


# --- Programmes and cohorts -----------------------------------------------------------

def _year(value, field: str, label: str, required: bool = True) -> int | None:
    if value in (None, ""):
        if required:
            raise ActionError(f"Enter {label}.", field=field)
        return None
    try:
        year = int(str(value).strip()) if str(value).strip().isascii() else None
    except ValueError:
        year = None
    if year is None or not FIRST_YEAR <= year <= LAST_YEAR:
        raise ActionError(f"Enter {label} as a year from {FIRST_YEAR} to {LAST_YEAR}.",
                          field=field)
    return year


def create_programme(actor: User, name: str, place: str = "", start_year=None,
                     end_year=None) -> Programme:
    """Start a programme; programme staff who start one manage it.

    :raise Forbidden: neither programme staff nor a site admin.
    :raise ActionError: a field is invalid.
    """
    require(can_create_programme(actor), NOT_STAFF)
    name = clean_text(name, field="name", label="The programme's name", max_len=120,
                      required=True)
    place = clean_text(place, field="place", label="The place", max_len=120)
    start = _year(start_year, "start_year", "the first year")
    end = _year(end_year, "end_year", "the last year", required=False)
    if end is not None and end < start:
        raise ActionError("The last year can't be before the first.", field="end_year")
    programme = Programme(name=name, place=place, start_year=start, end_year=end,
                          created_by_id=actor.id)
    db.session.add(programme)
    db.session.flush()
    if is_programme_staff(actor):
        db.session.add(ProgrammeStaff(programme_id=programme.id, user_id=actor.id,
                                      added_by_id=actor.id))
    db.session.commit()
    return programme


def create_cohort(actor: User, programme_id: int, year, **fields) -> Circle:
    """Start the circle of one cohort of a programme; the actor becomes its owner
    (and hands it over from its Members page, moderation.actions.transfer_ownership).

    :raise NotFound: no such programme, or the actor doesn't manage it.
    :raise ActionError: the year is outside the programme's, or a field is invalid.
    """
    programme = access_programme(actor, programme_id)
    year = _year(year, "year", "the cohort's year")
    if year < programme.start_year or (programme.end_year is not None
                                       and year > programme.end_year):
        raise ActionError(f"{programme.name} runs {programme.years}; choose a year in it.",
                          field="year")
    if not (fields.get("cohort") or "").strip():
        fields["cohort"] = f"{programme.name} {year}"[:80]
    return create_circle(actor, cohort_of=(programme.id, year), **fields)


def programme_cohorts(programme: Programme) -> list[tuple[Circle, int, int]]:
    """(circle, year, active members) of each cohort, newest year first: names and
    sizes only, for the programme's staff (one statement)."""
    members = active_count(Circle.id)
    rows = db.session.execute(
        select(Circle, ProgrammeCohort.year, members)
        .join(ProgrammeCohort, ProgrammeCohort.circle_id == Circle.id)
        .where(ProgrammeCohort.programme_id == programme.id)
        .order_by(ProgrammeCohort.year.desc(), Circle.name))
    return [(r[0], r[1], r[2]) for r in rows]


def programme_staff_of(programme: Programme) -> list[User]:
    return list(db.session.scalars(
        select(User).join(ProgrammeStaff, ProgrammeStaff.user_id == User.id)
        .where(ProgrammeStaff.programme_id == programme.id, User.is_programme_staff.is_(True))
        .order_by(User.display_name)))


# --- Bulk invitations -------------------------------------------------------------------

# What the preview says of each row.
VERDICTS = {
    "invite": "Will be invited",
    "member": "Already a member",
    "pending": "Already invited (waiting for an answer)",
    "unmailable": "Address can't be mailed",
    "duplicate": "Duplicate in the list",
    "refused": "Can't be invited",
    "bad": "Can't be read",
}


@dataclass
class Verdict:
    line: int
    name: str
    email: str
    organisation: str
    verdict: str
    reason: str = ""

    @property
    def label(self) -> str:
        return VERDICTS[self.verdict]


def preview_invitations(actor: User, slug: str, data: bytes | None = None, text: str = "",
                        days=DEFAULT_INVITE_DAYS) -> InvitationBatch:
    """Read a list (an uploaded file's bytes, or pasted text) and hold it for the
    lead to confirm. Nothing is sent.

    :raise NotFound: not an active member.
    :raise Forbidden: not an owner or moderator.
    :raise ActionError: the list can't be read (people_list.ListRefused), or no list given.
    """
    circle, membership = access_circle(actor, slug)
    require(can_bulk_invite(membership), STAFF_ONLY)
    if not isinstance(days, int) or not 1 <= days <= 90:
        raise ActionError("An invitation can last from 1 to 90 days.", field="days")
    if data is not None:
        rows = people_list.parse(people_list.decode(data))
    elif text and text.strip():
        rows = people_list.parse(text, pasted=True)
    else:
        raise ActionError("Paste a list of people, or choose a CSV file.", field="lines",
                          code="empty")
    batch = InvitationBatch(key=secrets.token_urlsafe(32), circle_id=circle.id,
                            created_by_id=actor.id, days=days,
                            rows=json.dumps([r.as_dict() for r in rows]))
    db.session.add(batch)
    db.session.commit()
    return batch


def access_batch(actor: User, slug: str, key: str, for_update: bool = False):
    """A preview the actor made for this circle, with the circle.

    :raise NotFound: not staff of the circle, or no such preview of theirs.
    """
    circle, membership = access_circle(actor, slug, for_update=for_update)
    require(can_bulk_invite(membership), STAFF_ONLY)
    batch = None
    if isinstance(key, str) and 20 <= len(key) <= 43:
        batch = db.session.scalar(select(InvitationBatch).where(
            InvitationBatch.key == key, InvitationBatch.circle_id == circle.id))
    if batch is None or batch.created_by_id != actor.id:
        raise NotFound()
    return circle, batch


def judge_batch(circle: Circle, batch: InvitationBatch) -> list[Verdict]:
    """Each row of a held list, judged against the circle as it is now."""
    rows = json.loads(batch.rows)
    return judge(circle, rows)


def judge(circle: Circle, rows: list[dict]) -> list[Verdict]:
    """What inviting each row would do (four statements, however many rows)."""
    emails = [r["email"] for r in rows if not r["problem"] and r["email"]]
    members, banned = _member_emails(circle.id, emails)
    pending = _pending_emails(circle.id, emails)
    bounced = bounced_among(emails)
    seen: set[str] = set()
    verdicts = []
    for r in rows:
        v = Verdict(r["line"], r["name"], r["email"], r["organisation"], "invite")
        email = r["email"]
        if r["problem"]:
            v.verdict, v.reason = "bad", r["problem"]
        elif email in seen:
            v.verdict, v.reason = "duplicate", "The same address is on an earlier line"
        elif not _mailable(email):
            v.verdict, v.reason = "unmailable", "Not a valid email address"
        elif email in bounced:
            v.verdict, v.reason = "unmailable", "Mail to this address has bounced before"
        elif email in members:
            v.verdict = "member"
        elif email in banned:
            v.verdict, v.reason = "refused", "Banned from this circle"
        elif email in pending:
            v.verdict = "pending"
        if email:
            seen.add(email)
        verdicts.append(v)
    return verdicts


def _member_emails(circle_id: int, emails: list[str]) -> tuple[set[str], set[str]]:
    if not emails:
        return set(), set()
    rows = db.session.execute(members_by_email(circle_id, emails))
    members, banned = set(), set()
    for email, status in rows:
        (members if status == "active" else banned).add(email)
    return members, banned


def _usable(now):
    return (Invitation.revoked_at.is_(None), Invitation.expires_at > now,
            (Invitation.max_uses.is_(None)) | (Invitation.uses < Invitation.max_uses))


def _pending_emails(circle_id: int, emails: list[str]) -> set[str]:
    if not emails:
        return set()
    return set(db.session.scalars(select(Invitation.email).where(
        Invitation.circle_id == circle_id, Invitation.email.in_(emails), Invitation.uses == 0,
        *_usable(utcnow()))))


def send_batch(actor: User, slug: str, key: str) -> tuple[InvitationBatch, bool]:
    """Confirm a preview: one invitation per person the list would invite now (the
    rows are judged again, here), each bound to its address and emailed through
    the outbox. Returns the batch and whether this call sent it: a second click
    finds it sent and sends nothing.

    :raise NotFound: as access_batch.
    :raise ActionError: the preview is too old.
    """
    begin_write()
    circle, batch = access_batch(actor, slug, key, for_update=True)
    if batch.status == "sent":
        db.session.rollback()
        return batch, False
    now = utcnow()
    if batch.created_at < now - PREVIEW_LIFETIME:
        db.session.rollback()
        raise ActionError("This preview is more than a day old. Give the list again to see "
                          "who it would invite now.", code="stale")
    # Claim it: of two confirmations racing, one sends.
    claimed = db.session.execute(
        update(InvitationBatch).where(InvitationBatch.id == batch.id,
                                      InvitationBatch.status == "previewed")
        .values(status="sent", sent_at=now)).rowcount
    if not claimed:
        db.session.rollback()
        return db.session.get(InvitationBatch, batch.id), False
    invited = [v for v in judge_batch(circle, batch) if v.verdict == "invite"]
    for verdict in invited:
        _invite(actor, circle, verdict.email, _note(verdict), batch.days, now)
    db.session.execute(update(InvitationBatch).where(InvitationBatch.id == batch.id)
                       .values(sent_count=len(invited)))
    record(circle.id, actor.id, "invitation.bulk_sent",
           detail=f"{len(invited)} {'person' if len(invited) == 1 else 'people'}")
    db.session.commit()
    db.session.refresh(batch)
    return batch, True


def _note(verdict: Verdict) -> str:
    note = " · ".join(part for part in (verdict.name, verdict.organisation) if part)
    return note if len(note) <= 120 else note[:119] + "…"


def _invite(actor: User, circle: Circle, email: str, note: str, days: int, now) -> Invitation:
    token = secrets.token_urlsafe(32)
    invitation = Invitation(circle_id=circle.id, created_by_id=actor.id,
                            token_hash=hash_token(token), email=email, note=note, max_uses=1,
                            expires_at=now + timedelta(days=days))
    db.session.add(invitation)
    _mail(actor, circle, invitation, token)
    return invitation


def _mail(actor: User, circle: Circle, invitation: Invitation, token: str) -> None:
    queue_mail(invitation.email, f"{actor.display_name} invites you to {circle.name}",
               "invitation", inviter=actor.display_name, circle_name=circle.name,
               link=site_url(path_for("circles.invite", token=token)),
               expires=invitation.expires_at.strftime("%-d %B %Y"),
               settings_link=site_url("/settings/notifications"))


# --- The invited people: counts, resend, revoke -----------------------------------------

INVITED_MAX = 1000


def invitation_state(invitation: Invitation, bounced: set[str], now) -> str:
    """accepted | pending | bounced | expired | revoked, for an invitation bound to an address."""
    if invitation.uses > 0:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.email in bounced:
        return "bounced"
    if invitation.expires_at <= now:
        return "expired"
    return "pending"


def invited_people(actor: User, slug: str):
    """The circle's invitations bound to an address, newest first, each with its
    state, and the count of each state.

    :raise NotFound / Forbidden: as preview_invitations.
    """
    circle, membership = access_circle(actor, slug)
    require(can_bulk_invite(membership), STAFF_ONLY)
    invitations = list(db.session.scalars(
        select(Invitation).where(Invitation.circle_id == circle.id, Invitation.email.is_not(None))
        .order_by(Invitation.id.desc()).limit(INVITED_MAX)))
    bounced = bounced_among(i.email for i in invitations)
    now = utcnow()
    rows = [(i, invitation_state(i, bounced, now)) for i in invitations]
    return circle, membership, rows, invitation_counts(circle.id)


def invitation_counts(circle_id: int) -> dict[str, int]:
    """accepted / pending / bounced counts of the circle's invitations bound to an
    address (one statement)."""
    now = utcnow()
    bounced = select(MailBounce.address).where(MailBounce.address == Invitation.email).exists()
    pending_now = (Invitation.uses == 0) & Invitation.revoked_at.is_(None) & \
        (Invitation.expires_at > now)
    row = db.session.execute(select(
        func.count().filter(Invitation.uses > 0),
        func.count().filter(pending_now & ~bounced),
        func.count().filter((Invitation.uses == 0) & Invitation.revoked_at.is_(None) & bounced),
    ).where(Invitation.circle_id == circle_id, Invitation.email.is_not(None))).one()
    return {"accepted": row[0], "pending": row[1], "bounced": row[2]}


def _selected(circle: Circle, ids) -> list[Invitation]:
    wanted = []
    for value in ids or []:
        value = str(value).strip()
        if value.isascii() and value.isdigit() and len(value) <= 10:
            wanted.append(int(value))
    wanted = sorted(set(wanted))[:INVITED_MAX]
    if not wanted:
        raise ActionError("Tick the invitations first.", code="none_selected")
    return list(db.session.scalars(select(Invitation).where(
        Invitation.circle_id == circle.id, Invitation.id.in_(wanted),
        Invitation.email.is_not(None))))


def resend_invitations(actor: User, slug: str, ids) -> int:
    """Email the ticked invitations that nobody has used yet again, each with a new
    link (the old link stops working) valid for DEFAULT_INVITE_DAYS from now.
    Returns how many went.

    :raise NotFound / Forbidden: as preview_invitations.
    :raise ActionError: nothing ticked.
    """
    begin_write()
    circle, membership = access_circle(actor, slug, for_update=True)
    require(can_bulk_invite(membership), STAFF_ONLY)
    now = utcnow()
    again = [i for i in _selected(circle, ids) if i.uses == 0 and i.revoked_at is None]
    bounced = bounced_among(i.email for i in again)
    again = [i for i in again if i.email not in bounced]
    for invitation in again:
        token = secrets.token_urlsafe(32)
        invitation.token_hash = hash_token(token)
        invitation.expires_at = now + timedelta(days=DEFAULT_INVITE_DAYS)
        _mail(actor, circle, invitation, token)
    if again:
        record(circle.id, actor.id, "invitation.bulk_resent",
               detail=f"{len(again)} {'person' if len(again) == 1 else 'people'}")
    db.session.commit()
    return len(again)


def revoke_invitations(actor: User, slug: str, ids) -> int:
    """Withdraw the ticked invitations that nobody has used. Returns how many.

    :raise NotFound / Forbidden / ActionError: as resend_invitations.
    """
    begin_write()
    circle, membership = access_circle(actor, slug, for_update=True)
    require(can_bulk_invite(membership), STAFF_ONLY)
    now = utcnow()
    gone = [i for i in _selected(circle, ids) if i.uses == 0 and i.revoked_at is None]
    for invitation in gone:
        invitation.revoked_at = now
    if gone:
        record(circle.id, actor.id, "invitation.bulk_revoked",
               detail=f"{len(gone)} {'invitation' if len(gone) == 1 else 'invitations'}")
    db.session.commit()
    return len(gone)


def invited_people_csv(actor: User, slug: str) -> tuple[Circle, str]:
    """The invited people as CSV (name and organisation as given, email, state),
    every cell safe to open in a spreadsheet (people_list.neutralise).

    :raise NotFound / Forbidden: as preview_invitations.
    """
    circle, _membership, rows, _counts = invited_people(actor, slug)
    body = people_list.to_csv(
        ["note", "email", "state", "invited_at"],
        ([i.note, i.email, state, i.created_at.strftime("%Y-%m-%d")] for i, state in rows))
    return circle, body
