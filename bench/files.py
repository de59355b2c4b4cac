"""Files, measured: a 25 MB upload and download through the app as deploy/ serves it
(one gunicorn instance, one gevent worker), and how much the worker's memory grows.

    .venv/bin/python bench/files.py            # about 30 s; results/files.json
    make bench-files

The worker's peak resident memory (VmHWM in /proc/<pid>/status) is reset before each
operation (`echo 5 > /proc/<pid>/clear_refs`, Linux), so "growth" is the peak during
that one request over the resident memory just before it. The worker is warmed up
first (a small upload and download of each kind), so what is measured is the request,
not the first import of a module. A document (a PDF of exactly FILE_MAX_BYTES) must
never be whole in memory: the budget is 10 MB of growth. An image is decoded by Pillow
(pixels x 4 bytes, bounded by FILE_IMAGE_MAX_PIXELS), so its figure is reported apart.
The statements the download routes send are counted in-process, on the same database.
"""
import argparse
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from databases import SECRET, migrated_app  # noqa: E402

MB = 1024 * 1024
DOCUMENT_BUDGET_MB = 10
RESULTS = ROOT / "bench" / "results" / "files.json"
GUNICORN = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_kb(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    return {k: int(v) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M)}


def worker_of(master: int) -> int:
    deadline = time.monotonic() + 20
    while True:
        kids = [int(kid) for task in Path(f"/proc/{master}/task").iterdir()
                for kid in (task / "children").read_text().split()]
        if len(kids) == 1:
            return kids[0]
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn's worker not found: {kids}")
        time.sleep(0.1)


def measured(pid: int, operation) -> dict:
    """Run `operation`; the worker's resident memory before, its peak during, the growth (MB)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak starts again from now
    before = memory_kb(pid)["VmRSS"]
    started = time.monotonic()
    result = operation()
    seconds = time.monotonic() - started
    peak = memory_kb(pid)["VmHWM"]
    return {"rss_before_mb": round(before / 1024, 1), "peak_mb": round(peak / 1024, 1),
            "growth_mb": round((peak - before) / 1024, 1), "seconds": round(seconds, 2), **result}


def make_people(db_url: str) -> str:
    """A circle with its owner and a member, through the app's own actions; returns the slug."""
    # The tests' factories: real sign-up, a circle, an invitation accepted.
    from community.extensions import db
    from tests.factories import add_member, make_circle, make_user

    app = migrated_app(db_url, PASSWORD_HASH_METHOD="pbkdf2:sha256:1")
    with app.app_context():
        owner = make_user("Rachel Stone", email="owner@bench.example")
        circle = make_circle(owner, name="Bench Circle")
        add_member(circle, make_user("Mo Member", email="member@bench.example"))
        slug = circle.slug
        db.session.remove()
        db.engine.dispose()
    return slug


def sign_in(base: str, email: str):
    import requests

    from tests.factories import PASSWORD

    http = requests.Session()
    form = http.get(f"{base}/auth/login", timeout=10).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    http.post(f"{base}/auth/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
              timeout=10, allow_redirects=False).raise_for_status()
    page = http.get(f"{base}/", timeout=10).text
    http.headers["X-CSRFToken"] = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return http


class Body:
    """A multipart upload made as it is sent (the client never holds 25 MB either)."""

    BOUNDARY = "----bench-files-boundary"

    def __init__(self, name: str, head: bytes, size: int, filler: bytes):
        self.head = (f'--{self.BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                     f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n').encode() + head
        self.size, self.filler = size - len(head), filler
        self.tail = f"\r\n--{self.BOUNDARY}--\r\n".encode()
        self.length = len(self.head) + self.size + len(self.tail)

    def __len__(self):  # requests sends it with this Content-Length, reading it in blocks
        return self.length

    def __iter__(self):
        yield self.head
        left = self.size
        while left:
            n = min(left, len(self.filler))
            yield self.filler[:n]
            left -= n
        yield self.tail

    def read(self, n: int = -1) -> bytes:
        if not hasattr(self, "_parts"):
            self._parts, self._left = iter(self), b""
        while len(self._left) < n or n < 0:
            part = next(self._parts, None)
            if part is None:
                break
            self._left += part
        out, self._left = (self._left, b"") if n < 0 else (self._left[:n], self._left[n:])
        return out


def upload(http, base: str, slug: str, body: Body) -> dict:
    answer = http.post(f"{base}/c/{slug}/files", data=body, timeout=120, headers={
        "Content-Type": f"multipart/form-data; boundary={body.BOUNDARY}"})
    if answer.status_code != 201:
        raise RuntimeError(f"upload refused: {answer.status_code} {answer.text}")
    return answer.json()


def download(http, url: str) -> dict:
    got = 0
    with http.get(url, stream=True, timeout=120) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_content(256 * 1024):
            got += len(chunk)
    return {"bytes": got}


