"""The files routes served for real: gunicorn as deploy/ runs it (tests/test_graceful.py's
Gunicorn) on a SQLite file, the people of tests/chat/live_servers.make_world (Rachel owns
the circle, Alice and Bob are members) and Olive, who is in no circle."""
import os
import re
from pathlib import Path

from tests.chat.live_servers import make_world, sign_in
from tests.conftest import app_config
from tests.test_graceful import Gunicorn

BOUNDARY = "----live-upload-boundary-5c1d"


def make_files_world(tmp_path: Path) -> dict:
    db_url = f"sqlite:///{tmp_path}/files.sqlite3"
    ids = make_world(db_url)
    from community import create_app
    from community.extensions import db
    from tests.factories import make_user

    app = create_app(app_config(db_url))
    with app.app_context():
        ids["outsider"] = make_user("Olive Out", email="olive@example.org").id
        db.session.remove()
        db.engine.dispose()
    return {**ids, "db_url": db_url}


def start_server(tmp_path: Path, world: dict, **settings) -> Gunicorn:
    """gunicorn storing files under tmp_path/files, its temporary files in tmp_path/tmp."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return Gunicorn(tmp_path, world["db_url"], FILE_STORAGE_URL=f"file://{tmp_path}/files",
                    TMPDIR=str(tmp_path / "tmp"), **settings)


def member(base: str, email: str, slug: str):
    """A signed-in requests session, with the CSRF token the upload widget sends."""
    http = sign_in(base, email)
    page = http.get(f"{base}/", timeout=5).text
    http.headers["X-CSRFToken"] = re.search(r'name="csrf_token" value="([^"]+)"',
                                            page).group(1)
    return http


def multipart(name: str) -> tuple[bytes, bytes, str]:
    """(head, tail, content type) of a one-file multipart body; the file goes between."""
    head = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    return head, f"\r\n--{BOUNDARY}--\r\n".encode(), f"multipart/form-data; boundary={BOUNDARY}"


def upload(http, base: str, slug: str, name: str, data: bytes):
    head, tail, content_type = multipart(name)
    return http.post(f"{base}/c/{slug}/files", data=head + data + tail, timeout=60,
                     headers={"Content-Type": content_type})


def stored(tmp_path: Path) -> list[str]:
    """Every file the storage holds (its own temporary directory included)."""
    root = tmp_path / "files"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def open_deleted_files(pid: int) -> list[str]:
    """Files the process still holds open though they are deleted (a temporary file leaked)."""
    held = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.endswith(" (deleted)"):
            held.append(target)
    return held
