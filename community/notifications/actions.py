"""Notifications: creating them (inside the caller's transaction), reading them,
and each person's choices about where they go."""
from sqlalchemy import bindparam, func, or_, select, update

from ..accounts.models import User
from ..errors import ActionError, NotFound
from ..extensions import db
from ..fast.prepared import prepared
from ..policy import may_read
from ..timeutil import utcnow
from . import live
from .kinds import CHANNELS, KINDS
from .models import Notification, NotificationPreference


def notify(user_id: int, kind: str, text: str, url: str = "/", circle_id: int | None = None,
           actor_id: int | None = None, excerpt: str | None = None) -> Notification:
    """Add a notification in the caller's transaction (the caller commits).

    The mail worker later decides, by the person's preferences, whether it is
    also emailed now, kept for the daily digest, or stays in the app.
    :param excerpt: a few words of the post; emailed only if the circle allows.
    """
    note = Notification(user_id=user_id, kind=kind, text=text[:300], url=url,
                        circle_id=circle_id, actor_id=actor_id, excerpt=excerpt)
    db.session.add(note)
    live.remember(db.session(), user_id)  # the bell updates once this commits
    return note


def visible(user_id: int):
    """A query of the notifications a person may see: none from circles they may
    not read now (left, or a pledge to accept), none of the kinds they turned off."""
    off = select(NotificationPreference.kind).where(NotificationPreference.user_id == user_id,
                                                    NotificationPreference.channel == "off")
    return select(Notification).where(
        Notification.user_id == user_id, Notification.kind.not_in(off),
        or_(Notification.circle_id.is_(None), may_read(user_id, Notification.circle_id)))


def unread_count(user_id: int) -> int:
    """The bell's number (on every page)."""
    return _unread_count_statement.scalar({"user_id": user_id})


@prepared
def _unread_count_statement():
    # Built once with a parameter: building the expression anew cost more than running it.
    query = visible(bindparam("user_id")).where(Notification.read_at.is_(None))
    return select(func.count()).select_from(query.subquery())


def open_notification(actor: User, notification_id: int) -> Notification:
    """Mark one's notification read and return it (to follow its link).

    :raise NotFound: not the actor's, or hidden from them now.
    """
    note = db.session.scalar(visible(actor.id).where(Notification.id == notification_id))
    if note is None:
        raise NotFound()
    if note.read_at is None:
        note.read_at = utcnow()
        db.session.commit()
    return note


def mark_all_read(actor: User) -> int:
    count = db.session.execute(update(Notification).where(
        Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())).rowcount
    db.session.commit()
    return count


def channels_for(user: User) -> dict[str, str]:
    """Every kind with the person's channel for it (their choice, else the default)."""
    chosen = dict(db.session.execute(select(NotificationPreference.kind, NotificationPreference.channel)
                                     .where(NotificationPreference.user_id == user.id)).all())
    return {kind: chosen.get(kind, default) for kind, (_, default) in KINDS.items()}


def set_preferences(actor: User, choices: dict[str, str]) -> None:
    """Save the person's channel for each kind.

    :raise ActionError: an unknown kind or channel.
    """
    for kind, channel in choices.items():
        if kind not in KINDS or channel not in CHANNELS:
            raise ActionError("Choose one of the offered options for each kind.")
    existing = {p.kind: p for p in db.session.scalars(select(NotificationPreference).where(
        NotificationPreference.user_id == actor.id))}
    for kind, channel in choices.items():
        if kind in existing:
            existing[kind].channel = channel
        else:
            db.session.add(NotificationPreference(user_id=actor.id, kind=kind, channel=channel))
    db.session.commit()


def unsubscribe(user_id: int, kind: str) -> list[str]:
    """Stop email of a kind ("digest": every kind now in the digest); they stay in the app.
    Returns the kinds changed."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    current = channels_for(user)
    if kind == "digest":
        kinds = [k for k, c in current.items() if c == "digest"]
    elif kind in KINDS:
        kinds = [kind] if current[kind] in ("email", "digest") else []
    else:
        raise NotFound()
    set_preferences(user, {k: "in_app" for k in kinds})
    return kinds
