"""Settings read from the environment, with safe defaults.

Every variable is listed, with its default, in the README.
"""
import os
import secrets
from pathlib import Path


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


class SettingError(ValueError):
    """A setting in the environment that can't work; the message says which and why."""


def load_secret_key(instance_path: str) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in instance/.

    Never a constant in the code: a leaked default would let anyone forge sessions.
    """
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        return from_env
    path = Path(instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once must not write two different keys.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    return path.read_text().strip()


def _served_at(https: bool) -> str:
    """Where `python app.py` serves (HOST and PORT), for links in email and
    invitations when SITE_URL is unset: `PORT=5077 make run` links to 5077."""
    host = os.environ.get("HOST") or "127.0.0.1"
    # Compared, never bound: a HOST of every address links to this machine's own.
    if host in ("0.0.0.0", "::", ""):  # nosec B104
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if https else 'http'}://{host}:{_int('PORT', 5000)}"


def from_environment(instance_path: str) -> dict:
    """The configuration for a real run of the app."""
    https = _bool("HTTPS", False)
    default_db = "sqlite:///" + str(Path(instance_path) / "community.sqlite3")
    return {
        "SECRET_KEY": load_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL", default_db),
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(),
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_SECURE": https,
        "PREFERRED_URL_SCHEME": "https" if https else "http",
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", DEFAULTS["MAX_CONTENT_LENGTH"]),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_ENABLED": _bool("RATELIMIT_ENABLED", True),
        "SOCKETIO_MESSAGE_QUEUE": os.environ.get("SOCKETIO_MESSAGE_QUEUE") or None,
        "SOCKETIO_ASYNC_MODE": os.environ.get("SOCKETIO_ASYNC_MODE") or None,
        "SOCKETIO_CHANNEL": os.environ.get("SOCKETIO_CHANNEL") or DEFAULTS["SOCKETIO_CHANNEL"],
        "CHAT_RATE_LIMIT": _int("CHAT_RATE_LIMIT", DEFAULTS["CHAT_RATE_LIMIT"]),
        "CHAT_RATE_WINDOW": _int("CHAT_RATE_WINDOW", DEFAULTS["CHAT_RATE_WINDOW"]),
        "CHAT_READ_LIMIT": _int("CHAT_READ_LIMIT", DEFAULTS["CHAT_READ_LIMIT"]),
        "PROXY_COUNT": _int("PROXY_COUNT", 0),
        "CORS_ALLOWED_ORIGINS": os.environ.get("CORS_ALLOWED_ORIGINS") or None,
        "PASSWORD_HASH_METHOD": os.environ.get("PASSWORD_HASH_METHOD", "scrypt"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        "SITE_URL": os.environ.get("SITE_URL") or _served_at(https),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": _int("MAIL_PORT", 587),
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS", True),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Alumni Circles <no-reply@localhost>"),
        "DIGEST_HOUR": _int("DIGEST_HOUR", 8),
        "MAIL_WORKER_INTERVAL": _int("MAIL_WORKER_INTERVAL", 10),
        "DM_EMAIL_DELAY": _int("DM_EMAIL_DELAY", DEFAULTS["DM_EMAIL_DELAY"]),
        # Unset: file://<instance>/files (community/files/storage.py, storage_for).
        "FILE_STORAGE_URL": os.environ.get("FILE_STORAGE_URL") or None,
        # The largest file one upload may be, and all of a circle's files together.
        "FILE_MAX_BYTES": _int("FILE_MAX_BYTES", DEFAULTS["FILE_MAX_BYTES"]),
        "FILE_CIRCLE_QUOTA": _int("FILE_CIRCLE_QUOTA", DEFAULTS["FILE_CIRCLE_QUOTA"]),
        "DM_FILE_QUOTA": _int("DM_FILE_QUOTA", DEFAULTS["DM_FILE_QUOTA"]),
        "FILE_SWEEP_INTERVAL": _int("FILE_SWEEP_INTERVAL", DEFAULTS["FILE_SWEEP_INTERVAL"]),
        # How downloads leave, after the access check (community/files/views.py).
        "FILE_ACCEL_REDIRECT": _bool("FILE_ACCEL_REDIRECT", DEFAULTS["FILE_ACCEL_REDIRECT"]),
        "FILE_S3_REDIRECT": _bool("FILE_S3_REDIRECT", DEFAULTS["FILE_S3_REDIRECT"]),
    }


# Seconds to wait for Redis (connecting, or an answer) before treating it as
# away: short, so a dead or hung Redis costs a request this long once, and
# sign-in, pages, chat and /healthz go on without it.
REDIS_TIMEOUT = 0.5


# The database pool, per serving process (README, "Settings"). Under gevent one
# process runs any number of requests and sockets at once, but only one of them
# on the CPU: a connection is busy for the few milliseconds of a request's
# queries, so 10 (+10 at a peak) cover what one core can use, and 4 processes
# x 20 stay under PostgreSQL's default max_connections of 100, leaving room for
# the CLI, backups and an administrator. Past that a request waits at most
# DB_POOL_TIMEOUT seconds for a connection, then gets "busy, try again"
# (error_pages.pool_exhausted; chat's "unavailable", retried) instead of queueing 30 s.
# No pool_pre_ping: it cost a round trip per checkout; a connection a restarted
# PostgreSQL has closed is found without one (community/postgres.py), and a
# local SQLite file's connections can't go stale.
POOL = {"pool_pre_ping": False, "pool_size": 10, "max_overflow": 10, "pool_timeout": 3.0}


def engine_options() -> dict:
    """SQLAlchemy's pool settings: DB_POOL_SIZE, DB_MAX_OVERFLOW, DB_POOL_TIMEOUT."""
    return {"pool_pre_ping": False,
            "pool_size": _int("DB_POOL_SIZE", POOL["pool_size"]),
            "max_overflow": _int("DB_MAX_OVERFLOW", POOL["max_overflow"]),
            "pool_timeout": _float("DB_POOL_TIMEOUT", POOL["pool_timeout"])}


