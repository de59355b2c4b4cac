"""What members do with meetings: propose, change, cancel, answer, find a time,
offer a visit, and keep a personal calendar feed.

Locks: seats for a date are given under that date's row lock (FOR UPDATE on
PostgreSQL; begin_write's BEGIN IMMEDIATE on SQLite), so the last seat is never
given twice. Actions that change a meeting lock the meeting first and then its
dates in id order; an RSVP locks only its date. With one order everywhere, two
actions never wait on each other in a cycle.
"""
import hashlib
import hmac
import logging
import secrets
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..circles.models import Circle, Membership
from ..content import render
from ..database import begin_write
from ..errors import ActionError, Conflict, NotFound
from ..extensions import db
from ..notifications.actions import notify
from ..policy import (
    access_circle,
    access_meeting,
    access_occurrence,
    access_poll,
    can_manage_meeting,
    can_manage_poll,
    can_propose_meeting,
    can_vote,
    can_withdraw_host_offer,
    require,
)
from ..signals import membership_ended
from ..text import clean_text
from ..timeutil import DEFAULT_TIMEZONE, utcnow
from ..urls import path_for
from . import inputs
from .models import (
    ANSWERS,
    RSVP,
    VOTES,
    CalendarFeed,
    DatePoll,
    HostOffer,
    Meeting,
    MeetingOccurrence,
    PollOption,
    PollVote,
)

log = logging.getLogger(__name__)

MANAGERS_ONLY = "Only the organiser and the circle's moderators can change this meeting."
POLL_MANAGERS_ONLY = "Only the person who started this poll and the circle's moderators can do that."
# Those told about changes to a date: everyone who said they might come.
ATTENDING = ("going", "maybe", "waitlisted")
MAX_POLL_OPTIONS = 10


# --- Helpers --------------------------------------------------------------------

def _short(title: str, length: int = 80) -> str:
    return title if len(title) <= length else title[: length - 1].rstrip() + "…"


def when(moment: datetime, zone_name: str | None) -> str:
    """'Tue 4 Mar 2025, 19:00' on a person's own clock."""
    try:
        zone = ZoneInfo(zone_name or DEFAULT_TIMEZONE)
    except (ValueError, KeyError):
        zone = ZoneInfo(DEFAULT_TIMEZONE)
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"


def meeting_path(circle: Circle, meeting: Meeting, occurrence: MeetingOccurrence | None = None) -> str:
    if occurrence is None or not meeting.is_series:
        return path_for("meetings.meeting", slug=circle.slug, meeting_id=meeting.id)
    return path_for("meetings.meeting", slug=circle.slug, meeting_id=meeting.id,
                    date=occurrence.id)


def _active_member_ids(circle_id: int) -> list[int]:
    return list(db.session.scalars(select(Membership.user_id).where(
        Membership.circle_id == circle_id, Membership.status == "active")))


def _active_rsvps():
    """RSVPs joined to their author's active membership of the date's circle."""
    return (select(RSVP)
            .join(MeetingOccurrence, MeetingOccurrence.id == RSVP.occurrence_id)
            .join(Membership, and_(Membership.user_id == RSVP.user_id,
                                   Membership.circle_id == MeetingOccurrence.circle_id,
                                   Membership.status == "active")))


def _attendees(occurrence_ids: list[int], exclude: int | None = None) -> dict[int, User]:
    """Active members going, maybe or waitlisted for any of these dates (one query)."""
    if not occurrence_ids:
        return {}
    rows = db.session.scalars(_active_rsvps().where(
        RSVP.occurrence_id.in_(occurrence_ids), RSVP.answer.in_(ATTENDING)))
    return {r.user_id: r.user for r in rows if r.user_id != exclude}


def going_count(occurrence: MeetingOccurrence) -> int:
    return db.session.scalar(select(func.count()).select_from(
        _active_rsvps().where(RSVP.occurrence_id == occurrence.id, RSVP.answer == "going")
        .subquery()))


def _promote_waitlisted(circle: Circle, meeting: Meeting, occurrence: MeetingOccurrence) -> list[RSVP]:
    """Give free seats to the waitlist, first come first served; tell each person.

    Call with the date's row locked.
    """
    query = (_active_rsvps().where(RSVP.occurrence_id == occurrence.id,
                                   RSVP.answer == "waitlisted")
             .order_by(RSVP.waitlisted_at, RSVP.id))
    if meeting.capacity is not None:
        free = meeting.capacity - going_count(occurrence)
        if free <= 0:
            return []
        query = query.limit(free)
    promoted = list(db.session.scalars(query))
    for row in promoted:
        row.answer, row.waitlisted_at = "going", None
        notify(row.user_id, "waitlist_promoted",
               f"A place opened up: you're going to {_short(meeting.title)} on "
               f"{when(occurrence.starts_at, row.user.timezone)}",
               meeting_path(circle, meeting, occurrence), circle_id=circle.id)
    return promoted


