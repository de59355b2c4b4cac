"""The site security log: sign-ins, failures, lockouts, password and account changes.

It never holds content: who, what, when, and from which address. Site admins read it.
"""
from datetime import datetime

from flask import has_request_context, request
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow
from .models import User

# Bandit (B105) takes the two "password_*" labels for passwords. Its nosec on one line of a
# multi-line dict prints "no failed test" warnings for the other lines: PyCQA/bandit#1352.
EVENTS = {
    "sign_in": "Signed in",
    "sign_in_failed": "Failed sign-in",
    "locked_out": "Sign-in refused: too many failures",
    "signed_out": "Signed out",
    "signed_out_everywhere": "Signed out everywhere",
    "password_changed": "Changed password",  # nosec B105  # a label
    "reset_requested": "Asked for a password reset",
    "password_reset": "Reset password by email",  # nosec B105  # a label
    "account_suspended": "Account suspended by a site admin",
    "account_restored": "Account restored by a site admin",
    "account_deleted": "Deleted their account",
    "second_factor_reset": "Second factor reset by a site admin",
}
DETAIL_MAX = 500


class SecurityEvent(db.Model):
    __tablename__ = "security_events"
    __table_args__ = (Index("ix_security_events_created", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # The address typed, for failures against unknown or deleted accounts.
    email: Mapped[str] = mapped_column(String(254), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    # Who did it and why, where someone else acted on the account (never content).
    detail: Mapped[str] = mapped_column(String(DETAIL_MAX), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship(lazy="joined")

    @property
    def description(self) -> str:
        return EVENTS.get(self.kind, self.kind)


def record(kind: str, user: User | None = None, email: str = "", detail: str = "") -> SecurityEvent:
    """Add an event in the caller's transaction; the request's address if there is one."""
    if kind not in EVENTS:  # not an assert: it must hold under python -O too
        raise ValueError(f"unknown security event {kind!r}")
    ip = agent = ""
    if has_request_context():
        ip = (request.remote_addr or "")[:64]
        agent = (request.user_agent.string or "")[:200]
    event = SecurityEvent(kind=kind, user_id=user.id if user else None,
                          email=(email or (user.email if user else ""))[:254], ip=ip, user_agent=agent,
                          detail=detail[:DETAIL_MAX])
    db.session.add(event)
    return event
