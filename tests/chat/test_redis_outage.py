"""Chat while Redis is down (killed) or hung (SIGSTOP), and after it returns.

Chat's own use of Redis (presence, the control bus) is pointed at a
redis-server of the test's own; Flask-SocketIO's test client can't use a
message queue, so broadcasts stay in this process (the queue's own fallback is
another part of issue 19). Connect, join and send are answered, each well
within SLOW, and the member is listed online (this process's presence); the
sweep and the control messages go on in this process; once Redis is back,
presence is shared again (this process's sockets put back) and the control bus
listens again within about RETRY seconds.
"""
import logging
import time
import uuid

import pytest

from community.chat.live import ChatState
from community.extensions import db, socketio
from community.signals import membership_ended
from tests.chat.conftest import call, received
from tests.test_database_down import database_down

SLOW = 1.0       # seconds: more than any answer may take while Redis is away
RECOVERY = 3.0   # seconds: more than chat may take to use Redis again once it is back


@pytest.fixture
def chat(app, own_redis, caplog):
    """This app's chat state, on our own Redis."""
    caplog.set_level(logging.INFO)
    app.config.update(SOCKETIO_MESSAGE_QUEUE=own_redis.url,
                      SOCKETIO_CHANNEL=f"circles-test-{uuid.uuid4().hex[:10]}")
    state = ChatState(app)
    app.extensions["chat"] = state
    yield state
    stop(state)


def stop(state: ChatState) -> None:
    state.stop()
    wait_until(lambda: not state.subscribed.is_set(), RECOVERY)  # the listener has ended
    state.redis.close()


def timed(fn, *args, **kwargs):
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - started


def online_ids(answer) -> set[int]:
    return {person["id"] for person in answer["online"]}


def in_redis(own_redis, state, circle_id) -> set[int]:
    """The user ids chat's presence in Redis lists for the circle."""
    client = own_redis.client()
    try:
        return {int(m.split(b":")[0]) for m in client.zrange(state.presence.shared.key(circle_id), 0, -1)}
    finally:
        client.close()


def wait_until(test, timeout: float) -> float:
    """Seconds until test() is true; fails after timeout."""
    started = time.monotonic()
    while not test():
        assert time.monotonic() - started < timeout, f"not within {timeout} s"
        time.sleep(0.02)
    return time.monotonic() - started


def chat_session(connect, user, circle, tag: str) -> tuple:
    """Connect, join and send as user: (socket, join's answer, send's answer,
    seconds each of the three took)."""
    sc, connecting = timed(connect, user)
    assert sc.is_connected("/chat")
    joined, joining = timed(call, sc, "join", {"circle": circle.slug})
    assert joined["ok"], joined
    sent, sending = timed(call, sc, "send_message", {"circle": circle.slug, "body": f"Said {tag}",
                                                     "client_id": f"{tag}-{user.id}"})
    assert sent["ok"], sent
    return sc, joined, sent, (connecting, joining, sending)


def test_a_first_connection_with_redis_down_is_answered(chat, connect, people, own_redis, caplog):
    """A worker with no chat connection yet, and Redis down: the first connection
    used to wait 10 s (subscribing in the connect handler), then `join` failed."""
    circle, member, other = people["circle"], people["member"], people["other"]
    own_redis.kill()
    sc, joined, sent, seconds = chat_session(connect, member, circle, "down")
    print(f"Redis down: connect {seconds[0]:.3f} s, join {seconds[1]:.3f} s, send {seconds[2]:.3f} s")
    assert max(seconds) < SLOW, seconds
    assert online_ids(joined) == {member.id}
    second, joined, _, seconds = chat_session(connect, other, circle, "down-2")
    assert max(seconds) < SLOW, seconds
    assert online_ids(joined) == {member.id, other.id}
    assert ("message_created", sent["message"]) in received(sc)  # chat within the process
    assert "Redis unreachable" in caplog.text or "chat control bus lost Redis" in caplog.text

    own_redis.start()  # back, empty
    recovered = wait_until(lambda: chat.presence.up and chat.subscribed.is_set()
                           and in_redis(own_redis, chat, circle.id) == {member.id, other.id},
                           RECOVERY)
    print(f"Redis back: presence and control bus on Redis again after {recovered:.2f} s")
    assert online_ids(call(second, "join", {"circle": circle.slug})) == {member.id, other.id}


