"""Helpers for the meetings tests: times relative to today, a movable clock,
meetings built through the actions, both database engines, and ical.js."""
import json
import os
import re
import shutil
import subprocess
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from community.errors import ActionError, Forbidden, NotFound
from community.extensions import db
from community.meetings.actions import scheduling
from community.meetings.models import MeetingOccurrence
from community.notifications.models import Notification
from community.timeutil import utcnow
from tests.conftest import IN_CI
from tests.racing import race  # noqa: F401  (for the meetings tests)

LONDON = ZoneInfo("Europe/London")
PARSE_ICS = Path(__file__).with_name("parse_ics.js")
DOMAIN_ERRORS = (ActionError, Forbidden, NotFound)


def day(days_ahead: int) -> date:
    """A date this many days from today, London time."""
    return utcnow().astimezone(LONDON).date() + timedelta(days=days_ahead)


def at(on: date, hour: int = 19, minute: int = 0) -> str:
    """A local wall time as the meeting form sends it."""
    return datetime.combine(on, time(hour, minute)).strftime("%Y-%m-%dT%H:%M")


def weekday_on_or_after(on: date, weekday: int) -> date:
    return on + timedelta(days=(weekday - on.weekday()) % 7)


def meeting_fields(**overrides) -> dict:
    """A valid one-off meeting ten days ahead, 19:00-21:00 London."""
    fields = {"title": "Monthly meetup", "description": "We talk.", "start": at(day(10)),
              "duration": 120, "timezone": "Europe/London", "location": "Reading"}
    fields.update(overrides)
    return fields


def page_body(response) -> bytes:
    """A page without the session's CSRF token, which carries a timestamp: two
    requests a second apart differ there, whatever else the page says."""
    return re.sub(rb'name="csrf_token" value="[^"]*"', b"", response.get_data())


def schedule(actor, circle, **overrides):
    return scheduling.schedule_meeting(actor, circle.slug, **meeting_fields(**overrides))


def dates_of(meeting) -> list[MeetingOccurrence]:
    return list(db.session.scalars(select(MeetingOccurrence).where(
        MeetingOccurrence.meeting_id == meeting.id).order_by(MeetingOccurrence.original_start)))


def kinds_for(user) -> list[str]:
    return list(db.session.scalars(select(Notification.kind).where(
        Notification.user_id == user.id).order_by(Notification.id)))


def notes_for(user, kind: str | None = None) -> list[Notification]:
    query = select(Notification).where(Notification.user_id == user.id)
    if kind:
        query = query.where(Notification.kind == kind)
    return list(db.session.scalars(query.order_by(Notification.id)))


@pytest.fixture
def clock(monkeypatch):
    """clock(moment) makes the meetings code believe it is that (aware) moment."""
    import community.meetings.inputs as inputs_module
    import community.meetings.page as page_module
    import community.meetings.reminders as reminders_module
    import community.meetings.views as views_module
    import community.timeutil as timeutil_module
    from community.meetings.actions import polls, rsvps, scheduling, visits

    def set_now(moment: datetime):
        for module in (scheduling, rsvps, polls, visits, inputs_module, reminders_module,
                       views_module, page_module, timeutil_module):
            monkeypatch.setattr(module, "utcnow", lambda: moment)
        return moment

    return set_now


# --- Both engines, and racing actions ----------------------------------------------------

# --- ical.js --------------------------------------------------------------------------------

def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        if IN_CI:
            pytest.fail("node must be installed in CI: every .ics must parse with ical.js")
        pytest.skip("node is not installed; the ical.js checks run in CI")
    return node


def parse_with_icaljs(ics: bytes | str) -> dict:
    """The calendar as Mozilla's ical.js reads it (see parse_ics.js)."""
    if isinstance(ics, str):
        ics = ics.encode()
    result = subprocess.run([node_binary(), str(PARSE_ICS)], input=ics, capture_output=True,
                            timeout=60, env={**os.environ, "TZ": "UTC"})
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_text(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M:%S")
