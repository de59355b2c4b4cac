"""Page benchmarks at scale: `make bench-quick` (about 2 minutes) and `make bench` (about 20).

    .venv/bin/python bench/run.py --quick      # 10,000 posts, SQLite; results/quick.json
    .venv/bin/python bench/run.py              # + 1,000,000 posts on SQLite and PostgreSQL;
                                               #   results/latest.json and docs/performance.md

For each scale and database: the synthetic dataset (bench/dataset.py, through
the migrations and bulk inserts; SQLite files are kept in bench/.data/ and
reused), then the app as deploy/ runs it in production (one gunicorn instance:
deploy/gunicorn.conf.py, one gevent worker) and, in the same run, a hello-world
Flask app served the same way (bench/hello.py): the ceiling. `wrk` loads each page from loopback, signed in as
the bench member, and chat history is loaded over the socket by a small
Socket.IO client (bench/sockets.py). SQL statements per request are counted
in-process with the same database. The full run then reads the thread page's
two timing budgets from windows taken in turns on hello-world and the app at
both scales (alternating()). Chat fan-out comes from bench/chat_fanout.py.

PostgreSQL and Redis come from BENCH_DATABASE_URL / TEST_DATABASE_URL and
BENCH_REDIS_URL / TEST_REDIS_URL (as .ci/run sets them); without them those
parts are skipped and the report says so.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import dataset  # noqa: E402
import report  # noqa: E402
import sockets  # noqa: E402
from databases import SECRET, FreshPostgres, migrated_app  # noqa: E402

DATA = BENCH / ".data"
USER_AGENT = "alumni-circles-bench"
CONNECTIONS = 8            # concurrent connections of the load generator
DATASET_VERSION = 6        # bump when dataset.py changes what it builds
VERSUS_ROUNDS = 5          # PostgreSQL against SQLite: rounds of windows in turns (versus)
SHARE_ROUNDS = 5           # each main page against hello-world: rounds of windows in turns (shares)


def pages(world: dataset.World) -> dict[str, str]:
    """The pages measured, by name: what a member opens most."""
    c, t = world.circle_slug, world.big_thread_id
    return {
        "dashboard": "/",
        "circle_home": f"/c/{c}/",
        "thread_list": f"/c/{c}/threads",
        "thread": f"/c/{c}/t/{t}?page=1",
        "thread_last": f"/c/{c}/t/{t}?page={world.big_thread_last_page}",
        "meetings": f"/c/{c}/meetings/",
        "meeting": f"/c/{c}/m/{world.meeting_id}",
        "ics_feed": f"/calendar/{world.feed_token}.ics",
        "search": "/search?" + urlencode({"q": world.search_query}),
        "files": f"/c/{c}/files",
        "files_images": f"/c/{c}/files?kind=images",
        "files_search": f"/c/{c}/files?" + urlencode({"q": world.file_query}),
        "messages": "/messages",
        "conversation": f"/messages/{world.long_conversation_id}",
        "directory": "/people",
        "directory_search": "/people?" + urlencode({"q": world.directory_query,
                                                    "place": world.directory_place}),
        # The bell's poll: the least a signed-in request does (report.FLOOR).
        "bell_poll": "/notifications/unread",
    }


def message_places(world: dataset.World) -> dict[str, tuple[str, str]]:
    """The direct-message pages, each with little and with much on it: the
    Messages page's older page (5 conversations) and first (50 of 55); a
    conversation of 5 messages and one of 600 (the last 50 shown)."""
    return {
        "messages": ("/messages?" + urlencode({"before": world.messages_older}), "/messages"),
        "conversation": (f"/messages/{world.short_conversation_id}",
                         f"/messages/{world.long_conversation_id}"),
    }


def file_places(world: dataset.World) -> dict[str, tuple[str, str]]:
    """The pages that show files, each on two places alike but for their files:
    (few, many). Chat history's two are in files_constant."""
    c = world.circle_slug
    return {
        "thread": (f"/c/{c}/t/{world.few_files_thread_id}?page=1",
                   f"/c/{c}/t/{world.many_files_thread_id}?page=1"),
        "meeting": (f"/c/{c}/m/{world.few_files_meeting_id}", f"/c/{c}/m/{world.many_files_meeting_id}"),
        "files": (f"/c/{world.few_files_circle_slug}/files", f"/c/{c}/files"),
    }