def test_chat_with_redis_hung_waits_once_then_carries_on(chat, connect, people, own_redis):
    circle, member, other = people["circle"], people["member"], people["other"]
    sc, joined, _, seconds = chat_session(connect, member, circle, "up")
    assert online_ids(joined) == {member.id}
    assert chat.subscribed.wait(RECOVERY)
    assert in_redis(own_redis, chat, circle.id) == {member.id}
    own_redis.pause()
    try:
        _, joined, sent, seconds = chat_session(connect, other, circle, "hung")
        # The first call to Redis waits REDIS_TIMEOUT (0.5 s); none after it does.
        print(f"Redis hung: connect {seconds[0]:.3f} s, join {seconds[1]:.3f} s, "
              f"send {seconds[2]:.3f} s")
        assert max(seconds) < SLOW and sum(seconds) < SLOW, seconds
        assert online_ids(joined) == {member.id, other.id}
        assert not chat.presence.up
        third, joined, _, seconds = chat_session(connect, people["moderator"], circle, "hung-2")
        assert sum(seconds) < SLOW / 2, seconds  # no wait at all now
        assert online_ids(joined) == {member.id, other.id, people["moderator"].id}
        third.disconnect("/chat")  # left while Redis was away: not listed once it is back
    finally:
        own_redis.resume()
    recovered = wait_until(lambda: chat.presence.up
                           and in_redis(own_redis, chat, circle.id) == {member.id, other.id},
                           RECOVERY)
    print(f"Redis resumed: presence on Redis again after {recovered:.2f} s")
    assert online_ids(call(sc, "join", {"circle": circle.slug})) == {member.id, other.id}


def test_control_messages_are_handled_here_while_redis_is_down(chat, connect, people, own_redis):
    """A removal while Redis is away still cuts the member off on this process
    (other processes' sweep catches up)."""
    circle, member = people["circle"], people["member"]
    sc, *_ = chat_session(connect, member, circle, "before")
    own_redis.kill()
    started = time.monotonic()
    membership_ended.send(circle, user_id=member.id)
    assert time.monotonic() - started < SLOW
    assert ("removed", {"circle": circle.slug}) in received(sc, "removed")
    assert chat.registry.entries() == []  # out of the circle's room


def test_the_control_bus_resubscribes_soon_after_redis_restarts(app, chat, connect, people, own_redis):
    """Another process (a second chat state on the same channel) hears this one's
    control messages again within about RETRY seconds of Redis returning, not
    after python-socketio's backoff of up to a minute."""
    from flask import Flask

    other_process = Flask("other")
    other_process.config.update(SOCKETIO_MESSAGE_QUEUE=own_redis.url,
                                SOCKETIO_CHANNEL=app.config["SOCKETIO_CHANNEL"])
    heard = []
    listener = ChatState(other_process)
    listener.handle = heard.append
    listener.start()
    chat.start()
    try:
        assert listener.subscribed.wait(RECOVERY) and chat.subscribed.wait(RECOVERY)
        # Idle for longer than REDIS_TIMEOUT: an idle listener doesn't time out.
        time.sleep(3 * app.config["REDIS_TIMEOUT"])
        chat.publish({"kind": "pledge_changed", "circle_id": 0})
        wait_until(lambda: heard == [{"kind": "pledge_changed", "circle_id": 0}], RECOVERY)
        heard.clear()
        own_redis.kill()
        wait_until(lambda: not listener.subscribed.is_set(), RECOVERY)
        # While down: handled here only. A re-check the other process's sweep
        # does anyway is not sent later; an ended session (which no sweep sees) is.
        pledge = {"kind": "pledge_changed", "circle_id": people["circle"].id}
        ended = {"kind": "sessions_ended", "user_id": people["outsider"].id}
        chat.publish(pledge)
        chat.publish(ended)
        assert heard == []
        own_redis.start()
        started = time.monotonic()
        wait_until(lambda: listener.subscribed.is_set() and chat.subscribed.is_set(), RECOVERY)
        chat.publish(pledge)
        wait_until(lambda: pledge in heard, RECOVERY)
        print(f"control bus across processes again {time.monotonic() - started:.2f} s "
              "after Redis restarted")
        # The ended session is sent on once both listen again (2 x RETRY after).
        resent = wait_until(lambda: ended in heard, 2 * RECOVERY)
        print(f"an ended session handled only here while Redis was down reached the other "
              f"process {resent:.2f} s later")
        assert sorted(map(str, heard)) == sorted(map(str, [pledge, ended]))
    finally:
        stop(listener)


