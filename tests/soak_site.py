"""The soak's site: the production layout of deploy/ on loopback (two gunicorn
instances, one gevent worker each, on ports of their own, sharing PostgreSQL and
Redis), and the people in it. It plays systemd's part: starts each instance,
and restarts one with SIGTERM then a new start. A killed worker is gunicorn's
to replace."""
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from community import create_app
from community.extensions import db
from tests.conftest import app_config
from tests.factories import add_member, make_circle, make_thread, make_user
from tests.test_graceful import children
from tests.test_server import free_port, wait_for

ROOT = Path(__file__).resolve().parent.parent
CHATTERS, BROWSERS = 6, 4


def seed(database_url: str) -> dict:
    """Migrate an empty database as an operator would, then add a circle, its
    members and a thread to reply to."""
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "soak-" + "k" * 40}
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT,
                   env=env, check=True, capture_output=True)
    app = create_app(app_config(database_url))
    with app.app_context():
        owner = make_user("Rachel Stone", email="owner@example.org")
        circle = make_circle(owner, name="Berkshire Leaders")
        chatters = [add_member(circle, make_user(f"Chatter {n}", email=f"chat{n}@example.org"))
                    for n in range(CHATTERS)]
        browsers = [add_member(circle, make_user(f"Reader {n}", email=f"read{n}@example.org"))
                    for n in range(BROWSERS)]
        thread = make_thread(circle, owner, "Welcome", "Say hello here.")
        db.session.commit()
        people = {"slug": circle.slug, "thread": thread.id,
                  "chatters": [user.email for user in chatters],
                  "browsers": [user.email for user in browsers]}
        db.session.remove()
        db.engine.dispose()
    return people


class Site:
    """Two gunicorn instances, each `gunicorn -c deploy/gunicorn.conf.py` on a port of its own."""

    def __init__(self, tmp_path: Path, database_url: str, redis_url: str, count: int = 2):
        self.tmp_path = tmp_path
        self.ports = [free_port() for _ in range(count)]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        channel = f"soak-{uuid.uuid4().hex[:10]}"
        redis_base = redis_url.rsplit("/", 1)[0]
        self.env = {**os.environ, "HOST": "127.0.0.1", "ACCESS_LOG": "0", "LOG_LEVEL": "WARNING",
                    "DATABASE_URL": database_url, "SOCKETIO_MESSAGE_QUEUE": f"{redis_base}/0",
                    "RATELIMIT_STORAGE_URI": f"{redis_base}/1", "SOCKETIO_CHANNEL": channel,
                    "SECRET_KEY": "soak-" + uuid.uuid4().hex, "CHAT_RATE_LIMIT": "100000",
                    "CHAT_READ_LIMIT": "100000", "GRACEFUL_TIMEOUT": "20"}
        self.env.pop("SOCKETIO_ASYNC_MODE", None)
        self.processes: list[subprocess.Popen | None] = [None] * count
        self.log_paths = [tmp_path / f"server{n}.log" for n in range(count)]

    def start(self) -> None:
        for n in range(len(self.ports)):
            self._start(n)
        for url in self.urls:
            wait_for(f"{url}/healthz", timeout=30).close()

    def _start(self, n: int) -> None:
        with open(self.log_paths[n], "ab") as log:
            self.processes[n] = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"], cwd=ROOT,
                env={**self.env, "PORT": str(self.ports[n])}, stdout=log, stderr=subprocess.STDOUT)

    def kill_worker(self, n: int) -> None:
        """SIGKILL instance n's worker (an out-of-memory kill, say); its master starts another."""
        master = self.processes[n].pid
        worker = self._worker(master)
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self._worker(master) in (None, worker):
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not replace the killed worker")
            time.sleep(0.05)
        wait_for(f"{self.urls[n]}/healthz", timeout=30).close()

    @staticmethod
    def _worker(master: int) -> int | None:
        pids = children(master)
        return pids[0] if pids else None

    def restart(self, n: int) -> None:
        """`systemctl restart`: SIGTERM, wait for the exit, start again."""
        self.processes[n].send_signal(signal.SIGTERM)
        self.processes[n].wait(timeout=60)
        self._start(n)
        wait_for(f"{self.urls[n]}/healthz", timeout=30).close()

    def stop(self) -> None:
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in self.processes:
            if process is not None:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()

    def logs(self) -> str:
        return "\n".join(f"--- server {n} ---\n{path.read_text(errors='replace')}"
                         for n, path in enumerate(self.log_paths) if path.exists())
