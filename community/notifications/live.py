"""The bell, live: each signed-in page holds a small Socket.IO connection on
/notifications and hears "notification" when a new one is committed for its user.

The event carries nothing but a nudge; the page then asks /notifications/unread
for the count, so no text travels over the socket and the rules of what a
person may see stay in one query (notifications.actions.visible).
"""
from flask import request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..extensions import socketio

NAMESPACE = "/notifications"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def on_connect(auth=None):
    from flask import current_app

    from ..chat.events import origin_allowed  # here: chat imports notifications

    if not origin_allowed(request.environ, current_app.config.get("CORS_ALLOWED_ORIGINS")):
        raise ConnectionRefusedError("This page may not connect.")
    if not current_user.is_authenticated:
        raise ConnectionRefusedError("Sign in first.")
    join_room(user_room(current_user.id))


def register(sio) -> None:
    sio.on_event("connect", on_connect, namespace=NAMESPACE)


def remember(session: Session, user_id: int) -> None:
    """Note, in the transaction, who should hear once it commits."""
    session.info.setdefault("notified_users", set()).add(user_id)


@event.listens_for(Session, "after_commit")
def _nudge(session):
    users = session.info.pop("notified_users", None)
    for user_id in users or ():
        socketio.emit("notification", {}, to=user_room(user_id), namespace=NAMESPACE)


@event.listens_for(Session, "after_rollback")
def _forget(session):
    session.info.pop("notified_users", None)
