"""Proposing, changing, rescheduling, cancelling and deleting meetings: one-offs,
series, and single dates of a series. Those coming to a date that changes are told.

Locks: see the package's docstring (the meeting first, then its dates by id).
"""
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from ...accounts.models import User
from ...circles.models import Circle
from ...content import render
from ...database import begin_write
from ...errors import ActionError, Conflict
from ...extensions import db
from ...files.actions import discard
from ...files.models import Attachment
from ...files.places import change_files
from ...moderation.audit import record
from ...notifications.actions import notify
from ...policy import (
    access_circle,
    access_meeting,
    access_occurrence,
    active_members,
    can_manage_meeting,
    can_propose_meeting,
    require,
)
from ...text import clean_text
from ...timeutil import DEFAULT_TIMEZONE, utcnow
from .. import inputs
from ..models import RSVP, Meeting, MeetingOccurrence
from .notices import circle_meetings_path, meeting_path, short, tell_circle, when
from .rsvps import attendees, promote_waitlisted, record_answer
from .visits import open_offer

MANAGERS_ONLY = "Only the organiser and the circle's moderators can change this meeting."


def schedule_meeting(actor: User, slug: str, attachments=(), **fields) -> Meeting:
    """Schedule a meeting (one-off or a series) with the actor's uploads
    `attachments` (public ids: an agenda, slides) on it; every other member is told.

    A visit planned from an offer to host takes the offer up: its host and
    organiser are going to every date, and the host is told their visit is planned.

    Fields: title, description (Markdown), start (local wall time), end or
    duration (minutes), timezone (default the organiser's), location and/or
    online_link, capacity, repeat (none | weekly | monthly), interval,
    month_week (1-4 or -1 for monthly), count or until, host_user_id,
    host_organisation, host_offer_id.

    :raise NotFound: not an active member; no such open host offer here.
    :raise ActionError: a field is invalid (the error names it); a file can't be
        attached (files.actions.attach): then nothing is written.
    """
    begin_write()
    circle, membership = access_circle(actor, slug)
    require(can_propose_meeting(membership))
    offer = None
    if fields.get("host_offer_id"):
        offer = open_offer(circle, fields["host_offer_id"])
        if not fields.get("host_user_id"):
            fields["host_user_id"] = offer.user_id
        if not fields.get("host_organisation"):
            fields["host_organisation"] = offer.organisation
    details = clean_details(fields, circle)
    plan = inputs.schedule(fields, actor.timezone or DEFAULT_TIMEZONE)
    if plan.starts_at <= utcnow():
        raise ActionError("The start is in the past. Choose a time that is still to come.",
                          field="start")
    meeting = create_meeting(circle, actor.id, details, plan)
    _change_files(actor, circle, meeting, attachments)
    url = meeting_path(circle, meeting)
    told = set()
    if offer is not None:
        offer.meeting_id = meeting.id
        _host_and_organiser_going(circle, meeting)
        if offer.user_id != actor.id:
            told.add(offer.user_id)
            going = " You're down as going." if offer.user_id == meeting.host_user_id else ""
            notify(offer.user_id, "visit_planned",
                   f"{actor.display_name} planned the visit you offered to host: "
                   f"{short(meeting.title)}, {when(meeting.starts_at, offer.user)}."
                   f"{going}", url, circle_id=circle.id, actor_id=actor.id)
    text = f"{actor.display_name} scheduled a meeting in {circle.name}: {short(details['title'])}"
    tell_circle(circle, actor, "meeting_created", text, url, exclude=told)
    db.session.commit()
    return meeting


def _change_files(actor: User, circle: Circle, meeting: Meeting, add=(), remove=()) -> tuple:
    """change_files on the meeting, in its action's transaction: refused, nothing is written.
    Whoever may manage the meeting may take any of its files off it."""
    try:
        return change_files(actor, circle.id, add=add, remove=remove, own_only=False,
                            meeting_id=meeting.id)
    except ActionError:
        db.session.rollback()
        raise


