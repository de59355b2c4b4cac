"""The orphan sweep on a schedule: every FILE_SWEEP_INTERVAL seconds in each
serving process, as meeting reminders and the mail worker run.

Each pass deletes the files uploaded over a day ago and never attached (and
their unused bytes) in one write transaction, so two processes sweeping at
once take turns; the later one finds nothing left. `flask sweep-files` runs
one pass by hand.
"""
import logging

from ..background import repeat
from ..extensions import socketio
from .actions import sweep_orphans

log = logging.getLogger(__name__)

START_DELAY = 30  # seconds: let the server start listening, and reminders go first


def run_forever(app) -> None:
    """Sweep orphan uploads every FILE_SWEEP_INTERVAL seconds, for as long as the server runs."""
    repeat(app, lambda: sweep_orphans(), first_delay=START_DELAY,
           interval=lambda: app.config["FILE_SWEEP_INTERVAL"], log=log,
           done="Deleted %d unattached file(s)", failed="File sweep failed")


def start_sweep_loop(app) -> None:
    """Start run_forever as a background task of the Socket.IO server (gevent)."""
    socketio.start_background_task(run_forever, app)
