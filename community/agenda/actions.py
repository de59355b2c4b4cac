"""Everything people do with a meeting date's agenda and run sheet: put
challenges on it (or bring a new one), take them off, order them, set the
minutes, hand facilitation over, and step the session live.

Each action locks the date's row (policy.access_run_sheet), so one date's
agenda changes one write at a time, makes the run sheet when first needed,
raises its version, and after the commit sends the new state to everyone on
the date's page (live.broadcast_run_sheet).
"""
from sqlalchemy import func, select

from ..accounts.models import User
from ..after_commit import after_commit
from ..challenges import actions as challenges
from ..challenges.models import Challenge
from ..challenges.phases import effective_phase
from ..database import begin_write
from ..errors import ActionError, Conflict, NotFound
from ..extensions import db
from ..policy import (
    access_run_sheet,
    agenda_closed,
    can_facilitate,
    can_put_on_agenda,
    can_take_off_agenda,
    is_active_member,
    require,
)
from ..timeutil import utcnow
from .live import broadcast_run_sheet
from .models import DEFAULT_MINUTES, AgendaItem, RunSheet
from .present import items_of
from .steps import PARTS, current_index, steps_of

MAX_ITEMS = 6
# Bounds of the minutes a part may be given: check-in and check-out may be 0 (left out).
ROUND_MINUTES = (0, 60)
PART_MINUTES = (1, 120)
MAX_EXTRA = 60
COMMANDS = ("start", "next", "back", "pause", "resume", "add_minute")
FACILITATORS_ONLY = ("Only the session's facilitator (the meeting's organiser, or whoever they "
                     "handed it to) and the circle's moderators can do that.")


def _writable(actor: User, slug: str, meeting_id: int, date_id: int):
    """(circle, membership, occurrence, sheet or None) with the date locked."""
    begin_write()
    return access_run_sheet(actor, slug, meeting_id, date_id, for_update=True)


def _sheet(circle, occurrence, sheet: RunSheet | None) -> RunSheet:
    """The date's run sheet, made now if it has none."""
    if sheet is None:
        sheet = RunSheet(occurrence_id=occurrence.id, circle_id=circle.id,
                         check_in_minutes=DEFAULT_MINUTES["check_in"],
                         check_out_minutes=DEFAULT_MINUTES["check_out"], status="ready",
                         extra_minutes=0, version=0)
        db.session.add(sheet)
        db.session.flush()
    return sheet


def _changed(circle, occurrence, sheet: RunSheet) -> None:
    """Raise the version, and tell the date's page once this commits."""
    sheet.version += 1
    sheet.updated_at = utcnow()
    slug, meeting_id, date_id, sheet_id = circle.slug, occurrence.meeting_id, occurrence.id, sheet.id
    after_commit(lambda: broadcast_run_sheet(slug, meeting_id, date_id, sheet_id),
                 key=("run_sheet", sheet_id))


def _open_for_edits(occurrence, sheet) -> None:
    refusal = agenda_closed(occurrence, sheet)
    if refusal:
        raise ActionError(refusal, code="gone")


# --- The agenda ---------------------------------------------------------------------

def _add(actor: User, circle, membership, occurrence, sheet, challenge: Challenge) -> AgendaItem:
    """Put the challenge on the locked date's agenda (once), as the actor may."""
    meeting = occurrence.meeting
    require(can_put_on_agenda(membership, meeting, sheet, challenge.presenter_id),
            "You can put your own challenges on the agenda; the facilitator puts on others'.")
    _open_for_edits(occurrence, sheet)
    sheet = _sheet(circle, occurrence, sheet)
    earlier = db.session.scalar(select(AgendaItem).where(
        AgendaItem.run_sheet_id == sheet.id, AgendaItem.challenge_id == challenge.id))
    if earlier is not None:
        return earlier  # a double click, or someone else was quicker: once is enough
    if effective_phase(challenge, utcnow()).name == "follow_up":
        raise ActionError("That challenge has had its reflection: it's in follow-up now.",
                          field="challenge_id")
    count, last = db.session.execute(
        select(func.count(AgendaItem.id), func.max(AgendaItem.position))
        .where(AgendaItem.run_sheet_id == sheet.id)).one()
    if count >= MAX_ITEMS:
        raise ActionError(f"A session takes at most {MAX_ITEMS} challenges: take one off first.",
                          field="challenge_id")
    item = AgendaItem(run_sheet_id=sheet.id, circle_id=circle.id, challenge_id=challenge.id,
                      position=(last or 0) + 1, added_by_id=actor.id,
                      **{f"{part}_minutes": DEFAULT_MINUTES[part] for part in PARTS})
    db.session.add(item)
    _changed(circle, occurrence, sheet)
    return item