def _clean_details(fields: dict, circle: Circle) -> dict:
    """Title, description, place, capacity and host, shared by meetings and polls."""
    title = inputs.single_line(fields.get("title"), field="title", label="The title",
                               max_len=200, required=True)
    description = clean_text(fields.get("description"), field="description",
                             label="The description", max_len=10_000, multiline=True)
    location = inputs.single_line(fields.get("location"), field="location", label="The place",
                                  max_len=300)
    online_link = inputs.link(fields.get("online_link"))
    if not location and not online_link:
        raise ActionError("Say where: a place, an online link, or both.", field="location")
    host_user_id = fields.get("host_user_id")
    host_organisation = inputs.single_line(fields.get("host_organisation"),
                                           field="host_organisation",
                                           label="The host organisation", max_len=120)
    if host_user_id in (None, "", 0, "0"):
        host_user_id = None
    else:
        host_user_id = inputs.integer(host_user_id, field="host_user_id", label="The host",
                                      low=1, high=2**31 - 1)
        host = db.session.scalar(select(User).join(Membership, Membership.user_id == User.id)
                                 .where(Membership.circle_id == circle.id, User.id == host_user_id,
                                        Membership.status == "active"))
        if host is None:
            raise ActionError("Choose the host from the circle's members.", field="host_user_id")
        host_organisation = host_organisation or host.organisation
    if host_organisation and host_user_id is None:
        raise ActionError("Choose which member is hosting.", field="host_user_id")
    return {"title": title, "description_source": description,
            "description_html": render(description) if description else "",
            "location": location, "online_link": online_link,
            "capacity": inputs.capacity(fields.get("capacity")),
            "host_user_id": host_user_id, "host_organisation": host_organisation}


def _lock_occurrences(meeting: Meeting) -> list[MeetingOccurrence]:
    return list(db.session.scalars(
        select(MeetingOccurrence).where(MeetingOccurrence.meeting_id == meeting.id)
        .order_by(MeetingOccurrence.id).with_for_update(of=MeetingOccurrence)
        .execution_options(populate_existing=True)))


def _forget_reminders(occurrence_ids: list[int]) -> None:
    """A date that moves gets a fresh reminder before its new time."""
    if occurrence_ids:
        db.session.execute(update(RSVP).where(RSVP.occurrence_id.in_(occurrence_ids))
                           .values(reminded_at=None))


# --- Meetings -----------------------------------------------------------------------

def schedule_meeting(actor: User, slug: str, **fields) -> Meeting:
    """Propose a meeting (one-off or a series); every other member is told.

    Fields: title, description (Markdown), start (local wall time), end or
    duration (minutes), timezone (default the organiser's), location and/or
    online_link, capacity, repeat (none | weekly | monthly), interval,
    month_week (1-4 or -1 for monthly), count or until, host_user_id,
    host_organisation, host_offer_id.

    :raise NotFound: not an active member; no such open host offer here.
    :raise ActionError: a field is invalid (the error names it).
    """
    circle, membership = access_circle(actor, slug)
    require(can_propose_meeting(membership))
    offer = None
    if fields.get("host_offer_id"):
        offer = _open_offer(circle, fields["host_offer_id"])
        if not fields.get("host_user_id"):
            fields["host_user_id"] = offer.user_id
        if not fields.get("host_organisation"):
            fields["host_organisation"] = offer.organisation
    details = _clean_details(fields, circle)
    plan = inputs.schedule(fields, actor.timezone or DEFAULT_TIMEZONE)
    if plan.starts_at <= utcnow():
        raise ActionError("The start is in the past. Choose a time that is still to come.",
                          field="start")
    meeting = _create_meeting(circle, actor.id, details, plan)
    if offer is not None:
        offer.meeting_id = meeting.id
    text = f"{actor.display_name} proposed a meeting in {circle.name}: {_short(details['title'])}"
    for user_id in _active_member_ids(circle.id):
        if user_id != actor.id:
            notify(user_id, "meeting_created", text, meeting_path(circle, meeting),
                   circle_id=circle.id, actor_id=actor.id)
    db.session.commit()
    return meeting