# --- Tools and processes -----------------------------------------------------------

def need_wrk() -> str:
    wrk = shutil.which("wrk")
    if not wrk:
        sys.exit("The benchmarks load pages with wrk, which is not installed.\n"
                 "Install it with:  sudo apt-get install wrk   (Debian/Ubuntu)  or  brew install wrk")
    return wrk


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process on a free loopback port, stopped with SIGTERM."""

    def __init__(self, name: str, cmd: list[str], env: dict, logdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(logdir / f"{name}.log", "wb")  # noqa: SIM115  (closed in stop)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **env, "PORT": str(self.port)})
        deadline = time.monotonic() + 60
        while True:
            try:
                build_opener().open(self.url + "/healthz", timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start; see {self.log.name}") from None
                time.sleep(0.2)

    def rss_mb(self) -> dict:
        """Resident memory of the serving process now and at its peak, from /proc (Linux):
        of the largest worker (gunicorn's master serves nothing)."""
        pids = _children(self.proc.pid) or [self.proc.pid]
        sizes = []
        for pid in pids:
            status = Path(f"/proc/{pid}/status").read_text()
            kb = {k: int(v.split()[0]) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.+)$", status, re.M)}
            sizes.append({"now": round(kb["VmRSS"] / 1024, 1), "peak": round(kb["VmHWM"] / 1024, 1)})
        return max(sizes, key=lambda size: size["peak"])

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


GUNICORN = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]


def hello_server(name: str, logdir: Path, workers: "Workers") -> Server:
    return Server(name, GUNICORN + ["-w", str(workers.count), "bench.hello:app"],
                  {"ACCESS_LOG": "0", "LOG_LEVEL": "WARNING"}, logdir)


def app_server(url: str, logdir: Path, name: str, workers: "Workers") -> Server:
    return Server(name, GUNICORN + ["-w", str(workers.count)], {
        "DATABASE_URL": url, "SECRET_KEY": SECRET, "ACCESS_LOG": "0", "LOG_LEVEL": "WARNING",
        "MAIL_WORKER_INTERVAL": "3600", "CHAT_READ_LIMIT": "1000000000", **workers.env}, logdir)


class Workers:
    """How many gunicorn workers serve the port, and the Redis they share.

    Production (deploy/) runs one worker per instance, so one is the default:
    the figures are one process's. More (--workers) share the port's socket,
    and need Redis (Socket.IO's queue, rate limits); on a database of its own,
    emptied afterwards. Without Redis the bench runs one worker and says so.
    """

    def __init__(self, count: int | None):
        self.count, self.env, self.redis = 1, {"SOCKETIO_MESSAGE_QUEUE": ""}, None
        wanted = count or 1
        if wanted == 1:
            return
        base = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379"
        shared = base.rstrip("/").rsplit("/", 1)[0] + "/14" if base.count("/") > 2 else base + "/14"
        try:
            import redis

            self.redis = redis.Redis.from_url(shared)
            self.redis.ping()
        except Exception as error:  # noqa: BLE001  (any failure: no Redis to use)
            print(f"No Redis at {shared} ({error}): serving from one process, not {wanted}.")
            self.redis = None
            return
        self.count = wanted
        self.env = {"SOCKETIO_MESSAGE_QUEUE": shared,
                    "RATELIMIT_STORAGE_URI": shared, "SOCKETIO_CHANNEL": f"bench-{os.getpid()}"}

    def describe(self) -> str:
        if self.count == 1:
            return "one gunicorn instance, one gevent worker (as each of deploy/'s instances)"
        return (f"one gunicorn instance, {self.count} gevent workers sharing the port; "
                "Redis for Socket.IO and limits")

    def clean(self) -> None:
        if self.redis is not None:
            self.redis.flushdb()