def test_start_never_waits_for_a_hung_redis(chat, own_redis):
    own_redis.pause()
    try:
        _, seconds = timed(chat.start)
        # Subscribing waits REDIS_TIMEOUT (0.5 s) for a hung Redis; start() must not.
        assert seconds < 0.3
        time.sleep(0.2)
        assert not chat.subscribed.is_set()
    finally:
        own_redis.resume()
    assert chat.subscribed.wait(RECOVERY)


def test_a_message_published_late_by_a_hung_redis_is_harmless(chat, connect, people, own_redis):
    """A control message whose publish timed out is handled here at once; Redis,
    resumed, may deliver it again: cutting someone off twice changes nothing."""
    circle, member = people["circle"], people["member"]
    sc, *_ = chat_session(connect, member, circle, "late")
    assert chat.subscribed.wait(RECOVERY)
    own_redis.pause()
    try:
        message = {"kind": "membership_ended", "circle_id": circle.id, "slug": circle.slug,
                   "user_id": member.id}
        _, seconds = timed(chat.publish, message)
        assert seconds < SLOW
    finally:
        own_redis.resume()
    assert received(sc, "removed") == [("removed", {"circle": circle.slug})]
    time.sleep(0.5)
    assert all(data == {"circle": circle.slug} for _, data in received(sc, "removed"))
    assert chat.registry.entries() == []


# --- Refusals: what the socket needs is away ---------------------------------------------

class Packets:
    """The packets the Socket.IO server sends, while recording."""

    def __init__(self, monkeypatch):
        self.sent = []
        send = socketio.server._send_packet

        def record(eio_sid, pkt):
            self.sent.append(pkt)
            return send(eio_sid, pkt)

        monkeypatch.setattr(socketio.server, "_send_packet", record)

    def connect_errors(self) -> list:
        from socketio import packet

        return [pkt.data for pkt in self.sent if pkt.packet_type == packet.CONNECT_ERROR]


UNAVAILABLE = {"error": "unavailable", "message": "Live updates are paused; retrying."}


def test_connect_and_join_refuse_clearly_while_the_database_is_away(app, connect, people,
                                                                     monkeypatch):
    """Connecting (chat or the bell) and joining while a service they need is away:
    a quick, clear `unavailable`, never an exception the client would wait on."""
    slug = people["circle"].slug  # read now: the session goes with the database
    sc = connect(people["member"])
    packets = Packets(monkeypatch)
    with database_down(app):
        joined, seconds = timed(call, sc, "join", {"circle": slug})
        assert joined == {"ok": False, **UNAVAILABLE} and seconds < SLOW
        for namespace in ("/notifications", "/chat"):
            if sc.is_connected(namespace):
                sc.disconnect(namespace)
            _, seconds = timed(sc.connect, namespace)
            assert not sc.is_connected(namespace) and seconds < SLOW
    errors = packets.connect_errors()
    assert errors == [{"message": UNAVAILABLE["message"], "data": UNAVAILABLE}] * 2
    db.session.remove()
    sc.connect("/chat")
    assert sc.is_connected("/chat")
    assert call(sc, "join", {"circle": slug})["ok"]


