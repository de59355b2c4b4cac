"""Answering for a date: going, maybe or can't go; seats up to the capacity,
then a waitlist served first come first served; and the places a departing
member held, given back."""
import logging

from sqlalchemy import func, select

from ...accounts.models import User
from ...circles.models import Circle, Membership
from ...database import begin_write
from ...errors import ActionError
from ...extensions import db
from ...notifications.actions import notify
from ...policy import access_occurrence, active_membership
from ...signals import membership_ended
from ...timeutil import utcnow
from ..models import ANSWERS, RSVP, Meeting, MeetingOccurrence
from .notices import meeting_path, short, when
from .visits import withdraw_open_offers

log = logging.getLogger(__name__)

# Those told about changes to a date: everyone who said they might come.
ATTENDING = ("going", "maybe", "waitlisted")


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
    now = utcnow()
    if occurrence.is_cancelled:
        raise ActionError("This date is cancelled, so there is nothing to answer.",
                          code="cancelled")
    if occurrence.starts_at <= now:
        raise ActionError("This date has already begun, so answers are closed.", code="past")
    mine, changed = record_answer(circle, occurrence, actor.id, answer, now)
    if not changed:
        db.session.rollback()  # already have a seat, or a place in the queue
        return mine
    db.session.commit()
    return mine


def record_answer(circle: Circle, occurrence: MeetingOccurrence, user_id: int, answer: str,
                  now) -> tuple[RSVP, bool]:
    """Set someone's answer for a date, giving seats up to the capacity and then
    waitlist places in order; a seat given up goes to the first waiting.

    In the caller's transaction, with the date's row locked (or the date new in
    it). Returns (the RSVP, whether anything changed): "going" from someone who
    already has a seat or a place in the queue changes nothing.
    """
    meeting = occurrence.meeting
    mine = db.session.scalar(select(RSVP).where(RSVP.occurrence_id == occurrence.id,
                                                RSVP.user_id == user_id))
    previous = mine.answer if mine else None
    if answer == "going" and previous in ("going", "waitlisted"):
        return mine, False
    state = answer
    if answer == "going" and meeting.capacity is not None \
            and going_count(occurrence) >= meeting.capacity:
        state = "waitlisted"
    if mine is None:
        mine = RSVP(occurrence_id=occurrence.id, user_id=user_id)
        db.session.add(mine)
    mine.answer, mine.responded_at = state, now
    mine.waitlisted_at = now if state == "waitlisted" else None
    db.session.flush()
    if previous == "going":
        promote_waitlisted(circle, meeting, occurrence)
    return mine, True


def _active_rsvps():
    """RSVPs of people still active members of the date's circle: a departed
    member's answer never holds a seat, even before release_places runs."""
    return (select(RSVP)
            .join(MeetingOccurrence, MeetingOccurrence.id == RSVP.occurrence_id)
            .join(Membership, active_membership(RSVP.user_id, MeetingOccurrence.circle_id)))


def going_count(occurrence: MeetingOccurrence) -> int:
    return db.session.scalar(select(func.count()).select_from(
        _active_rsvps().where(RSVP.occurrence_id == occurrence.id, RSVP.answer == "going")
        .subquery()))


def attendees(occurrence_ids: list[int], exclude: int | None = None) -> dict[int, User]:
    """Active members going, maybe or waitlisted for any of these dates (one query)."""
    if not occurrence_ids:
        return {}
    rows = db.session.scalars(_active_rsvps().where(
        RSVP.occurrence_id.in_(occurrence_ids), RSVP.answer.in_(ATTENDING)))
    return {r.user_id: r.user for r in rows if r.user_id != exclude}


def promote_waitlisted(circle: Circle, meeting: Meeting, occurrence: MeetingOccurrence) -> list[RSVP]:
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
               f"A place opened up: you're going to {short(meeting.title)} on "
               f"{when(occurrence.starts_at, row.user)}",
               meeting_path(circle, meeting, occurrence), circle_id=circle.id)
    return promoted


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
            promote_waitlisted(circle, occurrence.meeting, occurrence)
    withdraw_open_offers(circle, user_id, now)
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
