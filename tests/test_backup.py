"""Backups: take one from a running instance, restore into a fresh one, find everything."""
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from community import create_app
from community.accounts.models import User
from community.circles.models import Circle
from community.extensions import db
from community.files.models import Attachment
from community.threads.models import Post
from tests.conftest import AuthActions, app_config
from tests.factories import add_member, make_circle, make_thread, make_user
from tests.files.builders import image_bytes
from tests.files.test_library import share

ROOT = Path(__file__).resolve().parent.parent


def test_backup_then_restore_into_a_fresh_instance(tmp_path):
    live, live_files = tmp_path / "live.sqlite3", tmp_path / "live-files"
    env = {"DATABASE_URL": f"sqlite:///{live}", "SECRET_KEY": "k" * 32,
           "FILE_STORAGE_URL": f"file://{live_files}", "PATH": "/usr/bin:/bin"}
    run = lambda *args: subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args],  # noqa: E731
                                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert run("db", "upgrade").returncode == 0
    app = create_app(app_config(f"sqlite:///{live}", FILE_STORAGE_URL=f"file://{live_files}"))
    with app.app_context():
        owner = make_user("Olive Owner")
        circle = make_circle(owner, name="Thames Valley")
        add_member(circle, make_user("Helen Marsh"))
        make_thread(circle, owner, title="Funding cliff", body="Three grants end in March")
        photo = share(owner, circle, "post", image_bytes("PNG"), "whiteboard.png")
        keys = {photo.storage_key, photo.thumbnail_key}
        db.session.remove()
        backup_dir = tmp_path / "backups" / "2025-03-01"
        result = run("backup", str(backup_dir))  # while this app still holds connections
        assert result.returncode == 0, result.stderr
        assert "Backed up" in result.stdout
        assert run("backup", str(backup_dir)).returncode != 0  # never overwrites
        assert {p.name for p in (backup_dir / "files").rglob("*") if p.is_file()} == keys
        assert not (backup_dir.parent / "2025-03-01.part").exists()
        db.engine.dispose()

    # A fresh instance, with a stray file the backup doesn't name (bytes nobody can reach).
    fresh, fresh_files = tmp_path / "fresh.sqlite3", tmp_path / "fresh-files"
    stray = fresh_files / "aa" / "bb" / ("ab" * 32)
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"left over")
    env.update(DATABASE_URL=f"sqlite:///{fresh}", FILE_STORAGE_URL=f"file://{fresh_files}")
    result = run("restore", str(backup_dir))
    assert result.returncode == 0, result.stderr
    assert "2 stored file(s) copied back" in result.stdout
    assert {p.name for p in fresh_files.rglob("*") if p.is_file()} == keys
    assert all((p.stat().st_mode & 0o777) == 0o600 for p in fresh_files.rglob("*") if p.is_file())
    app = create_app(app_config(f"sqlite:///{fresh}", FILE_STORAGE_URL=f"file://{fresh_files}"))
    with app.app_context():
        # The restored file downloads: its row and its bytes came back together.
        helen = db.session.scalar(select(User).where(User.display_name == "Helen Marsh"))
        client = app.test_client()
        AuthActions(client).login(helen)
        row = db.session.scalar(select(Attachment))
        got = client.get(f"/c/thames-valley/files/{row.public_id}/{row.name}")
        assert got.status_code == 200 and got.data[:8] == b"\x89PNG\r\n\x1a\n"
        assert {u.display_name for u in db.session.scalars(select(User))} == {"Olive Owner", "Helen Marsh"}
        assert db.session.scalar(select(Circle.name)) == "Thames Valley"
        assert db.session.scalar(select(Post.source)) == "Three grants end in March"
        # Search still works: the FTS index came along.
        from community.threads.search import search
        owner = db.session.scalar(select(User).where(User.display_name == "Olive Owner"))
        assert search(owner, "grants")[1] == 1
        db.engine.dispose()


def test_a_backup_from_before_files_still_restores_its_database(tmp_path, app):
    """A backup made by the earlier `flask backup` (one database file) still restores."""
    from community.backup import restore

    old_style = tmp_path / "old.sqlite3"
    with sqlite3.connect(old_style) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('0001')")
    conn.close()
    target = tmp_path / "restored.sqlite3"
    files = tmp_path / "files"
    database, brought = restore(f"sqlite:///{target}", str(old_style), files)
    assert database == target and brought == 0 and not files.exists()
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
    conn.close()


def test_a_directory_without_a_database_is_refused(tmp_path, app):
    from community.backup import restore
    from community.errors import ActionError

    (tmp_path / "empty").mkdir()
    with pytest.raises(ActionError, match="no database.sqlite3"):
        restore(f"sqlite:///{tmp_path}/x.sqlite3", str(tmp_path / "empty"))


@pytest.mark.parametrize("content", [b"", b"not a database at all"])
def test_restore_refuses_what_is_not_a_backup(tmp_path, content):
    bogus = tmp_path / "bogus.sqlite3"
    bogus.write_bytes(content)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "restore", str(bogus)],
                            cwd=ROOT, capture_output=True, text=True,
                            env={"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3",
                                 "SECRET_KEY": "k" * 32, "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert "not" in result.stderr


def test_postgresql_is_pointed_to_pg_dump(tmp_path):
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "backup", "x"], cwd=ROOT,
                            capture_output=True, text=True,
                            env={"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                                 "SECRET_KEY": "k" * 32, "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and "pg_dump" in result.stderr
