"""The soak: members chatting and browsing while faults are injected, and what they noticed.

`ChatMember` is a chat client that keeps what a member's page keeps: the
messages it shows, in the circle's sequence (seq) order, filled in by asking
for what it missed after every (re)connect, on a `resync` and whenever a seq is
skipped; its outbox resends what was not acknowledged, with the same
client_id. `Browser` signs in and reads pages, replying now and then; each
answer is kept with when it came, so failures can be laid against the faults.
`Tally` turns it all into the report tests/test_soak.py asserts on and
docs/operations.md quotes.
"""
import re
import threading
import time
import uuid
from dataclasses import dataclass, field

import requests

from tests.factories import PASSWORD

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def sign_in(base: str, email: str, attempts: int = 50) -> requests.Session:
    """A browser session, signed in through the form (retrying while servers start)."""
    for attempt in range(attempts):
        http = requests.Session()
        try:
            page = http.get(f"{base}/auth/login", timeout=10)
            token = CSRF_FIELD.search(page.text).group(1)
            answer = http.post(f"{base}/auth/login", timeout=10, allow_redirects=False,
                               data={"email": email, "password": PASSWORD, "csrf_token": token})
            if answer.status_code == 302:
                return http
        except (requests.RequestException, AttributeError):
            pass
        http.close()
        time.sleep(0.2 + 0.05 * attempt)
    raise RuntimeError(f"{email} could not sign in at {base}")


def cookie_header(http: requests.Session) -> str:
    return "; ".join(f"{k}={v}" for k, v in http.cookies.items())


class ChatMember:
    """One member's chat page: connected, joined, showing every message once, in order."""

    def __init__(self, name: str, base: str, http: requests.Session, slug: str,
                 send_every: float | None):
        import socketio

        self.name, self.base, self.slug = name, base, slug
        self.send_every = send_every
        self.lock = threading.Lock()
        self.shown: dict[int, dict] = {}   # seq -> {id, body}
        self.contiguous = 0                # every seq up to here is shown
        self.early: dict[int, dict] = {}   # arrived beyond a gap, waiting for it
        self.repeats = 0                   # deliveries of a seq already shown (kept once)
        self.outbox: dict[str, str] = {}   # client_id -> body, until acknowledged
        self.acknowledged: dict[str, int] = {}  # client_id -> message id
        self.refusals: list[str] = []
        self.joined = threading.Event()
        self.wanted = threading.Event()    # a fill (catch-up) is due
        self.stopping = threading.Event()
        self.sent = 0
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.3,
                                   reconnection_delay_max=2, randomization_factor=0.5)
        self.sio.on("connect", self._connected, namespace="/chat")
        self.sio.on("disconnect", self._disconnected, namespace="/chat")
        self.sio.on("message_created", self._arrived, namespace="/chat")
        self.sio.on("resync", lambda data=None: self.wanted.set(), namespace="/chat")
        self.sio.on("error", lambda data=None: self.refusals.append(str(data)), namespace="/chat")
        self.http = http
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"member-{name}")

    # --- Events -----------------------------------------------------------------------------

    def _connected(self):
        self.joined.clear()
        self.wanted.set()

    def _disconnected(self, *reason):
        self.joined.clear()

    def _arrived(self, data):
        if data.get("circle") == self.slug:
            self.show([data])

    def show(self, messages: list[dict], through: int | None = None) -> None:
        """Show messages (from a broadcast, an ack or a catch-up); `through`: a
        catch-up covered every seq up to there (those missing were deleted)."""
        with self.lock:
            for seq in range(self.contiguous + 1, (through or 0) + 1):
                self.early.setdefault(seq, None)
            for message in messages:
                seq = message["seq"]
                if seq <= self.contiguous or self.early.get(seq):
                    self.repeats += 1
                    continue
                self.early[seq] = {"id": message["id"], "body": message["body"]}
            while self.contiguous + 1 in self.early:
                self.contiguous += 1
                message = self.early.pop(self.contiguous)
                if message is not None:
                    self.shown[self.contiguous] = message
            if self.early:
                self.wanted.set()  # a seq was skipped: ask for it

    # --- The page's loop ----------------------------------------------------------------------

    def start(self) -> "ChatMember":
        self._connect()
        self.thread.start()
        return self

    def _connect(self) -> None:
        import socketio

        deadline = time.monotonic() + 30
        while True:
            try:
                self.sio.connect(self.base, namespaces=["/chat"], transports=["websocket"],
                                 headers={"Cookie": cookie_header(self.http)}, wait_timeout=10)
                return
            except socketio.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _run(self) -> None:
        next_send = time.monotonic()
        while not self.stopping.is_set():
            if self.sio.connected and (self.wanted.is_set() or not self.joined.is_set()):
                self.fill()
            if self.joined.is_set() and self.outbox:
                self._resend()
            if (self.send_every and self.joined.is_set()
                    and time.monotonic() >= next_send):
                next_send = time.monotonic() + self.send_every
                self.send(f"{self.name} says {self.sent}")
            self.wanted.wait(0.05)

    def fill(self) -> bool:
        """Join (again) from the last seq held, until nothing newer is left."""
        self.wanted.clear()
        while True:
            with self.lock:
                after = self.contiguous
            answer = self._call("join", {"circle": self.slug, "after_seq": after})
            if not answer or not answer.get("ok"):
                if answer:
                    self.refusals.append(answer.get("error", "?"))
                self.wanted.set()
                time.sleep(0.3)
                return False
            self.show(answer["messages"], answer.get("through"))
            if not answer.get("has_newer"):
                self.joined.set()
                return True

    def send(self, body: str) -> None:
        client_id = f"{self.name}-{self.sent}-{uuid.uuid4().hex[:6]}"
        self.sent += 1
        self.outbox[client_id] = body
        self._deliver(client_id, body)

    def _resend(self) -> None:
        for client_id, body in list(self.outbox.items()):
            self._deliver(client_id, body)

    def _deliver(self, client_id: str, body: str) -> None:
        answer = self._call("send_message", {"circle": self.slug, "body": body,
                                             "client_id": client_id})
        if answer and answer.get("ok"):
            self.outbox.pop(client_id, None)
            self.acknowledged[client_id] = answer["message"]["id"]
            self.show([answer["message"]])
        elif answer:
            self.refusals.append(answer.get("error", "?"))

    def _call(self, event: str, data: dict) -> dict | None:
        try:
            return self.sio.call(event, data, namespace="/chat", timeout=5)
        except Exception:  # noqa: BLE001 - timed out or disconnected: the loop tries again
            return None

    def holds(self, seq: int) -> bool:
        with self.lock:
            return self.contiguous >= seq

    def stop(self) -> None:
        self.stopping.set()
        self.wanted.set()
        self.thread.join(timeout=10)
        try:
            self.sio.disconnect()
        except Exception:  # noqa: BLE001
            pass
        self.http.close()


