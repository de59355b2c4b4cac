"""Notifications: creating them (inside the caller's transaction), reading them,
and each person's choices about where they go."""
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..database import begin_write
from ..errors import ActionError, NotFound
from ..extensions import db
from ..fast.prepared import prepared
from ..policy import is_staff_somewhere, may_read
from ..timeutil import utcnow
from . import live
from .kinds import CHANNELS, DIGEST_FREQUENCIES, KINDS, PRESETS, STAFF_KINDS, preset_channels
from .models import DigestState, Notification, NotificationPreference


def notify(user_id: int, kind: str, text: str, url: str = "/", circle_id: int | None = None,
           actor_id: int | None = None, excerpt: str | None = None,
           replaces: tuple[str, ...] = ()) -> Notification:
    """Add a notification in the caller's transaction (the caller commits).

    The mail worker later decides, by the person's preferences, whether it is
    also emailed now, kept for the digest, or stays in the app.
    :param excerpt: a few words of the post; emailed only if the circle allows.
    :param replaces: kinds of an earlier notification with the same link that
        this one takes the place of (a mention added to a post already told as
        a reply): that row becomes this one, new again, so one post is one item.
    """
    note = None
    if replaces:
        note = db.session.scalar(select(Notification).where(
            Notification.user_id == user_id, Notification.url == url[:300],
            Notification.kind.in_(replaces)).order_by(Notification.id.desc()).limit(1))
    if note is None:
        note = Notification(user_id=user_id)
        db.session.add(note)
    else:  # new again, and routed again by its new kind
        note.created_at, note.seen_at, note.read_at = utcnow(), None, None
        note.dispatched_at = note.channel = note.digested_at = None
    note.kind, note.text, note.url, note.circle_id = kind, text[:300], url, circle_id
    note.actor_id, note.excerpt = actor_id, excerpt
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
    """The bell's number (on every page): neither seen on the notifications page nor opened."""
    return _unread_count_statement.scalar({"user_id": user_id})


def unread_count_query(user_id, up_to: int | None = None):
    """A select of the bell's number for a user (an id or a parameter), counted
    no further than up_to when given (the header shows "99+" beyond)."""
    query = visible(user_id).where(Notification.read_at.is_(None), Notification.seen_at.is_(None))
    if up_to is not None:
        query = query.with_only_columns(Notification.id).limit(up_to)
    return select(func.count()).select_from(query.subquery())


@prepared
def _unread_count_statement():
    # Built once with a parameter: building the expression anew cost more than running it.
    return unread_count_query(bindparam("user_id"))


def open_notification(actor: User, notification_id: int) -> Notification:
    """Mark one's notification read and return it (to follow its link).

    :raise NotFound: not the actor's, or hidden from them now.
    """
    note = db.session.scalar(visible(actor.id).where(Notification.id == notification_id))
    if note is None:
        raise NotFound()
    if note.read_at is None:
        note.read_at = utcnow()
        note.seen_at = note.seen_at or note.read_at
        db.session.commit()
    return note


PAGE_MOST = 100  # more ids than any page shows are not from a page


def mark_seen(actor: User, notification_ids: list[int]) -> int:
    """Mark these of one's notifications seen (shown on the page): the bell stops
    counting them; they stay unread until opened. Returns the bell's new count."""
    if notification_ids:
        db.session.execute(update(Notification).where(
            Notification.user_id == actor.id, Notification.id.in_(notification_ids[:PAGE_MOST]),
            Notification.seen_at.is_(None)).values(seen_at=utcnow()))
        db.session.commit()
    return unread_count(actor.id)


def mark_all_read(actor: User) -> int:
    now = utcnow()
    count = db.session.execute(update(Notification).where(
        Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=now, seen_at=func.coalesce(Notification.seen_at, now))).rowcount
    db.session.commit()
    return count


def channels_for(user: User) -> dict[str, str]:
    """Every kind with the person's channel for it (their choice, else the default)."""
    chosen = dict(db.session.execute(select(NotificationPreference.kind, NotificationPreference.channel)
                                     .where(NotificationPreference.user_id == user.id)).all())
    return {kind: chosen.get(kind, default) for kind, (_, default) in KINDS.items()}


def kinds_for(user: User) -> list[str]:
    """The kinds the person can receive, in KINDS' order: the moderators' kinds
    only for someone who is an owner or moderator somewhere."""
    staff = is_staff_somewhere(user.id)
    return [kind for kind in KINDS if staff or kind not in STAFF_KINDS]


def preset_of(channels: dict[str, str], kinds: list[str]) -> str:
    """Which of PRESETS the person's choices (of the kinds they receive) match, else "custom"."""
    for preset in PRESETS:
        wanted = preset_channels(preset)
        if all(channels[kind] == wanted[kind] for kind in kinds):
            return preset
    return "custom"


def digest_choice(user: User) -> tuple[str, int | None]:
    """(frequency, hour) of the person's digest; hour None: the site's DIGEST_HOUR."""
    state = db.session.get(DigestState, user.id)
    return (state.frequency, state.hour) if state else ("daily", None)


def save_settings(actor: User, preset: str, grid: dict[str, str], frequency: str,
                  hour: str, dm_excerpts: bool | None = None) -> None:
    """Save the notification settings page at once: a preset (every kind) or, for
    "custom", the grid's channel for each kind the person receives; the
    digest's frequency and hour (0-23, their time); and whether emails about
    direct messages may quote them (None: as it was).

    :raise ActionError: an unknown preset, channel, frequency or hour.
    """
    if preset in PRESETS:
        choices = preset_channels(preset)
    elif preset == "custom":
        choices = {kind: grid.get(kind, "") for kind in kinds_for(actor)}
    else:
        raise ActionError("Choose one of the offered ways, or Customise.")
    if frequency not in DIGEST_FREQUENCIES:
        raise ActionError("Choose how often the digest comes.")
    if not (hour.isascii() and hour.isdigit() and len(hour) <= 2 and int(hour) < 24):
        raise ActionError("Choose an hour of the day for the digest.")
    _check(choices)
    begin_write()
    _write_preferences(actor, choices)
    if dm_excerpts is not None:
        actor.dm_email_excerpts = dm_excerpts
    state = db.session.get(DigestState, actor.id)
    if state is None:
        state = DigestState(user_id=actor.id)
        db.session.add(state)
    state.frequency, state.hour = frequency, int(hour)
    try:
        db.session.commit()
    except IntegrityError:  # the mail worker made the digest row just now: write over it
        db.session.rollback()
        _write_preferences(actor, choices)
        if dm_excerpts is not None:
            actor.dm_email_excerpts = dm_excerpts
        db.session.execute(update(DigestState).where(DigestState.user_id == actor.id)
                           .values(frequency=frequency, hour=int(hour)))
        db.session.commit()


def _check(choices: dict[str, str]) -> None:
    for kind, channel in choices.items():
        if kind not in KINDS or channel not in CHANNELS:
            raise ActionError("Choose one of the offered options for each kind.")


def set_preferences(actor: User, choices: dict[str, str]) -> None:
    """Save the person's channel for each kind.

    :raise ActionError: an unknown kind or channel.
    """
    _check(choices)
    _write_preferences(actor, choices)
    db.session.commit()


def _write_preferences(actor: User, choices: dict[str, str]) -> None:
    existing = {p.kind: p for p in db.session.scalars(select(NotificationPreference).where(
        NotificationPreference.user_id == actor.id))}
    for kind, channel in choices.items():
        if kind in existing:
            existing[kind].channel = channel
        else:
            db.session.add(NotificationPreference(user_id=actor.id, kind=kind, channel=channel))


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
