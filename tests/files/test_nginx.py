"""Behind deploy/'s nginx: uploads stream through, downloads are checked by the app and sent
by nginx (X-Accel-Redirect) with the app's headers; the internal location is unreachable
from outside; an upload over the limit gets the app's message. Real gunicorn, real nginx."""
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from community.config import DEFAULTS
from community.files.base import FileTooLarge
from community.files.kinds import KINDS
from community.files.safety import file_headers
from community.files.views import ACCEL_LOCATION, ENVELOPE
from tests.conftest import IN_CI
from tests.files.builders import docx_bytes, image_bytes
from tests.files.live import make_files_world, member, start_server, stored, upload
from tests.test_server import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MB = 1024 * 1024
SAFETY = ("Content-Type", "Content-Disposition", "X-Content-Type-Options", "Content-Security-Policy",
          "Cross-Origin-Resource-Policy", "Cache-Control", "Referrer-Policy")


@pytest.fixture
def nginx_binary():
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        if IN_CI:
            pytest.fail("nginx is missing: .ci/run installs nginx-light for this test")
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    return nginx


@pytest.fixture
def site(tmp_path, nginx_binary):
    """gunicorn with FILE_ACCEL_REDIRECT, and nginx in front with deploy/'s locations."""
    world = make_files_world(tmp_path)
    server = start_server(tmp_path, world, FILE_ACCEL_REDIRECT="true")
    files_conf = (DEPLOY / "nginx-files.conf").read_text()
    assert "alias /srv/alumni-circles/instance/files/;" in files_conf
    (tmp_path / "nginx-files.conf").write_text(
        files_conf.replace("/srv/alumni-circles/instance/files/", f"{tmp_path}/files/"))
    port = free_port()
    # Started as root, nginx's workers would run as nobody: as this user here (deploy/README.md
    # has them read the files through the app user's group).
    user = pwd.getpwuid(os.geteuid()).pw_name
    (tmp_path / "nginx.conf").write_text(f"""
user {user}; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;
  upstream alumni_circles {{ server 127.0.0.1:{server.port}; keepalive 8; }}
  map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
  server {{ listen 127.0.0.1:{port}; client_max_body_size 2m;
           include {tmp_path}/nginx-files.conf; include {DEPLOY}/nginx-locations.conf; }}
}}
""")
    proxy = subprocess.Popen([nginx_binary, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path),
                              "-g", "daemon off;"], stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/healthz").close()
        yield {**world, "base": base, "app": server.url}
    finally:
        proxy.terminate()
        proxy.wait(10)
        server.stop()


def test_a_member_downloads_through_nginx_with_the_apps_headers(site, tmp_path):
    base, slug = site["base"], site["slug"]
    alice = member(base, "alice@example.org", slug)
    document = docx_bytes() + os.urandom(3 * MB)  # a zip with trailing bytes is still a docx
    sent = upload(alice, base, slug, "Board minutes.docx", document)
    assert sent.status_code == 201, sent.text
    url = sent.json()["url"]

    bob = member(base, "bob@example.org", slug)
    got = bob.get(base + url, timeout=10)
    assert got.status_code == 200 and got.content == document
    expected = file_headers(KINDS["docx"], "Board minutes.docx")
    assert {name: got.headers.get(name) for name in SAFETY} == {name: expected[name] for name in SAFETY}
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert "X-Accel-Redirect" not in got.headers
    # nginx sent the bytes: the app itself answered with none.
    direct = requests.get(site["app"] + url, cookies=bob.cookies, timeout=10)
    assert direct.content == b""
    assert direct.headers["X-Accel-Redirect"].startswith(ACCEL_LOCATION)


def test_an_image_and_its_thumbnail_keep_their_type_and_are_inline(site):
    base, slug = site["base"], site["slug"]
    alice = member(base, "alice@example.org", slug)
    body = upload(alice, base, slug, "whiteboard.png", image_bytes("PNG", size=(900, 600))).json()
    bob = member(base, "bob@example.org", slug)
    for url, kind, name in ((body["url"], "png", "whiteboard.png"),
                            (body["thumbnail_url"], "webp", "thumbnail.webp")):
        got = bob.get(base + url, timeout=10)
        assert got.status_code == 200 and got.content[:4] in (b"\x89PNG", b"RIFF")
        expected = file_headers(KINDS[kind], name)
        assert {h: got.headers.get(h) for h in SAFETY} == {h: expected[h] for h in SAFETY}
        assert got.headers["Content-Disposition"].startswith("inline")


def test_an_outsider_and_a_direct_request_get_404(site, tmp_path):
    base, slug = site["base"], site["slug"]
    alice = member(base, "alice@example.org", slug)
    secret = b"name,salary\nAlice,100\n"
    url = upload(alice, base, slug, "pay.csv", secret).json()["url"]
    (key,) = [name for name in stored(tmp_path) if not name.startswith("tmp")]
    internal = ACCEL_LOCATION + key  # ab/cd/<sha256>, as the app hands it to nginx

    olive = member(base, "olive@example.org", slug)
    refused = olive.get(base + url, timeout=10)
    assert refused.status_code == 404 and secret not in refused.content
    for who in (olive, alice, requests.Session()):
        direct = who.get(base + internal, timeout=10, allow_redirects=False)
        assert direct.status_code == 404 and secret not in direct.content
    # The storage's temporary directory is no way in either.
    assert requests.get(base + ACCEL_LOCATION + "tmp/", timeout=10).status_code == 404


def test_a_full_size_upload_streams_through_and_a_larger_one_gets_the_apps_message(site, tmp_path):
    base, slug = site["base"], site["slug"]
    alice = member(base, "alice@example.org", slug)
    limit = DEFAULTS["FILE_MAX_BYTES"]
    pdf = b"%PDF-1.7\n" + b"0" * (limit - 9)
    accepted = upload(alice, base, slug, "annual report.pdf", pdf)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["size"] == limit

    before = stored(tmp_path)
    too_large = upload(alice, base, slug, "bigger.pdf", b"%PDF-1.7\n" + b"0" * (26 * MB))
    # nginx answers (the body is over its limit, the app's plus the envelope) in the app's form.
    assert too_large.status_code == 413
    assert too_large.json() == {"error": "too_large", "field": "file",
                                "message": FileTooLarge(limit).message}
    assert stored(tmp_path) == before


def test_nginx_lets_through_what_the_app_accepts_and_says_what_it_says():
    conf = (DEPLOY / "nginx-files.conf").read_text()
    size = re.search(r"client_max_body_size (\d+)k;", conf).group(1)
    assert int(size) * 1024 == DEFAULTS["FILE_MAX_BYTES"] + ENVELOPE
    message = FileTooLarge(DEFAULTS["FILE_MAX_BYTES"]).message
    assert f'"message": "{message}"' in conf
    assert re.search(rf"location \^~ {ACCEL_LOCATION} {{\s+internal;", conf)
    site = (DEPLOY / "nginx.conf").read_text()
    assert site.index("nginx-files.conf") < site.index("nginx-locations.conf")
