"""A challenge: a thread of kind "challenge" with its phases, the presenter's
commitments, the follow-up reminders, and ideas held back during Questions.

The challenge has a table and an id of its own (not just a flag on its thread)
so that other areas can point at it: a meeting's agenda will list challenges.
Its discussion is its thread's posts (threads.models.Post, with a `kind`), so
everything threads do — privacy, search, reports, reactions, export,
anonymising — holds for it without a second copy.
"""
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

# In order. Questions and Ideas may be timed; Reflection ends when the presenter
# writes theirs; Follow-up is open-ended (the presenter's updates).
PHASES = ("questions", "ideas", "reflection", "follow_up")
PHASE_LABELS = {"questions": "Questions", "ideas": "Ideas", "reflection": "Reflection",
                "follow_up": "Follow-up"}
# What a post in a challenge is: shown beside it, and checked by policy.challenge_post_kinds.
POST_KINDS = {"situation": "The challenge", "question": "Question", "answer": "Presenter's answer",
              "idea": "Idea", "reflection": "Reflection", "update": "Update", "comment": "Comment"}
DEFAULT_FOLLOW_UP_DAYS = 28


class Challenge(db.Model):
    __tablename__ = "challenges"
    __table_args__ = (Index("ix_challenges_circle_phase", "circle_id", "phase"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), unique=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    presenter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                     index=True)
    # The stored phase and when it began. A timed phase ends without anyone
    # writing: readers compute the phase now (phases.effective_phase) and the
    # next write stores it (phases.settled).
    phase: Mapped[str] = mapped_column(String(12), default="questions")
    phase_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    questions_minutes: Mapped[int | None] = mapped_column(Integer)  # None: moved on by hand
    ideas_minutes: Mapped[int | None] = mapped_column(Integer)
    follow_up_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_FOLLOW_UP_DAYS)
    reflected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the presenter is asked "how did it go?"; cleared by their update.
    awaiting_update_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_update_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Commitment(db.Model):
    """One thing the presenter will do, written in Reflection."""

    __tablename__ = "challenge_commitments"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"),
                                              index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(300))
    due_on: Mapped[date | None] = mapped_column(Date)


class FollowUp(db.Model):
    """A "how did it go?" due to the presenter at due_at (UTC, computed in their
    zone when written): one per dated commitment, and one follow_up_days after
    Reflection. sent_at is claimed by a conditional UPDATE, so it goes once."""

    __tablename__ = "challenge_follow_ups"
    __table_args__ = (Index("ix_challenge_follow_ups_due", "sent_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"),
                                              index=True)
    commitment_id: Mapped[int | None] = mapped_column(
        ForeignKey("challenge_commitments.id", ondelete="CASCADE"))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IdeaDraft(db.Model):
    """An idea a member wrote during Questions, held for them alone until Ideas opens."""

    __tablename__ = "challenge_idea_drafts"
    __table_args__ = (Index("ix_challenge_idea_drafts_author", "challenge_id", "author_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenges.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
