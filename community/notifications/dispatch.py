"""From notifications to email: at once, or in a calm daily or weekly digest.

Runs in the mail worker, never in a request. Every notification is looked at
once (claimed like the outbox's rows); one from a circle the person may no
longer read (left, or a changed pledge to accept) is dropped, so nothing about
a circle reaches someone who may not read it.
"""
from collections import defaultdict
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from .. import timefmt
from ..accounts.models import User
from ..circles.models import Circle
from ..database import begin_write
from ..extensions import db
from ..messages.models import MAX_PEOPLE
from ..messages.notify import names, waiting_for
from ..policy import may_read, reading_pairs
from ..timeutil import to_zone
from ..urls import path_for
from .kinds import default_channel
from .mailer import queue_mail, site_url
from .models import DigestState, Notification, NotificationPreference

BATCH = 200
DIGEST_WINDOW = timedelta(days=7)  # older undigested notes are not worth an email
WEEKLY_WINDOW = timedelta(days=8)  # a weekly digest covers its week (and a late worker)
MONDAY = 0


# --- Unsubscribe links ----------------------------------------------------------

def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="unsubscribe")


def unsubscribe_token(user_id: int, kind: str) -> str:
    """A signed token for one person and one kind ("digest" stands for all digest kinds).

    It carries the account's creation time too: SQLite may give a deleted
    account's id to the next one, and a link in an old email must not reach it.
    """
    return _serializer().dumps({"u": user_id, "k": kind, "c": _account_stamp(user_id)})


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    """(user id, kind) for a token of an account that still exists, else None."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("k"), str):
        return None
    if data["u"] > 2**31 - 1 or data.get("c") != _account_stamp(data["u"]):
        return None
    return data["u"], data["k"]


def _account_stamp(user_id: int) -> str | None:
    user = db.session.get(User, user_id)  # usually in the session already: no query
    return user.created_at.isoformat() if user else None


def unsubscribe_url(user_id: int, kind: str) -> str:
    return site_url(path_for("notifications.unsubscribe", token=unsubscribe_token(user_id, kind)))


# --- Choosing the channel --------------------------------------------------------

def preferences_of(user_ids) -> dict[int, dict[str, str]]:
    rows = db.session.execute(select(NotificationPreference.user_id, NotificationPreference.kind,
                                     NotificationPreference.channel)
                              .where(NotificationPreference.user_id.in_(list(user_ids))))
    prefs: dict[int, dict[str, str]] = defaultdict(dict)
    for user_id, kind, channel in rows:
        prefs[user_id][kind] = channel
    return prefs


def dispatch_notifications(now: datetime) -> int:
    """Decide where each new notification goes; queue email for the at-once ones."""
    begin_write()
    query = (select(Notification).where(Notification.dispatched_at.is_(None),
                                        or_(Notification.due_at.is_(None), Notification.due_at <= now))
             .order_by(Notification.id).limit(BATCH))
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Notification)
    notes = db.session.scalars(query).all()
    if not notes:
        db.session.commit()
        return 0
    prefs = preferences_of({n.user_id for n in notes})
    no_digest = set(db.session.scalars(select(DigestState.user_id).where(
        DigestState.user_id.in_({n.user_id for n in notes}), DigestState.frequency == "off")))
    readers = reading_pairs({(n.circle_id, n.user_id) for n in notes if n.circle_id})
    users = {u.id: u for u in db.session.scalars(select(User).where(
        User.id.in_({n.user_id for n in notes})))}
    circles = {c.id: c for c in db.session.scalars(select(Circle).where(
        Circle.id.in_({n.circle_id for n in notes if n.circle_id})))}
    for note in notes:
        channel = prefs[note.user_id].get(note.kind, default_channel(note.kind))
        user = users.get(note.user_id)
        if note.circle_id and (note.circle_id, note.user_id) not in readers:
            channel = "dropped"
        elif user is None or not user.is_active:
            channel = "dropped"
        elif note.conversation_id is not None and channel != "off":
            channel = _direct_message(user, note, channel)
        elif channel == "email":
            _email_one(user, note, circles.get(note.circle_id))
        if channel == "digest" and user.id in no_digest:
            channel = "in_app"
        note.dispatched_at, note.channel = now, channel
    db.session.commit()
    return len(notes)


def _email_one(user: User, note: Notification, circle: Circle | None) -> None:
    subject = note.text if not circle or circle.name in note.text else f"{note.text} ({circle.name})"
    # A circle's words are emailed if the circle allows it; an introduction's
    # only if its recipient chose to (users.introduction_excerpts).
    excerpt = note.excerpt if ((circle is not None and circle.email_excerpts)
                               or (note.kind == "introduction" and user.introduction_excerpts)) else None
    queue_mail(user.email, subject, "notification",
               unsubscribe_url=unsubscribe_url(user.id, note.kind), user=user, note=note,
               circle=circle, excerpt=excerpt, link=site_url(note.url),
               when=timefmt.date_time(note.created_at, user.timezone, user.clock),
               settings_link=site_url(path_for("notifications.settings")))


def _direct_message(user: User, note: Notification, channel: str) -> str:
    """Route a direct message's notification, due now that it has waited: nowhere
    if the person left or muted the conversation since, only in the app if they
    read it meanwhile; else by their choice, an email without what was written
    unless they asked for excerpts (messages/notify.py)."""
    waiting = waiting_for(user, note.conversation_id)
    if waiting is None:
        return "dropped"
    if not waiting.count or note.read_at is not None:
        return "in_app"
    if channel == "email":
        note.text = waiting.line[:300]
        queue_mail(user.email, note.text, "direct_message",
                   unsubscribe_url=unsubscribe_url(user.id, note.kind), user=user,
                   waiting=waiting, people=names(["you", *waiting.others], most=MAX_PEOPLE),
                   link=site_url(note.url),
                   when=timefmt.date_time(note.created_at, user.timezone, user.clock),
                   settings_link=site_url(path_for("notifications.settings")))
    return channel


# --- The digest -------------------------------------------------------------------

def send_digests(now: datetime) -> int:
    """Email each person their digest, only when something happened: daily, or
    weekly on Mondays, after their chosen hour (else DIGEST_HOUR) in their own
    timezone; none for someone who turned it off. Returns how many were queued."""
    waiting = db.session.scalars(select(Notification.user_id).where(
        Notification.channel == "digest", Notification.digested_at.is_(None),
        Notification.created_at > now - WEEKLY_WINDOW).distinct()).all()
    queued = 0
    for user_id in waiting:
        user = db.session.get(User, user_id)
        local = to_zone(now, user.timezone)
        state = db.session.get(DigestState, user_id)
        if not _due(state, local):
            continue
        queued += _digest_for(user, now, local)
    return queued


def _due(state: DigestState | None, local: datetime) -> bool:
    frequency = state.frequency if state else "daily"
    hour = state.hour if state and state.hour is not None else current_app.config["DIGEST_HOUR"]
    if frequency == "off" or local.hour < hour or (state and state.last_sent_on == local.date()):
        return False
    return frequency == "daily" or local.weekday() == MONDAY


def _state_row(user_id: int) -> None:
    """Make sure the person's digest row exists (two workers may both try)."""
    begin_write()
    if db.session.get(DigestState, user_id) is None:
        db.session.add(DigestState(user_id=user_id))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
    else:
        db.session.commit()


