"""Date polls: ask the circle when it can meet, answer, then schedule the
favourite time as a meeting in one step, or close the poll without one."""
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ...accounts.models import User
from ...database import begin_write
from ...errors import ActionError, Conflict, NotFound
from ...extensions import db
from ...notifications.actions import notify
from ...policy import (
    access_circle,
    access_poll,
    active_member_ids,
    active_members,
    can_manage_poll,
    can_propose_meeting,
    can_vote,
    require,
)
from ...timeutil import DEFAULT_TIMEZONE, utcnow
from ...urls import path_for
from .. import inputs
from ..models import VOTES, DatePoll, Meeting, MeetingOccurrence, PollOption, PollVote
from .notices import meeting_path, short, tell_circle, when
from .rsvps import record_answer
from .scheduling import clean_details, create_meeting

POLL_MANAGERS_ONLY = "Only the person who started this poll and the circle's moderators can do that."
MAX_POLL_OPTIONS = 10


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
    details = clean_details(fields, circle)
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
    tell_circle(circle, actor, "poll_created",
                f"{actor.display_name} started a date poll: {short(poll.title)}", url)
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
            raise ActionError("Answer yes, maybe or no for each time.", field="answers")
        clean[option_id] = answer
    if not clean:
        raise ActionError("Answer for at least one of the times.", field="answers")
    existing = {v.option_id: v for v in db.session.scalars(select(PollVote).where(
        PollVote.poll_id == poll.id, PollVote.user_id == actor.id))}
    now = utcnow()
    for option_id, answer in clean.items():
        if option_id in existing:
            if existing[option_id].answer != answer:
                # A vote's time is when this answer was given: seats go by it.
                existing[option_id].answer, existing[option_id].created_at = answer, now
        else:
            db.session.add(PollVote(poll_id=poll.id, option_id=option_id, user_id=actor.id,
                                    answer=answer, created_at=now))
    db.session.commit()
    return poll


def schedule_from_poll(actor: User, slug: str, poll_id: int, option_id: int) -> Meeting:
    """Turn a poll's chosen slot into a meeting in one step, keeping its answers.

    The organiser (and the host, if any) are going; those who said yes to the
    slot are going in the order they said it (past the capacity, waitlisted in
    that order); those who said maybe are maybe. Each is told what they were
    counted as and that they can change it; the other voters and members are
    told the meeting is scheduled.

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
    now = utcnow()
    if option.starts_at <= now:
        raise ActionError("That time has passed; choose another.", field="option_id")
    details = {key: getattr(poll, key) for key in (
        "title", "description_source", "description_html", "location", "online_link",
        "capacity", "host_user_id", "host_organisation")}
    members = list(db.session.scalars(active_members(circle.id)))
    member_ids = {m.id for m in members}
    if details["host_user_id"] and details["host_user_id"] not in member_ids:
        details["host_user_id"], details["host_organisation"] = None, ""  # the host has left
    plan = inputs.Schedule(option.starts_at, option.ends_at, poll.timezone, None,
                           [option.starts_at])
    meeting = create_meeting(circle, poll.organiser_id or actor.id, details, plan)
    poll.status, poll.meeting_id, poll.closed_at = "scheduled", meeting.id, now
    counted = _count_answers(circle, meeting, option, member_ids, now)
    voters = set(db.session.scalars(select(PollVote.user_id).where(PollVote.poll_id == poll.id)))
    url = meeting_path(circle, meeting)
    for member in members:
        if member.id == actor.id:
            continue
        set_for = f"{short(poll.title)} is set for {when(option.starts_at, member)}."
        if member.id in counted:
            notify(member.id, "poll_closed", f"{set_for} {counted[member.id]} You can change "
                   "your answer on the meeting's page.", url, circle_id=circle.id,
                   actor_id=actor.id)
        elif member.id in voters:
            notify(member.id, "poll_closed", f"{set_for} Say whether you're going.", url,
                   circle_id=circle.id, actor_id=actor.id)
        else:
            notify(member.id, "meeting_created",
                   f"{actor.display_name} scheduled a meeting in {circle.name}: "
                   f"{short(poll.title)}", url, circle_id=circle.id, actor_id=actor.id)
    db.session.commit()
    return meeting


def _count_answers(circle, meeting: Meeting, option: PollOption, member_ids: set[int],
                   now) -> dict[int, str]:
    """Answer for people on the new meeting's date as they answered the poll, through
    the RSVP rules (seats, then the waitlist). Returns {user id: what they are told}."""
    occurrence = db.session.scalar(select(MeetingOccurrence).where(
        MeetingOccurrence.meeting_id == meeting.id))
    votes = db.session.execute(
        select(PollVote.user_id, PollVote.answer).where(
            PollVote.option_id == option.id, PollVote.answer.in_(("yes", "maybe")))
        .order_by(PollVote.created_at, PollVote.id)).all()
    # Seats go first to the organiser and the host, then to the yeses in the order given.
    queue = [(meeting.organiser_id, "going", "as its organiser"),
             (meeting.host_user_id, "going", "as its host")]
    queue += [(user_id, "going" if answer == "yes" else "maybe",
               "as you said yes" if answer == "yes" else "as you said maybe")
              for user_id, answer in votes if user_id in member_ids]
    told: dict[int, str] = {}
    for user_id, answer, because in queue:
        if user_id not in member_ids or user_id in told:
            continue
        row, _ = record_answer(circle, occurrence, user_id, answer, now)
        told[user_id] = {
            "going": f"You're down as going, {because}.",
            "maybe": f"You're down as maybe, {because}.",
            "waitlisted": "Every place was taken, so you're on the waitlist, in the order "
                          "people answered.",
        }[row.answer]
    return told


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
    voters = set(db.session.scalars(select(PollVote.user_id).where(
        PollVote.poll_id == poll.id, PollVote.user_id.in_(active_member_ids(circle.id)))))
    url = path_for("meetings.poll", slug=circle.slug, poll_id=poll.id)
    for user_id in voters - {actor.id}:
        notify(user_id, "poll_closed", f"The poll {short(poll.title)} closed without a date",
               url, circle_id=circle.id, actor_id=actor.id)
    db.session.commit()
    return poll
