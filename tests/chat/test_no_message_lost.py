"""No message lost, by design (issue 19, item 1), with real processes and real faults.

Two `python app.py` processes share a fresh PostgreSQL database and a
redis-server of the test's own (so it can be stopped and paused). Members are
python-socketio clients that do what static/js/chat.js does: keep the last
seq they hold without a gap, fetch a gap's range when a message numbered
beyond it arrives (broadcast or their own ack), join with after_seq on every
(re)connect and fetch after it on `resync`. Then, after each fault, every
stored message must reach every member, in order, once.

Faults: a process dies between its commit and its broadcast (the test-only
CHAT_TEST_FAULT hook in community/chat/actions.py); Redis is killed, then
restarted, while both sides send; Redis hangs (SIGSTOP) while both sides send.
"""
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from tests.chat.live_servers import ROOT, sign_in
from tests.test_server import free_port, wait_for

pytestmark = pytest.mark.postgres

GAP_GRACE = 0.7         # seconds a gap may last before the member fetches it (as chat.js)
RECOVERY_BUDGET = 5.0   # seconds from the fault's end until every member has everything
ACK_BUDGET = 1.5        # seconds: the slowest acknowledgement while Redis is down or hung


class Server:
    """One `python app.py` on a loopback port, which can be killed and started again."""

    def __init__(self, env: dict, log_path):
        self.env = env
        self.port = free_port()
        self.log_path = log_path
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **extra_env) -> "Server":
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child holds it; closed below
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, stdout=log,
                                     stderr=subprocess.STDOUT,
                                     env={**self.env, "PORT": str(self.port), **extra_env})
        log.close()
        wait_for(f"{self.url}/healthz").close()
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def servers(postgres_url, pg_world, own_redis, tmp_path):
    """Two app processes (unstarted: each test starts them with its own faults)."""
    env = {**os.environ, "HOST": "127.0.0.1", "ACCESS_LOG": "0", "LOG_LEVEL": "WARNING",
           "DATABASE_URL": postgres_url, "SOCKETIO_MESSAGE_QUEUE": own_redis.url,
           "SOCKETIO_CHANNEL": f"lost-test-{uuid.uuid4().hex[:12]}",
           "SECRET_KEY": "no-message-lost-" + uuid.uuid4().hex, "CHAT_RATE_LIMIT": "1000"}
    for name in ("SOCKETIO_ASYNC_MODE", "CHAT_TEST_FAULT"):
        env.pop(name, None)
    pair = [Server(env, tmp_path / f"server{n}.log") for n in range(2)]
    try:
        yield pair
    finally:
        for server in pair:
            server.stop()
        for n in range(2):
            path = tmp_path / f"server{n}.log"
            if path.exists():
                print(f"--- server {n} ---\n{path.read_text(errors='replace')}")