def _digest_for(user: User, now: datetime, local: datetime) -> int:
    _state_row(user.id)
    begin_write()
    # Locked, so of several workers (processes) one sends and the rest see it sent.
    state = db.session.scalar(select(DigestState).where(DigestState.user_id == user.id)
                              .with_for_update().execution_options(populate_existing=True))
    if state.last_sent_on == local.date():
        db.session.commit()
        return 0
    weekly = state.frequency == "weekly"
    since = now - (WEEKLY_WINDOW if weekly else DIGEST_WINDOW)
    rows = db.session.execute(
        select(Notification, Circle).outerjoin(Circle, Circle.id == Notification.circle_id)
        .where(Notification.user_id == user.id, Notification.channel == "digest",
               Notification.digested_at.is_(None), Notification.created_at > since,
               Notification.circle_id.is_(None) | may_read(user.id, Notification.circle_id))
        .order_by(Notification.id)).all()
    db.session.execute(update(Notification).where(
        Notification.user_id == user.id, Notification.channel == "digest",
        Notification.digested_at.is_(None)).values(digested_at=now))
    state.last_sent_on = local.date()
    if rows:
        groups: dict[str, list] = defaultdict(list)
        for note, circle in rows:
            groups[circle.name if circle else "Your account"].append(
                (note, timefmt.date_time(note.created_at, user.timezone, user.clock), site_url(note.url)))
        count = len(rows)
        period = "week" if weekly else "day"
        queue_mail(user.email, f"Your {period} in Alumni Circles: {count} update{'s' if count != 1 else ''}",
                   "digest", unsubscribe_url=unsubscribe_url(user.id, "digest"), user=user,
                   groups=dict(groups), count=count, date=local,
                   settings_link=site_url(path_for("notifications.settings")))
    db.session.commit()
    return 1 if rows else 0
