"""Who is connected: this process's sockets, and who is online in each circle.

`SocketRegistry` knows the sockets of this process only (which user, which
circles they joined); it is what lets a process cut off a removed member's
sockets. `LocalPresence` (one process) and `RedisPresence` (several processes
sharing Redis) answer "who is online in this circle", counting a person once
however many tabs or processes they are connected through. `FailoverPresence`
is what a process with Redis uses: RedisPresence while Redis answers, this
process's own LocalPresence while it doesn't (chat goes on, showing who is
connected here), and back to Redis once it answers again.
"""
import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from ..redis_client import REDIS_DOWN

log = logging.getLogger(__name__)


@dataclass
class SocketInfo:
    user_id: int
    circles: dict[int, str] = field(default_factory=dict)  # circle id -> slug
    conversations: set[int] = field(default_factory=set)  # direct messages' (no presence)
    # Other rooms a circle's content is heard in (a meeting date's run sheet):
    # room -> the circle whose members may hear it. Left with the circle.
    rooms: dict[str, int] = field(default_factory=dict)
    # The browser's sign-in id (accounts/sessions.py), so signing out of one
    # browser ends only its sockets.
    session_id: str | None = None


class SocketRegistry:
    """This process's chat sockets. Thread-safe (handlers run concurrently)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._sockets: dict[str, SocketInfo] = {}
        self._by_user: dict[int, set[str]] = defaultdict(set)

    def connect(self, sid: str, user_id: int, session_id: str | None = None) -> None:
        with self._lock:
            self._sockets[sid] = SocketInfo(user_id, session_id=session_id)
            self._by_user[user_id].add(sid)

    def disconnect(self, sid: str) -> SocketInfo | None:
        """Forget a socket; returns what it was (its user and circles)."""
        with self._lock:
            info = self._sockets.pop(sid, None)
            if info is not None:
                sids = self._by_user.get(info.user_id)
                if sids is not None:
                    sids.discard(sid)
                    if not sids:
                        del self._by_user[info.user_id]
            return info

    def join(self, sid: str, circle_id: int, slug: str) -> bool:
        """Record that a socket joined a circle's room; False if it is gone."""
        with self._lock:
            info = self._sockets.get(sid)
            if info is None:
                return False
            info.circles[circle_id] = slug
            return True

    def leave(self, sid: str, circle_id: int) -> bool:
        """Record that a socket left a circle's room; True if it was in it."""
        with self._lock:
            info = self._sockets.get(sid)
            return info is not None and info.circles.pop(circle_id, None) is not None

    def join_conversation(self, sid: str, conversation_id: int) -> bool:
        """Record that a socket joined a conversation's room; False if it is gone."""
        with self._lock:
            info = self._sockets.get(sid)
            if info is None:
                return False
            info.conversations.add(conversation_id)
            return True

    def leave_conversation(self, sid: str, conversation_id: int) -> bool:
        """Record that a socket left a conversation's room; True if it was in it."""
        with self._lock:
            info = self._sockets.get(sid)
            if info is None or conversation_id not in info.conversations:
                return False
            info.conversations.discard(conversation_id)
            return True

    def join_circle_room(self, sid: str, room: str, circle_id: int) -> bool:
        """Record that a socket joined a room of a circle's (not its chat); False if it is gone."""
        with self._lock:
            info = self._sockets.get(sid)
            if info is None:
                return False
            info.rooms[room] = circle_id
            return True

    def leave_circle_rooms(self, sid: str, circle_id: int) -> list[str]:
        """Forget the socket's rooms of this circle; returns them, to leave."""
        with self._lock:
            info = self._sockets.get(sid)
            if info is None:
                return []
            rooms = [room for room, c in info.rooms.items() if c == circle_id]
            for room in rooms:
                del info.rooms[room]
            return rooms

    def circle_room_entries(self) -> list[tuple[int, int, str]]:
        """Every (circle id, user id, sid) of a circle's other rooms on this process."""
        with self._lock:
            return [(circle_id, info.user_id, sid) for sid, info in self._sockets.items()
                    for circle_id in set(info.rooms.values())]

    def conversation_entries(self) -> list[tuple[int, int, str]]:
        """Every (conversation id, user id, sid) joined on this process."""
        with self._lock:
            return [(cid, info.user_id, sid) for sid, info in self._sockets.items()
                    for cid in info.conversations]

    def joined(self, sid: str, circle_id: int) -> bool:
        with self._lock:
            info = self._sockets.get(sid)
            return info is not None and circle_id in info.circles

    def sids_of(self, user_id: int, session_id: str | None = None) -> list[str]:
        """The user's sockets; with session_id, only those of that browser's sign-in."""
        with self._lock:
            sids = self._by_user.get(user_id, ())
            if session_id is None:
                return list(sids)
            return [sid for sid in sids if self._sockets[sid].session_id == session_id]

    def entries(self) -> list[tuple[int, int, str]]:
        """Every (circle id, user id, sid) joined on this process."""
        with self._lock:
            return [(circle_id, info.user_id, sid) for sid, info in self._sockets.items()
                    for circle_id in info.circles]

    def circles(self) -> dict[int, str]:
        """Every circle some socket of this process has joined: id -> slug."""
        with self._lock:
            return {cid: slug for info in self._sockets.values()
                    for cid, slug in info.circles.items()}

    def __len__(self) -> int:
        with self._lock:
            return len(self._sockets)


