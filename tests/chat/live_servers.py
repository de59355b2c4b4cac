"""Real app processes for the chat tests: `python app.py` on loopback, sharing
PostgreSQL and Redis, with clients that sign in over HTTP like a browser.

Fixtures: redis_url, world (schema and a circle on a fresh PostgreSQL
database), servers (two app processes). Needs TEST_DATABASE_URL and
TEST_REDIS_URL: skipped without them, failed in CI. tests/test_graceful.py
uses make_world and sign_in too.

In a browser (tests/chat/test_browser.py): chromium()
launches Debian's Chromium through Playwright, skipped when it is not
installed (failed in CI), and a Member signs in through the real form in a
page of their own, keeping the page's errors and the requests it made.
"""
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from community import create_app
from community.extensions import db
from tests.conftest import IN_CI, app_config
from tests.factories import PASSWORD, add_member, make_circle, make_user
from tests.test_server import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Without these, Chromium's own network calls fail on these machines.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def redis_url():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        if IN_CI:
            pytest.fail("TEST_REDIS_URL must be set in CI: the tests of several processes must run")
        pytest.skip("TEST_REDIS_URL is not set; tests of several processes sharing Redis "
                    "are skipped outside CI")
    return url


@pytest.fixture
def pg_world(postgres_url):
    """The schema and a circle on a fresh PostgreSQL database (the test makes it)."""
    return make_world(postgres_url)


def make_world(db_url: str) -> dict:
    """The schema and a circle (Rachel owns it; Alice and Bob are members) on an
    empty database; returns the slug and the people's ids."""
    app = create_app(app_config(db_url))
    with app.app_context():
        db.create_all()
        owner = make_user("Rachel Stone", email="rachel@example.org")
        circle = make_circle(owner, name="Berkshire Leaders")
        alice = add_member(circle, make_user("Alice Adeyemi", email="alice@example.org"))
        bob = add_member(circle, make_user("Bob Bell", email="bob@example.org"))
        ids = {"slug": circle.slug, "owner": owner.id, "alice": alice.id, "bob": bob.id}
        db.session.remove()
        db.engine.dispose()
    return ids


@pytest.fixture
def app_servers(postgres_url, redis_url, pg_world, tmp_path):
    """Two app processes on loopback ports; yields their base URLs."""
    channel = f"circles-test-{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "HOST": "127.0.0.1", "ACCESS_LOG": "0", "LOG_LEVEL": "WARNING",
           "DATABASE_URL": postgres_url, "SOCKETIO_MESSAGE_QUEUE": redis_url,
           "SOCKETIO_CHANNEL": channel, "SECRET_KEY": "scale-out-" + uuid.uuid4().hex}
    env.pop("SOCKETIO_ASYNC_MODE", None)
    procs, urls, logs = [], [], []
    try:
        for n in range(2):
            port = free_port()
            log = open(tmp_path / f"server{n}.log", "wb")  # noqa: SIM115 - closed below
            logs.append(log)
            procs.append(subprocess.Popen([sys.executable, "app.py"], cwd=ROOT,
                                          env={**env, "PORT": str(port)},
                                          stdout=log, stderr=subprocess.STDOUT))
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_for(f"{url}/healthz").close()
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()
        for n in range(len(procs)):
            output = (tmp_path / f"server{n}.log").read_text(errors="replace")
            print(f"--- server {n} ---\n{output}")
            assert not chat_tracebacks(output), output
            # Nothing after a WebSocket session is read as HTTP (app.py's middleware).
            assert "Invalid HTTP method" not in output and "Expected GET" not in output, output
        forget_channel(redis_url, channel)