def sign_in(base: str) -> str:
    """Sign in through the real form; returns the Cookie header wrk sends."""
    from http.cookiejar import CookieJar

    jar = CookieJar()
    opener = build_opener(HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", USER_AGENT)]
    form = opener.open(base + "/auth/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    body = urlencode({"csrf_token": token, "email": "member1@bench.example",
                      "password": dataset.PASSWORD}).encode()
    opener.open(Request(base + "/auth/login", data=body)).read()
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    check = opener.open(base + "/").read().decode()
    assert "Sign out" in check or "sign out" in check.lower(), "the bench member did not sign in"
    return cookie


# --- Measuring ----------------------------------------------------------------------

def wrk(url: str, seconds: float, cookie: str | None = None) -> dict:
    """requests/s, p50/p99 (ms) and errors of one wrk run."""
    cmd = [need_wrk(), "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--latency",
           "-H", f"User-Agent: {USER_AGENT}"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {p: _ms(v) for p, v in re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.M)}
    if set(pct) != {"50", "99"}:
        raise RuntimeError(f"wrk's output was not understood:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.+)", out)
    return {"rps": round(rps, 1), "p50_ms": pct["50"], "p99_ms": pct["99"],
            "non_2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(1) if errors else ""}


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return round(float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit], 2)


def response_bytes(url: str, cookie: str | None) -> int:
    request = Request(url, headers={"User-Agent": USER_AGENT, **({"Cookie": cookie} if cookie else {})})
    response = build_opener().open(request)
    assert response.status == 200, (url, response.status)
    return len(response.read())


class InProcess:
    """The app in this process on a bench database, signed in as the bench member
    through the real form: the SQL statements one request sends, and the files
    it shows. Needs no server, so tests/test_bench_report.py counts the same way."""

    def __init__(self, db_url: str):
        from sqlalchemy import event

        from community import create_app
        from community.extensions import db

        self.app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": SECRET,
                               "SOCKETIO_ASYNC_MODE": "threading", "RATELIMIT_ENABLED": False,
                               "RATELIMIT_STORAGE_URI": "memory://", "CHAT_READ_LIMIT": 10**9})
        self.client = self.app.test_client()
        # Requests run outside any app context of ours, each in its own, as served:
        # inside one, Flask-Login's user and the bell's count would be remembered
        # in `g` from the first request and their statements not counted.
        with self.app.app_context():
            self.engine = db.engine
        self.statements: list[str] = []
        # The request's own statements: the test clients run it in this thread;
        # background threads (Socket.IO's, in threading mode) are not the request.
        self.thread = threading.get_ident()
        event.listen(self.engine, "before_cursor_execute", self._listener)
        self._sign_in()

    def _listener(self, conn, cursor, statement, *args) -> None:
        # Transaction control is not counted: SQLite's BEGIN is a statement we send
        # (database.py), PostgreSQL's is implicit in the driver; the queries are the same.
        if threading.get_ident() == self.thread and \
                not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            self.statements.append(statement)

    def _request(self, path: str, **form):
        headers, remote = {"User-Agent": USER_AGENT}, {"REMOTE_ADDR": "127.0.0.1"}
        if form:
            return self.client.post(path, data=form, headers=headers, environ_base=remote)
        return self.client.get(path, headers=headers, environ_base=remote)

    def _sign_in(self) -> None:
        form = self._request("/auth/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        answer = self._request("/auth/login", csrf_token=token, email="member1@bench.example",
                               password=dataset.PASSWORD)
        assert answer.status_code == 302, "the bench member did not sign in"

    def page(self, path: str) -> dict:
        """One GET of `path` after a warm-up: its statements and the files it shows."""
        self._request(path)
        self.statements.clear()
        response = self._request(path)
        assert response.status_code == 200, (path, response.status_code)
        return {"queries": len(self.statements), "files": files_shown(response.get_data(as_text=True))}

    def history(self, slug: str, before_id: int) -> dict:
        """One "load older" over the socket (after a warm-up): its statements and files."""
        count, answer = sockets.count_history_queries(self.app, self.client, slug, before_id, self.statements)
        return {"queries": count, "files": sum(len(m["attachments"]) for m in answer["messages"])}

    def conversation(self, conversation_id: int) -> dict:
        """Opening a conversation over the socket (after a warm-up): its
        statements and how many messages the join answered."""
        count, answer = sockets.count_conversation_join(self.app, self.client, conversation_id,
                                                        self.statements)
        return {"queries": count, "messages": len(answer["messages"])}

    def close(self) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._listener)
        self.engine.dispose()


