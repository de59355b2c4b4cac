"""A meeting date's run sheet, live: a room per date on chat's /chat namespace.

Joined only through events.on_join_run_sheet after the policy lets the
person read the circle; recorded in chat's registry under the circle, so a
member cut off from the circle (left, removed, banned, a gate to pass) leaves
the run sheet's room with it (chat/live.py).
"""
from ..chat.live import NAMESPACE
from ..extensions import db, socketio
from ..timeutil import utcnow
from .models import RunSheet
from .present import items_of, run_sheet_state


def run_sheet_room(occurrence_id: int) -> str:
    return f"run_sheet:{occurrence_id}"


def broadcast_run_sheet(slug: str, meeting_id: int, occurrence_id: int, sheet_id: int) -> None:
    """Send the date's run sheet as it now is to everyone on its page, on every
    process (run after the commit that changed it: after_commit)."""
    sheet = db.session.get(RunSheet, sheet_id, populate_existing=True)
    now = utcnow()
    state = run_sheet_state(slug, meeting_id, occurrence_id, sheet, items_of(sheet, now), now)
    db.session.commit()  # end the read
    socketio.emit("run_sheet_changed", state, to=run_sheet_room(occurrence_id), namespace=NAMESPACE)