def forget_channel(redis_url: str, channel: str) -> None:
    """Delete the Redis keys a test's servers made under their SOCKETIO_CHANNEL."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{channel}:*"):
        client.delete(key)
    client.close()


def chat_tracebacks(log: str) -> list[str]:
    """Tracebacks in a server's log that come from chat or Socket.IO code.

    (Other areas' background work may log its own; that is theirs to judge.)
    """
    chunks = log.split("Traceback (most recent call last):")[1:]
    marks = ("community/chat/", "/socketio/", "/engineio/", "flask_socketio", "simple_websocket")
    return [chunk for chunk in chunks if any(mark in chunk for mark in marks)]


def sign_in(base: str, email: str):
    """A requests session signed in through the real form, CSRF token and all."""
    import requests

    http = requests.Session()
    page = http.get(f"{base}/auth/login", timeout=5)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    answer = http.post(f"{base}/auth/login", timeout=5, allow_redirects=False,
                       data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302, answer.text
    return http


class Listener:
    """A python-socketio client on /chat that keeps every event it receives."""

    EVENTS = ("message_created", "message_edited", "message_deleted", "presence", "typing",
              "removed", "error")

    def __init__(self, base: str, http, origin: str | None = None,
                 transports: tuple[str, ...] = ("websocket",)):
        import socketio

        self.events: list[tuple[str, dict]] = []
        self.changed = threading.Condition()
        # websocket-client sends the server's own origin unless told another.
        options = {"origin": origin} if origin else {}
        self.sio = socketio.Client(reconnection=False, websocket_extra_options=options)
        for name in self.EVENTS:
            self.sio.on(name, self._keeper(name), namespace="/chat")
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        self.sio.connect(base, namespaces=["/chat"], transports=list(transports), wait_timeout=5,
                         headers={"Cookie": cookie})

    def _keeper(self, name):
        def keep(data=None):
            with self.changed:
                self.events.append((name, data))
                self.changed.notify_all()
        return keep

    def call(self, event: str, data: dict) -> dict:
        return self.sio.call(event, data, namespace="/chat", timeout=5)

    def wait_for(self, test, timeout: float = 5.0):
        """The first event (name, data) that passes test, waiting up to timeout."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for event in self.events:
                    if test(*event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.changed.wait(left)

    def named(self, name: str) -> list[dict]:
        with self.changed:
            return [data for n, data in self.events if n == name]

    def close(self):
        if self.sio.connected:
            self.sio.disconnect()


def exchange_messages(alice: "Listener", bob: "Listener", slug: str, tag: str) -> tuple[int, int]:
    """Alice's message reaches Bob and Bob's reply reaches Alice (both already
    joined); returns the two messages' ids."""
    sent = alice.call("send_message", {"circle": slug, "body": f"Hello from {tag} one",
                                       "client_id": f"{tag}-1"})
    assert sent["ok"]
    got = bob.wait_for(lambda n, d: n == "message_created" and d["id"] == sent["message"]["id"])
    assert got and got[1]["body"] == f"Hello from {tag} one"
    reply = bob.call("send_message", {"circle": slug, "body": f"Hello back from {tag} two",
                                      "client_id": f"{tag}-2"})
    assert reply["ok"]
    assert alice.wait_for(lambda n, d: n == "message_created" and d["id"] == reply["message"]["id"])
    return sent["message"]["id"], reply["message"]["id"]


def require_chromium() -> None:
    """Skip the test when Chromium is not installed (fail it in CI, which installs it)."""
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); chat browser test skipped")


@contextmanager
def chromium():
    """Debian's Chromium (never Playwright's download), headless, through Playwright."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


class Member:
    """A person signed in through the real form in a browser context of their own.

    problems: the page's uncaught errors, console errors and CSP violations;
    requests: the URL of every HTTP request the page made; websockets: the URL
    of every WebSocket it opened.
    """

    def __init__(self, browser, base, email, **context):
        self.context = browser.new_context(timezone_id="Europe/London", locale="en-GB", **context)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.websockets: list[str] = []
        self.page.on("pageerror", lambda exc: self.problems.append(f"error: {exc}"))
        self.page.on("console", self._console)
        self.page.on("dialog", lambda dialog: dialog.accept())
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("websocket", lambda ws: self.websockets.append(ws.url))
        self.page.goto(base + "/auth/login")
        self.page.fill("#email", email)
        self.page.fill("#password", PASSWORD)
        self.page.click("form button[type=submit]")
        self.page.wait_for_load_state()

    def _console(self, message):
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console: {message.text}")

    def open_chat(self, base, slug):
        self.page.goto(f"{base}/c/{slug}/chat")
        self.page.wait_for_selector("#chat-status.chat__status--ok")
        # Once on a WebSocket, the page holds no HTTP request open (long-polling did).
        self.page.wait_for_load_state("networkidle", timeout=10_000)

    def messages(self) -> list[str]:
        return self.page.locator("#chat-messages .chat-msg .chat-msg__body").all_inner_texts()
