"""Backups of the embedded database, with SQLite's online backup API, and of
the shared files when they are on this host's disk.

A backup is a new directory: `database.sqlite3` and, with local file storage,
`files/` (the storage's own layout). The database is a consistent snapshot
(SQLite copies it page by page while the app runs). Stored files never change
(a key is the SHA-256 of the bytes), so they are copied before the snapshot
and again after it for any that arrived meanwhile: every file the snapshot
names is in the backup. PostgreSQL deployments use pg_dump / pg_restore, and
an S3 bucket its store's own versioning or replication (README).
"""
import os
import shutil
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from .errors import ActionError
from .extensions import db

PG_HINT = ("This is a PostgreSQL database: back it up with "
           "`pg_dump --format=custom --file=circles.dump \"$DATABASE_URL\"` and restore with "
           "`pg_restore --clean --if-exists --dbname=\"$DATABASE_URL\" circles.dump`; "
           "copy the stored files' directory after the dump (README, Commands).")


def _sqlite_file(uri: str) -> Path:
    url = make_url(uri)
    if url.get_backend_name() != "sqlite":
        raise ActionError(PG_HINT)
    if not url.database or url.database == ":memory:":
        raise ActionError("The database is in memory; there is nothing on disk to back up.")
    return Path(url.database)


DATABASE = "database.sqlite3"
FILES = "files"


def backup(uri: str, target: str, files_root: Path | None = None) -> Path:
    """Back up the live SQLite database, and the stored files under
    `files_root` (local storage) if given, into the new directory `target`.
    It is written as `target`.part and renamed when whole, so a backup cut
    short is never taken for one."""
    source, target_path = _sqlite_file(uri), Path(target)
    if target_path.exists():
        raise ActionError(f"{target} already exists; choose a new name.")
    partial = target_path.with_name(target_path.name + ".part")
    if partial.exists():
        shutil.rmtree(partial)  # an earlier backup that was cut short
    partial.mkdir(parents=True, mode=0o700)
    if files_root is not None:
        _copy_files(files_root, partial / FILES)
    with sqlite3.connect(source) as src, sqlite3.connect(partial / DATABASE) as dest:
        src.backup(dest)
    dest.close()
    src.close()
    if files_root is not None:
        _copy_files(files_root, partial / FILES)  # those that arrived during the snapshot
    partial.rename(target_path)
    return target_path


def restore(uri: str, source: str, files_root: Path | None = None) -> tuple[Path, int]:
    """Replace the SQLite database with a backup's, and the stored files under
    `files_root` with the backup's. Stop the server first. A backup made by an
    older version (a single database file) restores the database only.
    Returns the database's path and how many files the backup brought."""
    database, backup_path = _sqlite_file(uri), Path(source)
    if backup_path.is_dir():
        backup_database, backup_files = backup_path / DATABASE, backup_path / FILES
        if not backup_database.is_file():
            raise ActionError(f"{source} is not an Alumni Circles backup: it has no {DATABASE}.")
    elif backup_path.is_file():
        backup_database, backup_files = backup_path, None
    else:
        raise ActionError(f"There is no backup at {source}.")
    _check_backup(backup_database)
    db.engine.dispose()  # no pooled connection may hold the old file open
    with sqlite3.connect(backup_database) as src, sqlite3.connect(database) as dest:
        src.backup(dest)
    dest.close()
    src.close()
    brought = 0
    if files_root is not None and backup_files is not None:
        brought = _copy_files(backup_files, files_root)
        _prune(files_root, _keys_in(database))
    return database, brought


def _stored(root: Path):
    """(relative path, path) of every stored file under a storage root (not its tmp/)."""
    if not root.is_dir():
        return
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if d != "tmp"]
        for name in names:
            yield (here / name).relative_to(root), here / name


def _copy_files(source: Path, target: Path) -> int:
    """Copy the files of `source` that `target` lacks (same path: same bytes,
    as a file's name is its SHA-256), private to the app's user. Returns how many."""
    copied = 0
    for relative, path in _stored(source):
        destination = target / relative
        if destination.exists():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = destination.with_name(destination.name + ".part")
        shutil.copyfile(path, partial)
        partial.chmod(0o600)
        partial.rename(destination)
        copied += 1
    return copied


def _keys_in(database: Path) -> set[str] | None:
    """Every key the database's files name (None: it predates files)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT storage_key, thumbnail_key FROM attachments").fetchall()
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()
    return {key for row in rows for key in row if key}


def _prune(root: Path, keys: set[str] | None) -> None:
    """Delete stored files the restored database doesn't name: bytes of files
    shared after the backup, which nothing can reach any more."""
    if keys is None:
        return
    for relative, path in list(_stored(root)):
        if relative.name not in keys:
            path.unlink()


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