def _create_meeting(circle: Circle, organiser_id: int, details: dict, plan) -> Meeting:
    now = utcnow()
    meeting = Meeting(circle_id=circle.id, organiser_id=organiser_id,
                      uid=f"{uuid.uuid4()}@alumni-circles", timezone=plan.timezone,
                      starts_at=plan.starts_at, ends_at=plan.ends_at, rrule=plan.rrule,
                      created_at=now, updated_at=now, **details)
    db.session.add(meeting)
    db.session.flush()
    db.session.add_all(MeetingOccurrence(meeting_id=meeting.id, circle_id=circle.id,
                                         original_start=start, starts_at=start,
                                         ends_at=start + plan.duration)
                       for start in plan.starts)
    db.session.flush()
    return meeting


def _open_offer(circle: Circle, offer_id) -> HostOffer:
    offer_id = inputs.integer(offer_id, field="host_offer_id", label="The offer", low=1,
                              high=2**31 - 1)
    offer = db.session.scalar(select(HostOffer).where(
        HostOffer.id == offer_id, HostOffer.circle_id == circle.id))
    if offer is None:
        raise NotFound()
    if offer.withdrawn_at is not None or offer.meeting_id is not None:
        raise ActionError("That offer to host has been withdrawn or already taken up.",
                          field="host_user_id")
    return offer


def update_meeting(actor: User, slug: str, meeting_id: int, **fields) -> Meeting:
    """Edit or reschedule a meeting; those coming to the dates it changes are told.

    Takes the same fields as schedule_meeting. A series that has begun keeps
    its pattern; only where it ends may change (single dates move on their own).

    :raise NotFound: not a member, or no such meeting here.
    :raise Forbidden: neither the organiser nor staff.
    :raise ActionError: a field is invalid, the meeting is cancelled, or the
        change would drop dates already past or seats already given.
    """
    begin_write()
    circle, membership, meeting = access_meeting(actor, slug, meeting_id, for_update=True)
    require(can_manage_meeting(membership, meeting), MANAGERS_ONLY)
    if meeting.is_cancelled:
        raise ActionError("This meeting is cancelled, so it can't be changed.", code="cancelled")
    details = _clean_details(fields, circle)
    plan = inputs.schedule(fields, meeting.timezone)
    occurrences = _lock_occurrences(meeting)
    now = utcnow()
    coming = [o for o in occurrences if o.ends_at > now]
    told = _attendees([o.id for o in coming], exclude=actor.id)
    try:
        retimed: list[int] = []
        dropped: list[MeetingOccurrence] = []
        rescheduled = (plan.starts_at, plan.ends_at, plan.timezone, plan.rrule) != (
            meeting.starts_at, meeting.ends_at, meeting.timezone, meeting.rrule)
        if rescheduled:
            retimed, dropped = _reschedule(meeting, occurrences, plan, now)
        upcoming = [o for o in coming if o not in dropped]
        _check_capacity(details["capacity"], upcoming)
    except ActionError:
        db.session.rollback()  # nothing half-changed stays in the session
        raise
    changed = rescheduled or any(
        getattr(meeting, key) != value for key, value in details.items())
    if not changed:
        db.session.rollback()
        return meeting
    old_capacity = meeting.capacity
    for key, value in details.items():
        setattr(meeting, key, value)
    meeting.sequence += 1
    meeting.updated_at = now
    db.session.flush()
    if details["capacity"] != old_capacity:
        for occurrence in upcoming:
            _promote_waitlisted(circle, meeting, occurrence)
    title = _short(meeting.title)
    for user in told.values():
        if rescheduled:
            text = (f"{title} has a new time: {when(meeting.starts_at, user.timezone)}"
                    if not meeting.is_series else f"The dates of {title} have changed")
        else:
            text = f"{actor.display_name} updated the details of {title}"
        notify(user.id, "meeting_changed", text, meeting_path(circle, meeting),
               circle_id=circle.id, actor_id=actor.id)
    db.session.commit()
    return meeting


def _pattern(rule: str | None) -> str | None:
    """A rule without its end (COUNT or UNTIL)."""
    if rule is None:
        return None
    return ";".join(p for p in rule.split(";") if not p.startswith(("COUNT=", "UNTIL=")))


