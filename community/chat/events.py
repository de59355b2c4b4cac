"""Socket.IO handlers of the `/chat` namespace: as thin as views.

Each handler checks the payload's shape, calls an action and answers with an
ack. The contract (names, payloads) is in the design notes; on top of it:

- Every failure is answered `{ok: false, error: "<code>", message: "<text>"}`
  in the ack, and the same, with `event`, as an `error` event to that socket
  (for clients that send without an ack). Codes: unauthorised, invalid,
  too_long, empty, not_found, forbidden, rate_limited, pledge_required,
  second_factor_required, duplicate, gone, cant_send, stale, unavailable, server_error.
  A non-member gets `not_found` for an existing circle exactly as for a missing one.
- A handler never raises: bad input, a removed member or a bug answers that
  socket with an error and leaves every other connection alone.
- Nor does it hang on Redis (chat/live.py falls back to this process) or the
  database: what they need being away is `unavailable`, "Live updates are
  paused; retrying." (the client shows it and tries again), and a connection
  is refused with the same {error, message} as its data.
- Additions to the contract: `join` accepts `changed_since` (the `server_time`
  of the previous join's ack) and answers `changed`, `has_older`, `has_newer`
  and `server_time`; `mark_read` {circle, id} moves the read position;
  `report_message` {id, reason} files a report for the moderators.
- Files: `send_message` accepts `attachments`, a list of up to 10 upload ids
  (POST /c/<slug>/files), attached with the message (whose body may then be
  empty); refused ones answer invalid, too_many or attachment_gone and store
  nothing. Every message payload has `attachments`: [{id, name, kind, size,
  url, thumbnail_url}] (none for a deleted message).
- No message lost: every message payload has `seq`, its number in its circle
  (1, 2, 3... without gaps). `join` accepts `after_seq` (the last seq the
  client holds without a gap; preferred to the older `after_id`) and answers
  the messages after it in seq order, up to 500, with `has_newer` and
  `through` (the seq the answer covers up to: deleted messages are skipped
  but covered); a join without either answers `through` too. `fetch`
  {circle, after_seq, before_seq?} answers the same for a range, for a client
  that saw a gap (authorised and throttled as `join`). The server emits
  `resync` {} when a broadcast may have been lost (its message-queue listener
  reconnected, or a publish failed and Redis is back: community/chat/queue.py);
  clients then fetch after their last seq in every circle they joined.
- Meeting run sheets: `join_run_sheet` and `step_run_sheet` {circle, meeting,
  date, ...}, and the server's `run_sheet_changed` (community/agenda/events.py).
- Direct messages: join, send_message, fetch, load_older, typing,
  edit_message, delete_message and mark_read also take `conversation` (an id)
  where they take `circle`, and are then answered by community/messages/events.py
  (see there what differs); a message payload has `conversation` in place of `circle`.
"""
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps

from flask import current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, disconnect, emit, join_room
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import Forbidden, NotFound

from ..accounts import sessions
from ..errors import ActionError
from ..extensions import db
from ..sockets import SERVICE_AWAY, UNAVAILABLE, origin_allowed, refuse_unavailable, sent_by_the_client
from ..text import UNSTORABLE
from . import actions
from .admission import BUSY, few_at_a_time, refused_when_busy
from .live import NAMESPACE, circle_room, state

log = logging.getLogger(__name__)

MAX_ID = 2**63 - 1
MAX_REASON = 4000
# Per-process throttles, before any database work: (limit, seconds).
SEND_BURST = 2          # x CHAT_RATE_LIMIT; the exact limit is counted in the database
EDIT_LIMIT = (20, 10)   # edits and deletions
READ_WINDOW = 10        # seconds; CHAT_READ_LIMIT joins and load_older calls in it
REPORT_LIMIT = (5, 60)
MARK_LIMIT = (20, 10)
TYPING_EVERY = 2.0      # seconds between typing broadcasts of one person in one circle
TYPING_FLOOD = (20, 10) # typing events a person may send at all


# (event, handler) pairs, registered on each app's Socket.IO server by
# register(): Flask-SocketIO attaches handlers to the server that exists when
# they are declared, and every create_app() makes a new one.
HANDLERS: list[tuple[str, Callable]] = []
# event -> handler(user, data) for payloads naming a `conversation` instead of a
# circle: direct messages (community/messages/events.py) speak the same protocol.
CONVERSATION_HANDLERS: dict[str, Callable] = {}


def register(sio) -> None:
    """Attach the /chat handlers to sio's current server (called per app)."""
    for name, handler in HANDLERS:
        sio.on_event(name, handler, namespace=NAMESPACE)


def handles(name: str):
    def decorate(handler):
        HANDLERS.append((name, handler))
        return handler
    return decorate


class Unauthorised(Exception):
    """The socket's session no longer signs anyone in (signed out, suspended...)."""


