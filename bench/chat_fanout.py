"""Chat fan-out benchmark: one sender, N receivers in one circle, on loopback.

    .venv/bin/python bench/chat_fanout.py            # full run (about 3 minutes)
    .venv/bin/python bench/chat_fanout.py --quick    # a smoke run (fewer messages)

Servers measured, each with 50 and 200 receivers:
  bare x1   the ceiling: a bare Flask-SocketIO server on gevent whose handler
            only broadcasts to the room (no database, no checks)
  app x1    `python app.py` (gevent), the embedded default: one process
  app x2    two `python app.py` processes sharing Redis (message queue and
            presence) and the database; receivers split between them, the
            sender on the first
  bare x2   the ceiling behind Redis, for comparison

Two phases per run:
  latency     LATENCY_MESSAGES sent at LATENCY_RATE a second: p50/p99 delivery
              latency at a steady, unsaturated rate
  throughput  THROUGHPUT_MESSAGES sent as fast as acks allow (WINDOW in flight):
              deliveries per second (messages x receivers) at saturation, and
              the latency that queueing then adds

Measurement hygiene: receivers run in several client processes (50 sockets
each) with the garbage collector off, each a single-threaded selector loop
over raw WebSockets (no client library work in the measured path). The send
time travels in the message; latency is time.monotonic() on receipt minus
time.monotonic() at send, comparable across processes on one machine
(CLOCK_MONOTONIC). Everything runs on this machine: the numbers include
clients competing with servers for the same cores (see --json's "machine").

Database: PostgreSQL when BENCH_DATABASE_URL or TEST_DATABASE_URL names a
server (a fresh database is made and dropped), else a SQLite file. Redis
from BENCH_REDIS_URL or TEST_REDIS_URL (the x2 runs are skipped without it).
Results go to bench/results/chat_fanout.json and a table is printed.
"""
import argparse
import gc
import json
import os
import platform
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.request import urlopen

from databases import SECRET, FreshPostgres, migrated_app

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "chat_fanout.json"
NS = "/chat"
PER_PROCESS = 50          # receiver sockets per client process
LATENCY_MESSAGES, LATENCY_RATE = 60, 10.0
# The rounds in turns (alternate): more messages each, as the p99 of 60 messages
# to 200 receivers was the slowest one message's fan-out, so one stall of the
# host decided a round; and a warm-up first, unmeasured: the app's first
# round was its slowest in 6 runs of 8 (statements prepared, pools filled).
ROUND_MESSAGES, WARM_UP_MESSAGES = 150, 30
THROUGHPUT_MESSAGES, WINDOW = 300, 10
RUN_TIMEOUT = 90          # seconds a receiver process may wait, at most
DRAIN = 1.5               # seconds between everyone joining and the first message


# --- A minimal Socket.IO-over-WebSocket client (Engine.IO 4 / Socket.IO 5) -----------

class RawSocket:
    """Just enough of the protocol to join, send with acks and read events."""

    def __init__(self, url: str, cookie: str | None, headers: list[str] = ()):
        import websocket

        host = url.split("://", 1)[1]
        headers = [*headers, *([f"Cookie: {cookie}"] if cookie else [])]
        self.ws = websocket.create_connection(
            f"ws://{host}/socket.io/?EIO=4&transport=websocket", header=headers, timeout=30)
        self.ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        opened = self.ws.recv()
        assert opened.startswith("0"), opened
        self.ws.send(f"40{NS},")
        while True:
            frame = self.ws.recv()
            if frame.startswith(f"40{NS},"):
                break
            if frame.startswith(f"44{NS},"):
                raise RuntimeError(f"connection refused: {frame}")
        self.acks = 0

    def emit(self, event: str, data: dict, ack: bool = True) -> int | None:
        self.acks += 1
        ack_id = self.acks if ack else None
        self.ws.send(f"42{NS},{ack_id if ack else ''}" + json.dumps([event, data]))
        return ack_id

    def read(self) -> tuple[str, float, object] | None:
        """One frame: ("event", t, [name, data]) / ("ack", t, (id, data)) / None (ping etc.)."""
        frame = self.ws.recv()
        now = time.monotonic()
        if frame == "2":
            self.ws.send("3")
            return None
        prefix = f"4{{}}{NS},"
        if frame.startswith(prefix.format(2)):
            return "event", now, frame[len(NS) + 3:]
        if frame.startswith(prefix.format(3)):
            rest = frame[len(NS) + 3:]
            bracket = rest.index("[")
            return "ack", now, (int(rest[:bracket]), json.loads(rest[bracket:])[0])
        return None

    def call(self, event: str, data: dict) -> dict:
        ack_id = self.emit(event, data)
        while True:
            got = self.read()
            if got and got[0] == "ack" and got[2][0] == ack_id:
                return got[2][1]

    def fileno(self) -> int:
        return self.ws.sock.fileno()

    def close(self) -> None:
        try:
            self.ws.sock.close()
        except OSError:
            pass