def files_shown(html: str) -> int:
    """How many files a page links to (a download or a thumbnail, counted once)."""
    return len(set(re.findall(r"/c/[\w-]+/files/([\w-]+)/", html)))


def count_queries(db_url: str, world: dataset.World, paths: dict[str, str]) -> tuple[dict, dict, dict]:
    """SQL statements per request, counted in-process on the same database (after a
    warm-up): each page of `paths` and chat history, then files_constant's and
    messages_constant's."""
    counter = InProcess(db_url)
    try:
        counts = {name: counter.page(path) for name, path in paths.items()}
        counts["chat_history"] = counter.history(world.chat_circle_slug, world.oldest_chat_id)
        return counts, files_constant(counter, world), messages_constant(counter, world)
    finally:
        counter.close()


def files_constant(counter: InProcess, world: dataset.World) -> dict:
    """Each page that shows files on a place with few files and on one alike with
    many (file_places): report.py's budget wants the same statements on both."""
    out = {name: {"few": counter.page(few), "many": counter.page(many)}
           for name, (few, many) in file_places(world).items()}
    out["chat_history"] = {
        "few": counter.history(world.chat_circle_slug, world.few_files_chat_before_id),
        "many": counter.history(world.chat_circle_slug, world.many_files_chat_before_id)}
    return out


def messages_constant(counter: InProcess, world: dataset.World) -> dict:
    """Each direct-message page with little and with much on it (message_places),
    and opening each conversation over the socket (its history):
    report.py's budget wants the same statements on both."""
    out = {name: {"few": counter.page(few), "many": counter.page(many)}
           for name, (few, many) in message_places(world).items()}
    out["conversation_history"] = {"few": counter.conversation(world.short_conversation_id),
                                   "many": counter.conversation(world.long_conversation_id)}
    return out


def measure(label: str, db_url: str, world: dataset.World, seconds: float, logdir: Path,
            workers: Workers) -> dict:
    """Every page (and chat history) against one app server, with the ceiling in the same run."""
    print(f"\n== {label}: {world.posts:,} posts, {workers.describe()}", flush=True)
    hello = hello_server(f"hello-{label}", logdir, workers)
    app = app_server(db_url, logdir, f"app-{label}", workers)
    try:
        cookie = sign_in(app.url)
        paths = pages(world)
        wrk(hello.url + "/", 2)  # warm-up, then the ceiling
        ceiling = wrk(hello.url + "/", seconds)
        print(f"  hello-world ceiling: {ceiling['rps']:.0f} req/s", flush=True)
        results = {}
        for name, path in paths.items():
            wrk(app.url + path, 1, cookie)  # warm-up
            result = wrk(app.url + path, seconds, cookie)
            result["bytes"] = response_bytes(app.url + path, cookie)
            result["ratio"] = round(result["rps"] / ceiling["rps"], 4)
            results[name] = result
            print(f"  {name:13} {result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.2f} ms  "
                  f"p99 {result['p99_ms']:7.2f} ms  ({result['ratio']:.1%})", flush=True)
        history = sockets.load_history(app.url, cookie, world, seconds, USER_AGENT)
        history["ratio"] = round(history["rps"] / ceiling["rps"], 4)
        results["chat_history"] = history
        print(f"  chat_history  {history['rps']:8.1f} req/s  p50 {history['p50_ms']:7.2f} ms  "
              f"p99 {history['p99_ms']:7.2f} ms", flush=True)
        rss = app.rss_mb()
    finally:
        app.stop()
        hello.stop()
    counts, constant, messages = count_queries(db_url, world, pages(world))
    for name, counted in counts.items():
        results[name].update(counted)
    return {"label": label, "posts": world.posts, "ceiling_rps": ceiling["rps"],
            "ceiling": ceiling, "pages": results, "rss_mb": rss, "files_constant": constant,
            "messages_constant": messages}


TAIL_PAGES = tuple(report.TAIL_NAMES)  # the thread's first and last page


