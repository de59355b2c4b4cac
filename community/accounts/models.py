"""People and the sign-in throttle."""
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import DEFAULT_TIMEZONE, UTCDateTime, utcnow

# Who sees a profile field (policy.field_visible): the people who share an
# active circle with its owner, every alumnus of this site, or no one but its owner.
VISIBILITIES = {
    "circles": "Only people in my circles",
    "alumni": "All alumni on this site",
    "nobody": "Nobody (only me)",
}
# The profile fields with an audience of their own, by the name policy.field_visible
# takes (its column is <name>_visibility), and how a member reads each.
PROFILE_FIELDS = {
    "organisation": "Organisation",
    "job_title": "Job title",
    "sector": "Sector",
    "location": "Place",
    "bio": "About you",
    "tags": "Can help with",
    "photo": "Photo",
    "contact": "Open to being contacted",
}

SECTORS = {
    "public": "Public sector",
    "private": "Private sector",
    "non_profit": "Non-profit",
}


def _audience():
    """A profile field's audience column (VISIBILITIES), "circles" until its owner says otherwise."""
    return mapped_column(String(8), default="circles", server_default="circles")


def new_session_token() -> str:
    return secrets.token_urlsafe(16)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised (lower case), so the unique index is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # Indexed: the directory lists people by name, a page at a time.
    display_name: Mapped[str] = mapped_column(String(80), index=True)
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
    # Whether emails about direct messages may quote them (notification settings).
    dm_email_excerpts: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A site role below admin: runs programmes and their cohorts (community/programmes).
    is_programme_staff: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
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

    # The alumni directory (community/directory/, rules in policy.py "Directory").
    # Listed in /people only once they choose to; each profile field has its own
    # audience (VISIBILITIES), by default the people of their circles, as before.
    listed_in_directory: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    open_to_contact: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Whether emails about an introduction asked of them carry its words (off:
    # the email only says someone asked; the words are read on the site).
    introduction_excerpts: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The profile photo: content-addressed keys in the files storage (the image
    # re-encoded without metadata, and its WebP thumbnail); kind as files/kinds.py names it.
    photo_key: Mapped[str | None] = mapped_column(String(64), index=True)
    photo_thumbnail_key: Mapped[str | None] = mapped_column(String(64), index=True)
    photo_kind: Mapped[str | None] = mapped_column(String(16))
    organisation_visibility: Mapped[str] = _audience()
    job_title_visibility: Mapped[str] = _audience()
    sector_visibility: Mapped[str] = _audience()
    location_visibility: Mapped[str] = _audience()
    bio_visibility: Mapped[str] = _audience()
    tags_visibility: Mapped[str] = _audience()
    photo_visibility: Mapped[str] = _audience()
    contact_visibility: Mapped[str] = _audience()

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