# --- Receiver process ----------------------------------------------------------------------

def receive(args) -> None:
    """Connect, join, say READY, then time every message_created until all arrived."""
    gc.disable()
    cookies = Path(args.cookies).read_text().split()
    urls = args.urls.split(",")
    sockets = []
    for i, cookie in enumerate(cookies):
        sock = RawSocket(urls[i % len(urls)], cookie if cookie != "-" else None)
        answer = sock.call("join", {"circle": args.circle})
        assert answer.get("ok"), answer
        sockets.append(sock)
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock.fileno(), selectors.EVENT_READ, sock)
    print("READY", flush=True)
    expected = args.expect
    seen = {id(s): 0 for s in sockets}
    done = 0
    samples: list[tuple[str, int, float]] = []   # (phase, seq, latency)
    first = last = None
    deadline = time.monotonic() + args.timeout
    marker = '["message_created",'
    while done < len(sockets) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1.0):
            sock = key.data
            got = sock.read()
            if got is None or got[0] != "event" or not got[2].startswith(marker):
                continue
            now = got[1]
            body = json.loads(got[2])[1]["body"]
            phase, seq, sent = body.split(":")
            samples.append((phase, int(seq), now - float(sent)))
            if phase == "t":
                first = now if first is None else min(first, now)
                last = now if last is None else max(last, now)
            seen[id(sock)] += 1
            if seen[id(sock)] == expected:
                done += 1
    for sock in sockets:
        sock.close()
    json.dump({"samples": samples, "first": first, "last": last, "sockets": len(sockets),
               "complete": done}, sys.stdout)
    sys.stdout.flush()


# --- The bare ceiling server -------------------------------------------------------------------

def serve_bare(args) -> None:
    from gevent import monkey

    monkey.patch_all()
    from flask import Flask
    from flask_socketio import SocketIO, join_room

    app = Flask("bare")
    sio = SocketIO(app, async_mode="gevent", message_queue=args.redis or None,
                   channel=args.channel)
    counter = {"id": 0}

    @sio.on("join", namespace=NS)
    def join(data):
        join_room(data["circle"])
        return {"ok": True, "messages": [], "online": []}

    @sio.on("send_message", namespace=NS)
    def send(data):
        counter["id"] += 1
        message = {"id": counter["id"], "circle": data["circle"], "author": {"id": 1, "name": "Bench"},
                   "html": "<p>" + data["body"] + "</p>", "body": data["body"],
                   "created_at": "2025-01-01T00:00:00.000+00:00", "edited_at": None,
                   "deleted": False, "client_id": data["client_id"]}
        sio.emit("message_created", message, to=data["circle"], namespace=NS)
        return {"ok": True, "message": message}

    @app.route("/healthz")
    def healthz():
        return {"status": "ok"}

    sys.path.insert(0, str(ROOT))
    from community.server import listener, serve

    serve(app, listener("127.0.0.1", args.port), access_log=False)  # as app.py serves


