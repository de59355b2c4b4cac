"""e8b4d1f6a2c3: attachments belong to a circle or a conversation. The SQLite
batch copy keeps every circle's file both ways, and the CHECK holds."""
from pathlib import Path

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from community import create_app
from community.extensions import db
from tests.conftest import app_config

MIGRATIONS = str(Path(__file__).resolve().parent.parent.parent / "migrations")
BEFORE = "3cdc640f1f16"


def files() -> list[tuple]:
    found = db.session.execute(text("SELECT name, circle_id, uploader_id FROM attachments"
                                    " ORDER BY id")).all()
    db.session.remove()
    return [tuple(row) for row in found]


def test_circle_files_survive_the_copy_and_an_owner_is_required(tmp_path):
    app = create_app(app_config(f"sqlite:///{tmp_path}/owners.sqlite3"))
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision=BEFORE)
        owner_id = db.session.scalar(text(
            "INSERT INTO users (email, display_name, handle, password_hash, organisation, job_title,"
            " sector, location, bio, timezone, is_site_admin, session_token, created_at) VALUES"
            " ('rachel@example.org', 'Rachel Stone', 'rachel', 'x', '', '', 'public', '', '',"
            " 'Europe/London', false, 'token', CURRENT_TIMESTAMP) RETURNING id"))
        circle_id = db.session.scalar(text(
            "INSERT INTO circles (slug, name, description, cohort, join_policy, pledge_required,"
            " pledge_text, pledge_updated_at, audit_visible_to_members, email_excerpts, created_at)"
            " VALUES ('first', 'First', '', '', 'invite_only', false, '', CURRENT_TIMESTAMP, false,"
            " false, CURRENT_TIMESTAMP) RETURNING id"))
        for n, uploader in enumerate([owner_id, None]):
            db.session.execute(text(
                "INSERT INTO attachments (public_id, circle_id, uploader_id, storage_key, name, kind,"
                " size, created_at) VALUES (:p, :c, :u, :k, :n, 'text', 5, CURRENT_TIMESTAMP)"),
                {"p": f"pub{n}", "c": circle_id, "u": uploader, "k": "a" * 64, "n": f"{n}.txt"})
        db.session.commit()
        kept = [("0.txt", circle_id, owner_id), ("1.txt", circle_id, None)]
        assert files() == kept

        upgrade(directory=MIGRATIONS)
        assert files() == kept
        for owners in ("NULL, NULL", f"{circle_id}, 1"):  # neither, or both
            with pytest.raises(IntegrityError):
                db.session.execute(text(
                    "INSERT INTO attachments (public_id, circle_id, conversation_id, storage_key, name,"
                    f" kind, size, created_at) VALUES ('x', {owners}, :k, 'x', 'text', 1,"
                    " CURRENT_TIMESTAMP)"), {"k": "b" * 64})
            db.session.rollback()

        downgrade(directory=MIGRATIONS, revision=BEFORE)
        assert files() == kept
        db.engine.dispose()
