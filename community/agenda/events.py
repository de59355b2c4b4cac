"""Socket.IO handlers for run sheets, on chat's /chat namespace and behind its
wrapper (chat.events.chat_event: errors, rollback, the error codes):

- `join_run_sheet` {circle, meeting, date} joins the date's room (after the
  policy lets the person read the circle; a non-member gets `not_found`, as
  for a date that doesn't exist) and answers {ok, run_sheet}.
- `step_run_sheet` {circle, meeting, date, command, version}: command is
  start | next | back | pause | resume | add_minute, version the run sheet's
  version the page showed. Answers {ok, run_sheet}; refused: forbidden (not
  the facilitator), stale (it changed since: join again to see it now),
  invalid, gone (the date is cancelled).
- The server sends `run_sheet_changed` (the run_sheet payload,
  agenda.present.run_sheet_state) to the date's room after every change,
  from a socket or a form.
"""
from flask import current_app, request
from flask_socketio import join_room

from ..chat.events import EDIT_LIMIT, MAX_ID, READ_WINDOW, chat_event, throttled
from ..chat.live import state
from ..database import fresh_read
from ..errors import ActionError
from ..policy import access_run_sheet
from ..timeutil import utcnow
from . import actions
from .live import run_sheet_room
from .present import items_of, run_sheet_state


def _where(data: dict) -> tuple[str, int, int]:
    slug = data.get("circle")
    if not isinstance(slug, str) or not slug or len(slug) > 80:
        raise ActionError("`circle` must be the circle's slug.", code="invalid", field="circle")
    ids = []
    for key in ("meeting", "date"):
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ID:
            raise ActionError(f"`{key}` must be the {key}'s id (a whole number).", code="invalid",
                              field=key)
        ids.append(value)
    return slug, ids[0], ids[1]


def _state(user, slug: str, meeting_id: int, date_id: int) -> dict:
    _, _, occurrence, sheet = access_run_sheet(user, slug, meeting_id, date_id)
    now = utcnow()
    return run_sheet_state(slug, meeting_id, occurrence.id, sheet, items_of(sheet, now), now)


@chat_event("join_run_sheet")
def on_join_run_sheet(user, data):
    """Hear a meeting date's run sheet live; answers it as it is now."""
    slug, meeting_id, date_id = _where(data)
    throttled(("read", user.id), current_app.config["CHAT_READ_LIMIT"], READ_WINDOW)
    circle, _, occurrence, _ = access_run_sheet(user, slug, meeting_id, date_id)  # 404 before any room
    room = run_sheet_room(occurrence.id)
    join_room(room)
    state().registry.join_circle_room(request.sid, room, circle.id)
    # Read again after joining: a change committed in between is in the answer
    # or arrives (clients keep the highest version); a removal meanwhile refuses.
    fresh_read()
    return {"run_sheet": _state(user, slug, meeting_id, date_id)}


@chat_event("step_run_sheet")
def on_step_run_sheet(user, data):
    """The facilitator steps the session (agenda.actions.step_run_sheet)."""
    slug, meeting_id, date_id = _where(data)
    command, version = data.get("command"), data.get("version")
    if not isinstance(command, str) or len(command) > 20:
        raise ActionError("`command` must be start, next, back, pause, resume or add_minute.",
                          code="invalid", field="command")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= MAX_ID:
        raise ActionError("`version` must be the run sheet's version (a whole number).",
                          code="invalid", field="version")
    throttled(("edit", user.id), *EDIT_LIMIT)
    actions.step_run_sheet(user, slug, meeting_id, date_id, command, version)
    return {"run_sheet": _state(user, slug, meeting_id, date_id)}
