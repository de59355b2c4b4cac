"""The production server, measured side by side: gunicorn (deploy/gunicorn.conf.py)
against `python app.py`'s own server, with 1 and 2 worker processes.

    .venv/bin/python bench/servers.py                  # about 4 minutes; needs wrk, redis-server
    .venv/bin/python bench/servers.py --homemade DIR   # + DIR's `WORKERS=N python app.py`

For each server, two apps: hello-world (bench/hello.py, the ceiling) and the
app's thread page (the quick dataset's 2,000-post thread, page 1, signed in).
All of them are up at once and get `--rounds` windows of `--seconds` each in
turns (ABBA), so the minute a window falls in moves them all alike (findings.md,
23); the table gives medians of requests/s and p99, and the thread page's
requests/s over the same server's hello-world in the same round (its median).

`--homemade` names a checkout that still has the pre-fork supervisor
(community/server.py's serve_workers, removed when gunicorn replaced it: at
commit 2d44421), served by `WORKERS=N python app.py` there, with that
checkout's code. Every app shares a Redis of its own (redis-server on a free
port, stopped afterwards) and the quick dataset's SQLite file.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import dataset  # noqa: E402
import run  # noqa: E402
from databases import SECRET  # noqa: E402


def own_redis(tmp: Path) -> tuple[subprocess.Popen, str]:
    port = run.free_port()
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port),
                             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis(port=port).ping()
            return proc, f"redis://127.0.0.1:{port}/0"
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def servers(homemade: Path | None, db_url: str, redis_url: str) -> dict[str, tuple[list[str], dict]]:
    """name -> (command, environment) of every server measured."""
    app_env = {"DATABASE_URL": db_url, "SECRET_KEY": SECRET, "ACCESS_LOG": "0", "LOG_LEVEL": "WARNING",
               "MAIL_WORKER_INTERVAL": "3600", "SOCKETIO_MESSAGE_QUEUE": redis_url,
               "RATELIMIT_STORAGE_URI": redis_url, "SOCKETIO_CHANNEL": f"bench-servers-{os.getpid()}"}
    gunicorn = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
    found = {}
    for workers in (1, 2):
        found[f"gunicorn x{workers} hello"] = (gunicorn + ["-w", str(workers), "bench.hello:app"],
                                               {"ACCESS_LOG": "0", "LOG_LEVEL": "WARNING"})
        found[f"gunicorn x{workers} thread"] = (gunicorn + ["-w", str(workers)], app_env)
        if homemade:
            found[f"homemade x{workers} hello"] = ([sys.executable, str(homemade / "bench" / "hello.py")],
                                                   {"WORKERS": str(workers)})
            found[f"homemade x{workers} thread"] = ([sys.executable, str(homemade / "app.py")],
                                                    {**app_env, "WORKERS": str(workers)})
    if not homemade:  # python app.py: one process, no supervisor
        found["app.py x1 hello"] = ([sys.executable, str(BENCH / "hello.py")], {})
        found["app.py x1 thread"] = ([sys.executable, str(ROOT / "app.py")], app_env)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--homemade", type=Path, help="a checkout with WORKERS (the pre-fork supervisor)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3)
    args = parser.parse_args()
    run.need_wrk()
    db_url, world = run.sqlite_dataset(dataset.SCALES["quick"])
    thread = run.pages(world)["thread"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-servers-"))
    redis_proc, redis_url = own_redis(tmp)
    up: dict[str, tuple[run.Server, str | None, str]] = {}
    try:
        for name, (cmd, env) in servers(args.homemade, db_url, redis_url).items():
            server = run.Server(name.replace(" ", "-"), cmd, env, tmp)
            is_app = name.endswith("thread")
            up[name] = (server, run.sign_in(server.url) if is_app else None, thread if is_app else "/")
            print(f"up: {name} on {server.url}", flush=True)
        for server, cookie, path in up.values():
            run.wrk(server.url + path, 2, cookie)  # warm-up
        windows = {name: [] for name in up}
        for turn in range(args.rounds):
            for name in list(up) if turn % 2 == 0 else reversed(up):
                server, cookie, path = up[name]
                windows[name].append(run.wrk(server.url + path, args.seconds, cookie))
            print(f"round {turn + 1}/{args.rounds} done", flush=True)
    finally:
        for server, _, _ in up.values():
            server.stop()
        redis_proc.send_signal(signal.SIGTERM)
        redis_proc.wait(10)
    results = figures(windows)
    out = BENCH / "results" / "servers.json"
    out.write_text(json.dumps({"machine": run.machine(), "rounds": args.rounds, "seconds": args.seconds,
                               "homemade": str(args.homemade or ""), "results": results}, indent=2) + "\n")
    print(table(results))
    print(f"\nwritten to {out.relative_to(ROOT)}")


def figures(windows: dict[str, list[dict]]) -> dict:
    results = {}
    for name, runs in windows.items():
        results[name] = {"rps": round(statistics.median(r["rps"] for r in runs), 1),
                         "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
                         "errors": sum(r["non_2xx"] + bool(r["socket_errors"]) for r in runs)}
        if name.endswith("thread"):
            hello = windows[name.replace("thread", "hello")]
            results[name]["of_hello"] = round(statistics.median(
                page["rps"] / ceiling["rps"] for page, ceiling in zip(runs, hello, strict=True)), 4)
    return results


def table(results: dict) -> str:
    lines = ["| server | app | req/s (median) | p99 ms (median) | of hello-world | errors |",
             "|---|---|---:|---:|---:|---:|"]
    for name, r in results.items():
        server, app = name.rsplit(" ", 1)
        share = f"{r['of_hello']:.1%}" if "of_hello" in r else ""
        lines.append(f"| {server} | {app} | {r['rps']:,.0f} | {r['p99_ms']:.1f} | {share} | {r['errors']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
