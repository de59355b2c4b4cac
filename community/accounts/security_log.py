"""The site security log: sign-ins, failures, lockouts, password and account changes.

It never holds content: who, what, when, and from which address. Site admins read it.
"""
from datetime import datetime

from flask import has_request_context, request
from sqlalchemy import ForeignKey, Index, String, select
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
    # Second factors (accounts/factors.py, accounts/second_step.py).
    "password_accepted": "Password accepted; second step asked",
    "second_step_failed": "Failed second step (wrong code)",
    "second_step_locked": "Second step refused: too many failures",
    "totp_enabled": "Turned on an authenticator app",
    "totp_disabled": "Turned off the authenticator app",
    "recovery_codes_generated": "Made a new set of recovery codes",
    "recovery_code_used": "Signed in with a recovery code",
    "passkey_added": "Added a passkey",
    "passkey_removed": "Removed a passkey",
    "passkey_renamed": "Renamed a passkey",
    "passkey_clone_suspected": "Passkey refused: its use counter went backwards (a copy?)",
    "second_factor_reset": "Second factor reset by a site admin",
    "programme_staff_granted": "Made programme staff by a site admin",
    "programme_staff_revoked": "Programme staff role taken away by a site admin",
}

# Changes the person is told about by email, whoever made them: a stranger who
# got in would otherwise change them unseen. subject -> what the email says.
TOLD_BY_EMAIL = {
    "password_changed": "Your password was changed",  # nosec B105  # a label
    "signed_out_everywhere": "Your account was signed out on every other device",
    "totp_enabled": "An authenticator app was turned on for your account",
    "totp_disabled": "The authenticator app was turned off for your account",
    "recovery_codes_generated": "New recovery codes were made for your account",
    "recovery_code_used": "A recovery code was used to sign in to your account",
    "passkey_added": "A passkey was added to your account",
    "passkey_removed": "A passkey was removed from your account",
    "passkey_renamed": "A passkey on your account was renamed",
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


def record_and_tell(kind: str, user: User, **details) -> SecurityEvent:
    """Record a change to the account and queue an email telling its owner, in the
    caller's transaction (the mail goes only if the change is committed)."""
    from ..notifications.mailer import queue_mail, site_url
    from ..urls import path_for

    event = record(kind, user=user)
    queue_mail(user.email, TOLD_BY_EMAIL[kind], "security_notice", user=user, event=event,
               what=TOLD_BY_EMAIL[kind], details=details, browser_of=browser_of,
               security_link=site_url(path_for("accounts.security")),
               reset_link=site_url(path_for("accounts.reset_request")),
               settings_link=site_url(path_for("accounts.profile")))
    return event


def recent_sign_ins(user: User, limit: int = 10) -> list[SecurityEvent]:
    """The account's last sign-ins, newest first (time, browser, address)."""
    return list(db.session.scalars(
        select(SecurityEvent).where(SecurityEvent.user_id == user.id, SecurityEvent.kind == "sign_in")
        .order_by(SecurityEvent.id.desc()).limit(limit)))


def browser_of(user_agent: str) -> str:
    """'Chrome on Windows' from a User-Agent header: enough for a person to
    recognise their own devices, no more (the order matters: Edge and Chrome
    both say Safari, Chrome on Android says Linux)."""
    agent = user_agent or ""
    browser = next((name for token, name in (("Edg/", "Edge"), ("OPR/", "Opera"),
                                             ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
                                             ("Chromium/", "Chromium"), ("Safari/", "Safari"))
                    if token in agent), "")
    system = next((name for token, name in (("Android", "Android"), ("iPhone", "iPhone"),
                                            ("iPad", "iPad"), ("Windows", "Windows"),
                                            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
                                            ("Linux", "Linux"))
                   if token in agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "An unknown browser"