class LocalPresence:
    """Presence held in this process: exact, and enough when there is only one."""

    def __init__(self):
        self._lock = threading.Lock()
        self._online: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))

    def add(self, circle_id: int, user_id: int, sid: str) -> bool:
        """Mark a socket online in a circle; True if its user just came online."""
        with self._lock:
            sids = self._online[circle_id][user_id]
            first = not sids
            sids.add(sid)
            return first

    def remove(self, circle_id: int, user_id: int, sid: str) -> bool:
        """Mark a socket gone; True if its user is no longer online there."""
        with self._lock:
            users = self._online.get(circle_id)
            if not users or sid not in users.get(user_id, ()):
                return False
            users[user_id].discard(sid)
            if users[user_id]:
                return False
            del users[user_id]
            if not users:
                del self._online[circle_id]
            return True

    def online(self, circle_id: int) -> set[int]:
        with self._lock:
            return set(self._online.get(circle_id, ()))

    def refresh(self, entries) -> dict[int, int]:
        """Nothing expires in one process."""
        return {}

    def entries(self) -> list[tuple[int, int, str]]:
        """Every (circle id, user id, sid) online here."""
        with self._lock:
            return [(circle_id, user_id, sid) for circle_id, users in self._online.items()
                    for user_id, sids in users.items() for sid in sids]


# Atomic in Redis, so two processes adding or removing one person's sockets
# at once still agree on whether that person came or went. Each returns 1
# when the circle's online list changed: that person came or went, or the
# expired sockets of a process that died were dropped on the way.
_ADD = """
local key, member, prefix = KEYS[1], ARGV[1], ARGV[4]
local pruned = redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[3])
local before = 0
for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do
  if string.sub(m, 1, #prefix) == prefix then before = before + 1 end
end
redis.call('ZADD', key, ARGV[2], member)
redis.call('EXPIRE', key, ARGV[5])
if before == 0 or pruned > 0 then return 1 end
return 0
"""
_REMOVE = """
local key, member, prefix = KEYS[1], ARGV[1], ARGV[3]
if redis.call('ZREM', key, member) == 0 then return 0 end
local pruned = redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[2])
if pruned > 0 then return 1 end
for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do
  if string.sub(m, 1, #prefix) == prefix then return 0 end
end
return 1
"""


class RedisPresence:
    """Presence shared by every process through Redis.

    One sorted set per circle; each member is "<user id>:<sid>", scored with
    the moment it expires. Each process refreshes its own sockets every
    HEARTBEAT seconds, so the sockets of a process that died without saying
    goodbye drop out after TTL seconds.
    """

    TTL = 60
    HEARTBEAT = 20

    def __init__(self, redis, prefix: str, clock=time.time):
        self.redis = redis
        self.prefix = prefix
        self.clock = clock
        self._add = redis.register_script(_ADD)
        self._remove = redis.register_script(_REMOVE)

    def key(self, circle_id: int) -> str:
        return f"{self.prefix}:chat:presence:{circle_id}"

    def add(self, circle_id: int, user_id: int, sid: str) -> bool:
        """As LocalPresence.add; also True when expired sockets were dropped."""
        now = self.clock()
        return bool(self._add(keys=[self.key(circle_id)],
                              args=[f"{user_id}:{sid}", now + self.TTL, now, f"{user_id}:",
                                    self.TTL * 2]))

    def remove(self, circle_id: int, user_id: int, sid: str) -> bool:
        return bool(self._remove(keys=[self.key(circle_id)],
                                 args=[f"{user_id}:{sid}", self.clock(), f"{user_id}:"]))

    def forget(self, entries) -> None:
        """Remove these (circle id, user id, sid) at once (sockets that left while
        Redis was away), without asking who is still online."""
        pipe = self.redis.pipeline(transaction=False)
        for circle_id, user_id, sid in entries:
            pipe.zrem(self.key(circle_id), f"{user_id}:{sid}")
        pipe.execute()

    def online(self, circle_id: int) -> set[int]:
        members = self.redis.zrangebyscore(self.key(circle_id), self.clock(), "+inf")
        return {int(m.split(b":", 1)[0]) for m in members}

    def refresh(self, entries) -> dict[int, int]:
        """Extend this process's sockets and drop expired ones (other processes').

        :param entries: [(circle id, user id, sid)] of this process.
        :return: {circle id: number of expired sockets dropped} where any were.
        """
        now = self.clock()
        by_circle: dict[int, dict[str, float]] = defaultdict(dict)
        for circle_id, user_id, sid in entries:
            by_circle[circle_id][f"{user_id}:{sid}"] = now + self.TTL
        pipe = self.redis.pipeline(transaction=False)
        for circle_id, members in by_circle.items():
            pipe.zremrangebyscore(self.key(circle_id), "-inf", now)
            pipe.zadd(self.key(circle_id), members)
            pipe.expire(self.key(circle_id), self.TTL * 2)
        results = pipe.execute()
        dropped = {}
        for i, circle_id in enumerate(by_circle):
            if results[3 * i]:
                dropped[circle_id] = results[3 * i]
        return dropped


