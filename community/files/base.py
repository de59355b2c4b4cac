"""What every file storage backend is and shares: the Storage interface, the
Stored record, the size limit, keys, and the copy that hashes as it goes.

`community/files/storage.py` picks a backend; read its docstring first.
"""
import hashlib
import re
from dataclasses import dataclass
from typing import BinaryIO

from community.errors import ActionError

# Read uploads this much at a time: large enough to keep system calls few,
# small enough that any number of uploads at once cost little memory.
CHUNK = 256 * 1024

_KEY = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Stored:
    key: str  # the SHA-256 of the bytes, hex
    size: int
    sha256: str  # the same as key; named for callers that record the hash


class FileTooLarge(ActionError):
    """The upload passed the size limit; refused as soon as it did."""

    status = 413

    def __init__(self, max_bytes: int):
        super().__init__(f"The file is larger than the limit of {describe_size(max_bytes)}.",
                         code="too_large", field="file")
        self.max_bytes = max_bytes


def describe_size(n: int) -> str:
    """'25 MB', '512 KB', '100 bytes': a limit as members read it."""
    for unit, size in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def check_key(key: str) -> str:
    """The key itself, if it is 64 lowercase hex digits; else ValueError.

    Keys come from our own rows, but a key is turned into a path or an object
    name, so nothing else (`../`, a slash) may ever pass.
    """
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError("not a storage key")
    return key


def copy_hashing(stream: BinaryIO, out, max_bytes: int) -> tuple[str, int]:
    """Copy `stream` to `out.write` in chunks; return (sha256 hex, size).

    :raise FileTooLarge: as soon as more than max_bytes have been read (the
        rest of the stream is never read).
    Any exception from stream.read passes through; the caller throws away `out`.
    """
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise FileTooLarge(max_bytes)
        digest.update(chunk)
        out.write(chunk)
    return digest.hexdigest(), size


class Storage:
    """What every backend does. Keys are SHA-256 hex digests (`check_key`)."""

    def save(self, stream: BinaryIO, max_bytes: int) -> Stored:
        """Store what `stream.read(n)` gives, in chunks, under its SHA-256.

        Either the whole file is stored, or nothing is: refused for size, or
        the stream failing half-way, leaves no bytes behind.
        :raise FileTooLarge: the stream holds more than max_bytes.
        """
        raise NotImplementedError

    def open(self, key: str) -> BinaryIO:
        """A readable binary stream of the bytes (read it in chunks; close it).

        :raise FileNotFoundError: nothing is stored under key.
        """
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Remove the bytes; nothing happens if they are already gone."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def size(self, key: str) -> int:
        """:raise FileNotFoundError: nothing is stored under key."""
        raise NotImplementedError

    def presigned_url(self, key: str, seconds: int, filename: str, inline: bool = False,
                      content_type: str | None = None) -> str | None:
        """A short-lived URL the browser may be redirected to, after the access
        check; None where there is none (the route then streams the bytes)."""
        return None

