"""The bell, live: each signed-in page holds a small Socket.IO connection on
/notifications and hears "notification" when a new one is committed for its user.

The event carries nothing but a nudge; the page then asks /notifications/unread
for the count, so no text travels over the socket and the rules of what a
person may see stay in one query (notifications.actions.visible).

When a person's sessions end, or they sign out of one browser, their bell
sockets are closed like their chat sockets: chat's control bus (chat/live.py,
on Redis when there are several processes) reaches every process, and each
closes the sockets it holds, which `BellSockets` lists.
"""
import threading

from flask import current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, join_room
from sqlalchemy.orm import Session

from ..accounts import sessions
from ..after_commit import after_commit
from ..extensions import socketio
from ..sockets import origin_allowed, refuse_unavailable, sent_by_the_client

NAMESPACE = "/notifications"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


class BellSockets:
    """This process's bell sockets, by user: user id -> {sid: the browser's sign-in id}."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_user: dict[int, dict[str, str | None]] = {}
        self._user_of: dict[str, int] = {}

    def add(self, sid: str, user_id: int, session_id: str | None) -> None:
        with self._lock:
            self._by_user.setdefault(user_id, {})[sid] = session_id
            self._user_of[sid] = user_id

    def discard(self, sid: str) -> None:
        with self._lock:
            user_id = self._user_of.pop(sid, None)
            sids = self._by_user.get(user_id)
            if sids is not None:
                sids.pop(sid, None)
                if not sids:
                    del self._by_user[user_id]

    def sids_of(self, user_id: int, session_id: str | None = None) -> list[str]:
        """The user's sockets; with session_id, only those of that browser's sign-in."""
        with self._lock:
            return [sid for sid, sess in self._by_user.get(user_id, {}).items()
                    if session_id is None or sess == session_id]


def bell_sockets() -> BellSockets:
    """This app's registry (apps in one process, e.g. in tests, keep their own)."""
    return current_app.extensions.setdefault("bell_sockets", BellSockets())


def on_connect(auth=None):
    if sent_by_the_client():
        return  # an event named "connect" on an open socket
    if not origin_allowed(request.environ, current_app.config.get("CORS_ALLOWED_ORIGINS")):
        raise ConnectionRefusedError("This page may not connect.")
    try:
        signed_in = current_user.is_authenticated  # loads the user: the database
    except Exception as exc:  # noqa: BLE001 - refuse clearly ("unavailable"), never raise
        raise refuse_unavailable(exc) from None
    if not signed_in:
        raise ConnectionRefusedError("Sign in first.")
    join_room(user_room(current_user.id))
    bell_sockets().add(request.sid, current_user.id, sessions.current_id())
    chat = current_app.extensions.get("chat")
    if chat is not None:
        # Listen to the control bus, even on a process with no chat socket (in
        # the background: never waits for Redis).
        chat.start()


def on_disconnect(*reason):
    if sent_by_the_client():
        return  # an event named "disconnect": the socket stays open, and listed
    bell_sockets().discard(request.sid)


def disconnect_local(user_id: int, session_id: str | None = None) -> None:
    """Close the user's bell sockets on this process (all, or one browser's)."""
    for sid in bell_sockets().sids_of(user_id, session_id):
        socketio.server.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)


def register(sio) -> None:
    sio.on_event("connect", on_connect, namespace=NAMESPACE)
    sio.on_event("disconnect", on_disconnect, namespace=NAMESPACE)


def remember(session: Session, user_id: int) -> None:
    """Have the user's bell hear, once, when this transaction commits."""
    after_commit(lambda: socketio.emit("notification", {}, to=user_room(user_id),
                                       namespace=NAMESPACE),
                 key=("bell", user_id), session=session)


def nudge(user_ids, event: str) -> None:
    """Tell these people's open pages that something they count changed (e.g.
    "messages": their unread direct messages); the page asks for the number,
    so nothing private travels over the socket."""
    for user_id in user_ids:
        socketio.emit(event, {}, to=user_room(user_id), namespace=NAMESPACE)
