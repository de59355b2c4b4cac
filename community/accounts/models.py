"""People and the sign-in throttle."""
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import DEFAULT_TIMEZONE, UTCDateTime, utcnow

SECTORS = {
    "public": "Public sector",
    "private": "Private sector",
    "non_profit": "Non-profit",
}


def new_session_token() -> str:
    return secrets.token_urlsafe(16)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised (lower case), so the unique index is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    # For @mentions: derived from the display name, unique across the site.
    handle: Mapped[str] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    organisation: Mapped[str] = mapped_column(String(120), default="")
    job_title: Mapped[str] = mapped_column(String(120), default="")
    sector: Mapped[str] = mapped_column(String(20), default="public")
    location: Mapped[str] = mapped_column(String(120), default="")
    bio: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    # "24" or "12": how times read to them (community/timefmt.py).
    clock: Mapped[str] = mapped_column(String(2), default="24", server_default="24")
    is_site_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the person's first second factor (a confirmed authenticator app or a
    # passkey) came on; None without one. Kept by accounts/factors.py with the
    # factor rows, so the read rules can ask it without another statement.
    second_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The opaque id passkeys keep for the account (WebAuthn's user.id), random, made
    # with the first passkey: not the email nor the row id, and no secret of ours.
    passkey_handle: Mapped[str | None] = mapped_column(String(43), unique=True, index=True)
    # Part of the session's user id: changing it ends every session at once.
    session_token: Mapped[str] = mapped_column(String(32), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:
        return self.suspended_at is None

    @property
    def has_second_factor(self) -> bool:
        return self.second_factor_at is not None

    @property
    def sector_label(self) -> str:
        return SECTORS.get(self.sector, self.sector)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class SignInThrottle(db.Model):
    """Failed sign-ins per email address (existing or not), kept across restarts.

    Keyed by the address typed, not the user, so an unknown address is throttled
    exactly like a known one and the lockout reveals nothing.
    """

    __tablename__ = "sign_in_throttles"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
