"""`WORKERS=N python app.py`: N forked worker processes serving one port.

The tests of real processes (the supervisor and its workers, on a SQLite file,
with Redis as Socket.IO's queue and the rate-limit store) need TEST_REDIS_URL:
skipped without it, failed in CI.

Each worker accepts from a listening socket of its own on the port
(SO_REUSEPORT), and the kernel picks the socket for each new connection from a
hash of its addresses and ports: a test can't choose the worker, only see which
one got the connection. It finds the server's end of the connection in
/proc/net/tcp (local port the app's, remote port the client's), and the worker
whose /proc/<pid>/fd holds that socket. To put a client on a chosen worker, it
connects again until the connection lands there, closing the misses: each try
lands on a given worker of two with probability 1/2, so 40 all miss once in 2^40.

One test chats in Chromium (the session's one browser, tests/conftest.py:
skipped when it is not installed, failed in CI).
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest

from community.config import from_environment
from tests.chat import live_servers
from tests.chat.live_servers import (
    Listener,
    Member,
    chat_tracebacks,
    exchange_messages,
    forget_channel,
    make_world,
    sign_in,
)
from tests.test_server import free_port, wait_for

redis_url = live_servers.redis_url  # the fixture: TEST_REDIS_URL, or skipped (failed in CI)

ROOT = Path(__file__).resolve().parent.parent
WEBSOCKET_ONLY = '<meta name="socketio-transports" content="websocket">'
SHARED_SETTINGS = ("WORKERS", "SOCKETIO_MESSAGE_QUEUE", "RATELIMIT_STORAGE_URI", "SOCKETIO_ASYNC_MODE")
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
LISTEN = "0A"  # the state column of a listening socket in /proc/net/tcp


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


def tcp_sockets():
    """(local port, remote port, state, inode) of every TCP socket (IPv4 and IPv6).
    The inode is 0 while no process holds the socket: say, a connection not yet accepted."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            yield (int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16),
                   fields[3], int(fields[9]))


def listening(port: int) -> set[int]:
    """The inodes of the sockets listening on port."""
    return {inode for local, _, st, inode in tcp_sockets() if local == port and st == LISTEN}


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets the process holds (its /proc/<pid>/fd links `socket:[inode]`)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if link.startswith("socket:["):
            inodes.add(int(link[len("socket:["):-1]))
    return inodes


def client_port(connection) -> int:
    """The client's port of a connection: a socket's, or a Listener's WebSocket's
    (python-socketio's Engine.IO client, its websocket-client WebSocket, that one's socket)."""
    sock = connection.sio.eio.ws.sock if isinstance(connection, Listener) else connection
    return sock.getsockname()[1]


def answer(conn: socket.socket) -> tuple[int, bytes]:
    """The status and body of the HTTP answer on conn (sent with Connection: close)."""
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    conn.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def healthz(conn: socket.socket) -> tuple[int, bytes]:
    """GET /healthz over this connection: answered by the worker that holds it."""
    conn.sendall(HEALTHZ)
    return answer(conn)


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

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def holder(self, connection, timeout: float = 10) -> int:
        """The worker holding the server's end of the connection, once one has accepted it
        (one waiting in a socket whose worker is being replaced waits for the replacement)."""
        port = client_port(connection)
        deadline = time.monotonic() + timeout
        while True:
            ends = {inode for local, remote, _, inode in tcp_sockets()
                    if local == self.port and remote == port and inode}
            for pid in children(self.proc.pid):
                if ends & socket_inodes(pid):
                    return pid
            assert time.monotonic() < deadline, f"no worker accepted the connection from port {port}"
            time.sleep(0.02)

    def connect_to(self, worker: int, connect=None, tries: int = 40):
        """A connection made by connect() (by default a TCP one) that landed on worker,
        after closing up to tries - 1 that landed elsewhere."""
        for _ in range(tries):
            connection = (connect or self.connect)()
            if self.holder(connection) == worker:
                return connection
            connection.close()
        raise AssertionError(f"{tries} connections, none on worker {worker}")

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
    for worker in (one, two):
        status, body = healthz(supervisor.connect_to(worker))
        assert status == 200 and b'"database":"ok"' in body

    # WebSocket only: the page tells the browser, and a long-polling handshake is refused.
    with urlopen(f"{supervisor.url}/auth/login", timeout=5) as page:
        assert WEBSOCKET_ONLY in page.read().decode()
    with pytest.raises(HTTPError) as refused:
        urlopen(f"{supervisor.url}/socket.io/?EIO=4&transport=polling", timeout=5)
    refused.value.close()
    assert refused.value.code == 400

    # The supervisor holds the port's listening sockets, one per worker, and no other socket
    # (no database or Redis connection its workers could inherit); each worker holds one of them.
    sockets = listening(supervisor.port)
    assert len(sockets) == 2
    assert socket_inodes(supervisor.proc.pid) == sockets
    assert len(socket_inodes(one) & sockets) == len(socket_inodes(two) & sockets) == 1
    assert socket_inodes(one) & socket_inodes(two) & sockets == set()


