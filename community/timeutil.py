"""Time: stored in UTC, shown in the viewer's zone."""
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

DEFAULT_TIMEZONE = "Europe/London"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime in Python, a naive UTC timestamp in the database.

    SQLite keeps no zone, so every value is normalised on the way in and tagged
    UTC on the way out: the same behaviour on SQLite and PostgreSQL.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)

    def result_processor(self, dialect, coltype):
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite":
            return general

        def from_sqlite(value):
            # SQLite keeps the text SQLAlchemy wrote ("2026-11-30 01:08:10.552000"):
            # parsed with its zone in one call, a sixth of the generic path, whose
            # replace(tzinfo=) is most of it; a page has dozens (bench/findings.md, 24).
            if value is None:
                return None
            try:
                return datetime.fromisoformat(value + "+00:00")
            except (TypeError, ValueError):
                return general(value)

        return from_sqlite


_ZONES: list[str] | None = None
_ZONE_SET: frozenset[str] | None = None


def timezone_names() -> list[str]:
    """Every IANA zone name, sorted, for pickers."""
    global _ZONES
    if _ZONES is None:
        _ZONES = sorted(z for z in available_timezones() if "/" in z or z == "UTC")
    return _ZONES


def is_timezone(name) -> bool:
    """Whether name is one of the IANA zones we offer. Never raises (ZoneInfo
    itself does, with OSError, for a folder such as "Europe" or a long name)."""
    global _ZONE_SET
    if _ZONE_SET is None:
        _ZONE_SET = frozenset(timezone_names())
    return isinstance(name, str) and name in _ZONE_SET


def to_zone(moment: datetime, zone_name: str | None) -> datetime:
    try:
        zone = ZoneInfo(zone_name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(DEFAULT_TIMEZONE)
    return moment.astimezone(zone)
