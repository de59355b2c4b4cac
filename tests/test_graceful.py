"""The production server (gunicorn, deploy/gunicorn.conf.py) stops, reloads and
replaces workers without cutting anything: real processes on a SQLite file.

The server runs tests.slow_app (the app, plus an `X-Test-Delay` header that
holds a request before the app handles it) with the soft open-file limit
lowered to systemd's default of 1,024, as a unit without LimitNOFILE gets it.
"""
import gc
import http.client
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from tests.chat.live_servers import make_world, sign_in
from tests.conftest import IN_CI, app_config
from tests.test_server import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
GRACE = 10


def children(pid: int) -> list[int]:
    kids = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        kids += [int(kid) for kid in listing.read_text().split()]
    return sorted(kid for kid in kids if _state(kid) not in {"Z", None})


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def systemd_default_limit():
    """In the child before exec: the soft limit systemd gives a unit without LimitNOFILE."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))


class Gunicorn:
    def __init__(self, tmp_path: Path, db_url: str, name: str = "gunicorn", **settings):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"{name}.log"
        env = {key: value for key, value in os.environ.items() if key != "SOCKETIO_ASYNC_MODE"}
        env.update({"HOST": "127.0.0.1", "PORT": str(self.port), "DATABASE_URL": db_url,
                    "SECRET_KEY": "graceful-" + "s" * 32, "ACCESS_LOG": "0", "LOG_LEVEL": "INFO",
                    "RATELIMIT_ENABLED": "false", "GRACEFUL_TIMEOUT": str(GRACE), **settings})
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                 "tests.slow_app:served()"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=systemd_default_limit)
        wait_for(f"{self.url}/healthz").close()

    def worker(self, other_than: int | None = None, timeout: float = 20) -> int:
        """The one worker, once it is not `other_than` (and the old one is gone)."""
        deadline = time.monotonic() + timeout
        while True:
            pids = children(self.proc.pid)
            if len(pids) == 1 and pids[0] != other_than:
                return pids[0]
            assert time.monotonic() < deadline, (pids, self.output())
            time.sleep(0.05)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in children(self.proc.pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def world(tmp_path):
    db_url = f"sqlite:///{tmp_path}/graceful.sqlite3"
    ids = make_world(db_url)
    from community import create_app
    from community.accounts.models import User
    from community.circles.models import Circle
    from community.extensions import db
    from tests.factories import make_thread

    app = create_app(app_config(db_url))
    with app.app_context():
        circle = db.session.scalar(db.select(Circle).filter_by(slug=ids["slug"]))
        thread = make_thread(circle, db.session.get(User, ids["alice"]))
        ids["thread"] = thread.id
        db.session.remove()
        db.engine.dispose()
    return {**ids, "db_url": db_url, "db_file": f"{tmp_path}/graceful.sqlite3"}


@pytest.fixture
def server(tmp_path, world):
    started = Gunicorn(tmp_path, world["db_url"])
    try:
        yield started
    finally:
        started.stop()
        print(f"--- gunicorn ---\n{started.output()}")


def fetch(port: int, method: str, path: str, headers: dict, body: str | None = None) -> tuple:
    """(status, body) over a new connection; ("refused", ...) if no server listens;
    ("cut", the error) if the connection was accepted and then failed."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.connect()
    except ConnectionRefusedError as error:
        return "refused", repr(error)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException) as error:
        return "cut", repr(error)
    finally:
        conn.close()


def cookie_of(session) -> str:
    return "; ".join(f"{k}={v}" for k, v in session.cookies.items())


def in_threads(calls) -> list:
    results = [None] * len(calls)

    def run(i, call):
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    return threads, results


