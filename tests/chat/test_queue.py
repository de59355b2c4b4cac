"""The Socket.IO message queue when Redis goes away (community/chat/queue.py):
acks stay fast, chat within the process goes on, and clients are told to
resync once Redis is back. Each test runs its own redis-server and a manager
on a Socket.IO server of its own (Flask-SocketIO's test client refuses a
queue); tests/chat/test_no_message_lost.py runs real processes."""
import json
import threading
import time
import uuid

import pytest
import socketio
from socketio.manager import Manager

from community.chat.queue import ChatQueueManager


@pytest.fixture
def queue(own_redis, monkeypatch):
    """(manager, delivered): a ChatQueueManager on a Socket.IO server of its own,
    its listener subscribed; delivered lists (event, data, namespace, room) of
    every event handed to this process's own sockets."""
    delivered = []

    def deliver(self, event, data, namespace, room=None, skip_sid=None, callback=None,
                to=None, **kwargs):
        delivered.append((event, data, namespace, to or room))

    monkeypatch.setattr(Manager, "emit", deliver)
    manager = ChatQueueManager(own_redis.url, channel=f"queue-test-{uuid.uuid4().hex[:8]}",
                               resync_namespaces=("/chat",))
    server = socketio.Server(async_mode="threading", client_manager=manager)
    server.manager_initialized = True
    manager.initialize()  # as the server does on its first connection: starts the listener
    import redis

    client = redis.Redis.from_url(own_redis.url)
    wait_until(lambda: client.pubsub_numsub(manager.channel)[0][1] == 1)
    client.close()
    # A process's first subscription has every process resync (a test of its own,
    # below); what the tests look at comes after it.
    wait_until(lambda: "resync" in events(delivered))
    delivered.clear()
    yield manager, delivered
    manager.close()


def test_a_process_starting_has_every_process_resync(own_redis, monkeypatch):
    """The worker it replaces may have died between a commit and its broadcast:
    the other processes' sockets would hear of that message only when a later
    one showed them the gap."""
    delivered = []
    monkeypatch.setattr(Manager, "emit", lambda self, event, *args, **kwargs:
                        delivered.append(event))
    manager = ChatQueueManager(own_redis.url, channel=f"queue-test-{uuid.uuid4().hex[:8]}",
                               resync_namespaces=("/chat",))
    others = subscriber(own_redis.url, manager.channel)  # another process, as it were
    socketio.Server(async_mode="threading", client_manager=manager)
    manager.initialize()
    try:
        wait_until(lambda: "resync" in delivered)
        assert "resync" in published_events(others, 1.0)
    finally:
        manager.close()
        others.close()


def events(delivered) -> list[str]:
    return [event for event, *_ in delivered]


def timed(function, *args, limit: float = 5.0):
    """(result, seconds) of function(*args), failing if it takes over `limit`
    (without the manager's timeouts a publish to a hung Redis never returns)."""
    outcome = {}

    def run():
        started = time.monotonic()
        outcome["result"] = function(*args)
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert "seconds" in outcome, f"still waiting after {limit} s"
    return outcome["result"], outcome["seconds"]


def wait_until(test, timeout: float = 5.0) -> float:
    """Seconds until test() is true; fails after timeout."""
    started = time.monotonic()
    while not test():
        assert time.monotonic() - started < timeout, "waited in vain"
        time.sleep(0.05)
    return time.monotonic() - started


def subscriber(url: str, channel: str):
    import redis

    pubsub = redis.Redis.from_url(url).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    return pubsub


def published_events(pubsub, seconds: float) -> list[str]:
    events, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message and message["type"] == "message":
            events.append(json.loads(message["data"]).get("event"))
    return events


def test_with_redis_hung_publishes_give_up_fast_deliver_here_then_all_resync(queue, own_redis):
    manager, delivered = queue
    others = subscriber(own_redis.url, manager.channel)  # another process, as it were
    own_redis.pause()
    try:
        _, seconds = timed(manager.emit, "message_created", {"seq": 1}, "/chat", "circle:1")
        assert seconds < 1.5 and manager.down
        # This process's sockets have it at once: that never needed Redis.
        assert delivered == [("message_created", {"seq": 1}, "/chat", "circle:1")]
        # Once a publish failed, the next ones don't wait on Redis at all.
        _, seconds = timed(manager.emit, "message_created", {"seq": 2}, "/chat", "circle:1")
        assert seconds < 0.3 and len(delivered) == 2
    finally:
        own_redis.resume()
    # Redis answers again: every socket, here and (through Redis) on every other
    # process, is told to resync, within a second or so.
    waited = wait_until(lambda: "resync" in events(delivered), 3)
    assert waited < 2.0
    assert delivered[-1] == ("resync", {}, "/chat", None)
    assert "resync" in published_events(others, 1.0)
    assert not manager.down
    others.close()


def test_after_redis_restarts_the_listener_is_back_within_seconds_and_resyncs(queue, own_redis):
    manager, delivered = queue
    own_redis.kill()
    time.sleep(3)  # the library would now wait 1, 2, then 4 seconds between tries
    own_redis.start()
    back = time.monotonic()
    wait_until(lambda: "resync" in events(delivered), 4)
    assert time.monotonic() - back < 2.0
    assert not manager.down  # nothing was published: the listener did this
    # Subscribed again: what other processes publish reaches this one.
    publish_from_elsewhere(own_redis.url, manager.channel, {"seq": 7})
    wait_until(lambda: ("message_created", {"seq": 7}, "/chat", "circle:1") in delivered, 3)


def test_an_idle_listener_neither_times_out_nor_resyncs(queue, own_redis):
    manager, delivered = queue
    time.sleep(ChatQueueManager.TIMEOUT * 2.5)  # quiet for longer than any timeout
    publish_from_elsewhere(own_redis.url, manager.channel, {"seq": 1})
    wait_until(lambda: delivered, 3)
    assert events(delivered) == ["message_created"]


def publish_from_elsewhere(url: str, channel: str, payload: dict) -> None:
    """What another process's manager publishes for a broadcast to circle 1."""
    import redis

    client = redis.Redis.from_url(url)
    client.publish(channel, json.dumps({
        "method": "emit", "event": "message_created", "data": [payload], "binary": False,
        "namespace": "/chat", "room": "circle:1", "skip_sid": None, "callback": None,
        "host_id": "another-process"}))
    client.close()
