"""Files on this host's disk, under instance/files/ by default.

Layout: `<root>/ab/cd/<sha256>` (two levels of fan-out, so no directory ever
holds more than a few thousand entries), and `<root>/tmp/` for uploads being
written. An upload goes to a temp file in that same tree (same filesystem, so
the rename is atomic), is fsynced, then renamed into place: a reader sees the
whole file or none, and a crash leaves only a temp file, which `sweep_temp`
removes. Directories are 0700 and files 0600: only the app's user reads them;
behind nginx with X-Accel-Redirect (FILE_ACCEL_REDIRECT) they are 0750 and 0640,
for nginx's workers in the app user's group (deploy/README.md), and nobody else.
The root is outside static/, so nothing here is ever served without our route
(nginx's location for it is `internal`: only our route's answer reaches it).
"""
import os
import secrets
import time
from pathlib import Path
from typing import BinaryIO

from community.files.base import Storage, Stored, check_key, copy_hashing

TEMP_SUFFIX = ".part"


def _private_dir(path: Path, mode: int = 0o700) -> None:
    """Make `path` (and missing parents up to it) with `mode` (0700, or 0750)."""
    if path.is_dir():
        return
    _private_dir(path.parent, mode)
    try:
        path.mkdir(mode=mode)
    except FileExistsError:  # another process made it just now
        return
    if mode != 0o700:
        # The umask can only narrow 0700; a group's bits are set whatever it is.
        os.chmod(path, mode)


def _fsync_dir(path: Path) -> None:
    """Make a rename in `path` survive a power cut (POSIX: fsync the directory)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage(Storage):
    def __init__(self, root: str | os.PathLike, group_readable: bool = False):
        self.root = Path(root)
        self.temp_dir = self.root / "tmp"
        # For nginx (X-Accel-Redirect): its workers read the files through the group.
        self.dir_mode, self.file_mode = (0o750, 0o640) if group_readable else (0o700, 0o600)

    def path(self, key: str) -> Path:
        """Where the bytes of `key` are (or would be) on disk."""
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def accel_redirect(self, key: str, location: str = "/_files/") -> str:
        """The X-Accel-Redirect value for nginx, after the access check.

        `location` is an `internal;` nginx location whose `alias` is this root,
        so nginx sends the bytes and the worker is free at once.
        """
        return location.rstrip("/") + "/" + self.path(key).relative_to(self.root).as_posix()

    def save(self, stream: BinaryIO, max_bytes: int) -> Stored:
        _private_dir(self.root, self.dir_mode)
        _private_dir(self.temp_dir)  # 0700 always: nothing there is ever served
        temp = self.temp_dir / (secrets.token_hex(16) + TEMP_SUFFIX)
        # O_EXCL and 0600 from the start: the bytes are never readable by others.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                if self.file_mode != 0o600:
                    os.fchmod(out.fileno(), self.file_mode)
                key, size = copy_hashing(stream, out, max_bytes)
                out.flush()
                os.fsync(out.fileno())
            final = self.path(key)
            if final.exists():
                # Already stored (same bytes, same key): keep the one there, so
                # a download reading it (nginx's sendfile) is left alone.
                temp.unlink()
            else:
                _private_dir(final.parent, self.dir_mode)
                os.replace(temp, final)
                _fsync_dir(final.parent)
        except BaseException:
            # Refused, the stream broke, or the disk is full: leave nothing.
            temp.unlink(missing_ok=True)
            raise
        return Stored(key=key, size=size, sha256=key)

    def open(self, key: str) -> BinaryIO:
        return open(self.path(key), "rb")

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def sweep_temp(self, older_than: float = 24 * 3600) -> int:
        """Remove temp files of writes that never finished (a crash, a kill)
        last touched more than `older_than` seconds ago; return how many.

        Younger ones may be uploads still in progress in another process.
        """
        if not self.temp_dir.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for entry in self.temp_dir.iterdir():
            if entry.name.endswith(TEMP_SUFFIX) and entry.stat().st_mtime < cutoff:
                entry.unlink(missing_ok=True)
                removed += 1
        return removed
