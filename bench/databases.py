"""Databases for the benchmarks: fresh PostgreSQL databases, and the schema
through the project's migrations (never create_all)."""
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-" + "k" * 40


class FreshPostgres:
    """A new, empty PostgreSQL database beside `base_url`'s; drop() removes it."""

    def __init__(self, base_url: str):
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        url = make_url(base_url)
        self.name = f"circles_bench_{uuid.uuid4().hex[:10]}"
        self.admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = url.set(database=self.name).render_as_string(hide_password=False)

    def drop(self) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def migrated_app(url: str, **config):
    """The app on `url`, its schema brought up to date by the migrations."""
    from flask_migrate import upgrade

    from community import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET,
                      "SOCKETIO_ASYNC_MODE": "threading", **config})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    return app
