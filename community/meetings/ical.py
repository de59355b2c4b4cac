"""iCalendar (RFC 5545) for meetings: one meeting, or a person's whole feed.

A one-off is one VEVENT. A series is a master VEVENT with its RRULE, an EXDATE
for each cancelled date and, for each date moved on its own, an override
VEVENT with the same UID and a RECURRENCE-ID. Times carry the meeting's TZID
and the calendar carries a VTIMEZONE for each zone, so clients expand the
series on the meeting's own wall clock (19:00 London stays 19:00 London).
SEQUENCE is the meeting's counter, raised by every change; UIDs are random and
never change. Text goes through the icalendar library, which escapes commas,
semicolons, backslashes and line breaks and folds long lines, so no title or
description can start a line of its own.
"""
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vRecur

from .models import Meeting, MeetingOccurrence

PRODID = "-//Alumni Circles//Meetings//EN"
LinkFor = Callable[[Meeting, MeetingOccurrence | None], str]


def build_calendar(entries: list[tuple[Meeting, list[MeetingOccurrence]]], *, name: str,
                   link: LinkFor, descriptions: bool, method: str | None = None) -> bytes:
    """The calendar for (meeting, dates) pairs, as bytes.

    `dates`: every date of a one-off; for a series, at least the moved and
    cancelled ones (others are ignored: the RRULE gives them).
    With descriptions=False only the place, online link and a link to the
    meeting's page go out, not what the organiser wrote (for feeds that a
    calendar provider fetches and stores).
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    calendar.calendar_name = name
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    for meeting, dates in entries:
        for event in meeting_events(meeting, dates, link, descriptions):
            calendar.add_component(event)
    if entries:
        first = min(m.starts_at for m, _ in entries) - timedelta(days=366)
        last = max(max([m.starts_at] + [d.starts_at for d in ds]) for m, ds in entries)
        calendar.add_missing_timezones(first_date=first.date(),
                                       last_date=last.date() + timedelta(days=6 * 366))
    return calendar.to_ical()


def meeting_events(meeting: Meeting, dates: list[MeetingOccurrence], link: LinkFor,
                   descriptions: bool) -> list[Event]:
    zone = ZoneInfo(meeting.timezone)

    def local(moment):
        return moment.astimezone(zone)

    if not meeting.is_series:
        only = dates[0]
        event = _event(meeting, link(meeting, None), descriptions,
                       cancelled=only.is_cancelled, reason=only.reason)
        event.add("dtstart", local(only.starts_at))
        event.add("dtend", local(only.ends_at))
        return [event]
    master = _event(meeting, link(meeting, None), descriptions, cancelled=meeting.is_cancelled,
                    reason=meeting.cancel_reason)
    master.add("dtstart", local(meeting.starts_at))
    master.add("dtend", local(meeting.ends_at))
    master.add("rrule", vRecur.from_ical(meeting.rrule))
    cancelled = [local(d.original_start) for d in dates if d.cancelled_at is not None]
    if cancelled:
        master.add("exdate", cancelled)
    events = [master]
    for moved in dates:
        if moved.moved_at is None or moved.cancelled_at is not None:
            continue
        event = _event(meeting, link(meeting, moved), descriptions,
                       cancelled=meeting.is_cancelled, reason=meeting.cancel_reason)
        event.add("recurrence-id", local(moved.original_start))
        event.add("dtstart", local(moved.starts_at))
        event.add("dtend", local(moved.ends_at))
        events.append(event)
    return events


def _event(meeting: Meeting, url: str, descriptions: bool, *, cancelled: bool,
           reason: str) -> Event:
    event = Event()
    event.add("uid", meeting.uid)
    event.add("dtstamp", meeting.updated_at)
    event.add("created", meeting.created_at)
    event.add("last-modified", meeting.updated_at)
    event.add("sequence", meeting.sequence)
    event.add("summary", meeting.title)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if meeting.location or meeting.online_link:
        event.add("location", meeting.location or meeting.online_link)
    event.add("url", url)
    event.add("description", _description(meeting, url, descriptions, cancelled, reason))
    return event


def _description(meeting: Meeting, url: str, descriptions: bool, cancelled: bool,
                 reason: str) -> str:
    parts = []
    if cancelled:
        parts.append(f"Cancelled: {reason}" if reason else "Cancelled.")
    if descriptions and meeting.description_source:
        parts.append(meeting.description_source)
    if meeting.host_user_id and meeting.host is not None:
        where = f" at {meeting.host_organisation}" if meeting.host_organisation else ""
        parts.append(f"Hosted by {meeting.host.display_name}{where}.")
    if meeting.online_link:
        parts.append(f"Join online: {meeting.online_link}")
    parts.append(f"Details and replies: {url}")
    return "\n\n".join(parts)