def alternating(small: tuple[str, dataset.World], big: tuple[str, dataset.World], logdir: Path,
                workers: Workers, rounds: int, seconds: float) -> dict:
    """The thread page's budgets read from windows taken in turn on servers up side by side:
    hello-world, the app at 10,000 posts and at 1,000,000 (the thread's first and last page).

    A window's figures move with the minute it was taken in. Its p99 is decided
    by a few requests in a hundred: on two shared cores, those that waited out
    another process's time slice (with several workers on a port, also those
    on the worker that took more of wrk's 8 connections); and the shared
    host's speed drifts, by half within minutes at
    times, which moves throughput (bench/findings.md, 23). So each server
    gets `rounds` windows, in turns (ABBA: none always goes first), and the
    budgets take medians: of each scale's p99s, and of the page's throughput
    over hello-world's in the same round.
    """
    servers = {}
    try:
        hello = hello_server("hello-alternating", logdir, workers)
        servers["hello"] = (hello, None, {"hello": "/"})
        for (url, world), label in ((small, "small"), (big, "big")):
            app = app_server(url, logdir, f"alternating-{label}", workers)
            servers[label] = (app, sign_in(app.url), {name: pages(world)[name] for name in TAIL_PAGES})
        for server, cookie, paths in servers.values():
            for path in paths.values():
                wrk(server.url + path, 2, cookie)  # warm-up
        windows = {(label, name): [] for label, (_, _, paths) in servers.items() for name in paths}
        for turn in range(rounds):
            for label in list(servers) if turn % 2 == 0 else reversed(servers):
                server, cookie, paths = servers[label]
                for name, path in paths.items():
                    windows[label, name].append(wrk(server.url + path, seconds, cookie))
    finally:
        for server, _, _ in servers.values():
            server.stop()
    return _alternating_figures(windows, rounds, seconds, small[1].posts, big[1].posts)


def _alternating_figures(windows: dict, rounds: int, seconds: float, small_posts: int,
                         big_posts: int) -> dict:
    out = {"rounds": rounds, "seconds": seconds, "p99": {}}
    for name in TAIL_PAGES:
        p99s = {label: [w["p99_ms"] for w in windows[label, name]] for label in ("small", "big")}
        medians = {label: statistics.median(values) for label, values in p99s.items()}
        out["p99"][name] = {"small_p99_ms": p99s["small"], "big_p99_ms": p99s["big"],
                            "small_median_ms": medians["small"], "big_median_ms": medians["big"],
                            "ratio": round(medians["big"] / medians["small"], 2)}
        print(f"  {name:13} p99 median {medians['small']:6.2f} ms at {small_posts:,} posts, "
              f"{medians['big']:6.2f} ms at {big_posts:,}: {out['p99'][name]['ratio']:.2f}x", flush=True)
    hello = [w["rps"] for w in windows["hello", "hello"]]
    thread = [w["rps"] for w in windows["big", "thread"]]
    ratios = [round(page / ceiling, 4) for page, ceiling in zip(thread, hello, strict=True)]
    median = statistics.median(ratios)
    out["throughput"] = {"hello_rps": hello, "thread_rps": thread, "ratios": ratios, "median_ratio": median}
    print(f"  thread (first page, {big_posts:,} posts) over hello-world, by round: "
          + " ".join(f"{r:.1%}" for r in ratios) + f"; median {median:.1%}", flush=True)
    return out


# --- Datasets --------------------------------------------------------------------------

def schema_head() -> str:
    """A short digest of the migrations, so a changed schema gets a fresh dataset."""
    import hashlib

    names = sorted(p.name for p in (ROOT / "migrations" / "versions").glob("*.py"))
    return hashlib.sha256(" ".join(names).encode()).hexdigest()[:8]


def sqlite_dataset(scale: dataset.Scale) -> tuple[str, dataset.World]:
    """A SQLite file at this scale, built once and kept in bench/.data/."""
    DATA.mkdir(exist_ok=True)
    path = DATA / f"{scale.name}-v{DATASET_VERSION}-{schema_head()}.sqlite3"
    meta = path.with_suffix(".json")
    if not (path.exists() and meta.exists()):
        print(f"Building the {scale.name} dataset on SQLite ({scale.posts:,} posts)…", flush=True)
        started = time.monotonic()
        tmp = path.with_suffix(".building")
        for leftover in DATA.glob(f"{tmp.name}*"):
            leftover.unlink()
        world = dataset.build(migrated_app(f"sqlite:///{tmp}"), scale)
        tmp.rename(path)
        meta.write_text(json.dumps(world.as_dict()))
        print(f"  built in {time.monotonic() - started:.0f} s", flush=True)
    return f"sqlite:///{path}", dataset.World(**json.loads(meta.read_text()))