class FailoverPresence:
    """RedisPresence while Redis answers; this process's LocalPresence while it doesn't.

    The local copy is always kept (it is this process's sockets only, and
    cheap), so when Redis fails in the middle of a join nothing is lost. After
    a failure Redis is not asked again on the way of an event: `recover()`,
    called in the background (ChatState's listener, about every second), puts
    this process's sockets back into Redis, removes those that left meanwhile,
    and only then switches back. So a dead or hung Redis costs an event one
    short timeout (REDIS_TIMEOUT) once, not on every event.
    """

    def __init__(self, shared: RedisPresence):
        self.shared = shared
        self.local = LocalPresence()
        self._lock = threading.Lock()
        self._up = True
        self._gone: set[tuple[int, int, str]] = set()  # left while Redis was away

    @property
    def up(self) -> bool:
        return self._up

    def lost(self, exc: BaseException) -> None:
        """Redis failed: use the local presence until recover() succeeds."""
        with self._lock:
            was_up, self._up = self._up, False
        if was_up:
            log.warning("Redis unreachable (%s: %s): chat presence counts this process's "
                        "sockets only until it answers again", type(exc).__name__, exc)

    def add(self, circle_id: int, user_id: int, sid: str) -> bool:
        came = self.local.add(circle_id, user_id, sid)
        with self._lock:
            self._gone.discard((circle_id, user_id, sid))
        if self._up:
            try:
                return self.shared.add(circle_id, user_id, sid)
            except REDIS_DOWN as exc:
                self.lost(exc)
        return came

    def remove(self, circle_id: int, user_id: int, sid: str) -> bool:
        went = self.local.remove(circle_id, user_id, sid)
        if self._up:
            try:
                # Or the local answer: a socket that joined while Redis was away
                # isn't in Redis, yet its person has gone.
                return self.shared.remove(circle_id, user_id, sid) or went
            except REDIS_DOWN as exc:
                self.lost(exc)
        with self._lock:
            self._gone.add((circle_id, user_id, sid))
        return went

    def online(self, circle_id: int) -> set[int]:
        if self._up:
            try:
                return self.shared.online(circle_id)
            except REDIS_DOWN as exc:
                self.lost(exc)
        return self.local.online(circle_id)

    def refresh(self, entries) -> dict[int, int]:
        if self._up:
            try:
                return self.shared.refresh(entries)
            except REDIS_DOWN as exc:
                self.lost(exc)
        return {}

    def recover(self) -> bool:
        """Back to Redis if it answers (True), with this process's sockets in it again."""
        if self._up:
            return True
        gone: set[tuple[int, int, str]] = set()
        try:
            self.shared.redis.ping()
            # Switched first, then caught up: a socket that joins or leaves from
            # now on does so in Redis itself, and these snapshots have the rest.
            self._up = True
            with self._lock:
                gone, self._gone = self._gone, set()
            self.shared.forget(gone)
            self.shared.refresh(self.local.entries())
        except REDIS_DOWN as exc:
            with self._lock:
                self._up = False
                self._gone |= gone
            log.debug("Redis still unreachable: %s", exc)
            return False
        log.info("Redis answers again: chat presence is shared by every process again")
        return True
