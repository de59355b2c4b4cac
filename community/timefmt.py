"""One way of writing times, everywhere: in the viewer's zone, on the viewer's clock.

static/js/timefmt.js mirrors these rules exactly for the chat (tests/test_timefmt.py
runs both on one table of cases). Names of days and months are English on
purpose: the server's and the browser's locales never decide how a time reads.

- `relative`: what lists and posts show. Within the last week, "just now",
  "5 minutes ago", "today at 14:05", "yesterday at 14:05", "Tuesday at 9:30 pm";
  older, or in the future, a date with time.
- `date_time`: "3 Dec 2026, 14:05" (or "3 Dec 2026, 2:05 pm"): meetings, logs.
- `full`: "Thursday 3 December 2026, 14:05": the title of every <time>.
- `day`: "3 Dec 2026", for dates without a time.
"""
from datetime import datetime
from functools import lru_cache

from . import timeutil

CLOCKS = ("24", "12")
DEFAULT_CLOCK = "24"
# Languages whose people read a 12-hour clock; everyone else gets 24-hour.
TWELVE_HOUR_LANGUAGES = frozenset({"en-us", "en-ca", "en-au", "en-nz", "en-ph", "en-in"})

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def clock_for_language(tag: str | None) -> str:
    """The clock a browser's first language suggests: "12" for en-US and a few more."""
    return "12" if (tag or "").strip().lower().replace("_", "-") in TWELVE_HOUR_LANGUAGES else "24"


def is_clock(value) -> bool:
    return value in CLOCKS


@lru_cache(maxsize=8192)
def _local(moment: datetime, zone: str | None) -> datetime:
    # A page shows the same few hundred moments to everyone in a zone.
    return timeutil.to_zone(moment, zone)


def clock_time(local: datetime, clock: str) -> str:
    """A wall-clock time: "14:05", or "2:05 pm" on a 12-hour clock."""
    if clock == "12":
        return f"{local.hour % 12 or 12}:{local.minute:02d} {'am' if local.hour < 12 else 'pm'}"
    return f"{local.hour:02d}:{local.minute:02d}"


def _day(local: datetime) -> str:
    return f"{local.day} {MONTHS[local.month - 1][:3]} {local.year}"


def day(moment: datetime, zone: str | None) -> str:
    """ "3 Dec 2026" """
    return _day(_local(moment, zone))


@lru_cache(maxsize=8192)
def date_time(moment: datetime, zone: str | None, clock: str) -> str:
    """ "3 Dec 2026, 14:05" """
    local = _local(moment, zone)
    return f"{_day(local)}, {clock_time(local, clock)}"


@lru_cache(maxsize=8192)
def full(moment: datetime, zone: str | None, clock: str) -> str:
    """ "Thursday 3 December 2026, 14:05": every <time>'s title, so kept as
    date_time is (a thread page writes twenty: 3% of its time)."""
    local = _local(moment, zone)
    return (f"{DAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]} {local.year}, "
            f"{clock_time(local, clock)}")


def span(start: datetime, end: datetime, zone: str | None, clock: str) -> str:
    """ "3 Dec 2026, 14:05–15:30", or with both dates when it ends on another day."""
    first, last = _local(start, zone), _local(end, zone)
    if first.date() == last.date():
        return f"{date_time(start, zone, clock)}–{clock_time(last, clock)}"
    return f"{date_time(start, zone, clock)} – {date_time(end, zone, clock)}"


def titled(moment: datetime, zone: str | None, clock: str, now: datetime) -> tuple[str, str]:
    """(full, relative): a <time>'s title and words. A moment a week or more
    old reads as its date whatever the time now, so both are looked up at
    once (a thread page has twenty; bench/findings.md, 47)."""
    if (now - moment).total_seconds() >= OLD_SECONDS:
        return _titled_dated(moment, zone, clock)
    return full(moment, zone, clock), relative(moment, zone, clock, now)


@lru_cache(maxsize=8192)
def _titled_dated(moment: datetime, zone: str | None, clock: str) -> tuple[str, str]:
    return full(moment, zone, clock), date_time(moment, zone, clock)


# Surely a week or more ago in any zone: no need to find today there.
OLD_SECONDS = 8 * 86400


def relative(moment: datetime, zone: str | None, clock: str, now: datetime | None = None) -> str:
    """How long ago, within the last week; otherwise (or in the future) a date with time."""
    now = now or timeutil.utcnow()
    seconds = (now - moment).total_seconds()
    if seconds < -60:
        return date_time(moment, zone, clock)
    if seconds < 60:
        return "just now"  # or a few seconds ahead: clocks differ
    if seconds < 3600:
        n = int(seconds // 60)
        return f"{n} minute{'s' if n != 1 else ''} ago"
    if seconds >= OLD_SECONDS:
        return date_time(moment, zone, clock)
    local = _local(moment, zone)
    days = (timeutil.to_zone(now, zone).date() - local.date()).days
    at = clock_time(local, clock)
    if days == 0:
        return f"today at {at}"
    if days == 1:
        return f"yesterday at {at}"
    if days < 7:
        return f"{DAYS[local.weekday()]} at {at}"
    return date_time(moment, zone, clock)