def _reschedule(meeting, occurrences, plan, now) -> tuple[list[int], list[MeetingOccurrence]]:
    """Fit the dates to a new schedule. Returns (ids whose time changed, dates dropped).

    When only the end of a series changes, the dates that remain are kept as
    they are (moves and cancellations too). Otherwise, before a series begins,
    dates pair up in order (the third date stays the third, keeping its RSVPs)
    and take the new series time; once it has begun, only the end may change.
    """
    begun = [o for o in occurrences if o.starts_at <= now]
    same_pattern = ((plan.starts_at, plan.ends_at, plan.timezone, _pattern(plan.rrule))
                    == (meeting.starts_at, meeting.ends_at, meeting.timezone,
                        _pattern(meeting.rrule)))
    if same_pattern:
        keep = set(plan.starts)
        dropped = [o for o in occurrences if o.original_start not in keep]
        if any(o in begun for o in dropped):
            raise ActionError("The series can't end before dates that have already happened.",
                              field="until")
        for occurrence in dropped:
            db.session.delete(occurrence)
        have = {o.original_start for o in occurrences}
        _add_dates(meeting, [s for s in plan.starts if s not in have], plan.duration)
        meeting.rrule = plan.rrule
        return [], dropped
    if (meeting.rrule or plan.rrule) and begun:
        raise ActionError("This series has already begun, so only where it ends can change. "
                          "Move or cancel single dates, or cancel the series and propose "
                          "a new one.", field="start")
    if plan.starts_at != meeting.starts_at and plan.starts_at <= now:
        raise ActionError("The start is in the past. Choose a time that is still to come.",
                          field="start")
    ordered = sorted(occurrences, key=lambda o: o.original_start)
    pairs = list(zip(ordered, plan.starts, strict=False))
    dropped = ordered[len(plan.starts):]
    retimed = [o.id for o, start in pairs
               if (o.starts_at, o.ends_at) != (start, start + plan.duration)]
    for occurrence in dropped:
        db.session.delete(occurrence)
    # Park the moving dates out of the way first: (meeting, original_start) is
    # unique, and shifting a series by a week hands each date its neighbour's.
    for i, (occurrence, _) in enumerate(pairs):
        occurrence.original_start = datetime(1900, 1, 1, tzinfo=plan.starts_at.tzinfo) \
            + timedelta(minutes=i)
    db.session.flush()
    for occurrence, start in pairs:
        occurrence.original_start = occurrence.starts_at = start
        occurrence.ends_at = start + plan.duration
        occurrence.moved_at = None
    _add_dates(meeting, plan.starts[len(pairs):], plan.duration)
    meeting.starts_at, meeting.ends_at = plan.starts_at, plan.ends_at
    meeting.timezone, meeting.rrule = plan.timezone, plan.rrule
    db.session.flush()
    _forget_reminders(retimed)
    return retimed, dropped


def _add_dates(meeting: Meeting, starts: list[datetime], duration: timedelta) -> None:
    db.session.add_all(MeetingOccurrence(meeting_id=meeting.id, circle_id=meeting.circle_id,
                                         original_start=s, starts_at=s, ends_at=s + duration)
                       for s in starts)


def _check_capacity(capacity: int | None, upcoming: list[MeetingOccurrence]) -> None:
    if capacity is None or not upcoming:
        return
    counts = dict(db.session.execute(
        select(RSVP.occurrence_id, func.count(RSVP.id))
        .where(RSVP.occurrence_id.in_([o.id for o in upcoming]), RSVP.answer == "going")
        .group_by(RSVP.occurrence_id)).all())
    most = max(counts.values(), default=0)
    if most > capacity:
        raise ActionError(f"{most} people are already going to a coming date, so there must be "
                          f"at least {most} places.", field="capacity")


def cancel_meeting(actor: User, slug: str, meeting_id: int, reason: str) -> Meeting:
    """Cancel a meeting (every date of a series), with a reason those coming are told.

    :raise NotFound / Forbidden: as update_meeting.
    :raise ActionError: no reason given, or already cancelled.
    """
    begin_write()
    circle, membership, meeting = access_meeting(actor, slug, meeting_id, for_update=True)
    require(can_manage_meeting(membership, meeting), MANAGERS_ONLY)
    reason = _reason(reason)
    if meeting.is_cancelled:
        raise Conflict("This meeting is already cancelled.", code="cancelled")
    now = utcnow()
    upcoming = list(db.session.scalars(select(MeetingOccurrence.id).where(
        MeetingOccurrence.meeting_id == meeting.id, MeetingOccurrence.ends_at > now,
        MeetingOccurrence.cancelled_at.is_(None))))
    meeting.cancelled_at, meeting.cancel_reason = now, reason
    meeting.sequence += 1
    meeting.updated_at = now
    for user in _attendees(upcoming, exclude=actor.id).values():
        text = (f"{_short(meeting.title)} is cancelled (every date)" if meeting.is_series else
                f"{_short(meeting.title)} on {when(meeting.starts_at, user.timezone)} is cancelled")
        notify(user.id, "meeting_cancelled", text, meeting_path(circle, meeting),
               circle_id=circle.id, actor_id=actor.id)
    db.session.commit()
    return meeting


