"""The audit log: every membership and moderation action, append-only."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ..accounts.models import User
from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

AUDIT_ACTIONS = {
    "circle.created": "created the circle",
    "circle.settings_changed": "changed the circle's settings",
    "circle.second_factor_required": "required two-factor sign-in of every member",
    "circle.second_factor_optional": "stopped requiring two-factor sign-in",
    "member.joined_by_invite": "joined with an invite link",
    "member.left": "left the circle",
    "member.pledge_accepted": "accepted the confidentiality pledge",
    "invitation.created": "created an invite link",
    "invitation.revoked": "revoked an invite link",
    "invitation.bulk_sent": "invited a list of people by email",
    "invitation.bulk_resent": "sent invitations again",
    "invitation.bulk_revoked": "withdrew invitations",
    "request.approved": "approved the join request of",
    "request.declined": "declined the join request of",
    "role.changed": "changed the role of",
    "ownership.transferred": "transferred ownership to",
    "member.removed": "removed",
    "member.banned": "banned",
    "member.unbanned": "lifted the ban on",
    "post.deleted": "removed a post by",
    "file.deleted": "removed a file shared by",
    "meeting.deleted": "deleted a meeting organised by",
    "thread.pinned": "pinned a thread",
    "thread.unpinned": "unpinned a thread",
    "thread.locked": "locked a thread",
    "thread.unlocked": "unlocked a thread",
    "challenge.moved": "moved a challenge on to its next phase",
    "chat.message_deleted": "deleted a chat message by",
    "report.dismissed": "dismissed a report about content by",
    "report.removed": "removed, after a report, content by",
}


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_circle_created", "circle_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    target_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id], lazy="joined")
    target_user: Mapped[User | None] = relationship(foreign_keys=[target_user_id], lazy="joined")

    @property
    def description(self) -> str:
        return AUDIT_ACTIONS.get(self.action, self.action)


@event.listens_for(Session, "before_flush")
def _audit_is_append_only(session, flush_context, instances):
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditEvent):
            raise ValueError("audit events are append-only")


class Report(db.Model):
    """A member's flag on a post or chat message, for the circle's moderators."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_circle_status", "circle_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # What is reported: a kind registered in moderation/reports.py, and its id.
    kind: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    # open | dismissed | removed
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id], lazy="joined")
