"""Checking what people type about meetings: times, zones, numbers, links.

Every function takes the raw value (a form string, or a Python value from a
test or the demo) and returns a clean value or raises ActionError with a
message a person can act on, tied to the form field.
"""
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from ..errors import ActionError
from ..text import clean_text
from ..timeutil import is_timezone, utcnow
from .models import MAX_OCCURRENCES
from .recurrence import (
    ORDINALS,
    REPEATS,
    WEEKDAY_NAMES,
    build_rrule,
    expand,
    is_last_of_month,
    until_end_of_day,
    week_of_month,
)

LOCAL_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")
MAX_DURATION = timedelta(days=7)
MAX_AHEAD = timedelta(days=5 * 366)
MAX_CAPACITY = 1000


def single_line(value, *, field: str, label: str, max_len: int, required: bool = False) -> str:
    """One line of text. A line break is refused rather than folded away, so
    nobody can believe they wrote two lines into a title or a calendar."""
    if isinstance(value, str) and ("\r" in value or "\n" in value):
        raise ActionError(f"{label} must be a single line.", field=field)
    return clean_text(value, field=field, label=label, max_len=max_len, required=required)


def zone_name(value, default: str) -> str:
    name = value or default
    if not isinstance(name, str) or len(name) > 64 or not is_timezone(name):
        raise ActionError("Choose a timezone from the list.", field="timezone")
    return name