def measure_postgres(label: str, base_url: str, scale: str, seconds: float, logdir: Path,
                     workers: "Workers", sqlite: tuple[str, dataset.World], rounds: int,
                     window: float) -> tuple[dict, dict]:
    """Every page on PostgreSQL at this scale (as `measure`), then each main page
    against SQLite's at the same scale in turns (`versus`)."""
    store = PostgresDataset(base_url, dataset.SCALES[scale])
    try:
        measured = measure(label, store.url, store.world, seconds, logdir, workers)
        print(f"\n== PostgreSQL against SQLite, each main page: {rounds} rounds of {window:g}-s "
              "windows, in turns", flush=True)
        return measured, versus(sqlite, (store.url, store.world), logdir, workers, rounds, window)
    finally:
        store.drop()


def versus(sqlite: tuple[str, dataset.World], postgres: tuple[str, dataset.World], logdir: Path,
           workers: "Workers", rounds: int, seconds: float) -> dict:
    """Each main page served from SQLite and from PostgreSQL (the same data, both
    servers up), in turns (`in_turns`): PostgreSQL's req/s over SQLite's. Runs
    minutes apart had compared one window of each, so the machine's moods
    decided the budget."""
    apps = {"sqlite": app_server(sqlite[0], logdir, "versus-sqlite", workers),
            "postgresql": app_server(postgres[0], logdir, "versus-postgresql", workers)}
    try:
        sides = [(app, sign_in(app.url), pages(world))
                 for app, (_, world) in ((apps["sqlite"], sqlite), (apps["postgresql"], postgres))]
        found = in_turns(*sides, rounds, seconds)
    finally:
        for app in apps.values():
            app.stop()
    return {"rounds": rounds, "seconds": seconds, "pages": found}


def shares(sqlite: tuple[str, dataset.World], logdir: Path, workers: "Workers", rounds: int,
           seconds: float) -> dict:
    """Each main page's share of hello-world's req/s, both servers up, in turns
    (`in_turns`), as the thread page's and PostgreSQL's budgets are read: one
    window of each page, minutes after hello-world's, had decided the budget.
    The bell's poll is read alike: no page can reach more than it does."""
    hello = hello_server("hello-shares", logdir, workers)
    app = app_server(sqlite[0], logdir, "shares", workers)
    try:
        names = report.MAIN_PAGES + (report.FLOOR,)
        found = in_turns((hello, None, {name: "/" for name in names}),
                         (app, sign_in(app.url), pages(sqlite[1])), rounds, seconds,
                         lambda share: f"{share:.1%}", names)
    finally:
        app.stop()
        hello.stop()
    return {"rounds": rounds, "seconds": seconds, "pages": found}


def measure_shares(sqlite: tuple[str, dataset.World], logdir: Path, workers: "Workers",
                   seconds: float) -> dict:
    print(f"\n== Each main page against hello-world ({sqlite[1].posts:,} posts): {SHARE_ROUNDS} "
          f"rounds of {seconds:g}-s windows, in turns", flush=True)
    return shares(sqlite, logdir, workers, SHARE_ROUNDS, seconds)


def in_turns(first: tuple, second: tuple, rounds: int, seconds: float,
             shown=lambda ratio: f"{ratio:.2f}×", names: tuple[str, ...] = report.MAIN_PAGES) -> dict:
    """Each page named (the main pages) from two servers, each (server, cookie,
    {page: path}): one window of each per round, in turns (ABBA: neither always
    goes first), the second's req/s over the first's in each round, and the median."""
    found = {}
    for name in names:
        ratios = []
        for turn in range(rounds):
            rps = []
            for server, cookie, paths in (first, second) if turn % 2 == 0 else (second, first):
                url = server.url + paths[name]
                if turn == 0:
                    wrk(url, 1, cookie)  # warm-up
                rps.append(wrk(url, seconds, cookie)["rps"])
            a, b = rps if turn % 2 == 0 else rps[::-1]
            ratios.append(round(b / a, 3))
        found[name] = {"median": round(statistics.median(ratios), 4), "rounds": ratios}
        print(f"  {name:13} {shown(found[name]['median'])} (rounds "
              f"{shown(min(ratios))}–{shown(max(ratios))})", flush=True)
    return found