def test_sigterm_finishes_every_request_in_flight_then_exits(server, world):
    alice = sign_in(server.url, "alice@example.org")
    thread_path = f"/c/{world['slug']}/t/{world['thread']}"
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      alice.get(server.url + thread_path, timeout=5).text).group(1)
    cookie = cookie_of(alice)
    alice.close()
    slow = {"Cookie": cookie, "X-Test-Delay": "1.5"}
    form = {**slow, "Content-Type": "application/x-www-form-urlencoded"}
    calls = [lambda: fetch(server.port, "GET", "/", slow) for _ in range(20)]
    calls += [lambda n=n: fetch(server.port, "POST", f"{thread_path}/reply", form,
                                f"csrf_token={token}&body=Reply+in+flight+{n}") for n in range(5)]
    threads, results = in_threads(calls)
    time.sleep(0.7)  # all 25 sent and waiting in the app
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)

    # Meanwhile new connections are refused or served in full, never cut.
    late = []
    while server.proc.poll() is None and time.monotonic() - signalled < GRACE + 5:
        late.append(fetch(server.port, "GET", "/healthz", {})[0])
        time.sleep(0.05)
    assert server.proc.wait(GRACE + 5) == 0
    took = time.monotonic() - signalled
    for thread in threads:
        thread.join(10)

    statuses = [status for status, _ in results]
    print(f"SIGTERM: {statuses.count(200)} GET 200, {statuses.count(302)} POST 302, "
          f"exited after {took:.2f} s; after the signal: {late.count(200)} served, "
          f"{late.count('refused')} refused, {late.count('cut')} cut")
    assert statuses == [200] * 20 + [302] * 5, results
    assert all(b"Sign out" in body for _, body in results[:20])
    assert took < GRACE, took  # the requests finished: no wait for the grace period's end
    assert "cut" not in late and set(late) <= {200, "refused"}, late
    with sqlite3.connect(world["db_file"]) as db:
        stored = [row[0] for row in
                  db.execute("SELECT source FROM posts WHERE source LIKE 'Reply in flight%'")]
    assert sorted(stored) == [f"Reply in flight {n}" for n in range(5)]  # each once
    assert "Worker graceful timeout" not in server.output()


def test_idle_keep_alive_connections_do_not_hold_the_drain(server):
    """A kept-alive connection between requests is closed at once: without that the
    worker would wait out its grace period for it, then cut it."""
    idle = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=10) for _ in range(5)]
    for conn in idle:
        conn.request("GET", "/healthz")
        assert conn.getresponse().read()  # answered; the connection stays open
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(GRACE) == 0
    took = time.monotonic() - started
    print(f"stopped with 5 idle keep-alive connections in {took:.2f} s")
    assert took < 3, took
    for conn in idle:
        assert conn.sock.recv(1) == b""  # closed by the server (FIN), not left hanging
        conn.close()


def test_a_wedged_worker_is_replaced(tmp_path, world):
    server = Gunicorn(tmp_path, world["db_url"], WORKER_TIMEOUT="2")
    try:
        wedged = server.worker()
        os.kill(wedged, signal.SIGSTOP)  # alive, holding its socket, never beating
        stopped = time.monotonic()
        replacement = server.worker(other_than=wedged, timeout=15)
        took = time.monotonic() - stopped
        health = wait_for(f"{server.url}/healthz")
        assert health.status == 200
        health.close()
        print(f"wedged worker {wedged} replaced by {replacement} after {took:.2f} s")
        assert took < 2 + 4, took
        assert f"WORKER TIMEOUT (pid:{wedged})" in server.output()
    finally:
        server.stop()


class Stream:
    """Four clients each asking for /healthz over a new connection, again and again,
    until the block ends; `outcomes` holds each answer's status, "refused" or "cut"."""

    def __init__(self, port: int):
        self.port, self.outcomes, self.stop = port, [], threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(4)]

    def run(self):
        while not self.stop.is_set():
            self.outcomes.append(fetch(self.port, "GET", "/healthz", {})[0])

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


def test_a_stop_under_a_stream_of_requests_cuts_none(server):
    """On SIGTERM the master closes its copy of the listening socket, then the worker
    closes the last one: a connection still waiting in the socket's queue then would
    be reset after the client had sent its request. The worker serves those first."""
    with Stream(server.port) as stream:
        time.sleep(0.3)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(GRACE) == 0
        time.sleep(0.2)
    outcomes = stream.outcomes
    print(f"stop: {len(outcomes)} requests: {outcomes.count(200)} served, "
          f"{outcomes.count('refused')} refused, {outcomes.count('cut')} cut")
    assert set(outcomes) <= {200, "refused"} and "refused" in outcomes, outcomes
    assert outcomes.count(200) > 20
    assert "the last copy, new connections turned away" in server.output()


