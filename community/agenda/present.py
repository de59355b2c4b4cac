"""What the meeting page and the sockets show of a date's run sheet.

`run_sheet_state` is one plain dict (JSON as it stands): the socket payload,
and what the page's card is drawn from, so the two can't disagree. The page
reads the date's run sheet with the meeting (meetings.queries.opened_meeting)
and costs one statement more once the date has one (items_of), whatever the
agenda holds; the open challenges to pick from (open_challenges) are read by
the page that picks them, not this one.
"""
from datetime import datetime

from sqlalchemy import select

from ..accounts.models import User
from ..challenges.models import Challenge
from ..challenges.phases import effective_phase
from ..extensions import db
from ..policy import can_facilitate, facilitator_id, is_presenter
from ..threads.models import Thread
from ..urls import path_for
from .models import AgendaItem, RunSheet
from .steps import (
    GUIDANCE,
    Item,
    clock_text,
    current_index,
    duration,
    elapsed,
    layout_key,
    planned_starts,
    steps_of,
)

FORMER = "A former member"


def items_of(sheet: RunSheet | None, now: datetime) -> list[Item]:
    """The agenda's challenges in order, with their titles, presenters and phases now."""
    if sheet is None:
        return []
    rows = db.session.execute(
        select(AgendaItem, Challenge, Thread.title, User.display_name)
        .join(Challenge, Challenge.id == AgendaItem.challenge_id)
        .join(Thread, Thread.id == Challenge.thread_id)
        .outerjoin(User, User.id == Challenge.presenter_id)
        .where(AgendaItem.run_sheet_id == sheet.id)
        .order_by(AgendaItem.position, AgendaItem.id))
    return [Item(item.id, challenge.id, challenge.thread_id, title, challenge.presenter_id,
                 name or FORMER, effective_phase(challenge, now).name, item.questions_minutes,
                 item.ideas_minutes, item.reflection_minutes)
            for item, challenge, title, name in rows]


def open_challenges(circle_id: int, on_agenda: set[int], presenter_id: int | None = None):
    """The circle's challenges not yet reflected on (newest first) and not on this
    agenda; only the presenter's own when presenter_id is given."""
    query = (select(Challenge.id, Thread.title, User.display_name)
             .join(Thread, Thread.id == Challenge.thread_id)
             .outerjoin(User, User.id == Challenge.presenter_id)
             .where(Challenge.circle_id == circle_id,
                    Challenge.phase.in_(("questions", "ideas", "reflection")))
             .order_by(Challenge.created_at.desc(), Challenge.id.desc()).limit(100))
    if presenter_id is not None:
        query = query.where(Challenge.presenter_id == presenter_id)
    return [row for row in db.session.execute(query) if row.id not in on_agenda]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def _announcement(status: str, step, minutes: int | None) -> str:
    """What the page's polite live region says when the step or status changes."""
    if status == "ready":
        return "The run sheet hasn't started."
    if status == "finished":
        return "The session is over: the run sheet is finished."
    what = step.label + (f": “{step.item.title}”, presented by {step.item.presenter}"
                         if step.item else "")
    text = f"Now {what}. {minutes} minute{'s' if minutes != 1 else ''}."
    return text + (" Paused." if status == "paused" else "")


def run_sheet_state(slug: str, meeting_id: int, occurrence_id: int, sheet: RunSheet | None,
                    items: list[Item], now: datetime) -> dict:
    """The run sheet as everyone sees it now (the `run_sheet_changed` payload)."""
    steps = steps_of(sheet, items)
    index = current_index(sheet, steps)
    status = sheet.status if sheet is not None else "ready"
    if status in ("running", "paused") and index is None:
        status = "ready"  # its step went (an edit raced a step): start again
    step = steps[index] if index is not None else None
    seconds = duration(sheet, step).total_seconds() if step else None
    left = seconds - elapsed(sheet, now).total_seconds() if step else None
    return {
        "circle": slug, "meeting": meeting_id, "date": occurrence_id,
        "version": sheet.version if sheet is not None else 0,
        # A finished session's card offers no edits: finishing (or going back) redraws it.
        "status": status, "layout": layout_key(steps) + ("|over" if status == "finished" else ""),
        "step": index,
        "steps": [{"key": s.key, "kind": s.kind, "label": s.label, "minutes": s.minutes,
                   "title": s.item.title if s.item else None,
                   "presenter": s.item.presenter if s.item else None,
                   "url": path_for("challenges.show", slug=slug, challenge_id=s.item.challenge_id)
                   if s.item else None}
                  for s in steps],
        "guidance": GUIDANCE[step.kind] if step else None,
        "started_at": _iso(sheet.step_started_at) if step else None,
        "paused_at": _iso(sheet.paused_at) if step else None,
        "duration": int(seconds) if step else None,
        "clock": clock_text(left) if step else None,
        "server_time": _iso(now),
        "announce": _announcement(status, step, int(seconds // 60) if step else None),
    }


def agenda_card(circle, membership, meeting, occurrence, sheet: RunSheet | None,
                now: datetime) -> dict:
    """The meeting page's Agenda card: the state, the steps' planned times, and
    what the viewer may do with it."""
    items = items_of(sheet, now)
    state = run_sheet_state(circle.slug, meeting.id, occurrence.id, sheet, items, now)
    steps = steps_of(sheet, items)
    facilitates = can_facilitate(membership, meeting, sheet)
    lead_id = facilitator_id(meeting, sheet)
    lead = meeting.organiser if lead_id == meeting.organiser_id else db.session.get(User, lead_id)
    return {
        "state": state, "steps": steps, "challenges": items,
        "planned": planned_starts(occurrence.starts_at, steps),
        "facilitates": facilitates,
        "facilitator_id": lead_id, "facilitator": lead.display_name if lead else None,
        "own_items": {item.id for item in items if is_presenter(membership, item.presenter_id)},
        "sheet": sheet,
    }
