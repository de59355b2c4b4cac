"""Where the bytes of shared files live: the backend FILE_STORAGE_URL names.

Content-addressed: a file's key is the SHA-256 of its bytes (64 hex digits),
so the same file shared twice is stored once. Storage itself keeps no count of
who uses a key: the database rows that point at it do, and the code that
deletes the last such row deletes the bytes (`delete`). Nothing here knows
about circles or members; every download passes the access check in the route
before it touches a Storage.

Two backends, picked by the `FILE_STORAGE_URL` setting (`storage_for(app)`):
- `file:///abs/dir` — LocalStorage, the default `file://<instance>/files`;
- `s3://bucket/prefix?endpoint=URL&region=NAME` — S3Storage, for several hosts.
"""
from urllib.parse import parse_qs, unquote, urlsplit

from community.files.base import FileTooLarge, Storage, Stored  # noqa: F401  (the API callers use)
from community.files.local import LocalStorage
from community.files.s3 import S3Storage


def storage_from_url(url: str, group_readable: bool = False) -> Storage:
    """The backend a FILE_STORAGE_URL names.

    `file:///abs/dir`, or `s3://bucket/optional/prefix?endpoint=URL&region=NAME&addressing=path`
    (all three query parameters optional; credentials come from the usual AWS
    environment variables or files, never from the URL, so it can be logged).
    `group_readable`: local files for nginx's workers too (FILE_ACCEL_REDIRECT).
    :raise ValueError: a scheme or form we don't know.
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError("FILE_STORAGE_URL: a file:// URL needs an absolute path, file:///dir")
        return LocalStorage(unquote(parts.path), group_readable=group_readable)
    if parts.scheme == "s3":
        if not parts.netloc or parts.username or parts.password:
            raise ValueError("FILE_STORAGE_URL: s3://bucket/prefix, with no credentials in it")
        options = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        unknown = set(options) - {"endpoint", "region", "addressing"}
        if unknown:
            raise ValueError(f"FILE_STORAGE_URL: unknown option(s) {', '.join(sorted(unknown))}")
        return S3Storage(parts.netloc, prefix=unquote(parts.path).strip("/"),
                         endpoint=options.get("endpoint"), region=options.get("region"),
                         addressing=options.get("addressing"))
    raise ValueError("FILE_STORAGE_URL must start with file:// or s3://")


def default_url(instance_path: str) -> str:
    return "file://" + str(instance_path).rstrip("/") + "/files"


def storage_for(app) -> Storage:
    """The app's Storage, made once from FILE_STORAGE_URL (default: instance/files)."""
    storage = app.extensions.get("file_storage")
    if storage is None:
        url = app.config.get("FILE_STORAGE_URL") or default_url(app.instance_path)
        storage = app.extensions["file_storage"] = storage_from_url(
            url, group_readable=bool(app.config.get("FILE_ACCEL_REDIRECT")))
    return storage