class Member:
    """A /chat client that holds a circle's messages by seq, as chat.js does."""

    def __init__(self, name: str, base: str, email: str, slug: str):
        import socketio

        self.name, self.slug = name, slug
        self.http = sign_in(base, email)
        self.lock = threading.Condition()
        self.held: dict[int, dict] = {}     # seq -> message, each kept once
        self.shown: list[int] = []          # ids in the order they were first shown
        self.contiguous: int | None = None
        self.ahead: set[int] = set()
        self.wanted = threading.Event()     # the worker should join or fetch
        self.need_join = False
        self.resync = False
        self.acks: list[float] = []         # seconds each send took to be acknowledged
        self.closed = False
        self.failures: list[str] = []  # what went wrong in the worker (retried)
        self.fetches: list = []
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2,
                                   reconnection_delay_max=1, randomization_factor=0.5)
        self.sio.on("connect", self._connected, namespace="/chat")
        self.sio.on("message_created", self._created, namespace="/chat")
        self.sio.on("resync", self._resynced, namespace="/chat")
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        self.sio.connect(base, namespaces=["/chat"], transports=["websocket"], wait_timeout=5,
                         headers={"Cookie": cookie})
        self.worker = threading.Thread(target=self._work, daemon=True)
        self.worker.start()
        assert self.wait(lambda: self.contiguous is not None, 5), f"{name} never joined"

    # Handlers run on the client's reading thread: they only note and wake the worker.
    def _connected(self):
        self.need_join = True
        self._want()

    def _want(self):
        self.wanted.set()

    def _resynced(self, data=None):
        self.resync = True
        self._want()

    def _created(self, data):
        if data.get("circle") == self.slug:
            self.take([data])

    def take(self, messages: list[dict], through: int | None = None) -> None:
        with self.lock:
            for message in messages:
                if message["id"] not in {m["id"] for m in self.held.values()}:
                    self.shown.append(message["id"])
                self.held[message["seq"]] = message
                if self.contiguous is None or message["seq"] > self.contiguous:
                    self.ahead.add(message["seq"])
            if through is not None:
                self.contiguous = through if self.contiguous is None \
                    else max(self.contiguous, through)
            if self.contiguous is not None:
                while self.contiguous + 1 in self.ahead:
                    self.contiguous += 1
                self.ahead = {s for s in self.ahead if s > self.contiguous}
                if self.ahead:
                    self.wanted.set()  # a gap: fetch it
            self.lock.notify_all()

    def _work(self):
        while not self.closed:
            if not self.wanted.wait(0.2):
                continue
            self.wanted.clear()
            try:
                if self.need_join:
                    self._join()
                elif self.contiguous is not None:
                    resync, self.resync = self.resync, False
                    if not resync:
                        time.sleep(GAP_GRACE)  # a gap: it may fill on its own
                    if resync or self.ahead:
                        self._fetch()
            except Exception as exc:  # noqa: BLE001 - disconnected, rate limited: again shortly
                self.failures.append(repr(exc))
                time.sleep(0.5)
                self.wanted.set()

    def _join(self):
        while True:
            payload = {"circle": self.slug}
            if self.contiguous is not None:
                payload["after_seq"] = self.contiguous
            answer = self.sio.call("join", payload, namespace="/chat", timeout=5)
            assert answer["ok"], answer
            self.take(answer["messages"], answer["through"])
            if not answer["has_newer"]:
                self.need_join = False
                return

    def _fetch(self):
        while True:
            with self.lock:
                payload = {"circle": self.slug, "after_seq": self.contiguous}
                if self.ahead:
                    payload["before_seq"] = max(self.ahead)  # every gap up to there
            self.fetches.append(("fetch", payload))
            answer = self.sio.call("fetch", payload, namespace="/chat", timeout=5)
            self.fetches.append(("answer", answer.get("through"), answer.get("error")))
            assert answer["ok"], answer
            self.take(answer["messages"], answer["through"])
            if not answer["has_newer"]:
                return

    def send(self, body: str, client_id: str | None = None, timeout: float = 5) -> dict | None:
        """Send; None if no acknowledgement came (the server died, say)."""
        started = time.monotonic()
        try:
            answer = self.sio.call("send_message", {"circle": self.slug, "body": body,
                                                    "client_id": client_id or uuid.uuid4().hex},
                                   namespace="/chat", timeout=timeout)
        except Exception:  # noqa: BLE001 - TimeoutError, or disconnected
            return None
        self.acks.append(time.monotonic() - started)
        assert answer["ok"], answer
        self.take([answer["message"]])
        return answer

    def wait(self, test, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.lock:
            while not test():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(min(left, 0.2))
            return True

    def describe(self, expected) -> str:
        with self.lock:
            return (f"{self.name}: holds up to {self.contiguous} without a gap, beyond it "
                    f"{sorted(self.ahead)[:10]}; {len(expected)} stored; failures {self.failures[-3:]}; "
                    f"fetches {self.fetches[-4:]} of {len(self.fetches)}")

    def close(self):
        self.closed = True
        if self.sio.connected:
            self.sio.disconnect()


def stored(db_url: str) -> list[tuple[int, int]]:
    """(seq, id) of every stored message, in seq order."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(
                "SELECT seq, id FROM chat_messages ORDER BY seq"))]
    finally:
        engine.dispose()


def has_everything(member: Member, expected: list[tuple[int, int]]) -> bool:
    last = expected[-1][0] if expected else 0
    return member.contiguous is not None and member.contiguous >= last


def check_every_member(members: list[Member], expected: list[tuple[int, int]]) -> dict:
    """Every stored message held by every member, in seq order, each shown once."""
    counts = {"stored": len(expected), "lost": 0, "duplicated": 0}
    assert [seq for seq, _ in expected] == list(range(1, len(expected) + 1))  # no gap stored
    for member in members:
        with member.lock:
            held = [(seq, m["id"]) for seq, m in sorted(member.held.items())]
            shown = list(member.shown)
        counts["lost"] += len(set(expected) - set(held))
        counts["duplicated"] += len(shown) - len(set(shown))
        assert held[:len(expected)] == expected, member.name
        assert len(shown) == len(set(shown)), member.name
    return counts


def close_all(members):
    closing = [threading.Thread(target=m.close) for m in members]
    for thread in closing:
        thread.start()
    for thread in closing:
        thread.join(10)


def test_a_process_killed_between_commit_and_broadcast_loses_nothing(servers, pg_world,
                                                                     postgres_url):
    one, two = servers
    one.start(CHAT_TEST_FAULT="exit:DIE-HERE")
    two.start()
    slug = pg_world["slug"]
    alice = Member("alice on one", one.url, "alice@example.org", slug)
    rachel = Member("rachel on one", one.url, "rachel@example.org", slug)
    bob = Member("bob on two", two.url, "bob@example.org", slug)
    members = [alice, rachel, bob]
    try:
        for n in range(3):
            assert alice.send(f"before {n}") and bob.send(f"reply {n}")
        # Process one commits Alice's message, then dies before broadcasting it.
        assert alice.send("DIE-HERE please", client_id="fatal", timeout=3) is None
        one.proc.wait(5)
        crashed = time.monotonic()
        assert one.proc.returncode == 3
        lost_seq = len(stored(postgres_url))
        assert all(lost_seq not in m.held for m in members)  # nobody heard of it
        # It comes back (as a process manager restarts a worker); its members reconnect.
        one.start()
        assert alice.wait(lambda: alice.sio.connected and lost_seq in alice.held, 10)
        # Alice's page sends it again (same client_id): stored once, same number.
        again = alice.send("DIE-HERE please", client_id="fatal")
        assert again["duplicate"] is True and again["message"]["seq"] == lost_seq
        # Bob never disconnected: the restarted process tells every process's
        # sockets to resync when it first subscribes, and he fetches it, though
        # nobody has sent anything since.
        assert bob.wait(lambda: lost_seq in bob.held, RECOVERY_BUDGET), bob.describe(
            stored(postgres_url))
        assert bob.send("after the crash") and alice.send("all good?")
        expected = stored(postgres_url)
        started = time.monotonic()
        for member in members:
            assert member.wait(lambda m=member: has_everything(m, expected), RECOVERY_BUDGET), \
                member.describe(expected)
        counts = check_every_member(members, expected)
        counts["seconds_to_recover"] = round(time.monotonic() - started, 2)
        counts["seconds_from_crash_to_all_held"] = round(time.monotonic() - crashed, 2)
        print("killed between commit and broadcast:", counts)
        assert counts["lost"] == counts["duplicated"] == 0
    finally:
        close_all(members)


def send_steadily(member: Member, tag: str, stop: threading.Event, sent: list) -> None:
    n = 0
    while not stop.is_set():
        answer = member.send(f"{tag} {n}")
        if answer:
            sent.append(answer["message"]["id"])
        n += 1
        time.sleep(0.05)


@pytest.mark.parametrize("fault", ["killed", "hung"])
def test_redis_away_while_both_sides_send_loses_nothing(servers, pg_world, postgres_url,
                                                        own_redis, fault):
    one, two = servers
    one.start()
    two.start()
    slug = pg_world["slug"]
    alice = Member("alice on one", one.url, "alice@example.org", slug)
    rachel = Member("rachel on one", one.url, "rachel@example.org", slug)
    bob = Member("bob on two", two.url, "bob@example.org", slug)
    members = [alice, rachel, bob]
    stop, sent = threading.Event(), []
    senders = [threading.Thread(target=send_steadily, args=(m, m.name, stop, sent))
               for m in (alice, bob)]
    try:
        for thread in senders:
            thread.start()
        time.sleep(1)
        for member in members:
            member.acks.clear()
        if fault == "killed":
            own_redis.kill()
        else:
            own_redis.pause()
        time.sleep(3)
        stop.set()  # no message after this: only `resync` can tell members what they missed
        for thread in senders:
            thread.join(10)
        during = [ack for m in (alice, bob) for ack in m.acks]
        expected = stored(postgres_url)
        if fault == "killed":
            own_redis.start()
        else:
            own_redis.resume()
        back = time.monotonic()
        for member in members:
            assert member.wait(lambda m=member: has_everything(m, expected), RECOVERY_BUDGET), \
                member.describe(expected)
        recovered = time.monotonic() - back
        # And live delivery across processes works again: each side's next message
        # reaches the other by broadcast, without any fetch.
        time.sleep(0.5)
        fetches = len(bob.fetches)
        last = alice.send("Redis is back")["message"]["seq"]
        assert bob.wait(lambda: last in bob.held, 2) and len(bob.fetches) == fetches
        sent.append(bob.send("So it is")["message"]["id"])
        sent.append(alice.held[last]["id"])
        expected = stored(postgres_url)
        for member in members:
            assert member.wait(lambda m=member: has_everything(m, expected), RECOVERY_BUDGET), \
                member.describe(expected)
        counts = check_every_member(members, expected)
        counts.update(sent=len(sent), sends_during_fault=len(during),
                      slowest_ack_during_fault=round(max(during), 3),
                      seconds_to_recover=round(recovered, 2))
        print(f"Redis {fault}:", counts)
        assert counts["stored"] == len(sent) and counts["lost"] == counts["duplicated"] == 0
        assert during and max(during) < ACK_BUDGET
        assert recovered < RECOVERY_BUDGET
    finally:
        stop.set()
        own_redis.resume()
        close_all(members)
