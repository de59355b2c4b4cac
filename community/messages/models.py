"""Models of direct messages: conversations, their members, their messages, blocks."""
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..chat.models import MessageText
from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

MIN_PEOPLE = 2  # including the one who starts it
MAX_PEOPLE = 9


def people_key(user_ids) -> str:
    """The conversation's people as one stable string ("3,5,9"): equal sets, equal keys."""
    return ",".join(str(i) for i in sorted(set(user_ids)))


class Conversation(db.Model):
    """A private conversation. `people` (people_key) is unique, so starting a
    conversation with exactly the same people finds this one, even when two
    people start it at the same moment."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    people: Mapped[str] = mapped_column(String(120), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Newest first on the Messages page, without reading the messages.
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class ConversationMember(db.Model):
    """A person in a conversation. Leaving keeps the row (left_at): a former
    member still reads what was said while they were in it, and the others see
    that they left."""

    __tablename__ = "conversation_members"
    __table_args__ = (UniqueConstraint("conversation_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    # The newest seq the member has read: unread is what others wrote after it.
    last_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    # Who added them to a group already under way (None: there from the start,
    # or the one who added them has since deleted their account).
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(lazy="joined", foreign_keys=[user_id])

    @property
    def is_current(self) -> bool:
        return self.left_at is None


class DirectMessage(MessageText, db.Model):
    """One message of a conversation: chat_messages' columns with the
    conversation in place of the circle (see the package's docstring)."""

    __tablename__ = "direct_messages"
    __table_args__ = (
        UniqueConstraint("author_id", "client_id"),
        UniqueConstraint("conversation_id", "seq"),
        Index("ix_direct_messages_conversation_changed", "conversation_id", "changed_at"),
        Index("ix_direct_messages_author_created", "author_id", "created_at"),
        # The header's unread count on every signed-in page (messages.actions.unread_total_query),
        # read from the index alone: the messages not removed, past each reader's place.
        Index("ix_direct_messages_unread", "conversation_id", "seq", "author_id", "deleted_at",
              sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    author: Mapped[User | None] = relationship(foreign_keys=[author_id], lazy="joined")


class Block(db.Model):
    """blocker no longer hears from blocked: no new conversation, no message
    in a shared one. Only the blocker sees it; the blocked person is told
    only that they can't message this person."""

    __tablename__ = "blocks"
    __table_args__ = (UniqueConstraint("blocker_id", "blocked_id"),
                      CheckConstraint("blocker_id <> blocked_id", name="not_oneself"))

    id: Mapped[int] = mapped_column(primary_key=True)
    blocker_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    blocked_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


REPORT_STATUSES = ("open", "resolved")


class DirectMessageReport(db.Model):
    """A message reported to the site's administrators by someone who could
    read it, with their consent to share it: a copy of that message alone (its
    text as it was, who wrote it and when) and the reason. Administrators read
    the copy; they never get into the conversation, so the conversation's id is
    not kept here, and the message's id only so the same person can't report
    the same message twice while a report of theirs is open."""

    __tablename__ = "direct_message_reports"
    __table_args__ = (
        # One open report per person and message; resolved ones may pile up.
        Index("uq_direct_message_reports_open", "reporter_id", "message_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
        Index("ix_direct_message_reports_status", "status", "id"),
        Index("ix_direct_message_reports_reporter_created", "reporter_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("direct_messages.id", ondelete="SET NULL"))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    # The snapshot: what the message said when it was reported, and by whom.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # open | resolved
    status: Mapped[str] = mapped_column(String(20), default="open")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution_note: Mapped[str] = mapped_column(Text, default="")

    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id], lazy="joined")
    author: Mapped[User | None] = relationship(foreign_keys=[author_id], lazy="joined")
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id], lazy="joined")