# Defaults that hold for every run, whatever the environment says.
DEFAULTS = {
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "SQLALCHEMY_ENGINE_OPTIONS": dict(POOL),
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    "RATELIMIT_HEADERS_ENABLED": True,
    # While the rate limits' Redis is away (an error, or no answer in
    # REDIS_TIMEOUT), count in this process instead of failing the request:
    # Flask-Limiter logs "Rate limit storage unreachable - falling back to
    # in-memory storage" and asks Redis again after 1, 2, 4 ... 32 s, one request
    # at a time, until it answers ("Rate limit storage recovered").
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT,
                                  "socket_timeout": REDIS_TIMEOUT},
    "REDIS_TIMEOUT": REDIS_TIMEOUT,
    "LOGIN_RATE_LIMIT": "30 per minute",
    "REGISTER_RATE_LIMIT": "10 per hour",
    "RESET_RATE_LIMIT": "5 per hour",
    "LOCKOUT_THRESHOLD": 5,
    "LOCKOUT_MINUTES": 15,
    "MAX_CONTENT_LENGTH": 1024 * 1024,  # 1 MiB: far above any form, far below harm
    # Largest Engine.IO packet or long-polling POST body, in bytes (and nginx's
    # client_max_body_size for /socket.io/, deploy/nginx-locations.conf). The
    # largest event is a 4,000-character message or report: at worst 6 bytes a
    # character once JSON-escaped (\u001f; a browser sends other text as UTF-8,
    # at most 3 bytes per UTF-16 unit), about 24 KB with its framing. 64 KiB
    # holds that twice over; the browser's client, told this in the handshake
    # (maxPayload), splits a batch of queued events to fit. A larger POST is
    # answered 413 before it is read (http_limits.py). Not read from the
    # environment: tests/test_polling_limits.py holds nginx's number to this one.
    "SOCKETIO_MAX_HTTP_BUFFER_SIZE": 64 * 1024,
    # Chat joins reading history at once per process (None: half of the pool's
    # pool_size), and how long others wait their turn before "busy" (chat/admission.py).
    "CHAT_JOIN_CONCURRENCY": None,
    "CHAT_JOIN_WAIT": 10,
    # Email (see community/notifications): links in mail are built on SITE_URL.
    "SITE_URL": "http://127.0.0.1:5000",
    "MAIL_SERVER": None,
    "MAIL_PORT": 587,
    "MAIL_USE_TLS": True,
    "MAIL_FROM": "Alumni Circles <no-reply@localhost>",
    "DIGEST_HOUR": 8,
    "MAIL_WORKER_INTERVAL": 10,
    # Seconds a direct message waits unread before it is emailed: a burst becomes
    # one email, and nothing goes if it is read meanwhile (messages/notify.py).
    "DM_EMAIL_DELAY": 120,
    # Redis pub/sub channel of the Socket.IO message queue; chat's own keys in
    # Redis start with it too, so two deployments can share one Redis.
    "SOCKETIO_CHANNEL": "flask-socketio",
    # Engine.IO transports the server accepts (None: long-polling and WebSocket).
    # ["websocket"] suits processes behind a front with no sticky sessions (a
    # long-polling session's requests must all reach one process); deploy/'s
    # nginx is sticky, so it keeps both. templates/base.html tells the browser.
    "SOCKETIO_TRANSPORTS": None,
    # Chat: at most CHAT_RATE_LIMIT messages per user in CHAT_RATE_WINDOW seconds.
    "CHAT_RATE_LIMIT": 10,
    "CHAT_RATE_WINDOW": 10,
    # Joins and "load older" calls per user in 10 seconds (per process).
    "CHAT_READ_LIMIT": 30,
    # Direct messages reported to the site's admins: at most this many per person
    # in DM_REPORT_WINDOW seconds (counted in the database, as chat's limit is).
    "DM_REPORT_LIMIT": 10,
    "DM_REPORT_WINDOW": 3600,
    # Chat presence broadcasts are coalesced per circle over this many seconds.
    "CHAT_PRESENCE_DELAY": 0.5,
    # Files (community/files): the kinds members may share, by content (kinds.KINDS;
    # never SVG or HTML), and the largest image canvas decoded (a decompression bomb's
    # header says billions of pixels; it is refused before any is decoded).
    "FILE_KINDS": ("pdf", "jpeg", "png", "gif", "webp", "docx", "xlsx", "pptx", "doc", "xls", "ppt",
                   "odt", "ods", "odp", "text", "csv"),
    "FILE_IMAGE_MAX_PIXELS": 50_000_000,
    # Per upload, and per circle for all its files (both read from the environment too).
    "FILE_MAX_BYTES": 25 * 1024 * 1024,
    "FILE_CIRCLE_QUOTA": 2 * 1024 ** 3,
    # Bytes each person may share in all their direct conversations together
    # (community/files/conversations.py): a conversation has no owner to charge.
    "DM_FILE_QUOTA": 1024 ** 3,
    # Seconds between passes of the orphan sweep in each serving process (files/sweep.py).
    "FILE_SWEEP_INTERVAL": 3600,
    # Behind deploy/'s nginx: local files are handed to nginx (X-Accel-Redirect to its
    # internal /_protected_files/ location) once the route has checked access, so the
    # worker is free at once; and files are written group-readable (0640) for nginx.
    "FILE_ACCEL_REDIRECT": False,
    # With S3 storage: a download (not an image shown inline) is a redirect to a
    # presigned URL valid for a minute, once the route has checked access; off, the
    # app streams the object itself.
    "FILE_S3_REDIRECT": False,
}
