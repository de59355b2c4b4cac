"""Circles and who is in them: memberships, invitations, join requests."""
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..extensions import db
from ..timeutil import UTCDateTime, utcnow

JOIN_POLICIES = {
    "invite_only": "Invite only — people join with an invite link",
    "request": "On request — listed by name; people ask and moderators decide",
}
ROLES = ("owner", "moderator", "member")
ROLE_LABELS = {"owner": "Owner", "moderator": "Moderator", "member": "Member"}

DEFAULT_PLEDGE = (
    "What is said in this circle stays in this circle. I may use what I hear, "
    "but I will not reveal who said it, or the organisation they work for, to "
    "anyone outside the circle. I will not copy, forward or screenshot "
    "anything posted here."
)


class Circle(db.Model):
    __tablename__ = "circles"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    cohort: Mapped[str] = mapped_column(String(80), default="")
    join_policy: Mapped[str] = mapped_column(String(20), default="invite_only", index=True)
    pledge_required: Mapped[bool] = mapped_column(Boolean, default=False)
    pledge_text: Mapped[str] = mapped_column(Text, default=DEFAULT_PLEDGE)
    # Members must accept again when the text changes after they accepted it.
    pledge_updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Members read the circle only once they sign in with a second factor.
    require_two_factor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    audit_visible_to_members: Mapped[bool] = mapped_column(Boolean, default=False)
    # Emails never carry what members wrote, unless an owner allows a short excerpt.
    email_excerpts: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Circle {self.slug}>"


class Membership(db.Model):
    """A person's place in a circle. Only `active` rows grant access.

    Rows are kept when people leave, are removed or banned, so a ban can
    outlive the membership and the history stays whole.
    """

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("circle_id", "user_id"),
        Index("ix_memberships_user_status", "user_id", "status"),
        Index("ix_memberships_circle_status", "circle_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20), default="member")
    # active | left | removed | banned
    status: Mapped[str] = mapped_column(String(20), default="active")
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    pledge_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    circle: Mapped[Circle] = relationship(lazy="joined", innerjoin=True)
    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


class Invitation(db.Model):
    """An invite link. Only the token's SHA-256 is stored; the link is shown once."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))  # bound to one address, if set
    note: Mapped[str] = mapped_column(String(120), default="")
    max_uses: Mapped[int | None] = mapped_column(Integer)  # None: no limit
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    circle: Mapped[Circle] = relationship(lazy="joined", innerjoin=True)
    created_by: Mapped[User | None] = relationship(lazy="joined")

    def state(self, now: datetime) -> str:
        """usable | revoked | expired | used_up"""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        if self.max_uses is not None and self.uses >= self.max_uses:
            return "used_up"
        return "usable"


class JoinRequest(db.Model):
    __tablename__ = "join_requests"
    __table_args__ = (UniqueConstraint("circle_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    message: Mapped[str] = mapped_column(Text, default="")
    # pending | approved | declined | withdrawn (by the person who asked)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    circle: Mapped[Circle] = relationship(lazy="joined", innerjoin=True)
    user: Mapped[User] = relationship(lazy="joined", innerjoin=True, foreign_keys=[user_id])
