"""The orphan sweep on a schedule: every FILE_SWEEP_INTERVAL seconds in each
serving process, as meeting reminders and the mail worker run.

Each pass deletes the files uploaded over a day ago and never attached (and
their unused bytes) in one write transaction, so two processes sweeping at
once take turns; the later one finds nothing left. `flask sweep-files` runs
one pass by hand.
"""
import logging

from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db, socketio
from .actions import sweep_orphans

log = logging.getLogger(__name__)

START_DELAY = 30  # seconds: let the server start listening, and reminders go first


def run_forever(app) -> None:
    """Sweep orphan uploads every FILE_SWEEP_INTERVAL seconds, for as long as
    the server runs. Errors are logged and the loop carries on."""
    socketio.sleep(START_DELAY)
    while True:
        with app.app_context():
            try:
                count = sweep_orphans()
                if count:
                    log.info("Deleted %d unattached file(s)", count)
            except SQLAlchemyError as exc:
                db.session.rollback()
                # One line: a database not yet migrated would repeat a traceback each pass.
                log.error("File sweep failed: %s", str(exc).splitlines()[0])
            except Exception:  # noqa: BLE001 - logged, and the loop must survive
                db.session.rollback()
                log.exception("File sweep failed")
            finally:
                db.session.remove()
        socketio.sleep(app.config["FILE_SWEEP_INTERVAL"])


def start_sweep_loop(app) -> None:
    """Start run_forever as a background task of the Socket.IO server (gevent)."""
    socketio.start_background_task(run_forever, app)
