"""The live side of chat, on every process: rooms, presence, cutting people off.

Each circle has a Socket.IO room, "circle:<id>", joined only by the `join`
handler after the policy lets the user in. A circle's other rooms (a meeting
date's run sheet: community/agenda/live.py) are recorded with their circle,
and left with it when someone is cut off. Broadcasts go through
`socketio.emit`, which the message queue (Redis) carries to every process.

Rooms are per process, so when someone is removed, banned or signed out
everywhere, every process must drop that person's sockets. The circles and
accounts areas send `membership_ended` / `sessions_ended` (or
`browser_signed_out`, for one browser's sockets) after their commit;
we publish a control message on `<SOCKETIO_CHANNEL>:chat:control` (or handle
it at once when there is no Redis), and each process cuts off its own
sockets of that user (when sessions end or a browser signs out, the bell's
/notifications sockets too). A sweep every RedisPresence.HEARTBEAT seconds
re-checks every joined socket's membership as a backstop (a process that died
between its commit and its publish, a Redis hiccup).

Redis is optional for correctness. Every call to it gives up after
REDIS_TIMEOUT (half a second), and after one failure chat stops asking it on
the way of an event: presence counts this process's sockets (FailoverPresence),
control messages are handled in the process that sends them (the others' sweep
catches up), and chat within a process goes on. The listener tries Redis again
every RETRY seconds in the background; once it answers, this process's sockets
are put back into the shared presence and a sweep runs at once.
"""
import json
import logging
import threading
import time
from collections import deque

from flask import Flask, current_app
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..accounts.models import User
from ..extensions import db, socketio
from ..policy import active_members, hearing_pairs, reading_pairs
from ..redis_client import REDIS_DOWN, is_redis_url, quick_client
from ..signals import (
    browser_signed_out,
    membership_ended,
    pledge_changed,
    second_factor_removed,
    second_factor_required,
    sessions_ended,
)
from .presence import FailoverPresence, LocalPresence, RedisPresence, SocketRegistry

NAMESPACE = "/chat"
log = logging.getLogger(__name__)


def circle_room(circle_id: int) -> str:
    return f"circle:{circle_id}"


def conversation_room(conversation_id: int) -> str:
    """A direct conversation's room: joined by members who hear it (policy.hearing_pairs)."""
    return f"conversation:{conversation_id}"


def state() -> "ChatState":
    """This app's chat state (created when the chat blueprint is registered)."""
    return current_app.extensions["chat"]


def broadcast(event: str, payload: dict, circle_id: int, skip_sid: str | None = None) -> None:
    """Send an event to everyone in a circle's room, on every process."""
    socketio.emit(event, payload, to=circle_room(circle_id), namespace=NAMESPACE,
                  skip_sid=skip_sid)


def broadcast_conversation(event: str, payload: dict, conversation_id: int,
                           skip_sid: str | None = None) -> None:
    """Send an event to everyone in a conversation's room, on every process."""
    socketio.emit(event, payload, to=conversation_room(conversation_id), namespace=NAMESPACE,
                  skip_sid=skip_sid)


def emit_local(event: str, payload: dict, sid: str) -> None:
    """Send an event to a socket of this process, without a trip through the queue."""
    socketio.server.emit(event, payload, to=sid, namespace=NAMESPACE, ignore_queue=True)


class Throttle:
    """Sliding-window counters in this process, e.g. typing at most every 2 s."""

    def __init__(self, clock=time.monotonic):
        self._lock = threading.Lock()
        self._hits: dict[tuple, deque] = {}
        self._clock = clock
        self._calls = 0

    def allow(self, key: tuple, limit: int, window: float) -> bool:
        now = self._clock()
        with self._lock:
            self._calls += 1
            if self._calls % 1000 == 0:
                self._prune(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            return True

    def _prune(self, now: float, horizon: float = 300) -> None:
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] < now - horizon]:
            del self._hits[key]