# --- Orchestration ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urlopen(url + "/healthz", timeout=2).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class World:
    """A database with one circle, its owner (the sender) and 200 members."""

    def __init__(self, members: int):
        self.members = members
        self.postgres = None
        base = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
        if base:
            self.postgres = FreshPostgres(base)
            self.url, self.engine = self.postgres.url, "postgresql"
        else:
            self.tmp = tempfile.mkdtemp(prefix="chat-bench-")
            self.url, self.engine = f"sqlite:///{self.tmp}/bench.sqlite3", "sqlite"
        self._build()

    def _build(self) -> None:
        sys.path.insert(0, str(ROOT))
        from community.accounts.models import User
        from community.circles import actions as circles
        from community.circles.models import Membership
        from community.extensions import db

        app = migrated_app(self.url, PASSWORD_HASH_METHOD="pbkdf2:sha256:1")
        with app.app_context():
            users = [User(email=f"bench{i}@example.org", display_name=f"Bench Member {i}",
                          handle=f"bench_{i}", password_hash="x") for i in range(self.members + 1)]
            db.session.add_all(users)
            db.session.commit()
            circle = circles.create_circle(users[0], name="Bench Circle")
            db.session.add_all(Membership(circle_id=circle.id, user_id=u.id) for u in users[1:])
            db.session.commit()
            self.slug = circle.slug
            # Session cookies as the app's own sign-in would set them.
            serializer = app.session_interface.get_signing_serializer(app)
            self.cookies = [f"session={serializer.dumps({'_user_id': u.get_id(), '_fresh': True})}"
                            for u in users]
            db.session.remove()
            db.engine.dispose()

    def drop(self) -> None:
        if self.postgres is not None:
            self.postgres.drop()


class Servers:
    def __init__(self, kind: str, count: int, world: World, redis_url: str | None, logdir: Path):
        self.procs, self.urls, self.logs = [], [], []
        channel = f"chat-bench-{uuid.uuid4().hex[:10]}"
        for n in range(count):
            port = free_port()
            log = open(logdir / f"{kind}{count}-{n}.log", "wb")  # noqa: SIM115
            if kind == "bare":
                cmd = [sys.executable, __file__, "serve-bare", "--port", str(port),
                       "--channel", channel] + (["--redis", redis_url] if count > 1 else [])
                env = dict(os.environ)
            else:
                cmd = [sys.executable, "app.py"]
                env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "ACCESS_LOG": "0",
                       "LOG_LEVEL": "WARNING", "DATABASE_URL": world.url, "SECRET_KEY": SECRET,
                       "CHAT_RATE_LIMIT": "1000000", "MAIL_WORKER_INTERVAL": "3600",
                       "SOCKETIO_CHANNEL": channel}
                env.pop("SOCKETIO_ASYNC_MODE", None)
                env.pop("SOCKETIO_MESSAGE_QUEUE", None)
                if count > 1:
                    env["SOCKETIO_MESSAGE_QUEUE"] = redis_url
            self.procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log,
                                               stderr=subprocess.STDOUT))
            self.logs.append(log)
            self.urls.append(f"http://127.0.0.1:{port}")
        for url in self.urls:
            wait_up(url)

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self.logs:
            log.close()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def run_one(kind: str, servers: Servers, world: World, receivers: int, latency_messages: int,
            throughput_messages: int, logdir: Path, drain: float = 1.5) -> dict:
    total = latency_messages + throughput_messages
    procs = []
    cookies = world.cookies[1:receivers + 1] if kind == "app" else ["-"] * receivers
    for start in range(0, receivers, PER_PROCESS):
        chunk = cookies[start:start + PER_PROCESS]
        cookie_file = logdir / f"cookies-{start}.txt"
        cookie_file.write_text("\n".join(chunk))
        # Alternate servers socket by socket, starting where this chunk starts.
        urls = servers.urls[start % len(servers.urls):] + servers.urls[:start % len(servers.urls)]
        procs.append(subprocess.Popen(
            [sys.executable, __file__, "receive", "--urls", ",".join(urls), "--cookies",
             str(cookie_file), "--circle", world.slug, "--expect", str(total),
             "--timeout", str(RUN_TIMEOUT)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        line = proc.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"receiver failed to start: {line} {proc.stderr.read()}")
    sender = RawSocket(servers.urls[0], world.cookies[0] if kind == "app" else None)
    assert sender.call("join", {"circle": world.slug}).get("ok")
    time.sleep(drain)  # let the join-time presence broadcasts drain
    gc.disable()
    # Latency phase: a steady rate, one at a time.
    acks_pending: set[int] = set()
    interval = 1.0 / LATENCY_RATE
    readable = selectors.DefaultSelector()
    readable.register(sender.fileno(), selectors.EVENT_READ)
    start = time.monotonic()
    for seq in range(latency_messages):
        due = start + seq * interval
        while (left := due - time.monotonic()) > 0:
            if readable.select(timeout=left):
                got = sender.read()
                if got and got[0] == "ack":
                    acks_pending.discard(got[2][0])
        body = f"l:{seq}:{time.monotonic():.6f}"
        acks_pending.add(sender.emit("send_message", {"circle": world.slug, "body": body,
                                                      "client_id": f"l{seq}-{uuid.uuid4().hex[:8]}"}))
    while acks_pending:
        got = sender.read()
        if got and got[0] == "ack":
            assert got[2][1].get("ok"), got
            acks_pending.discard(got[2][0])
    time.sleep(0.5)
    # Throughput phase: as fast as the acks come back, WINDOW in flight.
    t_start = time.monotonic()
    sent = 0
    while sent < throughput_messages or acks_pending:
        while sent < throughput_messages and len(acks_pending) < WINDOW:
            body = f"t:{sent}:{time.monotonic():.6f}"
            acks_pending.add(sender.emit("send_message", {
                "circle": world.slug, "body": body, "client_id": f"t{sent}-{uuid.uuid4().hex[:8]}"}))
            sent += 1
        got = sender.read()
        if got and got[0] == "ack":
            assert got[2][1].get("ok"), got
            acks_pending.discard(got[2][0])
    t_acked = time.monotonic()
    gc.enable()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=RUN_TIMEOUT + 30)
        if proc.returncode != 0:
            raise RuntimeError(f"receiver failed: {err[-2000:]}")
        results.append(json.loads(out))
    sender.close()
    latency = [s[2] * 1000 for r in results for s in r["samples"] if s[0] == "l"]
    loaded = [s[2] * 1000 for r in results for s in r["samples"] if s[0] == "t"]
    last = max((r["last"] for r in results if r["last"] is not None), default=t_start)
    deliveries = len(loaded)
    expected = receivers * total
    got = len(latency) + len(loaded)
    return {
        "server": kind, "processes": len(servers.urls), "receivers": receivers,
        "client_processes": len(procs),
        "latency_phase": {"messages": latency_messages, "rate_per_s": LATENCY_RATE,
                          "p50_ms": percentile(latency, 50), "p99_ms": percentile(latency, 99),
                          "max_ms": max(latency) if latency else None},
        "throughput_phase": {"messages": throughput_messages, "window": WINDOW,
                             "deliveries": deliveries, "seconds": last - t_start,
                             "deliveries_per_s": deliveries / max(last - t_start, 1e-9),
                             "messages_per_s": throughput_messages / max(t_acked - t_start, 1e-9),
                             "p50_ms": percentile(loaded, 50), "p99_ms": percentile(loaded, 99)},
        "delivered": got, "expected": expected, "lost": expected - got,
    }


def machine() -> dict:
    import flask_socketio
    import gevent
    import socketio

    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "gevent": gevent.__version__,
            "python-socketio": socketio.__version__ if hasattr(socketio, "__version__") else "5.x",
            "flask-socketio": getattr(flask_socketio, "__version__", "5.x")}


