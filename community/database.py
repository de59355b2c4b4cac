"""Engine set-up and write transactions that hold under concurrency.

SQLite: WAL, foreign keys and a busy timeout on every connection; we emit
BEGIN ourselves (pysqlite's own handling can't do BEGIN IMMEDIATE), so an
action that reads then writes can take the write lock before it reads.
PostgreSQL: the same actions lock the rows they depend on with FOR UPDATE.
"""
import logging
import sqlite3

from flask import Flask, g, has_app_context, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BinaryExpression

from .extensions import db

IMMEDIATE = "sqlite_immediate"
# In a column's or index's info: it exists on PostgreSQL only (SQLite's tables
# are made without it), and no model maps such a column (search_entries' document).
POSTGRESQL_ONLY = "postgresql_only"
log = logging.getLogger(__name__)


def elsewhere_than(dialect: str, obj) -> bool:
    """Whether a model's column or index is left out on this database: for
    comparing the models with what the migrations made (autogenerate)."""
    return dialect != "postgresql" and bool(obj.info.get(POSTGRESQL_ONLY))


@compiles(CreateColumn, "sqlite")
def _column_on_sqlite(create, compiler, **kw):
    if create.element.info.get(POSTGRESQL_ONLY):
        return None  # left out of CREATE TABLE
    return compiler.visit_create_column(create, **kw)


@compiles(BinaryExpression, "sqlite")
def _any_case_like_on_sqlite(binary, compiler, **kw):
    """ILIKE as SQLite's own LIKE. SQLAlchemy writes lower(x) LIKE lower(y), but
    SQLite's LIKE already ignores the case of exactly the letters its lower()
    folds (ASCII; with the ICU extension, which replaces both, any): the same
    rows, and the lower() of every row cost the Files page's name search two
    fifths of its statement (bench/findings.md, 45)."""
    if binary.operator is operators.ilike_op:
        return compiler.visit_like_op_binary(binary, operators.like_op, **kw)
    if binary.operator is operators.not_ilike_op:
        return compiler.visit_not_like_op_binary(binary, operators.not_like_op, **kw)
    return compiler.visit_binary(binary, **kw)


def end_sessions_quietly(app: Flask) -> None:
    """End each request's session without failing the answer already made.

    Flask-SQLAlchemy ends it with a rollback; when the database went away
    mid-request, that rollback raises on the dead connection, after the 503
    page was made, and the visitor got a 500 instead (the soak's "database
    stopped"). Registered after db.init_app, so it runs first (teardowns run
    last-registered first); a session it has removed leaves nothing for
    Flask-SQLAlchemy's own to do.
    """
    @app.teardown_appcontext
    def _remove_session(exc):
        try:
            db.session.remove()
        except SQLAlchemyError as error:
            log.warning("database connection lost at the end of a request: %s", type(error).__name__)
            db.session().invalidate()  # drop the connection unused: no rollback on a dead line
            db.session.remove()


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection, connection_record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None  # transactions are begun in _on_begin
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _on_begin(conn):
    if conn.dialect.name == "sqlite":
        immediate = conn.get_execution_options().get(IMMEDIATE) or _lock_at_begin()
        # Straight to the driver: every request begins a transaction, and
        # SQLAlchemy's execution path cost more than the statement (bench/findings.md, 12).
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _lock_at_begin() -> bool:
    """Whether this transaction should take SQLite's write lock when it begins.

    A deferred transaction that reads, then writes after another process
    committed, fails at once with "database is locked" instead of waiting its
    turn; so form posts, and commands that write (seed-demo: see
    lock_at_begin_for_this_command), lock at BEGIN. Page loads (GET/HEAD) never
    write. Socket events and the server's background loops lock only where
    they write (begin_write): under gevent a greenlet holding the lock while it
    waits on the network would stall every other greenlet in SQLite's busy wait.
    """
    if has_request_context():
        return request.method not in ("GET", "HEAD") and getattr(request, "sid", None) is None
    return has_app_context() and g.get("lock_at_begin", False)


def lock_at_begin_for_this_command() -> None:
    """For a CLI command that writes while a server may be running on the same file."""
    g.lock_at_begin = True


def begin_write(keeping=None) -> None:
    """Start the current action's transaction as a writer.

    On SQLite this takes the database's write lock at once, so two actions that
    check-then-write (approve a request, RSVP for the last seat) run one after
    the other rather than both acting on what they read. On PostgreSQL it only
    starts a transaction; callers lock rows with `with_for_update`.
    Any read-only transaction already open (e.g. loading the signed-in user) is
    ended first; there must be no unsaved changes. What it loaded is read
    afresh when next used, but `keeping`: the signed-in user, loaded at the
    start of this request, for an action to which the account as it was then
    is news enough (sending a message: that it is active) and that changes
    nothing on its row; reading it again was a tenth of a chat message's cost.
    """
    session = db.session()  # the real Session behind the scoped proxy
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("begin_write() called with unsaved changes")
        if keeping is None:
            session.commit()
        else:
            _commit_unexpired(session)
            for loaded in list(session.identity_map.values()):
                if loaded is not keeping:
                    session.expire(loaded)
    session.connection(execution_options={IMMEDIATE: True})


def fresh_read() -> None:
    """End the current read-only transaction, so the next statement sees
    everything committed until now (SQLite reads from a snapshot taken at a
    transaction's first read), keeping what is loaded, e.g. the signed-in
    user, rather than loading it again. There must be no unsaved changes."""
    session = db.session()
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("fresh_read() called with unsaved changes")
    _commit_unexpired(session)


def _commit_unexpired(session) -> None:
    keep = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep
