"""Twenty members writing at once to one `python app.py` on its SQLite file.

Each writer signs in like a browser and, for CONCURRENT_WRITERS_SECONDS (30 in
CI, 10 elsewhere), starts threads, replies, toggles RSVPs and sends chat
messages over Socket.IO, while a monitor asks /healthz twice a second. Then:
no 500 and no "database is locked" (in any answer or in the server's log),
every write that was answered as a success is in the database, and /healthz
always answered quickly. One test, on SQLite only (the embedded default is
what it is about): it runs once per CI run.
"""
import os
import random
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from community import create_app
from community.extensions import db
from tests.conftest import IN_CI, app_config
from tests.factories import PASSWORD, add_member, make_circle, make_thread, make_user
from tests.test_server import free_port, wait_for

pytestmark = pytest.mark.soak  # one test, SQLite only: not run per engine like the others

ROOT = Path(__file__).resolve().parent.parent
WRITERS = 20
SECONDS = float(os.environ.get("CONCURRENT_WRITERS_SECONDS", "30" if IN_CI else "10"))
HEALTH_BUDGET = 5.0  # seconds: the slowest /healthz answer allowed while under load
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
POST_LINK = re.compile(r"/t/(\d+)\?page=\d+#post-(\d+)$")


def _local(days: int, hour: int) -> str:
    moment = datetime.now(ZoneInfo("Europe/London")) + timedelta(days=days)
    return moment.strftime(f"%Y-%m-%dT{hour:02d}:00")


def _seed(database_url: str) -> dict:
    """Twenty members in one circle with a thread and two meetings (six dates)."""
    from community.meetings.actions import scheduling
    from community.meetings.models import MeetingOccurrence

    app = create_app(app_config(database_url))
    with app.app_context():
        owner = make_user("Rachel Stone", email="owner@example.org")
        circle = make_circle(owner, name="Berkshire Leaders")
        writers = [add_member(circle, make_user(f"Writer {n}", email=f"writer{n}@example.org"))
                   for n in range(WRITERS)]
        thread = make_thread(circle, owner, "Welcome", "Say hello here.")
        scheduling.schedule_meeting(owner, circle.slug, title="Breakfast",
                                            start=_local(10, 8), duration="60",
                                            timezone="Europe/London", location="Reading")
        scheduling.schedule_meeting(owner, circle.slug, title="Weekly call", start=_local(11, 18),
                                    duration="60", timezone="Europe/London",
                                    online_link="https://meet.example.org/w", repeat="weekly",
                                    interval="1", count="5")
        dates = [(o.meeting_id, o.id) for o in db.session.scalars(db.select(MeetingOccurrence))]
        world = {"slug": circle.slug, "thread": thread.id, "dates": dates,
                 "writers": [(w.id, w.email) for w in writers]}
        db.session.remove()
        db.engine.dispose()
    return world


@dataclass
class Tally:
    """What one writer saw: the writes the server said it made, and what went wrong."""

    user_id: int
    threads: list[tuple[int, str]] = field(default_factory=list)  # (thread id, title)
    posts: list[tuple[int, int]] = field(default_factory=list)  # (thread id, post number)
    rsvps: dict[int, str] = field(default_factory=dict)  # date id -> last answer saved
    messages: list[str] = field(default_factory=list)  # client ids acknowledged
    problems: list[str] = field(default_factory=list)
    operations: int = 0


class Writer(threading.Thread):
    """One member: a browser session for forms and a Socket.IO connection for chat."""

    def __init__(self, base: str, world: dict, user_id: int, email: str, shared: dict,
                 deadline: float, seed: int):
        super().__init__(daemon=True)
        self.base, self.world, self.email, self.shared = base, world, email, shared
        self.deadline = deadline
        self.random = random.Random(seed)
        self.tally = Tally(user_id)

    def run(self):
        try:
            self._sign_in()
            self._connect()
            while time.monotonic() < self.deadline:
                self.tally.operations += 1
                self.random.choices([self._start_thread, self._reply, self._rsvp, self._chat],
                                    weights=[1, 3, 3, 4])[0]()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.tally.problems.append(f"{type(exc).__name__}: {exc}")
        finally:
            if getattr(self, "sio", None) is not None and self.sio.connected:
                self.sio.disconnect()

    # --- Set-up -----------------------------------------------------------------------

    def _sign_in(self):
        import requests

        self.http = requests.Session()
        page = self.http.get(f"{self.base}/auth/login", timeout=30)
        token = CSRF_FIELD.search(page.text).group(1)
        answer = self.http.post(f"{self.base}/auth/login", timeout=30, allow_redirects=False,
                                data={"email": self.email, "password": PASSWORD,
                                      "csrf_token": token})
        assert answer.status_code == 302, answer.text
        # Signing in renews the session: take a token that belongs to the new one.
        page = self.http.get(f"{self.base}/settings/profile", timeout=30)
        self.token = CSRF_FIELD.search(page.text).group(1)

    def _connect(self):
        import socketio

        self.sio = socketio.Client(reconnection=False)
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        self.sio.connect(self.base, namespaces=["/chat"], transports=["websocket"],
                         headers={"Cookie": cookie}, wait_timeout=30)
        answer = self.sio.call("join", {"circle": self.world["slug"]}, namespace="/chat",
                               timeout=30)
        assert answer["ok"], answer

    # --- Writes -----------------------------------------------------------------------

    def _post(self, path: str, data: dict, expect: tuple[int, ...] = (302, 303)):
        answer = self.http.post(self.base + path, data={**data, "csrf_token": self.token},
                                allow_redirects=False, timeout=30)
        if answer.status_code not in expect or "database is locked" in answer.text:
            self.tally.problems.append(f"POST {path}: {answer.status_code} "
                                       f"{answer.text[:300]!r}")
            return None
        if self.random.random() < 0.5:  # as a browser would: read the page it was sent to
            page = self.http.get(self.base + answer.headers["Location"], timeout=30)
            if page.status_code != 200 or "database is locked" in page.text:
                self.tally.problems.append(f"GET {answer.headers['Location']}: "
                                           f"{page.status_code} {page.text[:300]!r}")
        return answer

    def _start_thread(self):
        title = f"Topic {uuid.uuid4().hex[:10]}"
        answer = self._post(f"/c/{self.world['slug']}/threads/new",
                            {"title": title, "body": "What does everyone think?"})
        if answer is not None:
            thread_id = int(re.search(r"/t/(\d+)", answer.headers["Location"]).group(1))
            self.tally.threads.append((thread_id, title))
            with self.shared["lock"]:
                self.shared["threads"].append(thread_id)

    def _reply(self):
        with self.shared["lock"]:
            thread_id = self.random.choice(self.shared["threads"])
        answer = self._post(f"/c/{self.world['slug']}/t/{thread_id}/reply",
                            {"body": f"A reply from {self.email}"})
        if answer is not None:
            match = POST_LINK.search(answer.headers["Location"])
            self.tally.posts.append((int(match.group(1)), int(match.group(2))))

    def _rsvp(self):
        meeting_id, date_id = self.random.choice(self.world["dates"])
        answer = "declined" if self.tally.rsvps.get(date_id) == "going" else "going"
        if self._post(f"/c/{self.world['slug']}/m/{meeting_id}/dates/{date_id}/rsvp",
                      {"answer": answer}, expect=(303,)) is not None:
            self.tally.rsvps[date_id] = answer

    def _chat(self):
        client_id = uuid.uuid4().hex
        answer = self.sio.call("send_message", {"circle": self.world["slug"],
                                                "body": f"Message {client_id[:6]}",
                                                "client_id": client_id},
                               namespace="/chat", timeout=30)
        if answer.get("ok"):
            self.tally.messages.append(client_id)
        else:
            self.tally.problems.append(f"send_message: {answer}")


class HealthMonitor(threading.Thread):
    """Asks /healthz every half second until stopped; keeps each answer's time."""

    def __init__(self, base: str):
        super().__init__(daemon=True)
        self.base = base
        self.stop = threading.Event()
        self.timings: list[float] = []
        self.problems: list[str] = []

    def run(self):
        import requests

        while not self.stop.wait(0.5):
            started = time.monotonic()
            try:
                answer = requests.get(f"{self.base}/healthz", timeout=30)
                if answer.status_code != 200:
                    self.problems.append(f"/healthz {answer.status_code}: {answer.text[:200]}")
            except requests.RequestException as exc:
                self.problems.append(f"/healthz: {exc}")
            self.timings.append(time.monotonic() - started)