def local_datetime(value, *, field: str, label: str) -> datetime:
    """A wall-clock time as typed (no zone), from a string or a naive datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            raise ActionError(f"{label} must be a local time.", field=field)
        moment = value
    elif isinstance(value, str) and value.strip():
        moment = None
        text = value.strip()
        if len(text) <= 25:
            for fmt in LOCAL_FORMATS:
                try:
                    moment = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if moment is None:
            raise ActionError(f"{label} isn't a date and time we understand. "
                              "Use the picker, or write it as 2025-03-04 19:00.", field=field)
    else:
        raise ActionError(f"Enter {label.lower()}.", field=field)
    if not 2000 <= moment.year <= 2100:
        raise ActionError(f"{label} must be a date between 2000 and 2100.", field=field)
    return moment.replace(second=0, microsecond=0)


def local_date(value, *, field: str, label: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        day = value
    elif isinstance(value, str) and len(value.strip()) <= 12:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            day = None
    else:
        day = None
    if day is None:
        raise ActionError(f"{label} isn't a date we understand. Write it as 2025-12-31.",
                          field=field)
    if not 2000 <= day.year <= 2100:
        raise ActionError(f"{label} must be a date between 2000 and 2100.", field=field)
    return day


def to_utc(local: datetime, zone: ZoneInfo, *, field: str, label: str) -> datetime:
    """A wall-clock time in a zone, as a UTC instant. A time the clocks skip is refused."""
    aware = local.replace(tzinfo=zone)
    moment = aware.astimezone(UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != local:
        raise ActionError(f"{label} doesn't exist in {zone.key}: the clocks go forward "
                          "then. Choose a time an hour later.", field=field)
    return moment


def integer(value, *, field: str, label: str, low: int, high: int,
            optional: bool = False) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise ActionError(f"Enter {label.lower()}.", field=field)
    if isinstance(value, bool):
        value = None
    elif isinstance(value, str):
        text = value.strip()
        value = int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else None
    elif not isinstance(value, int):
        value = None
    if value is None or not low <= value <= high:
        raise ActionError(f"{label} must be a whole number from {low:,} to {high:,}.", field=field)
    return value


def capacity(value) -> int | None:
    """None for no limit, else 1..MAX_CAPACITY seats."""
    return integer(value, field="capacity", label="The number of places", low=1,
                   high=MAX_CAPACITY, optional=True)


def link(value) -> str:
    """An http(s) link to an online meeting, or empty."""
    text = single_line(value, field="online_link", label="The online link", max_len=500)
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
        raise ActionError("The online link must be a web address starting with https://.",
                          field="online_link")
    return text


@dataclass(frozen=True)
class Schedule:
    """A cleaned schedule: the first date (UTC), its zone, and every start."""

    starts_at: datetime
    ends_at: datetime
    timezone: str
    rrule: str | None
    starts: list[datetime]

    @property
    def duration(self) -> timedelta:
        return self.ends_at - self.starts_at


def duration(value) -> timedelta:
    minutes = integer(value, field="duration", label="The length in minutes", low=5,
                      high=int(MAX_DURATION.total_seconds() // 60))
    return timedelta(minutes=minutes)


def times(fields: dict, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """(start, end) in UTC from a local start and a local end or a duration."""
    start = to_utc(local_datetime(fields.get("start"), field="start", label="The start"), zone,
                   field="start", label="The start")
    if fields.get("end") not in (None, ""):
        end = to_utc(local_datetime(fields.get("end"), field="end", label="The end"), zone,
                     field="end", label="The end")
    elif fields.get("duration") not in (None, ""):
        end = start + duration(fields.get("duration"))
    else:
        raise ActionError("Give an end time or how long it lasts.", field="end")
    if end <= start:
        raise ActionError("The end must be after the start.", field="end")
    if end - start > MAX_DURATION:
        raise ActionError("A meeting can last at most 7 days.", field="end")
    return start, end


def schedule(fields: dict, default_zone: str) -> Schedule:
    """Clean start, end or duration, timezone and repetition into a Schedule."""
    name = zone_name(fields.get("timezone"), default_zone)
    zone = ZoneInfo(name)
    start, end = times(fields, zone)
    if start > utcnow() + MAX_AHEAD:
        raise ActionError("A meeting can be planned at most five years ahead.", field="start")
    repeat = fields.get("repeat") or "none"
    if repeat not in REPEATS:
        raise ActionError("Choose how the meeting repeats from the list.", field="repeat")
    if repeat == "none":
        return Schedule(start, end, name, None, [start])
    local = start.astimezone(zone)
    interval = integer(fields.get("interval") or 1, field="interval", label="The gap between dates",
                       low=1, high=52 if repeat == "weekly" else 12)
    month_week = None
    if repeat == "monthly":
        month_week = _month_week(fields.get("month_week"), local.date())
    count = integer(fields.get("count"), field="count", label="The number of dates", low=2,
                    high=MAX_OCCURRENCES, optional=True)
    until = local_date(fields.get("until"), field="until", label="The last date")
    if count is None and until is None:
        raise ActionError("Say when the series ends: after a number of dates, or on a date.",
                          field="count")
    if count is not None and until is not None:
        raise ActionError("Choose a number of dates or a last date, not both.", field="until")
    until_utc = None
    if until is not None:
        if until < local.date():
            raise ActionError("The last date can't be before the first.", field="until")
        until_utc = until_end_of_day(until, zone)
    rule = build_rrule(repeat, local, interval=interval, month_week=month_week, count=count,
                       until_utc=until_utc)
    starts = expand(start, name, rule)
    if len(starts) > MAX_OCCURRENCES:
        raise ActionError(f"That makes more than {MAX_OCCURRENCES} dates; end the series sooner.",
                          field="until")
    if starts[-1] > start + MAX_AHEAD:
        raise ActionError("A series can run for at most five years; end it sooner.",
                          field="count" if count is not None else "until")
    if len(starts) < 2:
        raise ActionError("With that last date the series has only one date. "
                          "Choose a later last date, or make it a one-off.", field="until")
    return Schedule(start, end, name, rule, starts)


def _month_week(value, first: date) -> int:
    """Which weekday of the month a monthly series falls on; the first date must be one."""
    weekday = WEEKDAY_NAMES[first.weekday()]
    if value in (None, ""):
        n = week_of_month(first)
        return n if n <= 4 else -1
    if value in (-1, "-1", "last"):
        if not is_last_of_month(first):
            raise ActionError(f"The first date isn't the last {weekday} of its month. "
                              "Move the start, or choose another week.", field="month_week")
        return -1
    n = integer(value, field="month_week", label="The week of the month", low=1, high=4)
    if week_of_month(first) != n:
        raise ActionError(f"The first date isn't the {ORDINALS[n]} {weekday} of its month. "
                          "Move the start, or choose another week.", field="month_week")
    return n
