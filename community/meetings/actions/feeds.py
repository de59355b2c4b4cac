"""The personal calendar feed: a secret address, stored only as its hash, that
a calendar app fetches without a session (views.calendar_feed, queries.feed_meetings)."""
import hashlib
import hmac
import secrets

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ...accounts.models import User
from ...errors import Conflict
from ...extensions import db
from ..models import CalendarFeed


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_calendar_feed(actor: User) -> str:
    """Make (or remake) the person's secret feed; returns the token, shown only now.

    Any earlier token stops working at once.

    :raise Conflict: the same request raced itself; try again.
    """
    token = secrets.token_urlsafe(32)
    db.session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == actor.id))
    db.session.add(CalendarFeed(user_id=actor.id, token_hash=_hash(token)))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Please try again: your feed was being changed at the same moment.") \
            from None
    return token


def delete_calendar_feed(actor: User) -> None:
    """Turn the person's feed off; its address stops working."""
    db.session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == actor.id))
    db.session.commit()


def calendar_feed_of(user: User) -> CalendarFeed | None:
    return db.session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user.id))


def find_calendar_feed(token: str) -> CalendarFeed | None:
    """The feed a token opens (its owner not suspended), or None. Constant-time compare."""
    if not token or len(token) > 100:
        return None
    digest = _hash(token)
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == digest))
    if feed is None or not hmac.compare_digest(feed.token_hash, digest) or not feed.user.is_active:
        return None
    return feed
