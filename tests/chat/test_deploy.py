"""deploy/ works: nginx with its config in front of two app processes, both transports.

Needs the nginx binary (.ci/run installs nginx-light; elsewhere the test skips
without it), plus what the scale-out test needs (PostgreSQL and Redis).
"""
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import requests

from tests.chat.live_servers import Listener, sign_in
from tests.conftest import IN_CI
from tests.test_server import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = pytest.mark.postgres


@pytest.fixture
def nginx_binary():
    if not Path(NGINX).exists():
        if IN_CI:
            pytest.fail("nginx is missing: .ci/run installs nginx-light for this test")
        pytest.skip("nginx is not installed (apt-get install nginx-light); deploy/ test skipped")
    return NGINX


def test_the_production_config_is_valid_nginx(nginx_binary, tmp_path):
    """deploy/nginx.conf as shipped, with a throwaway certificate and this checkout's paths."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=circles.example.org", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    site = (DEPLOY / "nginx.conf").read_text()
    site = site.replace("/etc/letsencrypt/live/circles.example.org/fullchain.pem",
                        str(tmp_path / "cert.pem"))
    site = site.replace("/etc/letsencrypt/live/circles.example.org/privkey.pem",
                        str(tmp_path / "key.pem"))
    site = site.replace("/srv/alumni-circles/deploy/", f"{DEPLOY}/")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{ access_log off; include {tmp_path}/site.conf; }}\n")
    result = subprocess.run([nginx_binary, "-t", "-c", str(tmp_path / "nginx.conf"),
                             "-p", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_chat_through_nginx_in_front_of_two_processes(nginx_binary, app_servers, pg_world, tmp_path):
    """The proxy passes WebSocket upgrades and long-polling, keeps the origin
    check working (Host with its port), and sticks each client to one process."""
    port = free_port()
    upstream = "".join(f"server {url.split('//')[1]};" for url in app_servers)
    (tmp_path / "nginx.conf").write_text(f"""
pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;
events {{ worker_connections 512; }}
http {{
  access_log {tmp_path}/access.log;
  client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;
  upstream alumni_circles {{ ip_hash; {upstream} keepalive 8; }}
  map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
  server {{ listen 127.0.0.1:{port}; include {DEPLOY}/nginx-locations.conf; }}
}}
""")
    proxy = subprocess.Popen([nginx_binary, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path),
                              "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    listeners = []
    try:
        wait_for(f"{base}/healthz").close()
        slug = pg_world["slug"]
        alice_http = sign_in(base, "alice@example.org")
        bob_http = sign_in(base, "bob@example.org")
        for transport in ("websocket", "polling"):
            alice = Listener(base, alice_http, transports=[transport])
            bob = Listener(base, bob_http, transports=[transport])
            listeners += [alice, bob]
            assert alice.sio.transport() == transport
            assert alice.call("join", {"circle": slug})["ok"]
            assert bob.call("join", {"circle": slug})["ok"]
            sent = alice.call("send_message", {"circle": slug, "body": f"Through nginx ({transport})",
                                               "client_id": f"nginx-{transport}"})
            assert sent["ok"]
            assert bob.wait_for(lambda n, d, sent=sent: n == "message_created"
                                and d["id"] == sent["message"]["id"])
        # Socket.IO bodies stop at the app's own 64 KiB (nginx answers 413 itself);
        # a page's form may still send more (the app's MAX_CONTENT_LENGTH judges it).
        big = b"x" * (64 * 1024 + 1)
        refused = requests.post(f"{base}/socket.io/?EIO=4&transport=polling&sid=x", data=big,
                                timeout=5)
        assert refused.status_code == 413 and "nginx" in refused.text
        assert requests.post(f"{base}/auth/login", data=big, timeout=5).status_code != 413
    finally:
        closing = [threading.Thread(target=listener.close) for listener in listeners]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join(10)
        proxy.terminate()
        proxy.wait(10)
    # nginx logs an upgraded connection when it ends: after the close above.
    access = (tmp_path / "access.log").read_text()
    assert re.search(r'"GET /socket.io/\?[^"]*transport=websocket[^"]*" 101 ', access), access
    assert re.search(r'"POST /socket.io/\?[^"]*transport=polling[^"]*" 200 ', access), access