def _reason(reason) -> str:
    return clean_text(reason, field="reason", label="The reason", max_len=500, required=True,
                      multiline=True)


def _series_date(actor: User, slug: str, occurrence_id: int):
    """Lock the meeting, then the date; both as they now stand."""
    begin_write()
    circle, membership, occurrence = access_occurrence(actor, slug, occurrence_id)
    _, _, meeting = access_meeting(actor, slug, occurrence.meeting_id, for_update=True)
    _, _, occurrence = access_occurrence(actor, slug, occurrence_id, for_update=True)
    require(can_manage_meeting(membership, meeting), MANAGERS_ONLY)
    if not meeting.is_series:
        raise ActionError("A one-off meeting is changed with Edit or cancelled as a whole.",
                          code="one_off")
    if occurrence.is_cancelled:
        raise ActionError("This date is cancelled, so it can't be changed.", code="cancelled")
    if occurrence.starts_at <= utcnow():
        raise ActionError("This date has already begun, so it can't be changed.", code="past")
    return circle, meeting, occurrence


def move_occurrence(actor: User, slug: str, occurrence_id: int, **fields) -> MeetingOccurrence:
    """Move one date of a series (start, and end or duration, in the meeting's zone).

    :raise NotFound / Forbidden: as update_meeting.
    :raise ActionError: invalid times; a one-off, cancelled or begun date.
    """
    circle, meeting, occurrence = _series_date(actor, slug, occurrence_id)
    start, end = inputs.times(fields, ZoneInfo(meeting.timezone))
    now = utcnow()
    if start <= now:
        raise ActionError("The new start is in the past. Choose a time that is still to come.",
                          field="start")
    if start > now + inputs.MAX_AHEAD:
        raise ActionError("A meeting can be planned at most five years ahead.", field="start")
    if (start, end) == (occurrence.starts_at, occurrence.ends_at):
        db.session.rollback()
        return occurrence
    old_start = occurrence.starts_at
    occurrence.starts_at, occurrence.ends_at, occurrence.moved_at = start, end, now
    meeting.sequence += 1
    meeting.updated_at = now
    _forget_reminders([occurrence.id])
    for user in _attendees([occurrence.id], exclude=actor.id).values():
        notify(user.id, "meeting_changed",
               f"{_short(meeting.title)} on {when(old_start, user.timezone)} moves to "
               f"{when(start, user.timezone)}",
               meeting_path(circle, meeting, occurrence), circle_id=circle.id, actor_id=actor.id)
    db.session.commit()
    return occurrence


def cancel_occurrence(actor: User, slug: str, occurrence_id: int, reason: str) -> MeetingOccurrence:
    """Cancel one date of a series, with a reason; the other dates stand.

    :raise NotFound / Forbidden: as update_meeting.
    :raise ActionError: no reason; a one-off, cancelled or begun date.
    """
    circle, meeting, occurrence = _series_date(actor, slug, occurrence_id)
    reason = _reason(reason)
    now = utcnow()
    occurrence.cancelled_at, occurrence.cancel_reason = now, reason
    meeting.sequence += 1
    meeting.updated_at = now
    for user in _attendees([occurrence.id], exclude=actor.id).values():
        notify(user.id, "meeting_cancelled",
               f"{_short(meeting.title)} on {when(occurrence.starts_at, user.timezone)} "
               "is cancelled", meeting_path(circle, meeting, occurrence), circle_id=circle.id,
               actor_id=actor.id)
    db.session.commit()
    return occurrence


# --- RSVPs -------------------------------------------------------------------------

def rsvp(actor: User, slug: str, occurrence_id: int, answer: str) -> RSVP:
    """Answer going, maybe or declined for one date.

    "going" past the capacity puts the member on the waitlist, in order of
    arrival; leaving "going" gives the seat to the first on the waitlist.
    Runs under the date's row lock, so concurrent answers leave at most
    `capacity` going.

    :raise NotFound: not a member, or no such date here.
    :raise ActionError: an unknown answer; the date is cancelled or has begun.
    """
    if answer not in ANSWERS:
        raise ActionError("Choose going, maybe or can't go.", field="answer")
    begin_write()
    circle, _membership, occurrence = access_occurrence(actor, slug, occurrence_id,
                                                        for_update=True)
    meeting = occurrence.meeting
    now = utcnow()
    if occurrence.is_cancelled:
        raise ActionError("This date is cancelled, so there is nothing to answer.",
                          code="cancelled")
    if occurrence.starts_at <= now:
        raise ActionError("This date has already begun, so answers are closed.", code="past")
    mine = db.session.scalar(select(RSVP).where(RSVP.occurrence_id == occurrence.id,
                                                RSVP.user_id == actor.id))
    previous = mine.answer if mine else None
    if answer == "going" and previous in ("going", "waitlisted"):
        db.session.rollback()  # already have a seat, or a place in the queue
        return mine
    state = answer
    if answer == "going" and meeting.capacity is not None \
            and going_count(occurrence) >= meeting.capacity:
        state = "waitlisted"
    if mine is None:
        mine = RSVP(occurrence_id=occurrence.id, user_id=actor.id)
        db.session.add(mine)
    mine.answer, mine.responded_at = state, now
    mine.waitlisted_at = now if state == "waitlisted" else None
    db.session.flush()
    if previous == "going":
        _promote_waitlisted(circle, meeting, occurrence)
    db.session.commit()
    return mine


