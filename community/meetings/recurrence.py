"""Series of dates: RRULEs built from form choices, expanded in local wall time.

Users never type an RRULE: the actions pass structured choices here and get
back a canonical rule (FREQ, INTERVAL, BYDAY, then COUNT or UNTIL), so nothing
a user sends can add a property or a line to a calendar.

Expansion runs on the meeting's wall clock: dateutil adds days and months to
an aware local start, so "19:00 Europe/London" stays 19:00 in London across the
clock changes and its UTC instant moves by an hour, exactly as calendar clients
read the same RRULE with a TZID.
"""
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from .models import MAX_OCCURRENCES

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
REPEATS = ("none", "weekly", "monthly")


def week_of_month(day: date) -> int:
    """1-4 for the first to fourth such weekday of its month, 5 for a fifth."""
    return (day.day - 1) // 7 + 1


def is_last_of_month(day: date) -> bool:
    return (day + timedelta(days=7)).month != day.month


def build_rrule(repeat: str, start_local: datetime, *, interval: int = 1,
                month_week: int | None = None, count: int | None = None,
                until_utc: datetime | None = None) -> str | None:
    """The canonical RRULE for validated choices, or None for a one-off."""
    if repeat == "none":
        return None
    parts = [f"FREQ={'WEEKLY' if repeat == 'weekly' else 'MONTHLY'}", f"INTERVAL={interval}"]
    day = WEEKDAYS[start_local.weekday()]
    parts.append(f"BYDAY={day}" if repeat == "weekly" else f"BYDAY={month_week}{day}")
    if count is not None:
        parts.append(f"COUNT={count}")
    else:
        parts.append("UNTIL=" + until_utc.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ"))
    return ";".join(parts)


def parse_rrule(rule: str | None) -> dict:
    """Our own canonical rule as a dict (the inverse of build_rrule)."""
    if not rule:
        return {"repeat": "none"}
    fields = dict(part.split("=", 1) for part in rule.split(";"))
    byday = fields["BYDAY"]
    out = {"repeat": "weekly" if fields["FREQ"] == "WEEKLY" else "monthly",
           "interval": int(fields.get("INTERVAL", "1")), "weekday": WEEKDAYS.index(byday[-2:]),
           "month_week": int(byday[:-2]) if byday[:-2] else None,
           "count": int(fields["COUNT"]) if "COUNT" in fields else None, "until": None}
    if "UNTIL" in fields:
        out["until"] = datetime.strptime(fields["UNTIL"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return out


def until_end_of_day(until: date, zone: ZoneInfo) -> datetime:
    """The last moment of a local date, in UTC (RRULE UNTIL with a TZID start is UTC)."""
    return datetime.combine(until, time(23, 59, 59), tzinfo=zone).astimezone(UTC)


def expand(start_utc: datetime, zone_name: str, rule: str | None,
           limit: int = MAX_OCCURRENCES + 1) -> list[datetime]:
    """Every start of the schedule, in UTC, computed on the local wall clock.

    At most `limit` dates, so a caller can tell "too many" from "exactly the cap".
    """
    zone = ZoneInfo(zone_name)
    start_local = start_utc.astimezone(zone)
    if not rule:
        return [start_utc]
    starts = []
    for moment in rrulestr(rule, dtstart=start_local):
        # dateutil builds each date with the start's wall time and tzinfo, so
        # the UTC offset is the one in force on that date.
        starts.append(moment.astimezone(UTC))
        if len(starts) >= limit:
            break
    return starts


def describe(rule: str | None, zone_name: str) -> str:
    """"Every 2 weeks on Tuesday, 10 times" / "Monthly on the first Tuesday, until 3 Mar 2026"."""
    info = parse_rrule(rule)
    if info["repeat"] == "none":
        return "Once"
    weekday = WEEKDAY_NAMES[info["weekday"]]
    n = info["interval"]
    if info["repeat"] == "weekly":
        text = f"Weekly on {weekday}" if n == 1 else f"Every {n} weeks on {weekday}"
    else:
        on = f"the {ORDINALS[info['month_week']]} {weekday}"
        text = f"Monthly on {on}" if n == 1 else f"Every {n} months on {on}"
    if info["count"]:
        return f"{text}, {info['count']} times"
    until = info["until"].astimezone(ZoneInfo(zone_name))
    return f"{text}, until {until.day} {until:%b %Y}"