class PostgresDataset(FreshPostgres):
    """A fresh PostgreSQL database at this scale, dropped afterwards."""

    def __init__(self, base_url: str, scale: dataset.Scale):
        from sqlalchemy import create_engine, text

        super().__init__(base_url)
        print(f"Building the {scale.name} dataset on PostgreSQL ({scale.posts:,} posts)…", flush=True)
        started = time.monotonic()
        self.world = dataset.build(migrated_app(self.url), scale)
        analyse = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with analyse.connect() as conn:
            # Statistics, and the visibility map and hint bits autovacuum would have
            # set long before a live site is measured: left to it, it may run while
            # the pages are measured, on the same two cores.
            conn.execute(text("VACUUM ANALYZE"))
        analyse.dispose()
        print(f"  built in {time.monotonic() - started:.0f} s", flush=True)


# --- Chat fan-out -----------------------------------------------------------------------

CHAT_ROUNDS = 5  # the app against the bare server in turns (chat_fanout.alternate)

def chat_fanout(quick: bool) -> dict:
    """bench/chat_fanout.py in a subprocess, its runs in the shape of our report."""
    out = Path(tempfile.mkdtemp(prefix="bench-fanout-")) / "fanout.json"
    cmd = [sys.executable, str(BENCH / "chat_fanout.py"), "--out", str(out)]
    cmd += ["--quick", "--receivers", "200", "--only", "bare1,app1"] if quick else []
    cmd += ["--rounds", str(CHAT_ROUNDS)]
    print("\n== Chat fan-out", flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)
    raw = json.loads(out.read_text())
    runs = {(r["server"], r["processes"], r["receivers"]): r for r in raw["runs"]}
    chat = {}
    for (server, processes, receivers), run in sorted(runs.items()):
        name = (f"ceiling_{receivers}" if server == "bare" else f"receivers_{receivers}") \
            + ("" if processes == 1 else "_x2")
        lat, thr = run["latency_phase"], run["throughput_phase"]
        entry = {"p50_ms": round(lat["p50_ms"], 2), "p99_ms": round(lat["p99_ms"], 2),
                 "per_s": round(thr["deliveries_per_s"]), "lost": run["lost"]}
        bare = runs.get(("bare", processes, receivers))
        if server == "app" and bare:
            entry["ratio_p99"] = round(lat["p99_ms"] / bare["latency_phase"]["p99_ms"], 2)
        chat[name] = entry
    if "alternating" in raw:
        turns = raw["alternating"]
        chat["alternating"] = {"receivers": turns["receivers"], "rounds": turns["rounds"],
                               "ratios": [round(r, 2) for r in turns["ratios"]],
                               "median_ratio": round(turns["median_ratio"], 2)}
    chat["database"] = raw["database"]
    return chat


# --- The run -------------------------------------------------------------------------------

def cpu_of(cpuinfo: str) -> tuple[str, str]:
    """The first processor's model name, and its family, model and cache as
    /proc/cpuinfo gives them. A virtual machine's name alone ("Intel(R) Xeon(R)
    Processor") does not tell one kind of host from another, and the budgets'
    ratios differ by kind of host (bench/findings.md, 48)."""
    first = dict(re.findall(r"^([a-z ]+?)\s*:\s*(.*)$", cpuinfo.split("\n\n")[0], re.M))
    named = [f"{key} {first[key]}" for key in ("cpu family", "model", "stepping", "cache size")
             if first.get(key)]
    return first.get("model name", ""), ", ".join(named)


