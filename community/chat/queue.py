"""The Socket.IO message queue on Redis, made to survive Redis going away.

python-socketio's RedisManager carries every broadcast to the other processes.
As it comes it has no timeouts (a hung Redis holds a chat acknowledgement for
as long as it hangs), tries each publish twice, and its listener backs off up
to 60 s after Redis returns; a broadcast lost meanwhile is never sent again.
ChatQueueManager keeps the library's behaviour when all is well and changes
what happens when it isn't:

- Publishing has short, explicit timeouts and one attempt. The event is always
  delivered to this process's own sockets first (the library's emit does that
  before publishing), so chat within one process keeps working without Redis.
- After a failed publish, further publishes are skipped at once (no ack waits
  on a dead Redis) and a watcher pings Redis every RETRY seconds; when it
  answers, a `resync` goes to every socket of every process on the resync
  namespaces: the others may have missed what was sent meanwhile, and fetch
  it by seq (community/chat/actions.py).
- The listener has its own connection, never times out while idle, and
  reconnects every RETRY seconds while Redis is away; after it reconnects it
  sends `resync` to this process's sockets, which may have missed broadcasts
  while it was away.
- When a process first subscribes (it started, perhaps replacing a worker
  that was killed between a commit and its broadcast), it sends `resync` to
  every process: their sockets would otherwise hear of that message only when
  the next one showed them the gap.
"""
import logging
import time
from contextlib import suppress

import socketio

log = logging.getLogger(__name__)

SCHEMES = ("redis://", "rediss://", "unix://")


class ChatQueueManager(socketio.RedisManager):
    TIMEOUT = 1.0   # seconds: connecting to Redis, or waiting for its answer to a publish
    RETRY = 0.5     # seconds between attempts while Redis is away (listener and watcher)
    POLL = 1.0      # seconds the listener waits for a message before looking again

    def __init__(self, url: str, channel: str, resync_namespaces: tuple[str, ...] = (),
                 write_only: bool = False):
        super().__init__(url, channel=channel, write_only=write_only, redis_options={
            "socket_connect_timeout": self.TIMEOUT, "socket_timeout": self.TIMEOUT,
            "socket_keepalive": True})
        self.resync_namespaces = resync_namespaces
        self.down = False  # a publish failed and Redis hasn't answered since
        self.closed = False

    def close(self) -> None:
        """Stop listening and watching (tests: a process ends its own way)."""
        self.closed = True

    # --- Publishing --------------------------------------------------------------------

    def _redis_connect(self):
        module = self._get_redis_module()
        self.redis = module.Redis.from_url(self.redis_url, **self.redis_options)
        self.connected = True

    def _publish(self, data):
        """Publish once, within TIMEOUT; on failure, note that others missed it."""
        if self.down:
            return None  # the watcher will have everyone resync when Redis is back
        try:
            if not self.connected:
                self._redis_connect()
            return self.redis.publish(self.channel, self.json.dumps(data))
        except Exception as exc:  # noqa: BLE001 - any failure: deliver locally, resync later
            log.warning("Redis publish failed (%s); live updates stay within this process "
                        "until Redis answers again", exc)
            self._went_down()
            return None

    def _went_down(self) -> None:
        if self.down:
            return
        self.down = True
        self.server.start_background_task(self._watch)

    def _watch(self) -> None:
        """Ping Redis until it answers, then have every process's sockets resync."""
        while not self.closed:
            time.sleep(self.RETRY)
            if not self._answers():
                continue
            self.down = False
            log.warning("Redis answers again; telling every chat client to resync")
            self._resync_everywhere()
            return

    def _resync_everywhere(self) -> None:
        for namespace in self.resync_namespaces:
            # To this process's sockets, then (publishing) to every other's. Should
            # this publish fail, _publish starts a watcher, which sends it again.
            self.emit("resync", {}, namespace=namespace)

    def _answers(self) -> bool:
        try:
            if not self.connected:
                self._redis_connect()
            return bool(self.redis.ping())
        except Exception as exc:  # noqa: BLE001 - any failure: still away
            log.debug("Redis still away: %s", exc)
            return False

    # --- Listening ---------------------------------------------------------------------

    def _listener(self):
        module = self._get_redis_module()
        # Its own connection: no read timeout (an idle channel is quiet for hours),
        # but a short connect timeout so a reconnect attempt never hangs.
        client = module.Redis.from_url(self.redis_url, socket_connect_timeout=self.TIMEOUT,
                                       socket_keepalive=True)
        pubsub = client.pubsub()
        pubsub.subscribe(self.channel)
        return pubsub

    def _redis_listen_with_retries(self):
        """Messages on the channel, forever; reconnecting every RETRY seconds."""
        pubsub, broken, first = None, False, True
        while not self.closed:
            try:
                if pubsub is None:
                    pubsub = self._listener()
                message = pubsub.get_message(timeout=self.POLL)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    if first:
                        # This process has just started: the one it replaces may
                        # have died between a commit and its broadcast, which the
                        # other processes' sockets would then never hear of.
                        log.info("Redis listener subscribed; telling every chat client "
                                 "to resync")
                        self._resync_everywhere()
                        first = False
                    # Subscribed again after a break: from now on nothing is
                    # missed, and what was missed before, clients fetch.
                    elif broken:
                        log.warning("Redis listener reconnected; telling this process's chat "
                                    "clients to resync")
                        self._resync_local()
                        broken = False
                    continue
                yield message
            except Exception as exc:  # noqa: BLE001 - reconnect whatever happened
                if not broken:
                    log.warning("Redis listener lost its connection (%s); reconnecting every "
                                "%s s", exc, self.RETRY)
                broken = True
                if pubsub is not None:
                    with suppress(Exception):  # closing a broken connection may fail too
                        pubsub.close()
                    pubsub = None
                time.sleep(self.RETRY)
        if pubsub is not None:
            pubsub.close()

    def _listen(self):
        channel = self.channel.encode("utf-8")
        for message in self._redis_listen_with_retries():
            if message["channel"] == channel and message["type"] == "message" \
                    and "data" in message:
                yield message["data"]

    def _resync_local(self) -> None:
        for namespace in self.resync_namespaces:
            self.server.emit("resync", {}, namespace=namespace, ignore_queue=True)


def manager_for(url: str | None, channel: str, resync_namespaces: tuple[str, ...]):
    """The client manager for a SOCKETIO_MESSAGE_QUEUE URL: ours for Redis, None
    (Flask-SocketIO picks one) for another kind of queue or without one."""
    if url and url.startswith(SCHEMES):
        return ChatQueueManager(url, channel=channel, resync_namespaces=resync_namespaces)
    return None