def test_the_kernel_spreads_connections_across_workers(supervisor):
    workers = supervisor.workers()
    # All opened before any is looked at: a burst, as a browser or a load balancer sends.
    # The kernel hashes each to a worker's socket, so 20 all on one worker, a false
    # failure, has a chance of 2 in 2^20 = 2^-19.
    burst = [supervisor.connect() for _ in range(20)]
    try:
        holders = [supervisor.holder(conn) for conn in burst]
    finally:
        for conn in burst:
            conn.close()
    assert set(holders) == set(workers), holders


def test_a_chat_message_crosses_workers(supervisor):
    world, url = supervisor.world, supervisor.url
    slug = world["slug"]
    one, two = supervisor.workers()
    alice_http = sign_in(url, "alice@example.org")
    bob_http = sign_in(url, "bob@example.org")
    alice = supervisor.connect_to(one, lambda: Listener(url, alice_http))
    bob = supervisor.connect_to(two, lambda: Listener(url, bob_http))
    try:
        # Each worker subscribes to Socket.IO's Redis channel on its first connection,
        # in the background: a broadcast published before that would miss it.
        supervisor.wait_for_subscribers(2)
        assert alice.call("join", {"circle": slug})["ok"]
        joined = bob.call("join", {"circle": slug})
        assert joined["ok"]
        assert {p["id"] for p in joined["online"]} == {world["alice"], world["bob"]}

        exchange_messages(alice, bob, slug, "workers")
    finally:
        # In parallel: a websocket-client close waits up to 3 s for the close handshake.
        closing = [threading.Thread(target=listener.close) for listener in (alice, bob)]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join(10)
        alice_http.close()
        bob_http.close()


@pytest.fixture
def browser(chromium_browser):
    return chromium_browser


def test_two_people_chat_live_in_the_browser_on_websocket_only(browser, supervisor):
    """Chromium, told by the page to use WebSocket only, chats live across WORKERS=2.

    Alice and Bob land on whichever workers the kernel picks (often the same one):
    a message crossing workers is test_a_chat_message_crosses_workers' job, at the
    protocol level. This one proves the browser side: chat.js and bell.js read the
    meta tag and never try long-polling, which these workers refuse.
    """
    from playwright.sync_api import expect

    url, slug = supervisor.url, supervisor.world["slug"]
    alice = Member(browser, url, "alice@example.org")
    bob = Member(browser, url, "bob@example.org")
    try:
        for member in (alice, bob):
            member.open_chat(url, slug)
            meta = member.page.locator('meta[name="socketio-transports"]')
            assert meta.get_attribute("content") == "websocket"
            member.page.evaluate("window.notReloaded = true")  # gone if the page reloads

        alice.page.fill("#chat-body", "Hello from Alice's browser")
        alice.page.click("#chat-composer button[type=submit]")
        expect(bob.page.locator("#chat-messages .chat-msg__body").last).to_have_text(
            "Hello from Alice's browser", timeout=5_000)
        bob.page.fill("#chat-body", "Hello back from Bob's")
        bob.page.press("#chat-body", "Enter")
        expect(alice.page.locator("#chat-messages .chat-msg__body").last).to_have_text(
            "Hello back from Bob's", timeout=5_000)
        expect(alice.page.locator("#chat-messages .chat-msg--pending")).to_have_count(0)

        for member in (alice, bob):
            assert member.page.evaluate("window.notReloaded") is True
            assert member.messages() == ["Hello from Alice's browser", "Hello back from Bob's"]
            sockets = [u for u in member.requests + member.websockets if "/socket.io/" in u]
            assert [u for u in sockets if "transport=polling" in u] == [], sockets
            assert [u for u in member.websockets if "transport=websocket" in u], sockets
            assert member.problems == []
        # Nothing after a WebSocket session was read as HTTP (app.py's middleware).
        assert "Invalid HTTP method" not in supervisor.output()
    finally:
        alice.context.close()
        bob.context.close()


def test_a_killed_worker_is_replaced(supervisor):
    one, two = supervisor.workers()
    os.kill(one, signal.SIGKILL)
    # Meanwhile (the replacement starts after a second's back-off) the connections the
    # kernel gives worker one's socket wait in it, kept open by the supervisor, and the
    # others go to worker two: none is refused or lost.
    meanwhile = [supervisor.connect() for _ in range(6)]
    for conn in meanwhile:
        conn.settimeout(30)
        conn.sendall(HEALTHZ)
    status, _ = healthz(supervisor.connect_to(two))
    assert status == 200  # the survivor kept serving

    deadline = time.monotonic() + 20
    while True:
        now = children(supervisor.proc.pid)
        if len(now) == 2 and one not in now:
            break
        assert time.monotonic() < deadline, (now, supervisor.output())
        time.sleep(0.1)
    assert two in now
    (replacement,) = set(now) - {two}
    status, _ = healthz(supervisor.connect_to(replacement))
    assert status == 200
    assert [answer(conn)[0] for conn in meanwhile] == [200] * len(meanwhile)
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


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_stops_the_start(tmp_path, workers):
    """Even one held with SO_REUSEPORT, as another WORKERS instance holds it:
    the workers' sockets would quietly join it and split its connections."""
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = environment(PORT=str(taken.getsockname()[1]), DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3",
                          WORKERS=workers, SOCKETIO_MESSAGE_QUEUE="redis://127.0.0.1:6379/1",
                          RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/1")
        done = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("Alumni Circles can't start: 127.0.0.1:")
    assert "is in use" in done.stderr and "Traceback" not in done.stderr


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