def orchestrate(args) -> None:
    global LATENCY_MESSAGES, THROUGHPUT_MESSAGES, ROUND_MESSAGES, WARM_UP_MESSAGES
    if args.quick:
        LATENCY_MESSAGES, THROUGHPUT_MESSAGES, ROUND_MESSAGES, WARM_UP_MESSAGES = 20, 60, 40, 10
    sizes = [int(n) for n in args.receivers.split(",")]
    redis_url = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL")
    configs = [("bare", 1), ("app", 1)]
    if redis_url:
        configs += [("app", 2), ("bare", 2)]
    else:
        print("No BENCH_REDIS_URL / TEST_REDIS_URL: the two-process runs are skipped.")
    if args.only:
        wanted = {(c[:-1], int(c[-1])) for c in args.only.split(",")}
        configs = [c for c in configs if c in wanted]
    world = World(max(sizes))
    logdir = Path(tempfile.mkdtemp(prefix="chat-bench-logs-"))
    runs = []
    alternating = None
    started = time.monotonic()
    try:
        if args.rounds > 1:
            alternating = alternate(world, max(sizes), args.rounds, logdir, args.drain)
        for kind, count in configs:
            servers = Servers(kind, count, world, redis_url, logdir)
            try:
                for n in sizes:
                    print(f"  {kind} x{count}, {n} receivers…", flush=True)
                    runs.append(run_one(kind, servers, world, n, LATENCY_MESSAGES,
                                        THROUGHPUT_MESSAGES, logdir, args.drain))
            finally:
                servers.stop()
    finally:
        world.drop()
    report = {"when": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
              "database": world.engine, "redis": bool(redis_url), "seconds": time.monotonic() - started,
              "latency_messages": LATENCY_MESSAGES, "latency_rate_per_s": LATENCY_RATE,
              "throughput_messages": THROUGHPUT_MESSAGES, "window": WINDOW, "runs": runs,
              **({"alternating": alternating} if alternating else {})}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"\nWritten to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}; "
          f"server logs in {logdir}")