ERRORS = {
    "unauthorised": "Your session has ended. Sign in again to use chat.",
    "not_found": "There is no such circle or message, or you are not a member of the circle.",
    "rate_limited": "You're doing that too often. Wait a few seconds and try again.",
    "server_error": "Something went wrong on our side. Try again in a moment.",
    "unavailable": UNAVAILABLE,
}


def _error(code: str, message: str | None = None) -> dict:
    return {"ok": False, "error": code, "message": message or ERRORS[code]}


def _as_error(exc: Exception) -> dict:
    if isinstance(exc, Unauthorised):
        return _error("unauthorised")
    if isinstance(exc, NotFound):
        return _error("not_found")
    if isinstance(exc, Forbidden):
        return _error("forbidden", exc.description)
    if isinstance(exc, ActionError):
        return _error(exc.code, exc.message)
    if isinstance(exc, PoolTimeout):  # every database connection in use (DB_POOL_TIMEOUT)
        log.warning("chat event refused, database pool exhausted: %s", exc)
        return _error("unavailable", BUSY)  # the code clients retry on: not now
    if isinstance(exc, SERVICE_AWAY):
        log.warning("chat event refused, a service is away: %s", type(exc).__name__)
        return _error("unavailable")
    log.exception("chat handler failed")
    return _error("server_error")


def _user():
    """The signed-in user, loaded afresh for this event by Flask-Login."""
    user = current_user._get_current_object()
    if not user.is_authenticated:
        raise Unauthorised()
    return user


def chat_event(name: str, place: str = "circle"):
    """Register a handler `handler(user, data) -> dict | None` for event `name`.

    The wrapper loads the user, insists on an object payload, turns every
    exception into an error answer, and rolls back whatever was left open.
    With place="conversation" the handler answers the event's payloads that
    carry `conversation` (an id) instead of `circle`, behind the same wrapper.
    """
    def decorate(handler):
        if place == "conversation":
            CONVERSATION_HANDLERS[name] = handler
            return handler

        @wraps(handler)
        def wrapper(*args):
            data = args[0] if args else None
            try:
                user = _user()
                if not isinstance(data, dict):
                    raise ActionError("Send the event's data as an object.", code="invalid")
                if any(isinstance(value, str) and UNSTORABLE.search(value)
                       for value in data.values()):
                    raise ActionError("The event's text has a character that can't be "
                                      "stored (NUL, or half a surrogate pair).", code="invalid")
                chosen = CONVERSATION_HANDLERS.get(name) if "conversation" in data else None
                result = (chosen or handler)(user, data)
                return {"ok": True, **(result or {})}
            except Exception as exc:  # noqa: BLE001 - every failure becomes an answer
                try:
                    db.session.rollback()
                except Exception:  # noqa: BLE001 - e.g. the database is down: still answer
                    log.exception("rollback after a chat event failed")
                error = _as_error(exc)
                emit("error", {**error, "event": name})
                if isinstance(exc, Unauthorised):
                    disconnect()
                return error

        HANDLERS.append((name, wrapper))
        return wrapper
    return decorate


def throttled(key: tuple, limit: int, window: float) -> None:
    if not state().throttle.allow(key, limit, window):
        raise ActionError(ERRORS["rate_limited"], code="rate_limited")


# --- Payload shapes ------------------------------------------------------------------

def _slug(data: dict) -> str:
    slug = data.get("circle")
    if not isinstance(slug, str) or not slug or len(slug) > 80:
        raise ActionError("`circle` must be the circle's slug.", code="invalid", field="circle")
    return slug


def id_of(data: dict, key: str, required: bool = True) -> int | None:
    value = data.get(key)
    if value is None and not required:
        return None
    # bool is an int in Python; true is not an id.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
        raise ActionError(f"`{key}` must be a message id (a whole number).", code="invalid",
                          field=key)
    return value


def moment_of(data: dict, key: str) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) and len(value) < 40 \
            else None
    except ValueError:
        moment = None
    # A server's time is this century; year 1 or 9999 with an offset can't even be
    # moved to UTC (OverflowError), nor have the catch-up margin taken off it.
    if moment is None or moment.tzinfo is None or not 2000 <= moment.year <= 2100:
        raise ActionError(f"`{key}` must be a time from the server (ISO 8601, with zone).",
                          code="invalid", field=key)
    return moment.astimezone(UTC)


# --- Connection ------------------------------------------------------------------------

@handles("connect")
@refused_when_busy
def on_connect(auth=None):
    """Only signed-in people, from our own pages (or configured origins), connect."""
    if sent_by_the_client():
        return None
    if not origin_allowed(request.environ, current_app.config.get("CORS_ALLOWED_ORIGINS")):
        raise ConnectionRefusedError("This page may not connect to chat.",
                                     {"error": "forbidden_origin"})
    try:
        signed_in = current_user.is_authenticated  # loads the user: the database
    except Exception as exc:  # noqa: BLE001 - refuse clearly, never raise or hang
        raise refuse_unavailable(exc) from None
    if not signed_in:
        raise ConnectionRefusedError(ERRORS["unauthorised"], {"error": "unauthorised"})
    chat = state()
    chat.registry.connect(request.sid, current_user.id, sessions.current_id())
    chat.start()  # never waits for Redis