def photo(width: int, height: int) -> bytes:
    """A noisy JPEG (a real photo's entropy), at `width` x `height`."""
    from PIL import Image

    out = io.BytesIO()
    Image.effect_noise((width, height), 48).convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def count_statements(db_url: str, http, paths: dict[str, str]) -> dict[str, int]:
    """SQL statements per request, in-process, signed in with the bench member's cookie."""
    from sqlalchemy import event

    from community import create_app
    from community.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": SECRET,
                      "SOCKETIO_ASYNC_MODE": "threading", "RATELIMIT_ENABLED": False,
                      "FILE_STORAGE_URL": os.environ["FILE_STORAGE_URL"]})
    client = app.test_client()
    for name, value in http.cookies.items():
        client.set_cookie(name, value)
    with app.app_context():
        engine = db.engine
    statements = []

    def listener(conn, cursor, statement, *args):
        if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    counts = {}
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for name, path in paths.items():
            client.get(path).close()
            statements.clear()
            answer = client.get(path)
            assert answer.status_code == 200, (name, answer.status_code)
            answer.close()
            counts[name] = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
        engine.dispose()
    return counts


def run(rounds: int) -> dict:
    from community.config import DEFAULTS

    limit = DEFAULTS["FILE_MAX_BYTES"]
    work = Path(tempfile.mkdtemp(prefix="bench-files-"))
    (work / "tmp").mkdir()
    db_url = f"sqlite:///{work}/bench.sqlite3"
    os.environ["FILE_STORAGE_URL"] = f"file://{work}/files"
    slug = make_people(db_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(work / "gunicorn.log", "wb")  # noqa: SIM115  (closed below)
    env = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": SECRET, "ACCESS_LOG": "0",
           "LOG_LEVEL": "WARNING", "PORT": str(port), "HOST": "127.0.0.1", "TMPDIR": str(work / "tmp"),
           "MAIL_WORKER_INTERVAL": "3600", "RATELIMIT_ENABLED": "false"}
    server = subprocess.Popen(GUNICORN, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        import requests

        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/healthz", timeout=2).raise_for_status()
                break
            except requests.RequestException:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start; see {log.name}") from None
                time.sleep(0.2)
        worker = worker_of(server.pid)
        owner = sign_in(base, "owner@bench.example")
        member = sign_in(base, "member@bench.example")

        filler = os.urandom(MB)  # incompressible, like a real PDF's streams
        big_photo = photo(4000, 3000)  # 12 MP, a phone's photo
        # Warm-up: every module these requests use is loaded before anything is measured.
        small = upload(owner, base, slug, Body("warm-up.pdf", b"%PDF-1.7\n", MB, filler))
        download(member, base + small["url"])
        warm_photo = photo(800, 600)
        warm = upload(owner, base, slug, Body("warm-up.jpg", warm_photo, len(warm_photo), b""))
        download(member, base + warm["url"])
        download(member, base + warm["thumbnail_url"])

        results = {"document_upload": [], "document_download": [], "photo_upload": [],
                   "photo_download": []}
        for n in range(rounds):
            # Different bytes each round: content-addressed storage would skip a repeat.
            head = f"%PDF-1.7\n% round {n}\n".encode()
            document = {}

            def send_document(head=head, document=document, n=n):
                document.update(upload(owner, base, slug, Body(f"report {n}.pdf", head, limit, filler)))
                return {"bytes": document["size"]}

            results["document_upload"].append(measured(worker, send_document))
            results["document_download"].append(
                measured(worker, lambda document=document: download(member, base + document["url"])))
            image = {}
            data = big_photo[:-2] + bytes([n % 256]) + big_photo[-2:]  # a comment byte changes

            def send_photo(data=data, image=image, n=n):
                image.update(upload(owner, base, slug, Body(f"photo {n}.jpg", data, len(data), b"")))
                return {"bytes": len(data), "stored_bytes": image["size"]}

            results["photo_upload"].append(measured(worker, send_photo))
            results["photo_download"].append(
                measured(worker, lambda image=image: download(member, base + image["url"])))
        statements = count_statements(db_url, member, {
            "download": document["url"], "thumbnail": image["thumbnail_url"]})
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
    worst = {name: max(r["growth_mb"] for r in runs) for name, runs in results.items()}
    return {
        "machine": {"cpus": os.cpu_count(), "os": platform.platform(), "python": platform.python_version()},
        "server": "gunicorn as deploy/ runs it: one instance, one gevent worker; loopback client",
        "file_bytes": limit, "photo": "4000 x 3000 JPEG (12 MP), noisy, quality 85",
        "rounds": rounds, "worst_growth_mb": worst,
        "document_budget_mb": DOCUMENT_BUDGET_MB,
        "document_within_budget":
            max(worst["document_upload"], worst["document_download"]) < DOCUMENT_BUDGET_MB,
        "statements": statements, "runs": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    report = run(args.rounds)
    print(f"25 MB through one gunicorn worker, {args.rounds} rounds: worst peak growth of its memory")
    for name, growth in report["worst_growth_mb"].items():
        seconds = max(r["seconds"] for r in report["runs"][name])
        print(f"  {name:18} {growth:6.1f} MB   (slowest {seconds:.2f} s)")
    print(f"  document budget {DOCUMENT_BUDGET_MB} MB: "
          f"{'within' if report['document_within_budget'] else 'OVER'}")
    print(f"  statements: {report['statements']}")
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    if not report["document_within_budget"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
