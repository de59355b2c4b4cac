"""A meeting's page, kept whole (community/fast/fragments.py, kept_page) per what it shows.

Everything the page shows is in its key, MeetingFrame: the circle's head, the
meeting and the date as plain rows (queries.MeetingFace, queries.DateFace), who
answered what, the viewer's own answer, a series' next dates, the files, and
what the viewer may do. What differs per request is a slot: the CSRF token, the
flashed messages, the times (in the viewer's zone, on their clock), and the
Agenda card, which shows the run sheet as of now (agenda/present.py).
Drawing the page afresh on every request was a third of its time
(bench/findings.md, 35).
"""
from collections import namedtuple
from datetime import datetime
from typing import NamedTuple

from flask import render_template
from markupsafe import Markup

from ..agenda.present import agenda_card
from ..circles.pages import CircleHead, circle_head
from ..fast.fragments import cleaned, kept_page
from ..files.places import FileFace
from ..policy import can_manage_meeting, can_rsvp
from ..security import csrf_token
from ..templating import layout_slots, layout_state, time_tag, viewer_times
from ..timeutil import utcnow
from . import queries
from .models import ANSWERS
from .recurrence import describe
from .rows import when_html

# A refused form's uploads, shown again in its file picker (files.places.kept_uploads).
KeptUpload = namedtuple("KeptUpload", "id name size label badge thumbnail_url")


class MeetingFrame(NamedTuple):
    """Everything a meeting's page shows, bar its slots: its key in the memo."""

    head: CircleHead
    meeting: queries.MeetingFace
    date: queries.DateFace  # the date shown
    repeats: str  # how a series repeats, in words ("" for a one-off)
    people: queries.Attendance
    mine: str | None  # the viewer's answer for the date
    position: int | None  # on the waitlist
    dates: tuple[queries.SeriesDate, ...]  # a series' next dates
    coming: int  # of a series' dates, how many are still to come
    total: int  # and how many in all
    files: tuple[FileFace, ...]
    can_answer: bool
    can_manage: bool
    passed: bool  # the date is over
    to_come: bool  # the date has yet to begin
    error: str | None  # why a form on the page was refused
    kept: tuple[KeptUpload, ...]


def meeting_page(circle, membership, opened: queries.OpenedMeeting, error: str | None = None,
                 status: int = 200, kept=()) -> tuple[bytes, int]:
    """The page for the date of the meeting, as the member sees it now."""
    now = utcnow()
    meeting, date, sheet = opened
    frame = _frame(circle, membership, meeting, date, now, error, kept)
    zone, clock = viewer_times()
    slots = {"csrf": csrf_token(), **layout_slots(),
             "when": when_html(date.starts_at, date.ends_at, meeting.timezone, zone, clock, block=True),
             "agenda": _agenda_html(circle, membership, frame, sheet, now)}
    if date.moved_at:
        slots["moved_from"] = time_tag(date.original_start, zone, clock, "date_time")
    for number, shown in enumerate(frame.dates):
        slots[f"date_{number}"] = time_tag(shown.starts_at, zone, clock, "date_time")
    # The page may show nothing per viewer but its key, the layout's state and
    # the slots: while it renders, current_user, membership, circle, request,
    # session and g raise (fast/README.md).
    return kept_page("meetings/meeting.html", frame,
                     lambda: {"frame": cleaned(frame), "circle_head": frame.head, "answers": ANSWERS},
                     slots, layout=layout_state()), status


def _frame(circle, membership, meeting, date, now: datetime, error, kept) -> MeetingFrame:
    people = queries.attendance(date, membership.user_id)
    mine = next((answer for answer in people._fields
                 if any(p.user_id == membership.user_id for p in getattr(people, answer))), None)
    position = None
    if mine == "waitlisted":
        position = 1 + [p.user_id for p in people.waitlisted].index(membership.user_id)
    dates, coming, total = queries.series_dates(meeting, now) if meeting.is_series else ((), 0, 1)
    return MeetingFrame(
        circle_head(circle, membership), meeting, date,
        describe(meeting.rrule, meeting.timezone) if meeting.is_series else "",
        people, mine, position, dates, coming, total, queries.meeting_files(meeting.id),
        can_rsvp(membership, date, now), can_manage_meeting(membership, meeting),
        date.ends_at <= now, date.starts_at > now, error,
        tuple(KeptUpload(**item) for item in kept))


def _agenda_html(circle, membership, frame: MeetingFrame, sheet, now: datetime) -> Markup:
    """The Agenda card, drawn for this request: it shows the run sheet's clock now."""
    meeting, date = frame.meeting, frame.date
    agenda = agenda_card(circle, membership, meeting, date, sheet, now)
    return Markup(render_template("agenda/_card.html", agenda=agenda, circle=frame.head,  # nosec B704
                                  meeting=meeting, occurrence=date))