@handles("disconnect")
def on_disconnect(*reason):
    if sent_by_the_client():
        return
    chat = state()
    info = chat.registry.disconnect(request.sid)
    if info is None:
        return
    try:
        for circle_id, slug in info.circles.items():
            if chat.presence.remove(circle_id, info.user_id, request.sid):
                chat.announce_presence(circle_id, slug)
    except Exception:  # noqa: BLE001 - a disconnect must not raise
        db.session.rollback()
        log.exception("chat presence update on disconnect failed")


# --- Events ----------------------------------------------------------------------------

@chat_event("join")
@few_at_a_time  # a reconnect storm queues in memory, not on the database pool
def on_join(user, data):
    """Join a circle's room: history (or catch-up) and who is online."""
    slug = _slug(data)
    after_id = id_of(data, "after_id", required=False)
    after_seq = id_of(data, "after_seq", required=False)
    changed_since = moment_of(data, "changed_since")
    throttled(("read", user.id), current_app.config["CHAT_READ_LIMIT"], READ_WINDOW)
    circle = actions.open_chat(user, slug)
    # Into the room first, then read: a message committed in between arrives
    # twice (clients keep one per id) rather than not at all.
    room = circle_room(circle.id)
    chat = state()
    join_room(room)
    changed = chat.enter(request.sid, user.id, circle.id, circle.slug)
    try:
        # Checks membership again, after joining: a removal committed meanwhile
        # is seen here, or else its cut-off finds this socket in the room.
        result = actions.history(user, slug, after_id=after_id, changed_since=changed_since,
                                 after_seq=after_seq)
    except Exception:
        chat.leave(request.sid, user.id, circle.id)
        raise
    if changed:
        chat.announce_presence(circle.id, circle.slug)
    result.pop("circle_id", None)
    return {**result, "online": chat.online(circle.id)}


@chat_event("send_message")
def on_send_message(user, data):
    limit = current_app.config["CHAT_RATE_LIMIT"] * SEND_BURST
    throttled(("send", user.id), limit, current_app.config["CHAT_RATE_WINDOW"])
    message, created = actions.send_message(user, _slug(data), data.get("body"),
                                            data.get("client_id"), data.get("attachments"))
    return {"message": message, "duplicate": not created}


@chat_event("load_older")
def on_load_older(user, data):
    slug, before_id = _slug(data), id_of(data, "before_id")
    throttled(("read", user.id), current_app.config["CHAT_READ_LIMIT"], READ_WINDOW)
    return actions.older_messages(user, slug, before_id)


@chat_event("fetch")
def on_fetch(user, data):
    """The messages numbered after after_seq (and before before_seq): a gap's."""
    slug = _slug(data)
    after_seq = id_of(data, "after_seq")
    before_seq = id_of(data, "before_seq", required=False)
    throttled(("read", user.id), current_app.config["CHAT_READ_LIMIT"], READ_WINDOW)
    return actions.catch_up(user, slug, after_seq, before_seq)


@chat_event("typing")
def on_typing(user, data):
    slug = _slug(data)
    throttle = state().throttle
    throttled(("typing-in", user.id), *TYPING_FLOOD)
    # Membership is checked on every typing event; the broadcast is then
    # throttled per person and circle, extra events simply dropped.
    actions.typing(user, slug, skip_sid=request.sid,
                   allow=lambda circle_id: throttle.allow(("typing", user.id, circle_id), 1,
                                                          TYPING_EVERY))
    return None


@chat_event("edit_message")
def on_edit_message(user, data):
    message_id = id_of(data, "id")
    throttled(("edit", user.id), *EDIT_LIMIT)
    return {"message": actions.edit_message(user, message_id, data.get("body"))}


@chat_event("delete_message")
def on_delete_message(user, data):
    message_id = id_of(data, "id")
    throttled(("edit", user.id), *EDIT_LIMIT)
    return {"message": actions.delete_message(user, message_id)}


@chat_event("mark_read")
def on_mark_read(user, data):
    slug, message_id = _slug(data), id_of(data, "id")
    if not state().throttle.allow(("mark", user.id), *MARK_LIMIT):
        return None  # harmless to drop: a later one moves the position anyway
    return {"last_read_id": actions.mark_read(user, slug, message_id)}


@chat_event("report_message")
def on_report_message(user, data):
    message_id = id_of(data, "id")
    reason = data.get("reason")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        raise ActionError(f"Give a reason of at most {MAX_REASON:,} characters.",
                          code="invalid", field="reason")
    throttled(("report", user.id), *REPORT_LIMIT)
    report = actions.report_message(user, message_id, reason)
    return {"report_id": report.id}