class ChatState:
    """Per app: this process's sockets, presence, throttles and the control bus."""

    # Seconds between tries to reach Redis again while it is away: the listener
    # resubscribes, and presence goes back to Redis, within about this long of
    # Redis answering again.
    RETRY = 1.0
    # Control messages handled only here while Redis was away are sent again
    # once it answers, when they are of a kind the sweep can't catch up with:
    # whose sign-in ended lives in sessions, not in what the sweep reads.
    # (Removals are left to the sweep: sent late, they could cut off someone
    # who has been let back in meanwhile.)
    RESEND = frozenset({"sessions_ended", "browser_signed_out"})

    def __init__(self, app: Flask):
        self.app = app
        self.prefix = app.config.get("SOCKETIO_CHANNEL", "flask-socketio")
        self.control_channel = f"{self.prefix}:chat:control"
        url = app.config.get("SOCKETIO_MESSAGE_QUEUE")
        self.redis = None
        if is_redis_url(url):
            self.redis = quick_client(url, app.config.get("REDIS_TIMEOUT", 0.5))
        self.registry = SocketRegistry()
        self.presence = (FailoverPresence(RedisPresence(self.redis, self.prefix)) if self.redis
                         else LocalPresence())
        self.throttle = Throttle()
        self._start_lock = threading.Lock()
        self._started = False
        self._stopped = threading.Event()
        # Set while the listener is subscribed to the control channel.
        self.subscribed = threading.Event()
        self._presence_lock = threading.Lock()
        self._presence_due: dict[int, str] = {}  # circle id -> slug, broadcast pending
        self._unsent: deque = deque(maxlen=10_000)  # RESEND kinds not yet sent through Redis
        self._resend_at = 0.0

    @property
    def redis_up(self) -> bool:
        """Redis is configured and, as far as we know, answering."""
        return self.redis is not None and self.presence.up

    # --- Background work (only with Redis: one process needs none) -------------

    def start(self) -> None:
        """Start listening to the control channel, and the heartbeat, once.

        Called on the first connection, so CLI commands and tests that never
        open a socket start nothing. Never waits for Redis (a connect handler
        calls it): the subscription is made in the background, and a sweep
        right after it re-checks every joined socket, so a removal published
        before the subscription took effect is still acted on.
        """
        if self.redis is None or self._started:
            return
        with self._start_lock:
            if self._started:
                return
            self._started = True
            socketio.start_background_task(self._listen)
            socketio.start_background_task(self._heartbeat)

    def stop(self) -> None:
        """End the background work (tests; a process shutting down). The
        listener notices within RETRY seconds."""
        self._stopped.set()

    def _subscribe(self):
        """A subscription to the control channel that Redis has confirmed: from
        then on, every control message published reaches this process."""
        pubsub = self.redis.pubsub()
        try:
            pubsub.subscribe(self.control_channel)
            confirmed = pubsub.get_message(timeout=self.app.config.get("REDIS_TIMEOUT", 0.5))
            if not confirmed or confirmed.get("type") != "subscribe":
                raise RedisTimeoutError("Redis did not confirm the subscription")
        except BaseException:
            pubsub.close()
            raise
        return pubsub

    def _listen(self) -> None:
        """Hear control messages; while Redis is away, try it again every RETRY s."""
        pubsub = None
        away = False
        next_try = 0.0
        try:
            while not self._stopped.is_set():
                try:
                    if pubsub is None:
                        pubsub = self._subscribe()
                        self.presence.recover()  # before publish() relies on Redis again
                        self.subscribed.set()
                        if away:
                            log.info("chat control bus: Redis answers again, listening")
                            away = False
                        self._caught_up()
                    # Wakes every RETRY s even when idle: to stop, and to retry presence.
                    item = pubsub.get_message(timeout=self.RETRY)
                    if item is not None and item.get("type") == "message":
                        self._dispatch(item["data"])
                    if not self.presence.up and time.monotonic() >= next_try:
                        next_try = time.monotonic() + self.RETRY
                        if self.presence.recover():
                            self._caught_up()
                    if self._unsent and self.presence.up and time.monotonic() >= self._resend_at:
                        self._send_unsent()
                except REDIS_DOWN as exc:
                    self.subscribed.clear()
                    self.presence.lost(exc)
                    if not away:
                        log.warning("chat control bus lost Redis (%s: %s): control messages "
                                    "are handled where they are sent, and re-checked by each "
                                    "process's sweep, until it answers", type(exc).__name__, exc)
                        away = True
                    pubsub = self._close(pubsub)
                    socketio.sleep(self.RETRY)
                except Exception:  # noqa: BLE001 - keep listening whatever happens
                    log.exception("chat control listener failed; listening again")
                    self.subscribed.clear()
                    pubsub = self._close(pubsub)
                    socketio.sleep(self.RETRY)
        finally:
            self.subscribed.clear()
            self._close(pubsub)

    def _send_unsent(self) -> None:
        while self._unsent:
            self.redis.publish(self.control_channel, json.dumps(self._unsent[0]))
            self._unsent.popleft()

    @staticmethod
    def _close(pubsub) -> None:
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # noqa: BLE001 - closing a dead connection may fail too
                log.debug("closing the control bus's connection failed")
        return None

    def _caught_up(self) -> None:
        """Once Redis answers again (and at the first subscription): what was
        handled only here is sent on, and every joined socket is re-checked for
        the control messages this process may have missed."""
        # Sent on a little later, when the other processes (trying every RETRY s)
        # are listening again too.
        self._resend_at = time.monotonic() + 2 * self.RETRY
        if len(self.registry) == 0:
            return
        try:
            with self.app.app_context():
                self.sweep()
        except Exception:  # noqa: BLE001 - the heartbeat's sweep tries again
            log.exception("chat sweep after subscribing failed")

    def _dispatch(self, raw) -> None:
        try:
            message = json.loads(raw)
            with self.app.app_context():
                self.handle(message)
        except Exception:  # noqa: BLE001 - one bad message must not stop the listener
            log.exception("chat control message failed: %r", raw)

    def _heartbeat(self) -> None:
        while not self._stopped.is_set():
            socketio.sleep(RedisPresence.HEARTBEAT)
            if self._stopped.is_set():
                return
            try:
                with self.app.app_context():
                    self.sweep()
            except Exception:  # noqa: BLE001
                log.exception("chat presence heartbeat failed")

    # --- Control messages ----------------------------------------------------------

    def publish(self, message: dict) -> None:
        """Have every process act on a control message (this one included).

        While Redis is away, or this process isn't listening yet, it is handled
        here too; the other processes' sweep catches up with removals, and
        RESEND kinds are sent on when Redis answers again. (A message a hung
        Redis delivers late is then handled twice: each kind is harmless to
        repeat.)
        """
        if self.redis_up:
            try:
                self.redis.publish(self.control_channel, json.dumps(message))
                if self.subscribed.is_set():
                    return
                self.handle(message)
                return
            except REDIS_DOWN as exc:
                self.presence.lost(exc)
        if self.redis is not None:
            log.warning("chat control message %s handled in this process only: Redis is away",
                        message.get("kind"))
            if message.get("kind") in self.RESEND:
                self._unsent.append(message)
        self.handle(message)

    def handle(self, message: dict) -> None:
        kind = message.get("kind")
        if kind == "membership_ended":
            self.cut_off(int(message["user_id"]), int(message["circle_id"]), str(message["slug"]),
                         str(message.get("message") or ""))
            # Sharing no circle any more may end hearing a conversation, theirs and their partners'.
            self.recheck_conversations()
        elif kind == "conversations":
            self.recheck_conversations(message.get("conversation_id"), message.get("user_id"))
        elif kind in ("pledge_changed", "second_factor_required"):
            self.recheck(int(message["circle_id"]))
        elif kind == "second_factor_removed":
            self.recheck(user_id=int(message["user_id"]))
        elif kind == "sessions_ended":
            self.disconnect_user(int(message["user_id"]))
        elif kind == "browser_signed_out":
            self.disconnect_user(int(message["user_id"]), str(message["session_id"]))

    def cut_off(self, user_id: int, circle_id: int, slug: str, text: str = "") -> None:
        """Take every socket of the user on this process out of the circle's room
        (telling them why, in text, when a moderator gave a reason)."""
        changed = False
        for sid in self.registry.sids_of(user_id):
            if self.registry.leave(sid, circle_id):
                socketio.server.leave_room(sid, circle_room(circle_id), namespace=NAMESPACE)
                changed |= self.presence.remove(circle_id, user_id, sid)
            for room in self.registry.leave_circle_rooms(sid, circle_id):
                socketio.server.leave_room(sid, room, namespace=NAMESPACE)
            emit_local("removed", {"circle": slug, "message": text} if text else {"circle": slug}, sid)
        if changed:
            self.announce_presence(circle_id, slug)

    def recheck(self, circle_id: int | None = None, entries=None, user_id: int | None = None) -> None:
        """Cut off this process's sockets (of one circle, or one user's, or all)
        whose user may no longer read the circle."""
        slugs = self.registry.circles()
        pairs = {(c, u) for c, u, _ in [*(entries or self.registry.entries()),
                                        *self.registry.circle_room_entries()]
                 if (circle_id is None or c == circle_id) and (user_id is None or u == user_id)}
        for c, user_id in pairs - reading_pairs(pairs):
            self.cut_off(user_id, c, slugs.get(c, ""))

    def recheck_conversations(self, conversation_id: int | None = None,
                              user_id: int | None = None) -> None:
        """Take this process's sockets (in one conversation, or one user's, or
        all) out of the conversations their user no longer hears, telling each."""
        pairs = {(c, u) for c, u, _ in self.registry.conversation_entries()
                 if conversation_id in (None, c) and user_id in (None, u)}
        for c, u in pairs - hearing_pairs(pairs):
            for sid in self.registry.sids_of(u):
                if self.registry.leave_conversation(sid, c):
                    socketio.server.leave_room(sid, conversation_room(c), namespace=NAMESPACE)
                    # The client joins again, and the answer says why it can't write.
                    emit_local("removed", {"conversation": c}, sid)

    def disconnect_user(self, user_id: int, session_id: str | None = None) -> None:
        """Close the user's sockets on this process, chat's and the bell's: every one
        (their sessions ended), or those of one browser's sign-in (it signed out)."""
        from ..notifications import live as bell  # here: notifications imports chat

        for sid in self.registry.sids_of(user_id, session_id):
            # Runs our disconnect handler, which updates presence.
            socketio.server.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)
        bell.disconnect_local(user_id, session_id)

    # --- Presence --------------------------------------------------------------------

    def enter(self, sid: str, user_id: int, circle_id: int, slug: str) -> bool:
        """Record a socket in a circle (after join_room); True if presence changed."""
        if not self.registry.join(sid, circle_id, slug):
            return False
        return self.presence.add(circle_id, user_id, sid)

    def leave(self, sid: str, user_id: int, circle_id: int) -> bool:
        socketio.server.leave_room(sid, circle_room(circle_id), namespace=NAMESPACE)
        if not self.registry.leave(sid, circle_id):
            return False
        return self.presence.remove(circle_id, user_id, sid)

    def online(self, circle_id: int) -> list[dict]:
        """[{id, name}] of the circle's active members online now, by name."""
        user_ids = list(self.presence.online(circle_id))
        if not user_ids:
            return []
        rows = db.session.execute(
            active_members(circle_id).with_only_columns(User.id, User.display_name)
            .where(User.id.in_(user_ids)).order_by(User.display_name, User.id))
        return [{"id": row.id, "name": row.display_name} for row in rows]

    def announce_presence(self, circle_id: int, slug: str) -> None:
        """Broadcast who is online in the circle, at most once per CHAT_PRESENCE_DELAY.

        Coalesced because a full list goes to everyone: when a whole circle
        (re)connects at once, say after a restart, one broadcast per arrival
        would be n² names on the wire; one per delay is a handful.
        """
        delay = self.app.config.get("CHAT_PRESENCE_DELAY", 0.5)
        if delay <= 0:
            self._broadcast_presence(circle_id, slug)
            return
        with self._presence_lock:
            if circle_id in self._presence_due:
                return
            self._presence_due[circle_id] = slug
        socketio.start_background_task(self._announce_later, circle_id, delay)

    def _announce_later(self, circle_id: int, delay: float) -> None:
        socketio.sleep(delay)
        with self._presence_lock:
            slug = self._presence_due.pop(circle_id)
        try:
            with self.app.app_context():
                self._broadcast_presence(circle_id, slug)
        except Exception:  # noqa: BLE001 - a background task must not die loudly
            log.exception("chat presence broadcast failed")

    def _broadcast_presence(self, circle_id: int, slug: str) -> None:
        broadcast("presence", {"circle": slug, "online": self.online(circle_id)}, circle_id)

    def sweep(self) -> None:
        """Refresh this process's presence, and cut off anyone who may no longer
        read the circle (left, removed, banned, a changed pledge to accept, a
        second factor now required)."""
        entries = self.registry.entries()
        slugs = self.registry.circles()
        dropped = self.presence.refresh(entries)
        self.recheck(entries=entries)
        self.recheck_conversations()
        for circle_id in dropped:
            if circle_id in slugs:
                self.announce_presence(circle_id, slugs[circle_id])