def put_on_agenda(actor: User, slug: str, meeting_id: int, date_id: int,
                  challenge_id: int) -> AgendaItem:
    """Put an open challenge of the circle on the date's agenda, at the end.

    :raise NotFound: as access_run_sheet, or no such challenge in the circle.
    :raise Forbidden: someone else's challenge, and the actor doesn't facilitate.
    :raise ActionError: the date is cancelled or its session over, the challenge
        has had its reflection, or the agenda is full.
    """
    circle, membership, occurrence, sheet = _writable(actor, slug, meeting_id, date_id)
    challenge = db.session.scalar(select(Challenge).where(
        Challenge.id == challenge_id, Challenge.circle_id == circle.id))
    if challenge is None:
        raise NotFound()
    item = _add(actor, circle, membership, occurrence, sheet, challenge)
    db.session.commit()
    return item


def bring_challenge(actor: User, slug: str, meeting_id: int, date_id: int, title: str,
                    situation: str, ask: str, follow_up_days: int = 28) -> Challenge:
    """Bring a new challenge from the meeting page: it opens in the circle
    (challenges.actions.open_challenge) and goes on the date's agenda, in one
    transaction. Its phases are moved by the session, so it has no timers.

    :raise NotFound: as access_run_sheet.
    :raise ActionError: as open_challenge, or the agenda is closed or full
        (then nothing is written).
    """
    def on_agenda(challenge):
        circle, membership, occurrence, sheet = access_run_sheet(actor, slug, meeting_id, date_id,
                                                                 for_update=True)
        _add(actor, circle, membership, occurrence, sheet, challenge)

    # Asked first (read only), so a closed agenda refuses before a word is written.
    _, _, occurrence, sheet = access_run_sheet(actor, slug, meeting_id, date_id)
    _open_for_edits(occurrence, sheet)
    return challenges.open_challenge(actor, slug, title, situation, ask,
                                     follow_up_days=follow_up_days, then=on_agenda)


def _item(sheet: RunSheet | None, item_id: int) -> AgendaItem:
    item = None if sheet is None else db.session.scalar(select(AgendaItem).where(
        AgendaItem.id == item_id, AgendaItem.run_sheet_id == sheet.id))
    if item is None:
        raise NotFound()
    return item


def take_off_agenda(actor: User, slug: str, meeting_id: int, date_id: int, item_id: int) -> None:
    """Take a challenge off the date's agenda (the challenge itself stays).

    :raise NotFound: as access_run_sheet, or no such item on this agenda.
    :raise Forbidden: neither its presenter nor a facilitator.
    :raise ActionError: the agenda is closed, or the session is on that challenge now.
    """
    circle, membership, occurrence, sheet = _writable(actor, slug, meeting_id, date_id)
    item = _item(sheet, item_id)
    presenter_id = db.session.scalar(select(Challenge.presenter_id).where(
        Challenge.id == item.challenge_id))
    require(can_take_off_agenda(membership, occurrence.meeting, sheet, presenter_id),
            "Only its presenter and the session's facilitator can take a challenge off.")
    _open_for_edits(occurrence, sheet)
    if sheet.status in ("running", "paused") and sheet.step_item_id == item.id:
        raise ActionError("The session is on that challenge now: move on first.")
    db.session.delete(item)
    _changed(circle, occurrence, sheet)
    db.session.commit()


