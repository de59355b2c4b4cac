"""`python app.py` serves pages and Socket.IO with the production server."""
import io
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urlopen(url, timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_python_app_py_serves_with_gevent(tmp_path):
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "ACCESS_LOG": "0",
           "DATABASE_URL": f"sqlite:///{tmp_path}/srv.sqlite3", "SECRET_KEY": "s" * 32}
    env.pop("SOCKETIO_ASYNC_MODE", None)
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, preexec_fn=systemd_default_limit,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        health = wait_for(f"http://127.0.0.1:{port}/healthz")
        assert health.status == 200 and b'"database":"ok"' in health.read()
        # The Socket.IO endpoint is served by the same process (Engine.IO handshake).
        handshake = urlopen(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", timeout=5)
        assert handshake.status == 200 and b'"sid"' in handshake.read()
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0].decode()
    assert "serving on http://127.0.0.1" in output
    assert "Traceback" not in output
    # Started with systemd's default soft limit (1,024), it raised its own (community/limits.py).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert f"open files: limit {hard}, room for about {(hard - 64) // 2} live sockets" in output


def systemd_default_limit():
    """In a child before exec: the soft open-file limit of a unit without LimitNOFILE."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))


def test_a_port_in_use_stops_the_start(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {**os.environ, "PORT": str(taken.getsockname()[1]), "HOST": "127.0.0.1",
               "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "SECRET_KEY": "s" * 32}
        done = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("Alumni Circles can't start: 127.0.0.1:")
    assert "is in use" in done.stderr and "Traceback" not in done.stderr


def test_gunicorn_listeners_send_without_waiting_for_acks():
    """The production server's listening socket (gunicorn's) has TCP_NODELAY too."""
    import logging

    from gunicorn.config import Config
    from gunicorn.sock import create_sockets

    config = Config()
    config.set("bind", ["127.0.0.1:0"])
    (listening,) = create_sockets(config, logging.getLogger("test"))
    try:
        client = socket.create_connection(listening.sock.getsockname())
        accepted, _ = listening.sock.accept()
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        accepted.close()
        client.close()
    finally:
        listening.close()


@pytest.mark.parametrize("transports", [None, ["websocket"]])
def test_the_page_and_engine_io_follow_socketio_transports(make_app, transports):
    client = make_app(SOCKETIO_TRANSPORTS=transports).test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    handshake = client.get("/socket.io/?EIO=4&transport=polling")
    if transports is None:  # the default: long-polling first, as always
        assert "socketio-transports" not in page
        assert handshake.status_code == 200 and b'"sid"' in handshake.data
    else:
        assert '<meta name="socketio-transports" content="websocket">' in page
        assert handshake.status_code == 400


def test_served_connections_send_without_waiting_for_acks():
    """Nagle's algorithm is off on every accepted connection: with it on, a response
    written as headers then body waited for the client's delayed ACK (40 ms each)."""
    from community.server import listener

    server = listener("127.0.0.1", 0)
    try:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        accepted.close()
        client.close()
    finally:
        server.close()


def test_a_listener_turning_away_new_connections_keeps_those_queued():
    """What a stopping worker does before closing its last copy of the listening
    socket (deploy/gunicorn.conf.py): new clients' first packets are dropped, so
    they are refused once it is closed, while those already queued are served."""
    from community.server import held_by, listener, turn_away_new_connections

    server = listener("127.0.0.1", 0)
    address = server.getsockname()
    try:
        assert held_by(os.getpid(), server) and not held_by(os.getppid(), server)
        queued = socket.create_connection(address)
        queued.sendall(b"GET / HTTP/1.1")
        assert turn_away_new_connections(server)
        with pytest.raises(TimeoutError):  # its SYN unanswered: it would try again in a second
            socket.create_connection(address, timeout=0.3)
        accepted, _ = server.accept()
        assert accepted.recv(100) == b"GET / HTTP/1.1"
        accepted.close()
        queued.close()
    finally:
        server.close()


