"""The mail worker: one pass of everything email, as a command and as a loop."""
import logging

from flask import Flask

from ..extensions import db, socketio
from ..timeutil import utcnow
from .dispatch import dispatch_notifications, send_digests
from .mailer import send_due

log = logging.getLogger(__name__)


def run_once() -> dict:
    """Route new notifications, queue due digests, send what is due."""
    now = utcnow()
    routed = dispatch_notifications(now)
    digests = send_digests(now)
    sent = send_due(now)
    return {"routed": routed, "digests": digests, "sent": sent}


def loop(app: Flask, interval: float) -> None:
    """Run forever in the server process (a green thread under gevent)."""
    while True:
        with app.app_context():
            try:
                run_once()
            except Exception:  # noqa: BLE001 - the loop must outlive any one failure
                log.exception("mail worker pass failed; will try again")
                db.session.rollback()
            finally:
                db.session.remove()
        socketio.sleep(interval)


def start_mail_loop(app: Flask) -> None:
    """Run the mail worker every MAIL_WORKER_INTERVAL seconds in this process."""
    socketio.start_background_task(loop, app, app.config["MAIL_WORKER_INTERVAL"])