def release_places(circle: Circle, user_id: int, *, commit: bool = True) -> None:
    """Take someone who left or was removed off every coming date, passing their
    seats to the waitlist, and withdraw their offers to host.

    :param commit: False to work inside the caller's write transaction, which
        commits (delete_account: its checks, the release and the deletion are one).
    """
    if commit:
        begin_write()
    now = utcnow()
    occurrence_ids = list(db.session.scalars(
        select(RSVP.occurrence_id).join(MeetingOccurrence, MeetingOccurrence.id == RSVP.occurrence_id)
        .where(MeetingOccurrence.circle_id == circle.id, MeetingOccurrence.starts_at > now,
               RSVP.user_id == user_id)))
    occurrences = []
    if occurrence_ids:
        occurrences = list(db.session.scalars(
            select(MeetingOccurrence).where(MeetingOccurrence.id.in_(occurrence_ids))
            .order_by(MeetingOccurrence.id).with_for_update(of=MeetingOccurrence)
            .execution_options(populate_existing=True)))
    for occurrence in occurrences:
        row = db.session.scalar(select(RSVP).where(RSVP.occurrence_id == occurrence.id,
                                                   RSVP.user_id == user_id))
        if row is None:
            continue
        was_going = row.answer == "going"
        db.session.delete(row)
        db.session.flush()
        if was_going and not occurrence.is_cancelled:
            _promote_waitlisted(circle, occurrence.meeting, occurrence)
    db.session.execute(update(HostOffer).where(
        HostOffer.circle_id == circle.id, HostOffer.user_id == user_id,
        HostOffer.withdrawn_at.is_(None), HostOffer.meeting_id.is_(None)).values(withdrawn_at=now))
    if commit:
        db.session.commit()


@membership_ended.connect
def _on_membership_ended(circle, user_id: int, **_):
    # After the removal has committed: a failure here must not undo or hide it.
    try:
        release_places(circle, user_id)
    except Exception:  # noqa: BLE001 - logged; the seats are also never counted (see going_count)
        db.session.rollback()
        log.exception("Could not release meeting places of user %s in circle %s",
                      user_id, circle.id)


# --- Date polls ---------------------------------------------------------------------

def create_poll(actor: User, slug: str, **fields) -> DatePoll:
    """Ask the circle when it can meet: 2-10 candidate slots of one length.

    Fields: title, description, timezone, duration (minutes), location,
    online_link, capacity, host_user_id, host_organisation, and options: local
    start times (blank entries are ignored).

    :raise NotFound: not an active member.
    :raise ActionError: a field is invalid.
    """
    circle, membership = access_circle(actor, slug)
    require(can_propose_meeting(membership))
    details = _clean_details(fields, circle)
    zone_name = inputs.zone_name(fields.get("timezone"), actor.timezone or DEFAULT_TIMEZONE)
    length = inputs.duration(fields.get("duration"))
    raw = fields.get("options") or []
    if not isinstance(raw, list | tuple) or len(raw) > 20:
        raise ActionError(f"Offer from 2 to {MAX_POLL_OPTIONS} times.", field="options")
    raw = [o for o in raw if not (o is None or (isinstance(o, str) and not o.strip()))]
    if not 2 <= len(raw) <= MAX_POLL_OPTIONS:
        raise ActionError(f"Offer from 2 to {MAX_POLL_OPTIONS} times.", field="options")
    zone, now = ZoneInfo(zone_name), utcnow()
    starts = []
    for i, value in enumerate(raw, 1):
        label = f"Time {i}"
        start = inputs.to_utc(inputs.local_datetime(value, field="options", label=label), zone,
                              field="options", label=label)
        if start <= now:
            raise ActionError(f"{label} is in the past.", field="options")
        if start > now + inputs.MAX_AHEAD:
            raise ActionError(f"{label} is more than five years ahead.", field="options")
        if start in starts:
            raise ActionError(f"{label} is offered twice.", field="options")
        starts.append(start)
    poll = DatePoll(circle_id=circle.id, organiser_id=actor.id, timezone=zone_name, **details)
    db.session.add(poll)
    db.session.flush()
    db.session.add_all(PollOption(poll_id=poll.id, starts_at=s, ends_at=s + length)
                       for s in sorted(starts))
    url = path_for("meetings.poll", slug=circle.slug, poll_id=poll.id)
    for user_id in _active_member_ids(circle.id):
        if user_id != actor.id:
            notify(user_id, "poll_created",
                   f"{actor.display_name} asks when you can meet: {_short(poll.title)}", url,
                   circle_id=circle.id, actor_id=actor.id)
    db.session.commit()
    return poll


