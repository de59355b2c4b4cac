"""A date's run sheet (its agenda and live state) and the challenges on it."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

# Minutes each part takes unless changed.
DEFAULT_MINUTES = {"check_in": 10, "questions": 10, "ideas": 15, "reflection": 5, "check_out": 10}
STATUSES = ("ready", "running", "paused", "finished")


class RunSheet(db.Model):
    """One date's agenda and where its session is: made when first needed."""

    __tablename__ = "run_sheets"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_occurrences.id", ondelete="CASCADE"), unique=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    check_in_minutes: Mapped[int] = mapped_column(Integer, default=DEFAULT_MINUTES["check_in"])
    check_out_minutes: Mapped[int] = mapped_column(Integer, default=DEFAULT_MINUTES["check_out"])
    # The member the organiser handed facilitation to (None: the organiser).
    facilitator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="ready")
    # The current step: its kind (check_in, questions, ideas, reflection,
    # check_out) and, for a challenge's part, the agenda item's id.
    step_kind: Mapped[str | None] = mapped_column(String(12))
    step_item_id: Mapped[int | None] = mapped_column(Integer)
    # When the step's clock would have started had it never been paused.
    step_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extra_minutes: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgendaItem(db.Model):
    """A challenge on a date's agenda, in order, with its minutes per part."""

    __tablename__ = "agenda_items"
    __table_args__ = (UniqueConstraint("run_sheet_id", "challenge_id"),
                      Index("ix_agenda_items_sheet_position", "run_sheet_id", "position"))

    id: Mapped[int] = mapped_column(primary_key=True)
    run_sheet_id: Mapped[int] = mapped_column(ForeignKey("run_sheets.id", ondelete="CASCADE"))
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"),
                                              index=True)
    position: Mapped[int] = mapped_column(Integer)
    questions_minutes: Mapped[int] = mapped_column(Integer, default=DEFAULT_MINUTES["questions"])
    ideas_minutes: Mapped[int] = mapped_column(Integer, default=DEFAULT_MINUTES["ideas"])
    reflection_minutes: Mapped[int] = mapped_column(Integer, default=DEFAULT_MINUTES["reflection"])
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