def move_on_agenda(actor: User, slug: str, meeting_id: int, date_id: int, item_id: int,
                   direction: str) -> None:
    """Move a challenge one place up or down the agenda.

    :raise NotFound: as access_run_sheet, or no such item on this agenda.
    :raise Forbidden: the actor doesn't facilitate.
    :raise ActionError: not "up" or "down"; the agenda is closed.
    """
    if direction not in ("up", "down"):
        raise ActionError("Move it up or down.", field="direction")
    circle, membership, occurrence, sheet = _writable(actor, slug, meeting_id, date_id)
    item = _item(sheet, item_id)
    require(can_facilitate(membership, occurrence.meeting, sheet), FACILITATORS_ONLY)
    _open_for_edits(occurrence, sheet)
    order = list(db.session.scalars(select(AgendaItem).where(AgendaItem.run_sheet_id == sheet.id)
                                    .order_by(AgendaItem.position, AgendaItem.id)))
    at = order.index(item)
    to = at - 1 if direction == "up" else at + 1
    if 0 <= to < len(order):
        order[at], order[to] = order[to], order[at]
        for position, row in enumerate(order, start=1):
            row.position = position
        _changed(circle, occurrence, sheet)
    db.session.commit()


def _minutes(value, low: int, high: int, label: str, field: str) -> int:
    try:
        minutes = int(str(value).strip())
    except ValueError:
        raise ActionError(f"{label}: give whole minutes.", field=field) from None
    if not low <= minutes <= high:
        raise ActionError(f"{label}: between {low} and {high} minutes.", field=field)
    return minutes


def set_minutes(actor: User, slug: str, meeting_id: int, date_id: int, check_in, check_out,
                parts: dict[int, dict[str, object]]) -> None:
    """Set the minutes of check-in and check-out (0 leaves it out) and of each
    challenge's parts ({item id: {"questions": n, "ideas": n, "reflection": n}};
    items not named keep theirs). Nothing is stored unless every value is good.

    :raise NotFound: as access_run_sheet, or an item not on this agenda.
    :raise Forbidden: the actor doesn't facilitate.
    :raise ActionError: a value that isn't whole minutes within bounds; the agenda is closed.
    """
    values = {"check_in": _minutes(check_in, *ROUND_MINUTES, "Check-in", "check_in"),
              "check_out": _minutes(check_out, *ROUND_MINUTES, "Check-out", "check_out")}
    wanted = {item_id: {part: _minutes(given.get(part), *PART_MINUTES, part.title(),
                                       f"{part}-{item_id}") for part in PARTS}
              for item_id, given in parts.items()}
    circle, membership, occurrence, sheet = _writable(actor, slug, meeting_id, date_id)
    require(can_facilitate(membership, occurrence.meeting, sheet), FACILITATORS_ONLY)
    _open_for_edits(occurrence, sheet)
    sheet = _sheet(circle, occurrence, sheet)
    for item_id, minutes in wanted.items():
        item = _item(sheet, item_id)
        for part, value in minutes.items():
            setattr(item, f"{part}_minutes", value)
    sheet.check_in_minutes, sheet.check_out_minutes = values["check_in"], values["check_out"]
    if sheet.step_kind in ("check_in", "check_out") and not values[sheet.step_kind] \
            and sheet.status in ("running", "paused"):
        raise ActionError("The session is on that round now: move on before leaving it out.",
                          field=sheet.step_kind)
    _changed(circle, occurrence, sheet)
    db.session.commit()


def hand_over(actor: User, slug: str, meeting_id: int, date_id: int, user_id: int) -> None:
    """Hand facilitation of the date to another active member (or back to the organiser).

    :raise NotFound: as access_run_sheet.
    :raise Forbidden: the actor doesn't facilitate.
    :raise ActionError: that person isn't an active member of the circle.
    """
    circle, membership, occurrence, sheet = _writable(actor, slug, meeting_id, date_id)
    meeting = occurrence.meeting
    require(can_facilitate(membership, meeting, sheet), FACILITATORS_ONLY)
    _open_for_edits(occurrence, sheet)
    if not is_active_member(circle.id, user_id):
        raise ActionError("Choose a member of the circle.", field="user_id")
    sheet = _sheet(circle, occurrence, sheet)
    sheet.facilitator_id = None if user_id == meeting.organiser_id else user_id
    _changed(circle, occurrence, sheet)
    db.session.commit()