def test_a_busy_keep_alive_connection_does_not_starve_the_others():
    """Requests from many connections take turns: one client pipelining requests
    must not be served again and again while another waits (bench: p99 1.5 s)."""
    import gevent
    from gevent import pywsgi
    from gevent import socket as green

    from community.server import fair_handler

    order, others = [], []

    def app(environ, start_response):
        order.append(environ["PATH_INFO"])
        if len(order) == 1:  # while 49 more of its requests wait, another client asks once
            other = green.create_connection(("127.0.0.1", server.server_port))
            other.sendall(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
            others.append(other)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    def read_all(sock, count):
        got = b""
        while got.count(b"ok") < count:
            got += sock.recv(65536)

    server = pywsgi.WSGIServer(("127.0.0.1", 0), app, handler_class=fair_handler(), log=None)
    server.start()
    try:
        busy = green.create_connection(("127.0.0.1", server.server_port))
        busy.sendall(b"GET /busy HTTP/1.1\r\nHost: x\r\n\r\n" * 50)
        gevent.spawn(read_all, busy, 50).join(timeout=10)
        gevent.spawn(read_all, others[0], 1).join(timeout=10)
        for sock in [busy, *others]:
            sock.close()
    finally:
        server.stop()
    assert len(order) == 51
    assert order.index("/other") < 10


def test_a_client_gone_mid_send_is_a_quiet_goodbye(monkeypatch):
    """engine.io's websocket driver raises a bare OSError() when the client left
    mid-send (CI: a browser closed during the upgrade's probe). gevent read an
    errno from it, died of IndexError and logged a traceback; now the
    connection just closes, and the server serves on."""
    import gevent
    from gevent import pywsgi
    from gevent import socket as green

    from community.server import fair_handler

    failures = []
    hub = gevent.get_hub()
    monkeypatch.setattr(hub, "handle_error", lambda *args: failures.append(args))

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/gone":
            raise OSError()
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    errors = io.StringIO()
    server = pywsgi.WSGIServer(("127.0.0.1", 0), app, handler_class=fair_handler(False),
                               log=None, error_log=errors)
    server.start()
    try:
        for path, answer in [("/gone", b""), ("/", b"HTTP/1.1 200")]:
            client = green.create_connection(("127.0.0.1", server.server_port))
            client.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            assert gevent.spawn(client.recv, 1024).get(timeout=10).startswith(answer)
            client.close()
        gevent.sleep(0.05)
    finally:
        server.stop()
    assert failures == [] and errors.getvalue() == ""


@pytest.mark.parametrize("access_log", [True, False])
def test_a_log_line_is_made_only_with_an_access_log(monkeypatch, access_log):
    """gevent formats a log line for every request even with nowhere to write
    it; without an access log ours makes none."""
    import gevent
    from gevent import pywsgi
    from gevent import socket as green

    from community.server import fair_handler

    lines = []
    monkeypatch.setattr(pywsgi.WSGIHandler, "format_request", lambda self: lines.append(1) or "line")

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    server = pywsgi.WSGIServer(("127.0.0.1", 0), app, handler_class=fair_handler(access_log), log=None)
    server.start()
    try:
        client = green.create_connection(("127.0.0.1", server.server_port))
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert gevent.spawn(client.recv, 1024).get(timeout=10).startswith(b"HTTP/1.1 200")
        client.close()
    finally:
        server.stop()
    assert lines == ([1] if access_log else [])


def test_draining_serves_what_has_arrived_and_closes_idle_connections(monkeypatch):
    """On a drain every answer says `Connection: close` and its connection ends
    after it; one with a request in flight gets it answered, and its next
    request too if already sent (pipelined); a kept-alive connection idle
    between requests is still answered if it sends in the grace that follows,
    and closed when that ends. Nothing sent is left unanswered."""
    import gevent
    from gevent import pywsgi
    from gevent import socket as green

    from community import server as serving

    monkeypatch.setattr(serving, "_draining", False)
    monkeypatch.setattr(serving, "_closing_idle", False)

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            gevent.sleep(0.3)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    def read_to_end(sock):
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
        return data

    def kept_alive():
        sock = green.create_connection(("127.0.0.1", server.server_port))
        sock.sendall(b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200") and b"Connection: close" not in answer
        return sock

    server = pywsgi.WSGIServer(("127.0.0.1", 0), app, handler_class=serving.fair_handler(False), log=None)
    server.start()
    try:
        idle, late, busy = kept_alive(), kept_alive(), kept_alive()
        busy.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
        gevent.sleep(0.1)  # /slow in flight, /after sent behind it
        serving.start_draining()
        gevent.sleep(0.1)
        # In the grace: an idle connection is still open, and what it sends is
        # answered with word that the connection ends, then it ends.
        late.sendall(b"GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = gevent.spawn(read_to_end, late).get(timeout=2)
        assert answer.startswith(b"HTTP/1.1 200") and b"Connection: close\r\n" in answer
        answers = gevent.spawn(read_to_end, busy).get(timeout=5)
        assert answers.count(b"HTTP/1.1 200") == 2, answers
        # The pipelined one is answered first; its answer says the connection ends.
        assert answers.count(b"Connection: close\r\n") == 1, answers
        assert answers.rindex(b"Connection: close") > answers.rindex(b"HTTP/1.1 200"), answers
        serving.close_idle_connections()
        assert gevent.spawn(read_to_end, idle).get(timeout=2) == b""  # closed, not waited for
        for sock in (idle, late, busy):
            sock.close()
    finally:
        server.stop()