@dataclass
class Answer:
    at: float
    method: str
    path: str
    outcome: str  # a status code, or refused / cut / timeout


class Browser:
    """A member reading pages and now and then replying to a thread, as a browser would
    (a reply that failed is sent again, the same text, as a person would)."""

    def __init__(self, name: str, base: str, email: str, slug: str, thread_id: int):
        self.name, self.base, self.slug, self.thread_id = name, base, slug, thread_id
        self.email = email
        self.answers: list[Answer] = []
        self.replies_stored: dict[str, bool] = {}  # text -> acknowledged (303)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"browser-{name}")

    def start(self) -> "Browser":
        self.http = sign_in(self.base, self.email)
        self.thread.start()
        return self

    def _run(self) -> None:
        pages = ["/", f"/c/{self.slug}/", f"/c/{self.slug}/t/{self.thread_id}",
                 f"/c/{self.slug}/chat", "/notifications"]
        turn = 0
        pending: str | None = None
        while not self.stopping.is_set():
            turn += 1
            if turn % 5 == 0 or pending:
                pending = pending or f"{self.name} replies, turn {turn}"
                if self._reply(pending):
                    pending = None
            else:
                self._get(pages[turn % len(pages)])
            self.stopping.wait(0.05)

    def _get(self, path: str) -> requests.Response | None:
        return self._request("GET", path)

    def _reply(self, text: str) -> bool:
        page = self._get(f"/c/{self.slug}/t/{self.thread_id}")
        match = page is not None and page.status_code == 200 and CSRF_FIELD.search(page.text)
        if not match:
            return False
        self.replies_stored.setdefault(text, False)
        answer = self._request("POST", f"/c/{self.slug}/t/{self.thread_id}/reply",
                               data={"body": text, "csrf_token": match.group(1)})
        if answer is not None and answer.status_code in (302, 303):
            self.replies_stored[text] = True
            return True
        return False

    def _request(self, method: str, path: str, **kwargs) -> requests.Response | None:
        started = time.monotonic()
        try:
            # A page may send the reader on (a thread to where they left off);
            # a form's answer is its redirect.
            answer = self.http.request(method, self.base + path, timeout=15,
                                       allow_redirects=method == "GET", **kwargs)
            outcome = str(answer.status_code)
            if "/auth/login" in answer.url:
                outcome = "signed out"
        except requests.ConnectionError as exc:
            answer, outcome = None, ("refused" if "refused" in str(exc).lower() else "cut")
        except requests.Timeout:
            answer, outcome = None, "timeout"
        self.answers.append(Answer(started, method, path, outcome))
        return answer

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=20)
        self.http.close()


@dataclass
class Fault:
    name: str
    started: float
    ended: float = 0.0
    recovered_in: float | None = None
    answers: dict[str, int] = field(default_factory=dict)


def wait_until_delivered(members: list[ChatMember], sender: ChatMember, timeout: float = 30,
                         ) -> float | None:
    """Seconds until a message sent now reaches every member (None: not within timeout)."""
    started = time.monotonic()
    seq = None
    while time.monotonic() - started < timeout:
        if seq is None and sender.joined.is_set():
            client_id = f"probe-{uuid.uuid4().hex[:8]}"
            answer = sender._call("send_message", {"circle": sender.slug, "client_id": client_id,
                                                   "body": f"probe {client_id}"})
            if answer and answer.get("ok"):
                seq = answer["message"]["seq"]
                sender.show([answer["message"]])
        if seq is not None and all(member.holds(seq) for member in members):
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def page_answers(base: str, timeout: float = 30) -> float | None:
    """Seconds until /healthz answers 200."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.05)
    return None
