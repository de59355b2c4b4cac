"""Programmes (a leadership programme that runs a cohort a year), who runs them,
and bulk invitations held between their preview and the lead's confirmation.

Programme staff is a site-level role (users.is_programme_staff), granted and
revoked by site admins. A staff member manages the programmes they are staff
of (ProgrammeStaff rows: the creator, and whoever an admin adds). Taking the
role away ends their hand on every programme at once; the rows are kept so
that granting it back restores them. Managing a programme gives no read
access to its cohorts' circles: only members read a circle.
"""
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..circles.models import Circle
from ..extensions import db
from ..timeutil import UTCDateTime, utcnow


class Programme(db.Model):
    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    place: Mapped[str] = mapped_column(String(120), default="")
    start_year: Mapped[int] = mapped_column(Integer)
    end_year: Mapped[int | None] = mapped_column(Integer)  # None: still running
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def years(self) -> str:
        if self.end_year is None:
            return f"{self.start_year} onwards"
        if self.end_year == self.start_year:
            return str(self.start_year)
        return f"{self.start_year}–{self.end_year}"


class ProgrammeStaff(db.Model):
    """A programme staff member's hand on one programme (counts only while the
    person holds the site role)."""

    __tablename__ = "programme_staff"
    __table_args__ = (UniqueConstraint("programme_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    programme: Mapped[Programme] = relationship(lazy="joined", innerjoin=True)
    user: Mapped[User] = relationship(lazy="joined", innerjoin=True, foreign_keys=[user_id])


class ProgrammeCohort(db.Model):
    """A circle that is one cohort of a programme (a circle belongs to at most one).

    A table of its own rather than columns on circles: on SQLite a foreign key
    can be added to an existing table only inline (ADD COLUMN ... REFERENCES),
    which SQLite's reflection can't read back with its ON DELETE, so the
    migrated schema would differ from the models; a new table has none of that.
    """

    __tablename__ = "programme_cohorts"

    id: Mapped[int] = mapped_column(primary_key=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), unique=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="CASCADE"),
                                              index=True)
    year: Mapped[int] = mapped_column(Integer)

    circle: Mapped[Circle] = relationship(lazy="joined", innerjoin=True)


class InvitationBatch(db.Model):
    """A bulk invitation between its preview and the lead's confirmation.

    The parsed rows are held here, server-side, keyed by a random `key`; the
    browser sends back only the key. Confirming re-checks every row against
    the circle as it is then, and claims the batch (previewed -> sent) in one
    UPDATE, so a double click sends once.
    """

    __tablename__ = "invitation_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(43), unique=True)
    circle_id: Mapped[int] = mapped_column(ForeignKey("circles.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # JSON: [{"line": n, "name": ..., "email": ..., "organisation": ...}, ...]
    rows: Mapped[str] = mapped_column(Text)
    days: Mapped[int] = mapped_column(Integer, default=14)
    status: Mapped[str] = mapped_column(String(20), default="previewed")  # previewed | sent
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    circle: Mapped[Circle] = relationship(lazy="joined", innerjoin=True)