# --- The session, live ----------------------------------------------------------------

def step_run_sheet(actor: User, slug: str, meeting_id: int, date_id: int, command: str,
                   version) -> RunSheet:
    """Start, step on or back, pause, resume, or add a minute to the step.

    `version` is the run sheet's version the facilitator's page showed: if it
    has changed since (a double click, a second facilitator), nothing is done.
    Entering a challenge's Ideas or Reflection moves the challenge there if it
    is behind (challenges.actions.advance_for_session).

    :raise NotFound: as access_run_sheet.
    :raise Forbidden: the actor doesn't facilitate.
    :raise Conflict: the run sheet changed since `version` (code "stale").
    :raise ActionError: not a command, or not one that applies now (start a
        running session, step back from the first step...); the date is cancelled.
    """
    if command not in COMMANDS:
        raise ActionError("Start, next, back, pause, resume or add a minute.", field="command")
    if not isinstance(version, int) or isinstance(version, bool):
        try:
            version = int(str(version).strip())
        except ValueError:
            raise ActionError("Reload the page: the run sheet's version is missing.",
                              field="version") from None
    circle, membership, occurrence, sheet = _writable(actor, slug, meeting_id, date_id)
    require(can_facilitate(membership, occurrence.meeting, sheet), FACILITATORS_ONLY)
    if occurrence.is_cancelled:
        raise ActionError(agenda_closed(occurrence, None), code="gone")
    if version != (sheet.version if sheet is not None else 0):
        raise Conflict("The run sheet has changed since your page showed it: here it is now.",
                       code="stale")
    sheet = _sheet(circle, occurrence, sheet)
    now = utcnow()
    steps = steps_of(sheet, items_of(sheet, now))
    index = current_index(sheet, steps)
    status = sheet.status if index is not None or sheet.status == "finished" else "ready"
    target = _apply(sheet, command, status, index, len(steps), now)
    if target is not None:
        step = steps[target]
        sheet.step_kind, sheet.step_item_id = step.kind, step.item.id if step.item else None
        sheet.step_started_at, sheet.paused_at, sheet.extra_minutes = now, None, 0
        sheet.status = "running"
        if step.item is not None:
            challenges.advance_for_session(actor, slug, step.item.challenge_id, step.kind)
    _changed(circle, occurrence, sheet)
    db.session.commit()
    return sheet


def _apply(sheet: RunSheet, command: str, status: str, index: int | None, count: int, now):
    """Change the clock for command; returns the index of a step to enter, or None."""
    if command == "start":
        if status != "ready":
            raise ActionError("The session has already started.")
        if not count:
            raise ActionError("There is nothing on the run sheet: add a challenge, or give "
                              "check-in some minutes.")
        return 0
    if command == "back" and status == "finished":
        return count - 1 if count else _refuse("There is nothing on the run sheet.")
    if status not in ("running", "paused"):
        _refuse("Start the session first." if status == "ready" else "The session is over.")
    if command == "next":
        if index + 1 < count:
            return index + 1
        sheet.status, sheet.step_kind, sheet.step_item_id = "finished", None, None
        sheet.step_started_at = sheet.paused_at = None
        return None
    if command == "back":
        return index - 1 if index > 0 else _refuse("This is the first step.")
    if command == "pause":
        if status == "paused":
            _refuse("The clock is already paused.")
        sheet.status, sheet.paused_at = "paused", now
    elif command == "resume":
        if status != "paused":
            _refuse("The clock is running.")
        sheet.step_started_at += now - sheet.paused_at
        sheet.status, sheet.paused_at = "running", None
    elif command == "add_minute":
        if sheet.extra_minutes >= MAX_EXTRA:
            _refuse(f"At most {MAX_EXTRA} extra minutes on one step.")
        sheet.extra_minutes += 1
    return None


def _refuse(message: str):
    raise ActionError(message)