def _chat_state_or_none() -> ChatState | None:
    try:
        return current_app.extensions.get("chat")
    except RuntimeError:  # no app context
        return None


@membership_ended.connect
def _on_membership_ended(circle, user_id: int, message: str = "", **_):
    """Someone left, was removed or banned: their sockets leave that circle, everywhere."""
    chat = _chat_state_or_none()
    if chat is None:
        return
    try:
        chat.publish({"kind": "membership_ended", "circle_id": circle.id, "slug": circle.slug,
                      "user_id": user_id, "message": message})
    except Exception:  # noqa: BLE001 - the membership change is committed; the sweep backs up
        log.exception("could not cut off user %s from circle chat", user_id)


@pledge_changed.connect
def _on_pledge_changed(circle, **_):
    """Members must accept the pledge again: their sockets leave until they do."""
    chat = _chat_state_or_none()
    if chat is None:
        return
    try:
        chat.publish({"kind": "pledge_changed", "circle_id": circle.id})
    except Exception:  # noqa: BLE001 - the change is committed; the sweep backs up
        log.exception("could not re-check circle %s's chat after its pledge changed", circle.id)


@second_factor_required.connect
def _on_second_factor_required(circle, **_):
    """The circle now requires a second factor: the sockets of members without one leave."""
    chat = _chat_state_or_none()
    if chat is None:
        return
    try:
        chat.publish({"kind": "second_factor_required", "circle_id": circle.id})
    except Exception:  # noqa: BLE001 - the change is committed; the sweep backs up
        log.exception("could not re-check circle %s's chat after it required a second factor",
                      circle.id)


