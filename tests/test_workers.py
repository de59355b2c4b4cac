"""`WORKERS=N python app.py`: N forked worker processes serving one port.

The tests of real processes (the supervisor and its workers, on a SQLite file,
with Redis as Socket.IO's queue and the rate-limit store) need TEST_REDIS_URL:
skipped without it, failed in CI. To put a client on a chosen worker, the
others are paused (SIGSTOP) while it connects: a stopped process accepts
nothing, so the kernel hands the connection to the one that can.
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

from community.config import from_environment
from tests.chat import live_servers
from tests.chat.live_servers import Listener, chat_tracebacks, forget_channel, make_world, sign_in
from tests.test_server import free_port, wait_for

redis_url = live_servers.redis_url  # the fixture: TEST_REDIS_URL, or skipped (failed in CI)

ROOT = Path(__file__).resolve().parent.parent
WEBSOCKET_ONLY = '<meta name="socketio-transports" content="websocket">'
SHARED_SETTINGS = ("WORKERS", "SOCKETIO_MESSAGE_QUEUE", "RATELIMIT_STORAGE_URI", "SOCKETIO_ASYNC_MODE")


def children(pid: int) -> list[int]:
    """The live (not yet exited) child processes of pid."""
    kids = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        kids += [int(kid) for kid in listing.read_text().split()]
    return sorted(kid for kid in kids if state(kid) not in {"Z", None})


def state(pid: int) -> str | None:
    """The process's state letter (R, S, T for stopped, Z for exited...), None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


@contextmanager
def paused(*pids: int):
    """While inside, these processes are stopped: they accept no connection."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        for pid in pids:
            deadline = time.monotonic() + 5
            while state(pid) != "T":
                assert time.monotonic() < deadline, f"{pid} did not stop"
                time.sleep(0.01)
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


class Supervised:
    """A running `WORKERS=2 python app.py` (its own session: Ctrl-C can be sent to its group)."""

    def __init__(self, proc: subprocess.Popen, port: int, log: Path, world: dict, redis_url: str,
                 channel: str):
        self.proc, self.port, self.log, self.world = proc, port, log, world
        self.redis_url, self.channel = redis_url, channel
        self.url = f"http://127.0.0.1:{port}"

    def workers(self, count: int = 2, timeout: float = 20) -> list[int]:
        """The supervisor's workers, once there are `count` of them."""
        deadline = time.monotonic() + timeout
        while True:
            pids = children(self.proc.pid)
            if len(pids) == count:
                return pids
            assert time.monotonic() < deadline, (pids, self.output())
            time.sleep(0.1)

    def wait_for_subscribers(self, count: int, timeout: float = 10) -> None:
        """Until `count` processes listen on the deployment's Socket.IO channel in Redis."""
        import redis

        client = redis.Redis.from_url(self.redis_url)
        deadline = time.monotonic() + timeout
        try:
            while client.pubsub_numsub(self.channel)[0][1] < count:
                assert time.monotonic() < deadline, client.pubsub_numsub(self.channel)
                time.sleep(0.05)
        finally:
            client.close()

    def health(self):
        with urlopen(f"{self.url}/healthz", timeout=5) as answer:
            return answer.status, answer.read()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def environment(**settings) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in SHARED_SETTINGS}
    return {**env, "HOST": "127.0.0.1", "ACCESS_LOG": "0", "LOG_LEVEL": "WARNING",
            "SECRET_KEY": "workers-" + uuid.uuid4().hex, **settings}


@pytest.fixture
def supervisor(tmp_path, redis_url):
    db_url = f"sqlite:///{tmp_path}/workers.sqlite3"
    world = make_world(db_url)
    channel = f"circles-test-{uuid.uuid4().hex[:12]}"
    port = free_port()
    env = environment(WORKERS="2", PORT=str(port), DATABASE_URL=db_url, SOCKETIO_CHANNEL=channel,
                      SOCKETIO_MESSAGE_QUEUE=redis_url, RATELIMIT_STORAGE_URI=redis_url)
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    server = Supervised(proc, port, log, world, redis_url, channel)
    try:
        wait_for(f"{server.url}/healthz").close()
        server.workers()
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()  # its workers follow within a second (community/server.py)
                proc.wait()
        output = server.output()
        print(f"--- supervisor and workers ---\n{output}")
        assert not chat_tracebacks(output), output
        assert "community/server.py" not in output, output  # no worker crashed
        forget_channel(redis_url, channel)


def test_two_workers_serve_one_port(supervisor):
    one, two = supervisor.workers()
    assert "serving on http://127.0.0.1" in supervisor.output()
    for other in (two, one):  # each answers while the other can't
        with paused(other):
            status, body = supervisor.health()
            assert status == 200 and b'"database":"ok"' in body

    # WebSocket only: the page tells the browser, and a long-polling handshake is refused.
    with urlopen(f"{supervisor.url}/auth/login", timeout=5) as page:
        assert WEBSOCKET_ONLY in page.read().decode()
    with pytest.raises(HTTPError) as refused:
        urlopen(f"{supervisor.url}/socket.io/?EIO=4&transport=polling", timeout=5)
    refused.value.close()
    assert refused.value.code == 400

    # The supervisor connected to nothing its workers could inherit: its one socket is the listener.
    fds = Path(f"/proc/{supervisor.proc.pid}/fd")
    sockets = [fd for fd in fds.iterdir() if os.readlink(fd).startswith("socket:")]
    assert len(sockets) == 1


