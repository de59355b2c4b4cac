"""A few joins at a time per process: a reconnect storm queues here, in memory;
and a connection refused as busy, not left unanswered, when the pool is full.

When a worker dies, every socket it held rejoins within seconds, and each join
reads history from the database. Unchecked they took every pooled connection
(issue 19: "QueuePool limit ... reached" x23, pages waiting 9.5 s). Here at most
CHAT_JOIN_CONCURRENCY joins (default: half of DB_POOL_SIZE) read at once; the
rest wait their turn without holding a connection, up to CHAT_JOIN_WAIT seconds,
then are answered `unavailable` (not now: the page tries again, backing off). Pages, sends and the
other half of the pool are left alone.
"""
import threading
from functools import wraps

from flask import current_app
from flask_socketio import ConnectionRefusedError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..database import fresh_read
from ..errors import ActionError
from ..extensions import db

BUSY = "Chat is busy just now. Try again in a moment."


def _gate() -> threading.Semaphore:
    app = current_app._get_current_object()
    gate = app.extensions.get("chat_join_gate")
    if gate is None:
        size = app.config.get("CHAT_JOIN_CONCURRENCY") or max(
            1, app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_size", 5) // 2)
        # threading's, which gevent's monkey-patching makes a greenlet's under app.py.
        gate = app.extensions.setdefault("chat_join_gate", threading.BoundedSemaphore(size))
    return gate


def few_at_a_time(handler):
    """Wrap a chat handler `handler(user, data)` so that only a few run at once."""
    @wraps(handler)
    def admitted(user, data):
        # Hand back the connection the user was loaded on while this join waits,
        # keeping the user as loaded (every rule the handler checks reads the
        # database afresh; reloading the user cost a statement per join).
        fresh_read()
        gate = _gate()
        if not gate.acquire(timeout=current_app.config["CHAT_JOIN_WAIT"]):
            raise ActionError(BUSY, code="unavailable")
        try:
            return handler(user, data)
        finally:
            gate.release()
    return admitted


def refused_when_busy(connect_handler):
    """Wrap the connect handler: every pooled connection in use (DB_POOL_TIMEOUT)
    refuses the connection, `unavailable` (the page tries again, backing off).
    Raised, the error left the client with no answer at all (python-socketio
    only logs it), as 6 were in the issue's storm.
    """
    @wraps(connect_handler)
    def connect(*args):
        try:
            return connect_handler(*args)
        except PoolTimeout:
            db.session.rollback()
            raise ConnectionRefusedError(BUSY, {"error": "unavailable"}) from None
    return connect
