"""Socket.IO's body limit: a long-polling POST over it is answered 413 at once,
and leaves no open descriptor behind (it used to hang for good, python-engineio
waiting for a GET that never came; so did a POST with a packet no client sends);
nginx lets through exactly as much."""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.request import urlopen

import pytest

from community.config import DEFAULTS
from tests.chat.live_servers import Listener, make_world, sign_in
from tests.test_server import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
LIMIT = DEFAULTS["SOCKETIO_MAX_HTTP_BUFFER_SIZE"]
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


def test_the_limit_fits_the_largest_event_with_room_to_spare():
    from community.chat.actions import BODY_MAX

    # Every character JSON-escaped as \u001f (6 bytes), as the largest payload.
    event = ["send_message", {"circle": "x" * 80, "body": "\x1f" * BODY_MAX, "client_id": "c" * 64}]
    worst = len("42/chat,1" + json.dumps(event))
    assert 2 * worst < LIMIT <= 64 * 1024


def test_nginx_lets_through_what_the_app_accepts_and_no_more():
    locations = (ROOT / "deploy" / "nginx-locations.conf").read_text()
    socketio = re.search(r"location /socket\.io/ \{(.*?)\n\}", locations, re.S).group(1)
    size = re.search(r"client_max_body_size (\d+)k;", socketio)
    assert size and int(size.group(1)) * 1024 == LIMIT


def test_engine_io_is_told_the_same_limit(make_app):
    from community.extensions import socketio

    make_app()
    assert socketio.server.eio.max_http_buffer_size == LIMIT


def within(seconds: float, call):
    """call()'s result, or a failure if it takes longer (Engine.IO used to hang for good)."""
    results = []
    thread = threading.Thread(target=lambda: results.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert results, f"no answer within {seconds} s"
    return results[0]


def test_an_oversized_polling_post_is_refused_before_engine_io(make_app):
    client = make_app().test_client()
    sid = re.search(r'"sid":"([^"]+)"', client.get(HANDSHAKE).get_data(as_text=True)).group(1)
    answer = within(5, lambda: client.post(f"{HANDSHAKE}&sid={sid}", data=b"4" + b"x" * LIMIT))
    assert answer.status_code == 413 and answer.headers["Connection"] == "close"
    # A body of the limit itself still reaches Engine.IO (which answers it).
    assert client.post(f"{HANDSHAKE}&sid={sid}", data=b"x" * LIMIT).status_code != 413
    # A packet no client sends (here a noop) used to close the session the same
    # way, waiting for a GET: a one-byte POST hung for good.
    answer = within(5, lambda: client.post(f"{HANDSHAKE}&sid={sid}", data=b"6"))
    assert answer.status_code == 400
    # Pages keep their own, larger limit (MAX_CONTENT_LENGTH).
    assert client.post("/auth/login", data={"email": "a" * (2 * LIMIT)}).status_code != 413


# --- With a real server process -------------------------------------------------------

def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture
def server(db_path, tmp_path):
    """`python app.py` on its own port and SQLite file: (base URL, pid, world)."""
    world = make_world(f"sqlite:///{db_path}")
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "ACCESS_LOG": "0",
           "LOG_LEVEL": "WARNING", "DATABASE_URL": f"sqlite:///{db_path}",
           "SECRET_KEY": "limits-" + "s" * 32}
    env.pop("SOCKETIO_ASYNC_MODE", None)
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz").close()
        yield base, proc.pid, world
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        output = (tmp_path / "server.log").read_text(errors="replace")
        print(output)
        assert "Traceback" not in output, output


def polling_session(base: str) -> str:
    with urlopen(base + HANDSHAKE, timeout=5) as answer:
        return re.search(r'"sid":"([^"]+)"', answer.read().decode()).group(1)


def post(base: str, sid: str, length: int, body: bytes, headers: str = "") -> socket.socket:
    """Send a polling POST's head and body as a client would; returns the connection."""
    port = int(base.rsplit(":", 1)[1])
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(f"POST {HANDSHAKE}&sid={sid} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {length}\r\n"
                 f"{headers}\r\n".encode() + body)
    return conn


def status_of(conn: socket.socket) -> int:
    return int(conn.recv(4096).split(b" ", 2)[1])


def settle(pid: int, baseline: int, timeout: float = 5) -> int:
    """The process's descriptor count, once it is back to the baseline (or the timeout)."""
    deadline = time.monotonic() + timeout
    while (count := open_descriptors(pid)) > baseline + 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    return count


def test_oversized_or_unknown_polling_posts_are_refused_at_once_and_leak_nothing(server):
    base, pid, _ = server
    sessions = [polling_session(base) for _ in range(30)]  # as the operator did: one each
    baseline = settle(pid, open_descriptors(pid), timeout=1)
    conns, waits = [], []
    for sid in sessions[:20]:
        started = time.monotonic()
        # Half a megabyte sent of the 2 MB announced: the answer must not wait for the rest.
        conn = post(base, sid, 2_000_000, b"4" + b"x" * 500_000)
        assert status_of(conn) == 413
        waits.append(time.monotonic() - started)
        conns.append(conn)
    for sid in sessions[20:]:  # a packet no client sends: the same hang, from one byte
        started = time.monotonic()
        conn = post(base, sid, 1, b"6")
        assert status_of(conn) == 400
        waits.append(time.monotonic() - started)
        conns.append(conn)
    assert open_descriptors(pid) <= baseline + 1 + len(conns)
    for conn in conns:
        conn.close()
    after = settle(pid, baseline)
    print(f"fds: baseline {baseline}, after {len(conns)} refused POSTs {after}; "
          f"slowest refusal {max(waits) * 1000:.0f} ms")
    assert max(waits) < 1.0
    assert after <= baseline + 1


def test_a_body_that_lies_about_its_length_or_gives_none_is_not_left_hanging(server):
    base, pid, _ = server
    sid = polling_session(base)
    baseline = settle(pid, open_descriptors(pid), timeout=1)
    # Chunked, no length: refused, unread.
    conn = post(base, sid, 0, b"", headers="Transfer-Encoding: chunked\r\n")
    assert status_of(conn) == 411
    conn.close()
    # 8 bytes announced, 200 KB sent: the server reads the 8 bytes (a Socket.IO
    # packet), answers, then reads the rest as a next request, refuses it (414)
    # and ends the connection; nothing waits on the client.
    lying = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=5)
    lying.sendall(f"POST {HANDSHAKE}&sid={sid} HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n"
                  .encode() + b"40/nope," + b"x" * 200_000)
    received = b""
    try:
        while chunk := lying.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass  # closed with the rest of our body unread: as it should be
    assert received.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 414 " in received
    lying.close()
    assert settle(pid, baseline) <= baseline + 1


def test_polling_chat_still_works_within_the_limit(server):
    base, _, world = server
    http = sign_in(base, "alice@example.org")
    alice = Listener(base, http, transports=("polling",))
    try:
        assert alice.call("join", {"circle": world["slug"]})["ok"]
        body = "é" * 4000  # the longest message, non-ASCII: well within the limit
        sent = alice.call("send_message", {"circle": world["slug"], "body": body,
                                           "client_id": "polling-long"})
        assert sent["ok"] and sent["message"]["body"] == body
    finally:
        alice.close()
