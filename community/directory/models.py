""""Can help with" tags (a bounded list per person, de-duplicated
case-insensitively) and introductions between alumni who share no circle."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

MAX_TAGS = 10
MAX_TAG_LENGTH = 40


class ProfileTag(db.Model):
    """One "can help with" tag of a person. `key` is the tag case-folded: one
    person can't have "Budgets" and "budgets", and search compares keys."""

    __tablename__ = "profile_tags"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        Index("ix_profile_tags_key", "key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(MAX_TAG_LENGTH))
    key: Mapped[str] = mapped_column(String(MAX_TAG_LENGTH * 3))  # casefold may lengthen ("ß" -> "ss")


INTRODUCTION_STATUSES = ("pending", "accepted", "declined")
MAX_INTRODUCTION_LENGTH = 500


class Introduction(db.Model):
    """A request, from a directory profile, to be introduced to someone one
    shares no circle with. One per asker and person, whatever became of it: a
    declined request can't be sent again, and the asker is never told it was
    declined (it reads as sent). Accepted, it lets the two message each other
    (policy.introduced)."""

    __tablename__ = "introductions"
    __table_args__ = (
        UniqueConstraint("requester_id", "recipient_id"),
        CheckConstraint("requester_id <> recipient_id", name="not_oneself"),
        Index("ix_introductions_recipient_status", "recipient_id", "status"),
        Index("ix_introductions_requester_created", "requester_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
