"""Reminders: an in-app notification to everyone going, 24 hours before each date.

Each reminder goes out once, however many processes run this at once: a run
claims the RSVP rows it will remind (FOR UPDATE SKIP LOCKED on PostgreSQL, so a
second process skips rows the first holds and, once it commits, sees them
marked; on SQLite begin_write's BEGIN IMMEDIATE makes runs take turns) and
marks each row in the same transaction as its notification. Running again finds
nothing more to send, so the command is safe to repeat.
"""
import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from ..background import repeat
from ..circles.models import Circle
from ..database import begin_write
from ..extensions import db, socketio
from ..notifications.actions import notify
from ..policy import may_read
from ..timeutil import utcnow
from .actions.notices import meeting_path, short, when
from .models import RSVP, Meeting, MeetingOccurrence

log = logging.getLogger(__name__)

LEAD = timedelta(hours=24)
BATCH = 200
INTERVAL_SECONDS = 60


def send_due_reminders(now: datetime | None = None) -> int:
    """Remind everyone going to a date that starts within 24 hours and hasn't begun.

    Returns how many reminders this call sent.
    """
    now = now or utcnow()
    sent = 0
    while True:
        begin_write()
        rows = db.session.execute(
            select(RSVP, MeetingOccurrence, Meeting, Circle)
            .join(MeetingOccurrence, MeetingOccurrence.id == RSVP.occurrence_id)
            .join(Meeting, Meeting.id == MeetingOccurrence.meeting_id)
            .join(Circle, Circle.id == MeetingOccurrence.circle_id)
            # Only those who may read the circle now (a member who left, or has yet
            # to accept a new pledge, is not reminded of what they can't see).
            .where(may_read(RSVP.user_id, MeetingOccurrence.circle_id),
                   RSVP.answer == "going", RSVP.reminded_at.is_(None),
                   MeetingOccurrence.starts_at > now,
                   MeetingOccurrence.starts_at <= now + LEAD,
                   MeetingOccurrence.cancelled_at.is_(None), Meeting.cancelled_at.is_(None))
            .order_by(RSVP.id).limit(BATCH)
            .with_for_update(of=RSVP, skip_locked=True)
            .execution_options(populate_existing=True)).all()
        for rsvp, occurrence, meeting, circle in rows:
            rsvp.reminded_at = now
            notify(rsvp.user_id, "meeting_reminder",
                   f"Reminder: {short(meeting.title)} is on "
                   f"{when(occurrence.starts_at, rsvp.user)} ({circle.name})",
                   meeting_path(circle, meeting, occurrence), circle_id=circle.id)
        db.session.commit()
        sent += len(rows)
        if len(rows) < BATCH:
            return sent


def run_forever(app) -> None:
    """Send due reminders every minute, for as long as the server runs."""
    repeat(app, lambda: send_due_reminders(), first_delay=5,  # the server listens first
           interval=lambda: INTERVAL_SECONDS, log=log,
           done="Sent %d meeting reminder(s)", failed="Meeting reminders failed")


def start_reminder_loop(app) -> None:
    """Start run_forever as a background task of the Socket.IO server (gevent)."""
    socketio.start_background_task(run_forever, app)
