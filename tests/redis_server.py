"""A redis-server of the test's own, on a free port, to stop, pause and bring back.

`own_redis` (a fixture) starts one; the test then makes Redis *down*
(`kill()`: connections refused), *hung* (`pause()`, SIGSTOP: connections are
accepted by the kernel and nothing ever answers) and back (`start()` again on
the same port, empty; `resume()`, SIGCONT). Never the shared Redis on 6379.
Skipped where redis-server isn't installed; failed in CI, which installs it.
"""
import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.conftest import IN_CI
from tests.test_server import free_port


class OwnRedis:
    def __init__(self, binary: str, workdir):
        self.binary, self.workdir = binary, workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None
        self.paused = False

    def start(self) -> None:
        """Start (again, on the same port): empty, as after a restart."""
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.answers():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.02)

    def kill(self) -> None:
        """Down: the process is gone, connections are refused."""
        if self.paused:
            self.resume()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def pause(self) -> None:
        """Hung: SIGSTOP. The port still accepts connections; nothing answers."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)

    def answers(self) -> bool:
        client = self.client()
        try:
            return bool(client.ping())
        except Exception:  # noqa: BLE001 - not up (yet)
            return False
        finally:
            client.close()


@pytest.fixture
def own_redis(tmp_path):
    binary = shutil.which("redis-server")
    if binary is None:
        if IN_CI:
            pytest.fail("redis-server is missing: CI needs it for the Redis outage tests")
        pytest.skip("redis-server is not installed; Redis outage tests skipped")
    server = OwnRedis(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()