# --- The real server (gevent, WebSockets) ----------------------------------------------

def test_the_real_server_with_redis_down_then_hung(tmp_path, own_redis):
    """`python app.py` with Redis as its queue and rate-limit store: while Redis is
    down, then hung, /healthz says "degraded" (200), sign-in works, chat connects
    and joins with the member listed; when Redis is back, presence is in Redis again."""
    import os
    import subprocess
    import sys

    import requests

    from tests.chat.live_servers import ROOT, Listener, chat_tracebacks, make_world, sign_in
    from tests.test_server import free_port, wait_for

    world = make_world(f"sqlite:///{tmp_path}/world.sqlite3")
    port, channel = free_port(), f"circles-test-{uuid.uuid4().hex[:10]}"
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "ACCESS_LOG": "0",
           "LOG_LEVEL": "WARNING", "DATABASE_URL": f"sqlite:///{tmp_path}/world.sqlite3",
           "SOCKETIO_MESSAGE_QUEUE": own_redis.url, "RATELIMIT_STORAGE_URI": own_redis.url,
           "SOCKETIO_CHANNEL": channel, "SECRET_KEY": "redis-outage-" + uuid.uuid4().hex}
    env.pop("SOCKETIO_ASYNC_MODE", None)
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    listeners = []

    def health() -> tuple[int, dict, float]:
        answer, seconds = timed(requests.get, f"{base}/healthz", timeout=5)
        return answer.status_code, answer.json(), seconds

    def member_chats(email: str, expect_online: set[int]) -> tuple[float, float, float]:
        """Sign in, connect and join; seconds each took."""
        http, signing_in = timed(sign_in, base, email)
        listener, connecting = timed(Listener, base, http)
        listeners.append(listener)
        joined, joining = timed(listener.call, "join", {"circle": world["slug"]})
        assert joined["ok"] and online_ids(joined) == expect_online, joined
        return signing_in, connecting, joining

    def presence_in_redis() -> set[int]:
        client = own_redis.client()
        try:
            return {int(m.split(b":")[0]) for key in client.scan_iter(f"{channel}:chat:presence:*")
                    for m in client.zrange(key, 0, -1)}
        finally:
            client.close()

    try:
        wait_for(f"{base}/healthz").close()
        assert health()[:2] == (200, {"status": "ok", "database": "ok", "redis": "ok"})

        own_redis.kill()
        status, body, seconds = health()
        assert (status, body["status"], body["redis"]) == (200, "degraded", "down") and seconds < SLOW
        seconds = member_chats("alice@example.org", {world["alice"]})
        print(f"real server, Redis down: sign-in {seconds[0]:.3f} s, connect {seconds[1]:.3f} s, "
              f"join {seconds[2]:.3f} s")
        assert max(seconds) < SLOW, seconds
        sent = listeners[0].call("send_message", {"circle": world["slug"], "body": "Still here",
                                                  "client_id": "down-1"})
        assert sent["ok"], sent

        own_redis.start()
        recovered = wait_until(lambda: presence_in_redis() == {world["alice"]}, RECOVERY)
        print(f"real server: presence back in Redis {recovered:.2f} s after Redis restarted")
        assert health()[:2] == (200, {"status": "ok", "database": "ok", "redis": "ok"})

        own_redis.pause()
        try:
            status, body, seconds = health()
            assert (status, body["redis"]) == (200, "down") and seconds < SLOW, (body, seconds)
            seconds = member_chats("bob@example.org", {world["alice"], world["bob"]})
            print(f"real server, Redis hung: sign-in {seconds[0]:.3f} s, "
                  f"connect {seconds[1]:.3f} s, join {seconds[2]:.3f} s")
            assert max(seconds) < SLOW, seconds
        finally:
            own_redis.resume()
        wait_until(lambda: presence_in_redis() == {world["alice"], world["bob"]}, RECOVERY)
    finally:
        for listener in listeners:
            listener.close()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        output = log.read_text(errors="replace")
        print(output[-3000:])
    assert not chat_tracebacks(output), output
