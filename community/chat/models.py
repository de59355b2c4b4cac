"""Models of the chat area: messages and each member's read position."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..extensions import db
from ..timeutil import UTCDateTime, utcnow


class MessageText:
    """The columns a circle's chat message and a direct message share: the
    sender's id for the message (a resend finds it), its Markdown and HTML, and
    when it was written, edited, deleted and last changed (for catch-up)."""

    client_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Last edit or deletion: a reconnecting client asks for what changed since.
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def removed(self) -> bool:
        return self.deleted_at is not None


class ChatMessage(MessageText, db.Model):
    """One chat message. `seq` numbers a circle's messages 1, 2, 3... with no
    gap (sending holds the circle's lock and takes the circle's largest + 1), so
    a client that holds 1..n and sees n+2 knows exactly what it missed, and
    catches up "after seq n". Ids come from one sequence shared by every circle
    and also grow in commit order within a circle; pages still go by id.

    A deleted message keeps its row (ids, reports and read positions stay
    valid) but loses its text.
    """

    __tablename__ = "chat_messages"
    __table_args__ = (
        # A resend with the same client_id finds the stored message instead of
        # creating a second one.
        UniqueConstraint("author_id", "client_id"),
        Index("ix_chat_messages_circle_id", "circle_id", "id"),
        # Numbers are unique per circle; the index serves "after seq n" and max + 1.
        UniqueConstraint("circle_id", "seq", name="uq_chat_messages_circle_seq"),
        Index("ix_chat_messages_circle_changed", "circle_id", "changed_at"),
        # The rate limit counts an author's messages of the last few seconds.
        Index("ix_chat_messages_author_created", "author_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    author: Mapped[User | None] = relationship(foreign_keys=[author_id], lazy="joined")


class ChatReadPosition(db.Model):
    """How far a member has read a circle's chat (the newest message id seen)."""

    __tablename__ = "chat_read_positions"
    __table_args__ = (UniqueConstraint("user_id", "circle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    last_read_id: Mapped[int] = mapped_column(Integer, default=0)