def change_meeting_files(actor: User, slug: str, meeting_id: int, attachments=(),
                         remove_files=()) -> Meeting:
    """Add files to a meeting (an agenda before, notes and slides after it
    happened, or after it was cancelled) and take files off it. Nobody is told.

    :raise NotFound: not a member, or no such meeting here.
    :raise Forbidden: neither the organiser nor staff.
    :raise ActionError: as files.places.change_files; nothing is changed then.
    """
    begin_write()
    circle, membership, meeting = access_meeting(actor, slug, meeting_id, for_update=True)
    require(can_manage_meeting(membership, meeting), MANAGERS_ONLY)
    _change_files(actor, circle, meeting, attachments, remove_files)
    db.session.commit()
    return meeting


def _host_and_organiser_going(circle: Circle, meeting: Meeting) -> None:
    """A planned visit: its host and organiser are going to every date (seats first)."""
    now = utcnow()
    dates = db.session.scalars(select(MeetingOccurrence).where(
        MeetingOccurrence.meeting_id == meeting.id).order_by(MeetingOccurrence.starts_at))
    for occurrence in dates:
        for user_id in dict.fromkeys((meeting.organiser_id, meeting.host_user_id)):
            if user_id is not None:
                record_answer(circle, occurrence, user_id, "going", now)


def create_meeting(circle: Circle, organiser_id: int, details: dict, plan) -> Meeting:
    """A meeting and its dates, from clean details and a plan (flushed; the caller commits)."""
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