def poll_options(poll: DatePoll) -> list[PollOption]:
    return list(db.session.scalars(select(PollOption).where(PollOption.poll_id == poll.id)
                                   .order_by(PollOption.starts_at, PollOption.id)))


def vote(actor: User, slug: str, poll_id: int, answers: dict) -> DatePoll:
    """Say which slots suit you: {option_id: yes | maybe | no}. Replaces your earlier answers.

    :raise NotFound: not a member, or no such poll here.
    :raise ActionError: the poll is closed; an unknown slot or answer; no answer at all.
    """
    begin_write()
    circle, membership, poll = access_poll(actor, slug, poll_id, for_update=True)
    if not can_vote(membership, poll):
        raise ActionError("This poll is closed; answers can no longer change.", code="closed")
    options = {o.id: o for o in poll_options(poll)}
    clean: dict[int, str] = {}
    if not isinstance(answers, dict) or len(answers) > len(options):
        raise ActionError("Answer for the times in this poll.", field="answers")
    for key, answer in answers.items():
        option_id = int(key) if isinstance(key, int | str) and str(key).isascii() \
            and str(key).isdigit() and len(str(key)) <= 10 else None
        if option_id not in options:
            raise ActionError("Answer for the times in this poll.", field="answers")
        if answer in (None, ""):
            continue
        if answer not in VOTES:
            raise ActionError("Answer yes, if need be, or no for each time.", field="answers")
        clean[option_id] = answer
    if not clean:
        raise ActionError("Answer for at least one of the times.", field="answers")
    existing = {v.option_id: v for v in db.session.scalars(select(PollVote).where(
        PollVote.poll_id == poll.id, PollVote.user_id == actor.id))}
    for option_id, answer in clean.items():
        if option_id in existing:
            existing[option_id].answer = answer
        else:
            db.session.add(PollVote(poll_id=poll.id, option_id=option_id, user_id=actor.id,
                                    answer=answer))
    db.session.commit()
    return poll


def schedule_from_poll(actor: User, slug: str, poll_id: int, option_id: int) -> Meeting:
    """Turn a poll's chosen slot into a meeting in one step; voters are told.

    :raise NotFound: not a member, or no such poll or slot here.
    :raise Forbidden: neither the poll's organiser nor staff.
    :raise Conflict: the poll is already closed.
    :raise ActionError: the slot has passed.
    """
    begin_write()
    circle, membership, poll = access_poll(actor, slug, poll_id, for_update=True)
    require(can_manage_poll(membership, poll), POLL_MANAGERS_ONLY)
    if poll.status != "open":
        raise Conflict("This poll is already closed.", code="closed")
    option = db.session.scalar(select(PollOption).where(PollOption.id == option_id,
                                                        PollOption.poll_id == poll.id))
    if option is None:
        raise NotFound()
    if option.starts_at <= utcnow():
        raise ActionError("That time has passed; choose another.", field="option_id")
    details = {key: getattr(poll, key) for key in (
        "title", "description_source", "description_html", "location", "online_link",
        "capacity", "host_user_id", "host_organisation")}
    if details["host_user_id"] and not db.session.scalar(select(Membership.id).where(
            Membership.circle_id == circle.id, Membership.user_id == details["host_user_id"],
            Membership.status == "active")):
        details["host_user_id"], details["host_organisation"] = None, ""  # the host has left
    plan = inputs.Schedule(option.starts_at, option.ends_at, poll.timezone, None,
                           [option.starts_at])
    meeting = _create_meeting(circle, poll.organiser_id or actor.id, details, plan)
    poll.status, poll.meeting_id, poll.closed_at = "scheduled", meeting.id, utcnow()
    voters = set(db.session.scalars(select(PollVote.user_id).where(PollVote.poll_id == poll.id)))
    url = meeting_path(circle, meeting)
    members = db.session.execute(select(User.id, User.timezone).join(
        Membership, Membership.user_id == User.id).where(
        Membership.circle_id == circle.id, Membership.status == "active")).all()
    for user_id, zone in members:
        if user_id == actor.id:
            continue
        if user_id in voters:
            notify(user_id, "poll_closed",
                   f"{_short(poll.title)} is set for {when(option.starts_at, zone)}. "
                   "Say whether you're going.", url, circle_id=circle.id, actor_id=actor.id)
        else:
            notify(user_id, "meeting_created",
                   f"{actor.display_name} scheduled a meeting in {circle.name}: "
                   f"{_short(poll.title)}", url, circle_id=circle.id, actor_id=actor.id)
    db.session.commit()
    return meeting