@second_factor_removed.connect
def _on_second_factor_removed(user, **_):
    """The person has no second factor now: their sockets leave the circles that require one."""
    chat = _chat_state_or_none()
    if chat is None:
        return
    try:
        chat.publish({"kind": "second_factor_removed", "user_id": user.id})
    except Exception:  # noqa: BLE001 - the change is committed; the sweep backs up
        log.exception("could not re-check user %s's chat after their second factor went", user.id)


@browser_signed_out.connect
def _on_browser_signed_out(user, session_id: str, **_):
    """One browser signed out: close its sockets (only its own), everywhere."""
    chat = _chat_state_or_none()
    if chat is None:
        return
    try:
        chat.publish({"kind": "browser_signed_out", "user_id": user.id, "session_id": session_id})
    except Exception:  # noqa: BLE001 - the sign-out itself has happened
        log.exception("could not disconnect a signed-out browser of user %s", user.id)


def recheck_conversations_everywhere(conversation_id: int | None = None,
                                     user_id: int | None = None) -> None:
    """After a commit that may end someone hearing a conversation (they left,
    were blocked): every process re-checks its sockets of it (or of them)."""
    chat = _chat_state_or_none()
    if chat is None:
        return
    try:
        chat.publish({"kind": "conversations", "conversation_id": conversation_id,
                      "user_id": user_id})
    except Exception:  # noqa: BLE001 - the change is committed; the sweep backs up
        log.exception("could not re-check conversation sockets (%s, %s)", conversation_id, user_id)


@sessions_ended.connect
def _on_sessions_ended(user, **_):
    """Every session of the user ended: close their sockets, everywhere."""
    chat = _chat_state_or_none()
    if chat is None:
        return
    try:
        chat.publish({"kind": "sessions_ended", "user_id": user.id})
    except Exception:  # noqa: BLE001
        log.exception("could not disconnect user %s from chat", user.id)
