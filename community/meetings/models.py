"""Meetings, their dates, RSVPs, date polls, offers to host, and calendar feeds.

A Meeting holds what every date of it shares (title, place, capacity) and its
schedule: the first date's start and end in UTC, the organiser's IANA zone and,
for a series, an RFC 5545 RRULE built by the actions (never typed by a user).
Every date is materialised as a MeetingOccurrence, so each one has its own
RSVPs, can be moved or cancelled on its own, and lists and reminders are plain
indexed queries. A series always ends (COUNT or UNTIL, at most MAX_OCCURRENCES
dates), so the rows are bounded.
"""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..circles.models import Circle
from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

MAX_OCCURRENCES = 104  # two years of weekly meetings
# What a member may ask for; "waitlisted" is only ever given by the rules.
ANSWERS = {"going": "Going", "maybe": "Maybe", "declined": "Can't go"}
VOTES = {"yes": "Yes", "maybe": "Maybe", "no": "No"}  # "Maybe" as in ANSWERS


class Meeting(db.Model):
    """A one-off meeting, or a series of dates that repeat by an RRULE."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    organiser_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # iCalendar UID: random, so it says nothing about the site or the circle.
    uid: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description_source: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64))
    # The first date of the schedule (DTSTART/DTEND); moved dates keep their own.
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rrule: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(300), default="")
    online_link: Mapped[str] = mapped_column(String(500), default="")
    capacity: Mapped[int | None] = mapped_column(Integer)
    host_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    host_organisation: Mapped[str] = mapped_column(String(120), default="")
    # iCalendar SEQUENCE: raised by every change to the meeting or any of its dates.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    circle: Mapped[Circle] = relationship(lazy="joined", innerjoin=True)
    organiser: Mapped[User | None] = relationship(foreign_keys=[organiser_id], lazy="joined")
    host: Mapped[User | None] = relationship(foreign_keys=[host_user_id], lazy="joined")
    occurrences: Mapped[list["MeetingOccurrence"]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", passive_deletes=True,
        order_by="MeetingOccurrence.original_start", lazy="raise")

    @property
    def is_series(self) -> bool:
        return self.rrule is not None

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def duration(self):
        return self.ends_at - self.starts_at


class MeetingOccurrence(db.Model):
    """One date of a meeting: its own time, cancellation and RSVPs.

    original_start is where the schedule put it (the iCalendar RECURRENCE-ID);
    starts_at/ends_at are where it is now. moved_at marks a date moved on its own.
    """

    __tablename__ = "meeting_occurrences"
    __table_args__ = (
        UniqueConstraint("meeting_id", "original_start"),
        Index("ix_meeting_occurrences_circle_starts", "circle_id", "starts_at"),
        Index("ix_meeting_occurrences_starts", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    # The meeting's circle, copied so lists and panels query one indexed table.
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    original_start: Mapped[datetime] = mapped_column(UTCDateTime)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    moved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")

    meeting: Mapped[Meeting] = relationship(back_populates="occurrences", lazy="joined",
                                            innerjoin=True)

    @property
    def is_cancelled(self) -> bool:
        """Cancelled on its own, or with the whole meeting."""
        return self.cancelled_at is not None or self.meeting.cancelled_at is not None

    @property
    def reason(self) -> str:
        return self.cancel_reason if self.cancelled_at else self.meeting.cancel_reason


class RSVP(db.Model):
    """A member's answer for one date. Waitlist order is (waitlisted_at, id)."""

    __tablename__ = "meeting_rsvps"
    __table_args__ = (
        UniqueConstraint("occurrence_id", "user_id"),
        Index("ix_meeting_rsvps_occurrence_answer", "occurrence_id", "answer"),
        Index("ix_meeting_rsvps_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_occurrences.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # going | maybe | declined | waitlisted
    answer: Mapped[str] = mapped_column(String(12))
    responded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    waitlisted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the 24-hour reminder is claimed; cleared if the date moves.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class DatePoll(db.Model):
    """A date poll: candidate slots members answer; the organiser picks one."""

    __tablename__ = "date_polls"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    organiser_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    description_source: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(String(300), default="")
    online_link: Mapped[str] = mapped_column(String(500), default="")
    capacity: Mapped[int | None] = mapped_column(Integer)
    host_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    host_organisation: Mapped[str] = mapped_column(String(120), default="")
    # open | scheduled | closed
    status: Mapped[str] = mapped_column(String(12), default="open")
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organiser: Mapped[User | None] = relationship(foreign_keys=[organiser_id], lazy="joined")
    host: Mapped[User | None] = relationship(foreign_keys=[host_user_id], lazy="joined")
    options: Mapped[list["PollOption"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="PollOption.starts_at",
        lazy="raise")


class PollOption(db.Model):
    __tablename__ = "date_poll_options"

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("date_polls.id", ondelete="CASCADE"),
                                         index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PollVote(db.Model):
    __tablename__ = "date_poll_votes"
    __table_args__ = (UniqueConstraint("option_id", "user_id"),
                      Index("ix_date_poll_votes_poll", "poll_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("date_polls.id", ondelete="CASCADE"))
    option_id: Mapped[int] = mapped_column(ForeignKey("date_poll_options.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # yes | maybe | no
    answer: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HostOffer(db.Model):
    """A member offers to host the circle at their organisation (a visit)."""

    __tablename__ = "meeting_host_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organisation: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(String(1000), default="")
    # How many the host can welcome (None: not said); a visit planned from it starts there.
    places: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The meeting that took the offer up, once one is planned.
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class CalendarFeed(db.Model):
    """A person's secret calendar feed. Only the token's SHA-256 is kept."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)
