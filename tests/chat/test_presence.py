"""Presence, the socket registry, throttles and the control bus, piece by piece.

The Redis tests need TEST_REDIS_URL (CI sets it; they fail there rather than skip).
"""
import threading
import uuid

import pytest

from community.chat.live import ChatState, Throttle
from community.chat.presence import FailoverPresence, LocalPresence, RedisPresence, SocketRegistry


@pytest.fixture
def redis_client(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    prefix = f"circles-test-{uuid.uuid4().hex[:10]}"
    yield client, prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture(params=["local", "redis", "failover"])
def presence(request):
    """Each kind answers alike (FailoverPresence: while Redis answers; while it
    doesn't, see tests/chat/test_redis_outage.py)."""
    if request.param == "local":
        return LocalPresence()
    client, prefix = request.getfixturevalue("redis_client")
    shared = RedisPresence(client, prefix)
    return shared if request.param == "redis" else FailoverPresence(shared)


def test_a_person_is_online_once_however_many_tabs(presence):
    assert presence.add(1, 10, "a") is True      # came online
    assert presence.add(1, 10, "b") is False     # a second tab changes nothing
    assert presence.add(1, 11, "c") is True
    assert presence.online(1) == {10, 11}
    assert presence.remove(1, 10, "a") is False  # still there in tab b
    assert presence.online(1) == {10, 11}
    assert presence.remove(1, 10, "b") is True   # gone
    assert presence.online(1) == {11}
    assert presence.remove(1, 10, "b") is False  # removing twice is harmless
    assert presence.online(2) == set()


def test_circles_are_separate(presence):
    presence.add(1, 10, "a")
    presence.add(2, 20, "b")
    assert presence.online(1) == {10} and presence.online(2) == {20}


def test_redis_presence_forgets_a_dead_process_after_its_ttl(redis_client):
    client, prefix = redis_client
    clock = Clock()
    alive = RedisPresence(client, prefix, clock=clock)   # this process keeps beating
    dead = RedisPresence(client, prefix, clock=clock)    # this one crashed
    alive.add(1, 10, "a")
    dead.add(1, 20, "z")
    assert alive.online(1) == {10, 20}
    clock.now += RedisPresence.TTL / 2
    assert alive.refresh([(1, 10, "a")]) == {}
    clock.now += RedisPresence.TTL / 2 + 1
    assert alive.online(1) == {10}                      # the dead one's socket expired
    assert alive.refresh([(1, 10, "a")]) == {1: 1}      # ...and is dropped, reported
    assert client.zcard(alive.key(1)) == 1


def test_redis_presence_is_shared_by_processes(redis_client):
    client, prefix = redis_client
    one, two = RedisPresence(client, prefix), RedisPresence(client, prefix)
    assert one.add(1, 10, "on-one") is True
    assert two.add(1, 10, "on-two") is False   # the same person through the other process
    assert two.online(1) == one.online(1) == {10}
    assert one.remove(1, 10, "on-one") is False
    assert two.remove(1, 10, "on-two") is True


def test_redis_presence_add_reports_dropping_expired_sockets(redis_client):
    """Adding prunes what expired; if that changed who is online, say so."""
    client, prefix = redis_client
    clock = Clock()
    presence = RedisPresence(client, prefix, clock=clock)
    presence.add(1, 10, "a")
    presence.add(1, 20, "b")
    clock.now += RedisPresence.TTL - 1
    assert presence.add(1, 30, "c") is True
    clock.now += 2  # a and b (a process that died) have expired; c has not
    assert presence.add(1, 30, "d") is True    # 30 was online already, but 10 and 20 left
    assert presence.add(1, 30, "e") is False
    assert presence.online(1) == {30}


def test_the_registry_tracks_sockets_users_and_circles():
    registry = SocketRegistry()
    registry.connect("s1", 10)
    registry.connect("s2", 10)
    registry.connect("s3", 11)
    assert registry.join("s1", 1, "berkshire") and registry.join("s3", 1, "berkshire")
    assert not registry.join("nope", 1, "berkshire")
    assert sorted(registry.sids_of(10)) == ["s1", "s2"]
    assert registry.joined("s1", 1) and not registry.joined("s2", 1)
    assert sorted(registry.entries()) == [(1, 10, "s1"), (1, 11, "s3")]
    assert registry.circles() == {1: "berkshire"}
    assert registry.leave("s1", 1) and not registry.leave("s1", 1)
    info = registry.disconnect("s3")
    assert info.user_id == 11 and info.circles == {1: "berkshire"}
    assert registry.disconnect("s3") is None
    registry.disconnect("s1")
    registry.disconnect("s2")
    assert registry.sids_of(10) == [] and len(registry) == 0


def test_throttle_allows_so_many_per_window():
    now = [0.0]
    throttle = Throttle(clock=lambda: now[0])
    assert [throttle.allow(("k",), 3, 10) for _ in range(4)] == [True, True, True, False]
    assert throttle.allow(("other",), 3, 10)
    now[0] = 10.01
    assert throttle.allow(("k",), 3, 10)


def test_the_control_bus_reaches_every_process(app, redis_url):
    """Two chat states on one Redis channel stand for two processes: a control
    message published by one is handled by both."""
    from flask import Flask

    channel = f"circles-test-{uuid.uuid4().hex[:10]}"
    handled: dict[str, list] = {"one": [], "two": []}
    states = []
    for name in ("one", "two"):
        process = Flask(name)
        process.config.update(SOCKETIO_CHANNEL=channel, SOCKETIO_MESSAGE_QUEUE=redis_url)
        state = ChatState(process)
        seen = threading.Event()

        def handle(message, name=name, seen=seen):
            handled[name].append(message)
            seen.set()

        state.handle = handle
        state.start()
        states.append((state, seen))
    for state, _ in states:
        assert state.subscribed.wait(5)  # subscribing happens in the background
    try:
        message = {"kind": "membership_ended", "user_id": 7, "circle_id": 1, "slug": "b"}
        states[0][0].publish(message)
        for _, seen in states:
            assert seen.wait(5)
        assert handled["one"] == handled["two"] == [message]
    finally:
        for state, _ in states:
            state.stop()
            state.redis.close()
