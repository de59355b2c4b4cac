"""The meetings lists' entries (coming and past dates): each drawn once per
distinct look and kept (community/fast/fragments.py), its times slots written
in the viewer's zone and on their clock (bench/findings.md, 29).

An entry is keyed by `DateRow`, everything it shows; the times, shown the
viewer's way and on the meeting's own clock when that differs, are slots
("when" for the entry's date, "when_<n>" for its n-th folded date).
"""
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from markupsafe import Markup

from .. import timefmt
from ..fast.fragments import clean, kept_row, rendering_kept
from ..templating import moment_slot, moment_writer, viewer_times
from ..timeutil import DEFAULT_TIMEZONE, to_zone
from .queries import answers_of
from .recurrence import describe


class FoldedDate(NamedTuple):
    """One of a series' next dates, folded under its entry."""

    id: int
    starts_at: datetime
    ends_at: datetime
    cancelled: bool
    moved: bool
    mine: str | None  # the viewer's answer


class DateRow(NamedTuple):
    """An entry of a meetings list: its key."""

    slug: str
    meeting_id: int
    date_id: int
    title: str
    cancelled: bool  # this date, or its whole meeting
    moved: bool
    visit: bool  # hosted at a member's organisation
    is_series: bool
    series_entry: bool  # a series shown once, its next dates folded under it
    place: str  # "Reading", "Reading and online", "Online" or ""
    repeats: str | None  # how a series repeats
    coming: int | None  # dates of the series still to come (a series entry not cancelled)
    counts: tuple[int, int, int] | None  # going, waiting, maybe; None for a cancelled date
    capacity: int | None
    mine: str | None  # the viewer's answer
    folded: tuple[FoldedDate, ...]
    starts_at: datetime  # shown as slots, with the meeting's own zone:
    ends_at: datetime
    timezone: str


def place_text(meeting) -> str:
    """Where a meeting is (a Meeting, or a row with its location and online link)."""
    if meeting.location:
        return f"{meeting.location} and online" if meeting.online_link else meeting.location
    return "Online" if meeting.online_link else ""


def date_rows(dates) -> Markup:
    """The entries of the past meetings list (templates/meetings/_date_row.html):
    queries.past's rows, with their answers."""
    return date_rows_html(date_rows_of(dates))


def date_rows_of(dates, folded: dict | None = None, coming: dict | None = None) -> tuple[DateRow, ...]:
    """What each entry of a meetings list shows: its key. The dates are
    queries.upcoming's or queries.past's rows; on the coming list, `folded`
    and `coming` give each series' folded dates and how many dates it has to
    come, by meeting id."""
    return tuple(_row(date, folded, coming or {}) for date in dates)


def date_rows_html(rows: tuple[DateRow, ...]) -> Markup:
    """The entries, each drawn once per key and kept, its times slots: in this
    viewer's zone, or, in a page kept whole (the coming list), named by their
    moments."""
    when = _when_writer()
    html = []
    for row in rows:
        slots = {"when": when(row.starts_at, row.ends_at, row.timezone)}
        for n, other in enumerate(row.folded):
            slots[f"when_{n}"] = when(other.starts_at, other.ends_at, row.timezone)
        html.append(kept_row("meetings/_date_row.html", _context, row, slots))
    return Markup("").join(html)


def _row(date, folded: dict | None, coming: dict) -> DateRow:
    is_series = date.rrule is not None
    series_entry = folded is not None and is_series
    cancelled = date.cancelled_at is not None or date.meeting_cancelled_at is not None
    counts, mine = answers_of(date)
    shown = tuple(FoldedDate(d.id, d.starts_at, d.ends_at, d.cancelled_at is not None,
                             d.moved_at is not None, d.mine)
                  for d in (folded or {}).get(date.meeting_id, ()) if series_entry)
    return DateRow(
        date.circle_slug, date.meeting_id, date.id, date.title, cancelled, date.moved_at is not None,
        bool(date.host_user_id), is_series, series_entry, place_text(date),
        describe(date.rrule, date.timezone) if is_series else None,
        coming.get(date.meeting_id, 0) if series_entry and date.meeting_cancelled_at is None else None,
        None if cancelled else counts, date.capacity, mine, shown, date.starts_at, date.ends_at,
        date.timezone)


def _context(row: DateRow) -> dict:
    return {"row": row._replace(title=clean(row.title), place=clean(row.place))}


def times(start: datetime, end: datetime, own_zone: str, zone: str | None, clock: str) -> dict:
    """A date's times on the viewer's clock and, if it differs, on the meeting's own."""
    viewer = zone or DEFAULT_TIMEZONE
    own = None
    if own_zone != viewer:
        own = (f"{timefmt.span(start, end, own_zone, clock)} {to_zone(start, own_zone):%Z} "
               f"({own_zone.replace('_', ' ')})")
    return {"local": timefmt.span(start, end, viewer, clock), "own": own}


def next_date_rows(dates: list, show_circle: bool = False) -> Markup:
    """The circle home's and the dashboard's next dates (queries.NextDate), in
    their <ul>: each drawn once per look and kept, its time a slot in the
    viewer's zone. Called straight from the panels' templates: a macro for it
    made meetings/_macros.html's module on every page that has a panel."""
    when = _when_writer()
    return Markup('<ul class="list list--compact">%s</ul>') % Markup("").join(
        kept_row("meetings/_next_date.html", _next_context, (date, show_circle),
                 {"when": when(date.starts_at, date.ends_at, date.timezone)})
        for date in dates)


def _when_writer():
    """What writes a date's times: for this viewer, or, in a page kept whole
    (the dashboard, the coming meetings), the slot named by them."""
    if rendering_kept():
        return _when_slot
    zone, clock = viewer_times()

    def when(start: datetime, end: datetime, own_zone: str) -> Markup:
        return when_html(start, end, own_zone, zone, clock)
    return when


def _when_slot(start: datetime, end: datetime, own_zone: str) -> Markup:
    return moment_slot("when", start, end, own_zone)


@moment_writer("when")
def _when_written(zone: str | None, clock: str, start: datetime, end: datetime, own_zone: str) -> Markup:
    return when_html(start, end, own_zone, zone, clock)


def _next_context(key: tuple) -> dict:
    date, show_circle = key
    return {"date": date._replace(title=clean(date.title), circle_name=clean(date.circle_name)),
            "show_circle": show_circle}


@lru_cache(maxsize=4096)
def when_html(start: datetime, end: datetime, own_zone: str, zone: str | None, clock: str,
              block: bool = False) -> Markup:
    """What meetings/_macros.html's `when` writes (inline, or as a block: the
    meeting's own time on a line of its own), for a viewer's zone and clock:
    the same for everyone with that zone and clock, so kept."""
    shown = times(start, end, own_zone, zone, clock)
    html = Markup('<time datetime="{}" title="{}">{}</time>').format(
        start.isoformat(timespec="seconds"), timefmt.full(start, zone, clock), shown["local"])
    if shown["own"]:
        html += Markup('{}<span class="meta">{}</span>').format(
            Markup("<br>") if block else " · ", shown["own"])
    return html
