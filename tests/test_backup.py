"""Backups: take one from a running instance, restore into a fresh one, find everything."""
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from community import create_app
from community.accounts.models import User
from community.circles.models import Circle
from community.extensions import db
from community.threads.models import Post
from tests.conftest import app_config
from tests.factories import add_member, make_circle, make_thread, make_user

ROOT = Path(__file__).resolve().parent.parent


def test_backup_then_restore_into_a_fresh_instance(tmp_path):
    live = tmp_path / "live.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{live}", "SECRET_KEY": "k" * 32,
           "PATH": "/usr/bin:/bin"}
    run = lambda *args: subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args],  # noqa: E731
                                       cwd=ROOT, env=env, capture_output=True, text=True)
    assert run("db", "upgrade").returncode == 0
    app = create_app(app_config(f"sqlite:///{live}"))
    with app.app_context():
        owner = make_user("Olive Owner")
        circle = make_circle(owner, name="Thames Valley")
        add_member(circle, make_user("Helen Marsh"))
        make_thread(circle, owner, title="Funding cliff", body="Three grants end in March")
        db.session.remove()
        backup_file = tmp_path / "backups" / "circles.sqlite3"
        result = run("backup", str(backup_file))  # while this app still holds connections
        assert result.returncode == 0, result.stderr
        assert "Backed up" in result.stdout
        assert run("backup", str(backup_file)).returncode != 0  # never overwrites
        db.engine.dispose()

    fresh = tmp_path / "fresh.sqlite3"
    env["DATABASE_URL"] = f"sqlite:///{fresh}"
    result = run("restore", str(backup_file))
    assert result.returncode == 0, result.stderr
    app = create_app(app_config(f"sqlite:///{fresh}"))
    with app.app_context():
        assert {u.display_name for u in db.session.scalars(select(User))} == {"Olive Owner", "Helen Marsh"}
        assert db.session.scalar(select(Circle.name)) == "Thames Valley"
        assert db.session.scalar(select(Post.source)) == "Three grants end in March"
        # Search still works: the FTS index came along.
        from community.threads.search import search
        owner = db.session.scalar(select(User).where(User.display_name == "Olive Owner"))
        assert search(owner, "grants")[1] == 1
        db.engine.dispose()


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
