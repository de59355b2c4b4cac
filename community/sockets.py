"""What every Socket.IO namespace (chat, the bell) checks when a socket connects,
and how it refuses one while a service it needs is away."""
import logging

from flask import request
from flask_socketio import ConnectionRefusedError
from redis.exceptions import RedisError
from sqlalchemy.exc import InterfaceError, OperationalError

from .extensions import db, socketio

log = logging.getLogger(__name__)

# The words of the `unavailable` error (a refused connection, a chat event's ack);
# the client shows "Live updates paused, retrying…" and tries again.
UNAVAILABLE = "Live updates are paused; retrying."
# What a service being away raises: the database (as in error_pages.py), or
# Redis, down (refused, reset) or hung (timed out). Other errors are bugs.
SERVICE_AWAY = (OperationalError, InterfaceError, RedisError, ConnectionError, TimeoutError)


def refuse_unavailable(exc: Exception) -> ConnectionRefusedError:
    """The refusal, {error: "unavailable", message}, of a connection whose handler
    failed (the database is away, say): never an exception, which the server
    would answer with silence. Raise what it returns."""
    if isinstance(exc, SERVICE_AWAY):
        log.warning("connection refused, a service is away: %s", type(exc).__name__)
    else:
        log.exception("connection refused: the connect handler failed")
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the database is away: nothing to roll back
        log.debug("rollback after a refused connection failed")
    return ConnectionRefusedError(UNAVAILABLE, {"error": "unavailable", "message": UNAVAILABLE})


def origin_allowed(environ: dict, extra) -> bool:
    """Same origin (as the browser sees it, through a proxy too) or a configured one.

    Engine.IO checks this for real connections already; checking again here
    keeps the rule in our code and under test. No Origin header means no
    browser (only browsers can be tricked into cross-site requests).
    """
    origin = environ.get("HTTP_ORIGIN")
    if not origin:
        return True
    host = environ.get("HTTP_HOST", "")
    scheme = environ.get("wsgi.url_scheme", "http")
    allowed = {f"{scheme}://{host}"}
    if "HTTP_X_FORWARDED_PROTO" in environ or "HTTP_X_FORWARDED_HOST" in environ:
        fwd_scheme = environ.get("HTTP_X_FORWARDED_PROTO", scheme).split(",")[0].strip()
        fwd_host = environ.get("HTTP_X_FORWARDED_HOST", host).split(",")[0].strip()
        allowed.add(f"{fwd_scheme}://{fwd_host}")
    if isinstance(extra, str):
        allowed.update(o for o in extra.replace(",", " ").split())
    elif extra:
        allowed.update(extra)
    return "*" in allowed or origin in allowed


def sent_by_the_client() -> bool:
    """Whether a connect or disconnect handler runs for a client's *event* of that
    name, which python-socketio hands to the same handlers, on a socket that stays
    open. (Run again, chat's would forget which circles the socket joined, or the
    socket itself, while it stays in the rooms: a later ban would not cut it off.)
    A socket connecting (with python-socketio's default always_connect=False) or
    disconnecting doesn't count as connected while its handler runs; one that
    sends an event does.
    """
    return socketio.server.manager.is_connected(request.sid, request.namespace)
