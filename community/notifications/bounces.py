"""Addresses the mail server refused for good (an SMTP 5xx for the recipient).

The outbox records one here when it happens; bulk invitations use it to say
"this address can't be mailed" and to count bounced invitations. A later
successful sign-up with the address doesn't clear it: an admin can, by
deleting the row.
"""
from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow


class MailBounce(db.Model):
    __tablename__ = "mail_bounces"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(254), unique=True)
    reason: Mapped[str] = mapped_column(String(300), default="")
    bounced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def record_bounce(address: str, reason: str) -> None:
    """Note a permanent refusal (in the caller's transaction)."""
    address = (address or "").strip().lower()[:254]
    bounce = db.session.scalar(select(MailBounce).where(MailBounce.address == address))
    if bounce is None:
        db.session.add(MailBounce(address=address, reason=reason[:300]))
    else:
        bounce.reason, bounce.bounced_at = reason[:300], utcnow()


def bounced_among(addresses) -> set[str]:
    """Which of these (normalised) addresses have bounced, in one statement."""
    addresses = list({a for a in addresses if a})
    if not addresses:
        return set()
    found = set()
    for start in range(0, len(addresses), 500):  # under every engine's parameter limit
        found.update(db.session.scalars(select(MailBounce.address).where(
            MailBounce.address.in_(addresses[start:start + 500]))))
    return found