def alternate(world: World, receivers: int, rounds: int, logdir: Path, drain: float) -> dict:
    """The app against the bare server in turns: both up at once, one latency
    phase each per round, so each round's ratio of p99s compares the same
    minute of a shared, noisy machine; the budget reads the median round.
    Each server first gets a warm-up phase that is not counted."""
    servers = {kind: Servers(kind, 1, world, None, logdir) for kind in ("bare", "app")}
    p99 = {"bare": [], "app": []}
    try:
        for kind in ("bare", "app"):
            print(f"  warm-up: {kind}, {receivers} receivers…", flush=True)
            run_one(kind, servers[kind], world, receivers, WARM_UP_MESSAGES, 0, logdir, drain)
        for n in range(rounds):
            for kind in ("bare", "app") if n % 2 == 0 else ("app", "bare"):
                print(f"  round {n + 1}/{rounds}: {kind}, {receivers} receivers…", flush=True)
                run = run_one(kind, servers[kind], world, receivers, ROUND_MESSAGES, 0, logdir, drain)
                p99[kind].append(run["latency_phase"]["p99_ms"])
    finally:
        for started in servers.values():
            started.stop()
    ratios = [app / bare for app, bare in zip(p99["app"], p99["bare"], strict=True)]
    return {"receivers": receivers, "rounds": rounds, "messages": ROUND_MESSAGES, "p99_ms": p99, "ratios": ratios,
            "median_ratio": statistics.median(ratios)}


def print_table(report: dict) -> None:
    print(f"\nChat fan-out on {report['machine']['cpus']} CPUs, database {report['database']}; "
          f"latency at {report['latency_rate_per_s']:.0f} msg/s, throughput with "
          f"{report['window']} in flight\n")
    head = ("server", "procs", "recv", "p50 ms", "p99 ms", "load p50", "load p99", "deliv/s",
            "msg/s", "lost")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for r in report["runs"]:
        lat, thr = r["latency_phase"], r["throughput_phase"]
        print(f"| {r['server']} | {r['processes']} | {r['receivers']} | {lat['p50_ms']:.1f} | "
              f"{lat['p99_ms']:.1f} | {thr['p50_ms']:.0f} | {thr['p99_ms']:.0f} | "
              f"{thr['deliveries_per_s']:,.0f} | {thr['messages_per_s']:.0f} | {r['lost']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    parser.add_argument("--quick", action="store_true", help="fewer messages (a smoke run)")
    parser.add_argument("--receivers", default="50,200")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--only", help="some of bare1,app1,app2,bare2")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of the app against the bare server in turns (latency at the "
                             "largest size), for a ratio that a noisy minute doesn't decide")
    parser.add_argument("--drain", type=float, default=DRAIN,
                        help="seconds to wait after everyone joined, before measuring")
    r = sub.add_parser("receive")
    r.add_argument("--urls", required=True)
    r.add_argument("--cookies", required=True)
    r.add_argument("--circle", required=True)
    r.add_argument("--expect", type=int, required=True)
    r.add_argument("--timeout", type=float, default=RUN_TIMEOUT)
    b = sub.add_parser("serve-bare")
    b.add_argument("--port", type=int, required=True)
    b.add_argument("--redis")
    b.add_argument("--channel", default="chat-bench")
    args = parser.parse_args()
    if args.command == "receive":
        receive(args)
    elif args.command == "serve-bare":
        serve_bare(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
