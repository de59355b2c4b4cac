"""`python app.py` serves pages and Socket.IO with the production server."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urlopen(url, timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_python_app_py_serves_with_gevent(tmp_path):
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "ACCESS_LOG": "0",
           "DATABASE_URL": f"sqlite:///{tmp_path}/srv.sqlite3", "SECRET_KEY": "s" * 32}
    env.pop("SOCKETIO_ASYNC_MODE", None)
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        health = wait_for(f"http://127.0.0.1:{port}/healthz")
        assert health.status == 200 and b'"database":"ok"' in health.read()
        # The Socket.IO endpoint is served by the same process (Engine.IO handshake).
        handshake = urlopen(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", timeout=5)
        assert handshake.status == 200 and b'"sid"' in handshake.read()
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0].decode()
    assert "serving on http://127.0.0.1" in output
    assert "Traceback" not in output


def test_served_connections_send_without_waiting_for_acks():
    """Nagle's algorithm is off on every accepted connection: with it on, a response
    written as headers then body waited for the client's delayed ACK (40 ms each)."""
    from community.server import listener

    server = listener("127.0.0.1", 0)
    try:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        accepted.close()
        client.close()
    finally:
        server.close()
