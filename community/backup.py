"""Backups of the embedded database, with SQLite's online backup API.

A backup taken while the app runs is consistent (SQLite copies a snapshot,
page by page). PostgreSQL deployments use pg_dump / pg_restore (README).
"""
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from .errors import ActionError
from .extensions import db

PG_HINT = ("This is a PostgreSQL database: back it up with "
           "`pg_dump --format=custom --file=circles.dump \"$DATABASE_URL\"` and restore with "
           "`pg_restore --clean --if-exists --dbname=\"$DATABASE_URL\" circles.dump`.")


def _sqlite_file(uri: str) -> Path:
    url = make_url(uri)
    if url.get_backend_name() != "sqlite":
        raise ActionError(PG_HINT)
    if not url.database or url.database == ":memory:":
        raise ActionError("The database is in memory; there is nothing on disk to back up.")
    return Path(url.database)


def backup(uri: str, target: str) -> Path:
    """Copy the live SQLite database to `target` (which must not exist yet)."""
    source, target_path = _sqlite_file(uri), Path(target)
    if target_path.exists():
        raise ActionError(f"{target} already exists; choose a new file name.")
    target_path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target_path) as dest:
        src.backup(dest)
    dest.close()
    src.close()
    return target_path


def restore(uri: str, source: str) -> Path:
    """Replace the SQLite database with a backup. Stop the server first."""
    database, backup_path = _sqlite_file(uri), Path(source)
    if not backup_path.is_file():
        raise ActionError(f"There is no file at {source}.")
    _check_backup(backup_path)
    db.engine.dispose()  # no pooled connection may hold the old file open
    with sqlite3.connect(backup_path) as src, sqlite3.connect(database) as dest:
        src.backup(dest)
    dest.close()
    src.close()
    return database


def _check_backup(path: Path) -> None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
            has_schema = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = "
                                      "'alembic_version'").fetchone()[0]
        conn.close()
    except sqlite3.DatabaseError as err:
        raise ActionError(f"{path} is not a SQLite database: {err}") from err
    if ok != "ok" or not has_schema:
        raise ActionError(f"{path} is not an Alumni Circles backup (integrity: {ok}).")