def machine() -> dict:
    try:
        cpu, cpu_id = cpu_of(Path("/proc/cpuinfo").read_text())
    except OSError:
        cpu, cpu_id = "", ""
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpus": os.cpu_count(), "cpu": cpu, "cpu_id": cpu_id, "memory_gb": round(mem, 1),
            "os": platform.platform(), "python": platform.python_version(),
            "wrk": f"-t1 -c{CONNECTIONS}", "note": "servers, databases and load generators share the machine"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="10,000 posts (on PostgreSQL too with TEST_DATABASE_URL)")
    parser.add_argument("--seconds", type=float, help="seconds per page (quick 4, full 10)")
    parser.add_argument("--no-chat", action="store_true", help="skip the chat fan-out part")
    parser.add_argument("--workers", type=int, help="gunicorn workers on the port (default 1, as deployed)")
    parser.add_argument("--rounds", type=int, default=7,
                        help="full run: rounds of alternating windows for the thread page's budgets")
    parser.add_argument("--markdown", action="store_true",
                        help="only rewrite docs/performance.md from results/latest.json")
    args = parser.parse_args()
    if args.markdown:
        report.write_markdown(json.loads((BENCH / "results" / "latest.json").read_text()),
                              ROOT / "docs" / "performance.md")
        return
    need_wrk()
    seconds = args.seconds or (4 if args.quick else 10)
    logdir = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    started = time.monotonic()
    runs, turns, versus_runs, share_runs = {}, None, {}, {}
    workers = Workers(args.workers)
    try:
        small = sqlite_dataset(dataset.SCALES["quick"])
        runs["sqlite_10k"] = measure("sqlite_10k", *small, seconds, logdir, workers)
        if args.quick:
            share_runs["10k"] = measure_shares(small, logdir, workers, 2)
        pg = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
        if args.quick and pg:
            runs["postgresql_10k"], versus_runs["10k"] = measure_postgres(
                "postgresql_10k", pg, "quick", seconds, logdir, workers, small, VERSUS_ROUNDS, 2)
        if not args.quick:
            big = sqlite_dataset(dataset.SCALES["full"])
            runs["sqlite_1m"] = measure("sqlite_1m", *big, seconds, logdir, workers)
            share_runs["1m"] = measure_shares(big, logdir, workers, 3)
            print(f"\n== Hello-world and the thread pages at both scales: {args.rounds} rounds of "
                  "5-s windows, in turns", flush=True)
            turns = alternating(small, big, logdir, workers, args.rounds, 5)
            if pg:
                runs["postgresql_1m"], versus_runs["1m"] = measure_postgres(
                    "postgresql_1m", pg, "full", seconds, logdir, workers, big, VERSUS_ROUNDS, 3)
            else:
                print("No BENCH_DATABASE_URL / TEST_DATABASE_URL: the PostgreSQL run is skipped.")
    finally:
        workers.clean()
    main_run = runs["sqlite_10k" if args.quick else "sqlite_1m"]
    result = {
        "machine": machine(),
        "server": f"gunicorn as deploy/ runs it in production: {workers.describe()}, "
                  "gevent's WSGI server (community/server.py: TCP_NODELAY, connections take turns)",
        "workers": workers.count,
        "scale": "quick" if args.quick else "full",
        "database": "sqlite",
        "ceiling_rps": main_run["ceiling_rps"],
        "pages": main_run["pages"],
        "files_constant": main_run["files_constant"],
        "messages_constant": main_run["messages_constant"],
        "chat": {} if args.no_chat else chat_fanout(args.quick),
        "rss_mb": max(r["rss_mb"]["peak"] for r in runs.values()),
        "runs": runs,
        **({"alternating": turns} if turns else {}),
        **({"versus": versus_runs} if versus_runs else {}),
        **({"shares": share_runs} if share_runs else {}),
        "seconds": round(time.monotonic() - started),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    result["budgets"] = report.budgets(result)
    out = BENCH / "results" / ("quick.json" if args.quick else "latest.json")
    out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(report.table(result))
    print(f"\nWritten to {out.relative_to(ROOT)}; server logs in {logdir}")
    if not args.quick:
        report.write_markdown(result, ROOT / "docs" / "performance.md")
        print("docs/performance.md regenerated.")


if __name__ == "__main__":
    main()