def test_a_reload_refuses_nothing_under_a_stream_of_requests(server):
    """SIGHUP (systemctl reload): a new worker on the same listening socket, then the
    old one drains. Connections made meanwhile wait in the socket's queue."""
    first = server.worker()
    with Stream(server.port) as stream:
        time.sleep(0.5)
        server.proc.send_signal(signal.SIGHUP)
        second = server.worker(other_than=first)
        time.sleep(0.5)
        server.proc.send_signal(signal.SIGHUP)
        third = server.worker(other_than=second)
        time.sleep(0.5)
    outcomes = stream.outcomes
    failed = [status for status in outcomes if status != 200]
    print(f"two reloads: {len(outcomes)} requests, {len(failed)} failed; "
          f"workers {first} -> {second} -> {third}")
    assert len(outcomes) > 50 and failed == []
    assert server.proc.poll() is None
    assert "copies remain elsewhere" in server.output()  # the new worker's queue left alone


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_live_sockets_are_told_to_reconnect_and_do(server, world, transport):
    import socketio

    alice = sign_in(server.url, "alice@example.org")
    cookie = cookie_of(alice)
    alice.close()
    connects, disconnects = [], []
    client = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1)
    client.on("connect", lambda: connects.append(time.monotonic()), namespace="/chat")
    client.on("disconnect", lambda reason=None: disconnects.append(reason), namespace="/chat")
    client.connect(server.url, namespaces=["/chat"], transports=[transport], wait_timeout=5,
                   headers={"Cookie": cookie})
    try:
        assert client.call("join", {"circle": world["slug"]}, namespace="/chat", timeout=5)["ok"]
        first = server.worker()
        reloaded = time.monotonic()
        server.proc.send_signal(signal.SIGHUP)
        server.worker(other_than=first)
        deadline = time.monotonic() + 15
        while not (len(connects) >= 2 and client.connected):
            assert time.monotonic() < deadline, (connects, disconnects, server.output())
            time.sleep(0.05)
        back = connects[-1] - reloaded
        # Back on the new worker, and working there.
        assert client.call("join", {"circle": world["slug"]}, namespace="/chat", timeout=5)["ok"]
        print(f"{transport}: told to reconnect, back after {back:.2f} s (disconnects: {disconnects})")
        assert "1 live socket(s) told to reconnect" in server.output()
        assert back < 8  # the new worker boots meanwhile (about 2 s here)
    finally:
        client.disconnect()
        # python-engineio's client leaves the dropped connection's socket to the collector.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


def test_the_server_raises_its_open_file_limit_and_says_so(server):
    """Started with the soft limit at 1,024 (systemd's default), the worker holds the hard limit."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    worker = server.worker()
    limits = Path(f"/proc/{worker}/limits").read_text()
    soft_now = int(re.search(r"^Max open files\s+(\d+)", limits, re.M).group(1))
    assert soft_now == hard > 1024
    assert f"open files: limit {hard}, room for about {(hard - 64) // 2} live sockets" in server.output()


def test_the_master_loads_none_of_the_app():
    """gunicorn's master reads deploy/gunicorn.conf.py and imports the worker class; if
    that imported the app's package, every worker forked after a reload would run the
    old code of whatever the master had loaded."""
    code = ("import runpy, sys; runpy.run_path('deploy/gunicorn.conf.py');"
            "print(sorted(m for m in sys.modules"
            " if m.split('.')[0] in {'community', 'app', 'flask', 'tests'}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.fixture
def nginx_binary():
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        if IN_CI:
            pytest.fail("nginx is missing: .ci/run installs nginx-light for this test")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    return nginx


def test_restarting_one_of_two_behind_nginx_cuts_nothing(tmp_path, world, nginx_binary):
    """deploy/'s layout: nginx (ip_hash) in front of two instances. The one serving
    this client gets SIGTERM with requests in flight and a stream of new ones
    coming: those in flight finish there, the new ones go to the other instance."""
    instances = [Gunicorn(tmp_path, world["db_url"], name=f"instance{n}", ACCESS_LOG="1") for n in range(2)]
    port = free_port()
    upstream = "".join(f"server 127.0.0.1:{instance.port};" for instance in instances)
    (tmp_path / "nginx.conf").write_text(f"""
pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;
  upstream alumni_circles {{ ip_hash; {upstream} keepalive 8; }}
  map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
  server {{ listen 127.0.0.1:{port}; include {ROOT}/deploy/nginx-locations.conf; }}
}}
""")
    proxy = subprocess.Popen([nginx_binary, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path),
                              "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    stop = threading.Event()
    stream = []
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz?via=nginx").close()
        # ip_hash puts every loopback client on one instance: that one is restarted.
        deadline = time.monotonic() + 5
        while not (serving := [i for i in instances if "via=nginx" in i.output()]):
            assert time.monotonic() < deadline, "no instance logged the request through nginx"
            time.sleep(0.05)
        (serving,) = serving
        slow = [lambda: fetch(port, "GET", "/healthz", {"X-Test-Delay": "1.5"}) for _ in range(10)]
        threads, in_flight = in_threads(slow)

        def keep_asking():
            while not stop.is_set():
                stream.append(fetch(port, "GET", "/healthz", {})[0])

        askers = [threading.Thread(target=keep_asking) for _ in range(3)]
        for asker in askers:
            asker.start()
        time.sleep(0.7)
        signalled = time.monotonic()
        serving.proc.send_signal(signal.SIGTERM)
        assert serving.proc.wait(GRACE) == 0
        took = time.monotonic() - signalled
        time.sleep(0.5)
        stop.set()
        for thread in threads + askers:
            thread.join(10)
        failed = [status for status in stream if status != 200]
        print(f"behind nginx: {len(in_flight)} in flight all {set(s for s, _ in in_flight)}; "
              f"{len(stream)} more during the stop, {len(failed)} failed; stopped in {took:.2f} s")
        assert [status for status, _ in in_flight] == [200] * 10
        assert len(stream) > 20 and failed == []
    finally:
        stop.set()
        proxy.terminate()
        proxy.wait(10)
        for instance in instances:
            instance.stop()


def test_a_bad_timeout_setting_stops_the_start_with_one_line():
    env = {**os.environ, "GRACEFUL_TIMEOUT": "soon", "PORT": str(free_port())}
    done = subprocess.run([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert done.stderr.strip() == ("Alumni Circles can't start: GRACEFUL_TIMEOUT must be a whole number "
                                   "of seconds, 1 or more, not 'soon'")


def test_the_chat_page_reconnects_by_itself_after_a_reload(server, world, chromium_browser):
    """socket.io-client (the page's chat.js) takes the dropped connection as a
    transport closing, not a server's farewell, so it reconnects to the new
    worker without the page reloading, and chat goes on."""
    from playwright.sync_api import expect

    from tests.chat.live_servers import Member

    alice = Member(chromium_browser, server.url, "alice@example.org")
    try:
        alice.open_chat(server.url, world["slug"])
        alice.page.evaluate("window.notReloaded = true")  # gone if the page reloads
        first = server.worker()
        server.proc.send_signal(signal.SIGHUP)
        server.worker(other_than=first)
        deadline = time.monotonic() + 15
        while len([url for url in alice.websockets if "/socket.io/" in url]) < 2:
            assert time.monotonic() < deadline, (alice.websockets, server.output())
            time.sleep(0.1)
        expect(alice.page.locator("#chat-status.chat__status--ok")).to_be_visible(timeout=10_000)
        alice.page.fill("#chat-body", "Sent after the reload")
        alice.page.press("#chat-body", "Enter")
        expect(alice.page.locator("#chat-messages .chat-msg--pending")).to_have_count(0, timeout=10_000)
        assert alice.messages()[-1] == "Sent after the reload"
        assert alice.page.evaluate("window.notReloaded") is True
        assert "1 live socket(s) told to reconnect" in server.output()
    finally:
        alice.context.close()