@pytest.fixture
def server(tmp_path):
    """`python app.py` on a migrated SQLite file, with the circle seeded."""
    database_url = f"sqlite:///{tmp_path}/writers.sqlite3"
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "ACCESS_LOG": "0",
           "DATABASE_URL": database_url, "SECRET_KEY": "writers-" + "k" * 40,
           "RATELIMIT_ENABLED": "false", "CHAT_RATE_LIMIT": "100000",
           "CHAT_READ_LIMIT": "100000", "MAIL_WORKER_INTERVAL": "1", "LOG_LEVEL": "WARNING",
           "SITE_URL": f"http://127.0.0.1:{port}"}
    for key in ("SOCKETIO_ASYNC_MODE", "SOCKETIO_MESSAGE_QUEUE", "MAIL_SERVER"):
        env.pop(key, None)
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT,
                   env=env, check=True, capture_output=True)
    world = _seed(database_url)
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz", timeout=30).close()
        yield base, world, tmp_path / "writers.sqlite3", process, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _rows(path: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def test_twenty_members_writing_at_once(server):
    base, world, path, process, log_path = server
    shared = {"lock": threading.Lock(), "threads": [world["thread"]]}
    deadline = time.monotonic() + SECONDS
    writers = [Writer(base, world, user_id, email, shared, deadline, seed=n)
               for n, (user_id, email) in enumerate(world["writers"])]
    monitor = HealthMonitor(base)
    monitor.start()
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=SECONDS + 120)
    monitor.stop.set()
    monitor.join(timeout=60)
    with wait_for(f"{base}/healthz", timeout=10) as health:  # still answering afterwards
        assert health.status == 200
    process.terminate()
    process.wait(timeout=15)

    tallies = [w.tally for w in writers]
    assert not any(w.is_alive() for w in writers), "a writer never finished"
    problems = [f"{t.user_id}: {p}" for t in tallies for p in t.problems] + monitor.problems
    assert problems == [], "\n".join(problems[:20])
    assert max(monitor.timings) < HEALTH_BUDGET, f"/healthz took {max(monitor.timings):.1f} s"
    assert sum(t.operations for t in tallies) >= WRITERS * 3, "the writers hardly wrote"

    # Every write the server confirmed is there, and nothing else by the writers.
    writer_ids = tuple(t.user_id for t in tallies)
    marks = ",".join("?" * len(writer_ids))
    threads = {tid: (title, author) for tid, title, author in _rows(
        path, f"SELECT id, title, author_id FROM threads WHERE author_id IN ({marks})",
        *writer_ids)}
    assert threads == {tid: (title, t.user_id) for t in tallies for tid, title in t.threads}
    replies = set(_rows(path, f"SELECT thread_id, number, author_id FROM posts "
                              f"WHERE number > 1 AND author_id IN ({marks})", *writer_ids))
    assert replies == {(tid, number, t.user_id) for t in tallies for tid, number in t.posts}
    assert _rows(path, "SELECT t.id FROM threads t WHERE t.post_count != "
                       "(SELECT count(*) FROM posts p WHERE p.thread_id = t.id)") == []
    answers = {(user, date): answer for user, date, answer in _rows(
        path, "SELECT user_id, occurrence_id, answer FROM meeting_rsvps")}
    assert answers == {(t.user_id, date): answer for t in tallies
                       for date, answer in t.rsvps.items()}
    messages = set(_rows(path, "SELECT author_id, client_id FROM chat_messages"))
    assert messages == {(t.user_id, client_id) for t in tallies for client_id in t.messages}

    log = log_path.read_text(errors="replace")
    assert "database is locked" not in log, log[-5000:]
    assert "Traceback" not in log, log[-5000:]
    print(f"{sum(t.operations for t in tallies)} operations in {SECONDS:.0f} s: "
          f"{sum(len(t.threads) for t in tallies)} threads, "
          f"{sum(len(t.posts) for t in tallies)} replies, "
          f"{sum(len(t.rsvps) for t in tallies)} dates answered, "
          f"{sum(len(t.messages) for t in tallies)} chat messages; "
          f"slowest /healthz {max(monitor.timings):.2f} s")