def close_poll(actor: User, slug: str, poll_id: int) -> DatePoll:
    """Close a poll without choosing a time; voters are told.

    :raise NotFound / Forbidden / Conflict: as schedule_from_poll.
    """
    begin_write()
    circle, membership, poll = access_poll(actor, slug, poll_id, for_update=True)
    require(can_manage_poll(membership, poll), POLL_MANAGERS_ONLY)
    if poll.status != "open":
        raise Conflict("This poll is already closed.", code="closed")
    poll.status, poll.closed_at = "closed", utcnow()
    voters = set(db.session.scalars(select(PollVote.user_id).where(PollVote.poll_id == poll.id)))
    url = path_for("meetings.poll", slug=circle.slug, poll_id=poll.id)
    for user_id in voters & set(_active_member_ids(circle.id)) - {actor.id}:
        notify(user_id, "poll_closed", f"The poll {_short(poll.title)} closed without a date",
               url, circle_id=circle.id, actor_id=actor.id)
    db.session.commit()
    return poll


# --- Visits -------------------------------------------------------------------------

def offer_to_host(actor: User, slug: str, organisation: str | None = None,
                  note: str = "") -> HostOffer:
    """Offer to host the circle at one's organisation; an open offer is updated.

    :raise NotFound: not an active member.
    :raise ActionError: no organisation, or a note too long.
    """
    circle, membership = access_circle(actor, slug)
    require(can_propose_meeting(membership))
    organisation = inputs.single_line(organisation if organisation is not None
                                      else actor.organisation, field="organisation",
                                      label="The organisation", max_len=120, required=True)
    note = clean_text(note, field="note", label="The note", max_len=1000, multiline=True)
    offer = db.session.scalar(select(HostOffer).where(
        HostOffer.circle_id == circle.id, HostOffer.user_id == actor.id,
        HostOffer.withdrawn_at.is_(None), HostOffer.meeting_id.is_(None)))
    if offer is None:
        offer = HostOffer(circle_id=circle.id, user_id=actor.id)
        db.session.add(offer)
    offer.organisation, offer.note = organisation, note
    db.session.commit()
    return offer


def withdraw_host_offer(actor: User, slug: str, offer_id: int) -> HostOffer:
    """Withdraw an offer to host (its maker, or staff).

    :raise NotFound: not a member, or no such offer here.
    :raise Forbidden: someone else's offer, or already taken up or withdrawn.
    """
    circle, membership = access_circle(actor, slug)
    offer = db.session.scalar(select(HostOffer).where(HostOffer.id == offer_id,
                                                      HostOffer.circle_id == circle.id))
    if offer is None:
        raise NotFound()
    require(can_withdraw_host_offer(membership, offer),
            "Only the member who made this offer, or a moderator, can withdraw it.")
    offer.withdrawn_at = utcnow()
    db.session.commit()
    return offer


# --- Personal calendar feed ------------------------------------------------------------

def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_calendar_feed(actor: User) -> str:
    """Make (or remake) the person's secret feed; returns the token, shown only now.

    Any earlier token stops working at once.

    :raise Conflict: the same request raced itself; try again.
    """
    token = secrets.token_urlsafe(32)
    db.session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == actor.id))
    db.session.add(CalendarFeed(user_id=actor.id, token_hash=_hash(token)))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Please try again: your feed was being changed at the same moment.") \
            from None
    return token


def delete_calendar_feed(actor: User) -> None:
    """Turn the person's feed off; its address stops working."""
    db.session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == actor.id))
    db.session.commit()


def calendar_feed_of(user: User) -> CalendarFeed | None:
    return db.session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user.id))


def find_calendar_feed(token: str) -> CalendarFeed | None:
    """The feed a token opens (its owner not suspended), or None. Constant-time compare."""
    if not token or len(token) > 100:
        return None
    digest = _hash(token)
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == digest))
    if feed is None or not hmac.compare_digest(feed.token_hash, digest) or not feed.user.is_active:
        return None
    return feed