def update_meeting(actor: User, slug: str, meeting_id: int, attachments=(), remove_files=(),
                   **fields) -> Meeting:
    """Edit or reschedule a meeting; those coming to the dates it changes are told.
    Files: the actor's uploads `attachments` are added, and the meeting's files
    named in `remove_files` taken away (quietly: nobody is told of files).

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
    details = clean_details(fields, circle)
    plan = inputs.schedule(fields, meeting.timezone)
    occurrences = _lock_occurrences(meeting)
    now = utcnow()
    coming = [o for o in occurrences if o.ends_at > now]
    told = attendees([o.id for o in coming], exclude=actor.id)
    try:
        retimed: list[int] = []
        dropped: list[MeetingOccurrence] = []
        rescheduled = (plan.starts_at, plan.ends_at, plan.timezone, plan.rrule) != (
            meeting.starts_at, meeting.ends_at, meeting.timezone, meeting.rrule)
        if rescheduled:
            retimed, dropped = _reschedule(meeting, occurrences, plan, now)
        upcoming = [o for o in coming if o not in dropped]
        _check_capacity(details["capacity"], upcoming)
        attached, removed = change_files(actor, circle.id, add=attachments, remove=remove_files,
                                         own_only=False, meeting_id=meeting.id)
    except ActionError:
        db.session.rollback()  # nothing half-changed stays in the session
        raise
    changed = rescheduled or any(
        getattr(meeting, key) != value for key, value in details.items())
    if not changed:
        if attached or removed:
            db.session.commit()
        else:
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
            promote_waitlisted(circle, meeting, occurrence)
    title = short(meeting.title)
    for user in told.values():
        if rescheduled:
            text = (f"{title} has a new time: {when(meeting.starts_at, user)}"
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
                          "Move or cancel single dates, or cancel the series and schedule "
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
    told = coming_attendees(meeting, exclude=actor.id)
    now = utcnow()
    meeting.cancelled_at, meeting.cancel_reason = now, reason
    meeting.sequence += 1
    meeting.updated_at = now
    _tell_cancelled(circle, meeting, actor, told, meeting_path(circle, meeting))
    db.session.commit()
    return meeting


def delete_meeting(actor: User, slug: str, meeting_id: int) -> str:
    """Delete a meeting for good: every date, everyone's replies, and its files
    (their bytes once the commit is done, where no other file row uses them).
    Audited when staff delete a meeting someone else organised. Returns its title.

    As on Meetup, deleting takes the event off the group's calendar and out of
    members' calendar feeds; but nobody going should find a date quietly gone,
    so those still coming to a date (going, maybe or waitlisted; not if it was
    cancelled already) are told it is cancelled, as cancel_meeting tells them,
    with a link to the circle's meetings since the meeting's page is gone. The
    confirmation page says so, and offers Cancel instead to keep the page and
    files as a record. A date poll that scheduled it, and an offer to host it
    took up, stay (their link is cleared): the offer is open again, to plan anew.

    :raise NotFound: as update_meeting (so a second delete is a 404).
    :raise Forbidden: neither the organiser nor staff.
    """
    begin_write()
    circle, membership, meeting = access_meeting(actor, slug, meeting_id, for_update=True)
    require(can_manage_meeting(membership, meeting),
            "Only the organiser and the circle's moderators can delete this meeting.")
    title = meeting.title
    # Its dates too (the package's order): an answer being given now is in, or refused.
    _lock_occurrences(meeting)
    told = {} if meeting.is_cancelled else coming_attendees(meeting, exclude=actor.id)
    _tell_cancelled(circle, meeting, actor, told, circle_meetings_path(circle))
    if meeting.organiser_id != actor.id:
        record(circle.id, actor.id, "meeting.deleted", target_user_id=meeting.organiser_id,
               detail=f"“{short(title)}”")
    discard(Attachment.meeting_id == meeting.id)  # before the row: its FK would only clear them
    # Dates and replies go by ON DELETE CASCADE; polls' and offers' links by SET NULL.
    db.session.delete(meeting)
    db.session.commit()
    return title


def coming_attendees(meeting: Meeting, exclude: int | None = None) -> dict[int, User]:
    """Who is going, maybe or waitlisted for a date of the meeting still to come
    and not cancelled: whom cancelling or deleting it tells. One statement each."""
    upcoming = list(db.session.scalars(select(MeetingOccurrence.id).where(
        MeetingOccurrence.meeting_id == meeting.id, MeetingOccurrence.ends_at > utcnow(),
        MeetingOccurrence.cancelled_at.is_(None))))
    return attendees(upcoming, exclude=exclude)


def _tell_cancelled(circle: Circle, meeting: Meeting, actor: User, people: dict[int, User],
                    url: str) -> None:
    for user in people.values():
        text = (f"{short(meeting.title)} is cancelled (every date)" if meeting.is_series else
                f"{short(meeting.title)} on {when(meeting.starts_at, user)} is cancelled")
        notify(user.id, "meeting_cancelled", text, url, circle_id=circle.id, actor_id=actor.id)


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
    for user in attendees([occurrence.id], exclude=actor.id).values():
        notify(user.id, "meeting_changed",
               f"{short(meeting.title)} on {when(old_start, user)} moves to "
               f"{when(start, user)}",
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
    for user in attendees([occurrence.id], exclude=actor.id).values():
        notify(user.id, "meeting_cancelled",
               f"{short(meeting.title)} on {when(occurrence.starts_at, user)} "
               "is cancelled", meeting_path(circle, meeting, occurrence), circle_id=circle.id,
               actor_id=actor.id)
    db.session.commit()
    return occurrence


# --- Helpers (clean_details and create_meeting serve date polls too) ----------------

def clean_details(fields: dict, circle: Circle) -> dict:
    """Title, description, place, capacity and host, shared by meetings and polls."""
    title = inputs.single_line(fields.get("title"), field="title", label="The title",
                               max_len=200, required=True)
    description = clean_text(fields.get("description"), field="description",
                             label="The description", max_len=10_000, multiline=True)
    location = inputs.single_line(fields.get("location"), field="location", label="The venue",
                                  max_len=300)
    online_link = inputs.link(fields.get("online_link"))
    if not location and not online_link:
        raise ActionError("Say where: a venue, an online link, or both.", field="location")
    host_user_id = fields.get("host_user_id")
    host_organisation = inputs.single_line(fields.get("host_organisation"),
                                           field="host_organisation",
                                           label="The host organisation", max_len=120)
    if host_user_id in (None, "", 0, "0"):
        host_user_id = None
    else:
        host_user_id = inputs.integer(host_user_id, field="host_user_id", label="The host",
                                      low=1, high=2**31 - 1)
        host = db.session.scalar(active_members(circle.id).where(User.id == host_user_id))
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
