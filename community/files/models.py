"""A file shared in a circle: one row per upload, pointing at content-addressed bytes."""
import secrets
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

PUBLIC_ID_LENGTH = 22


def is_public_id(value) -> bool:
    """Whether a value from a URL or a form could be a file's id (new_public_id):
    anything else names no file and is not looked up (a NUL character, say,
    which PostgreSQL refuses even as a parameter)."""
    return isinstance(value, str) and 0 < len(value) <= PUBLIC_ID_LENGTH and \
        all(c.isascii() and (c.isalnum() or c in "-_") for c in value)


def new_public_id() -> str:
    # 22 URL-safe characters, 132 random bits: the id in a file's URL can't be
    # guessed or counted through (the integer id would tell how many files exist).
    return secrets.token_urlsafe(16)[:PUBLIC_ID_LENGTH]


class Attachment(db.Model):
    """One shared file. Several rows may point at the same bytes (`storage_key`
    is their SHA-256), so bytes are deleted only with the last row that uses them.

    Whose it is: a circle's (circle_id) or a direct conversation's
    (conversation_id), exactly one of them (the CHECK). A conversation's file
    is never a circle's: every circle query (library, quota, access_file)
    filters on circle_id, which is NULL for it.

    Where it is shown: at most one of post_id, chat_message_id, meeting_id
    (a circle's) or direct_message_id (a conversation's); all NULL means
    uploaded but never attached (an orphan, swept after a day). The place going
    away sets it back to NULL, and the sweep then takes it.
    """

    __tablename__ = "attachments"
    __table_args__ = (
        CheckConstraint("(circle_id IS NULL) <> (conversation_id IS NULL)", name="one_owner"),
        # The Files page: newest first; its count reads the places, the space used
        # the sizes, and a kind or name searched for, from the index alone.
        Index("ix_attachments_circle_searched", "circle_id", "created_at", "post_id", "meeting_id",
              "chat_message_id", "size", "kind", "name"),
        Index("ix_attachments_conversation_created", "conversation_id", "created_at"),
        # A page's files of many posts, messages or a meeting; the per-person quota of direct messages.
        Index("ix_attachments_post_id", "post_id"),
        Index("ix_attachments_chat_message_id", "chat_message_id"),
        Index("ix_attachments_meeting_id", "meeting_id"),
        Index("ix_attachments_direct_message_id", "direct_message_id"),
        Index("ix_attachments_uploader_id", "uploader_id"),
        # The sweep and "does any row still use these bytes?" look rows up by key.
        Index("ix_attachments_storage_key", "storage_key"),
        Index("ix_attachments_thumbnail_key", "thumbnail_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), unique=True, default=new_public_id)
    circle_id: Mapped[int | None] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"))
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    storage_key: Mapped[str] = mapped_column(String(64))
    thumbnail_key: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    chat_message_id: Mapped[int | None] = mapped_column(ForeignKey("chat_messages.id", ondelete="SET NULL"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    direct_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("direct_messages.id", ondelete="SET NULL"))

    @property
    def attached(self) -> bool:
        return any((self.post_id, self.chat_message_id, self.meeting_id, self.direct_message_id))