def test_a_chat_message_crosses_workers(supervisor):
    world, url = supervisor.world, supervisor.url
    slug = world["slug"]
    one, two = supervisor.workers()
    alice_http = sign_in(url, "alice@example.org")
    bob_http = sign_in(url, "bob@example.org")
    with paused(two):
        alice = Listener(url, alice_http)  # on worker one
    with paused(one):
        bob = Listener(url, bob_http)  # on worker two
    try:
        # Each worker subscribes to Socket.IO's Redis channel on its first connection,
        # in the background: a broadcast published before that would miss it.
        supervisor.wait_for_subscribers(2)
        assert alice.call("join", {"circle": slug})["ok"]
        joined = bob.call("join", {"circle": slug})
        assert joined["ok"]
        assert {p["id"] for p in joined["online"]} == {world["alice"], world["bob"]}

        sent = alice.call("send_message", {"circle": slug, "body": "From worker one",
                                           "client_id": "workers-1"})
        assert sent["ok"]
        got = bob.wait_for(lambda n, d: n == "message_created" and d["id"] == sent["message"]["id"])
        assert got and got[1]["body"] == "From worker one"
        reply = bob.call("send_message", {"circle": slug, "body": "From worker two",
                                          "client_id": "workers-2"})
        assert reply["ok"]
        assert alice.wait_for(lambda n, d: n == "message_created"
                              and d["id"] == reply["message"]["id"])
    finally:
        # In parallel: a websocket-client close waits up to 3 s for the close handshake.
        closing = [threading.Thread(target=listener.close) for listener in (alice, bob)]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join(10)
        alice_http.close()
        bob_http.close()


def test_a_killed_worker_is_replaced(supervisor):
    one, two = supervisor.workers()
    os.kill(one, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while True:
        assert supervisor.health()[0] == 200  # the port keeps answering meanwhile
        now = children(supervisor.proc.pid)
        if len(now) == 2 and one not in now:
            break
        assert time.monotonic() < deadline, (now, supervisor.output())
        time.sleep(0.2)
    assert two in now
    with paused(two):
        status, _ = supervisor.health()  # so the replacement answered
    assert status == 200
    assert f"(pid {one}) ended (killed by SIGKILL)" in supervisor.output()


@pytest.mark.parametrize("how", ["SIGTERM to the supervisor", "Ctrl-C"])
def test_every_process_stops_on_sigterm_or_ctrl_c(supervisor, how):
    workers = supervisor.workers()
    started = time.monotonic()
    if how == "Ctrl-C":  # the terminal signals the whole foreground group
        os.killpg(supervisor.proc.pid, signal.SIGINT)
    else:
        supervisor.proc.send_signal(signal.SIGTERM)
    assert supervisor.proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    assert [pid for pid in workers if state(pid) is not None] == []
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", supervisor.port), timeout=2)


@pytest.mark.parametrize("settings, message", [
    ({"WORKERS": "2", "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/1"},
     "WORKERS=2 needs SOCKETIO_MESSAGE_QUEUE set to a Redis URL"),
    ({"WORKERS": "2", "SOCKETIO_MESSAGE_QUEUE": "redis://127.0.0.1:6379/1"},
     "WORKERS=2 needs RATELIMIT_STORAGE_URI set to a Redis URL"),
    ({"WORKERS": "abc"}, "WORKERS must be a whole number, 1 or more (one per core), not 'abc'"),
    ({"WORKERS": "0"}, "WORKERS must be a whole number, 1 or more (one per core), not '0'"),
])
def test_unusable_workers_settings_stop_the_start(tmp_path, settings, message):
    env = environment(PORT=str(free_port()), DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3",
                      **settings)
    done = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 2
    assert done.stderr.startswith(f"Alumni Circles can't start: {message}")
    assert done.stderr.count("\n") == 1  # one line, no traceback
    assert "serving on" not in done.stdout


def test_several_workers_mean_websocket_only(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    for name in SHARED_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    config = from_environment(str(tmp_path))
    assert config["WORKERS"] == 1 and config["SOCKETIO_TRANSPORTS"] is None

    monkeypatch.setenv("WORKERS", "4")
    monkeypatch.setenv("SOCKETIO_MESSAGE_QUEUE", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/1")
    config = from_environment(str(tmp_path))
    assert config["WORKERS"] == 4 and config["SOCKETIO_TRANSPORTS"] == ["websocket"]


@pytest.mark.parametrize("transports", [None, ["websocket"]])
def test_the_page_and_engine_io_follow_socketio_transports(make_app, transports):
    client = make_app(SOCKETIO_TRANSPORTS=transports).test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    handshake = client.get("/socket.io/?EIO=4&transport=polling")
    if transports is None:  # the default: long-polling first, as always
        assert "socketio-transports" not in page
        assert handshake.status_code == 200 and b'"sid"' in handshake.data
    else:
        assert WEBSOCKET_ONLY in page
        assert handshake.status_code == 400
