"""A page load's reads before the ORM Session begins (bench/findings.md, 44).

Every signed-in request opened an ORM Session to read its viewer: the Session,
its transaction and connection, the viewer put into its identity map, all
closed again at the end. That was a quarter of what the bell's poll costs
beyond a hello-world app, paid by every page, though most pages read only
through prepared statements. A page load (GET or HEAD, not a Socket.IO event)
now reads through one pooled connection of its own, until a Session begins:

- `connection()` is where a prepared read runs: the Session's connection once
  it has begun a transaction (so reads see what the request wrote), else the
  page load's own, in one transaction of its own (on SQLite one snapshot; on
  PostgreSQL in autocommit, as postgres.on_begin reads page loads).
- `waiting()`: an object read from a row (`prepared.as_loaded`) before any
  Session exists waits outside one, detached, with its loaded values. It joins
  the request's Session as that is made (`PageSession`), before it loads
  anything, so the ORM hands out the same object and saves changes made to it.
- When the Session begins a transaction, the page load's connection ends
  (rolled back, back in the pool: a request holds one connection at a time).
  From there on the request reads as it did before: what the Session reads is
  as fresh as its own transaction, as when `database.fresh_read` ends one.
- `end()`, at the end of the request, gives the connection back to the pool,
  quietly when the database has gone away (`database.end_sessions_quietly`).

The page load's connection is the pool's own (`PageConnection`), not an
SQLAlchemy `Connection` around it: making, beginning and closing that one
cost about a tenth of the bell's poll (bench/findings.md, 47). What it keeps of
a `Connection` is written out below: the engine's begin listeners begin it,
its errors are raised as SQLAlchemy raises them, and a connection found dead
is dropped from the pool.
"""
import logging

from flask import Flask, current_app, has_request_context, request
from flask_sqlalchemy.session import Session
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.util import immutabledict

log = logging.getLogger(__name__)

# On the request object, not `g`: the request's own, whatever shares its app context.
_CONNECTION = "page_load_connection"
_WAITING = "page_load_waiting"  # identity key -> object, until a Session begins


class PageSession(Session):
    """flask_sqlalchemy's Session (extensions.db's), taking in the objects a page
    load read before it was made."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if has_request_context():
            for instance in _taken(_WAITING, {}).values():
                self.add(instance)


@event.listens_for(PageSession, "after_transaction_create")
def _hand_over(session, transaction) -> None:
    if transaction.parent is None and has_request_context():
        drop_connection()


def install(app: Flask) -> None:
    app.teardown_request(end)


def is_page_load() -> bool:
    """Whether this request is a page load: a GET or HEAD, not a Socket.IO event."""
    if not has_request_context():
        return False
    asked = request._get_current_object()
    # A socket event runs in a GET's context, with a sid.
    return asked.method in ("GET", "HEAD") and getattr(asked, "sid", None) is None


def _session_begun(db) -> bool:
    return db.session.registry.has() and db.session().in_transaction()


class PageConnection:
    """A page load's pooled DBAPI connection, in a transaction the engine's begin
    listeners began (SQLite's BEGIN, PostgreSQL's autocommit: database._on_begin,
    postgres.on_begin). It has what those listeners and the cursor events'
    read of a Connection: `dialect`, `connection` (the pool's, with its
    `driver_connection`), `info`, `get_execution_options()`."""

    def __init__(self, engine: Engine):
        self.engine, self.dialect, self.dispatch = engine, engine.dialect, engine.dispatch
        try:
            self.connection = engine.raw_connection()
        except self.dialect.loaded_dbapi.Error:
            engine.connect().close()  # raises the error as SQLAlchemy wraps it
            raise
        self.info = self.connection.info
        try:
            self.dispatch.begin(self)
        except self.dialect.loaded_dbapi.Error as error:
            failed = self.failed(error, "BEGIN", ())
            self.close()  # back to the pool (dropped, if it was found dead)
            raise failed from error
        except BaseException:
            self.close()
            raise

    @staticmethod
    def get_execution_options() -> immutabledict:
        return immutabledict()  # a page load's: no begin_write(), no isolation asked

    def failed(self, error: Exception, statement: str, parameters, cursor=None) -> DBAPIError:
        """The driver's `error` as SQLAlchemy's Connection raises it; a connection
        found dead is invalidated (`connection_invalidated`: error_pages reads
        the page again on a new one)."""
        gone = self.dialect.is_disconnect(error, self.connection.dbapi_connection, cursor)
        if gone:
            self.connection.invalidate(error)
        return DBAPIError.instance(statement, parameters, error, self.dialect.loaded_dbapi.Error,
                                   hide_parameters=self.engine.hide_parameters, dialect=self.dialect,
                                   connection_invalidated=gone)

    def close(self) -> None:
        """Back to the pool, its transaction rolled back (a page load writes
        nothing); quietly when the database has gone away."""
        if self.connection.dbapi_connection is not None:  # None once invalidated
            try:
                self.connection.driver_connection.rollback()
            except self.dialect.loaded_dbapi.Error as error:
                log.warning("database connection lost at the end of a page load: %s", type(error).__name__)
                self.connection.invalidate(error)  # dropped unused: no rollback on a dead line
        self.connection.close()


def connection() -> Connection | PageConnection:
    """The connection for a prepared read now (see the module's docstring)."""
    if has_request_context():
        found = vars(request._get_current_object()).get(_CONNECTION)
        if found is not None:  # dropped when a Session began
            return found
    db = current_app.extensions["sqlalchemy"]
    if not is_page_load() or _session_begun(db):
        return db.session.connection()
    found = PageConnection(db.engine)
    vars(request._get_current_object())[_CONNECTION] = found
    return found


def outside_session() -> bool:
    """Whether this is a page load no Session has joined yet."""
    return is_page_load() and not current_app.extensions["sqlalchemy"].session.registry.has()


def waiting(key: tuple, make):
    """The object waiting under `key` (an identity key), made by `make()` if none is."""
    found = vars(request._get_current_object()).setdefault(_WAITING, {})
    instance = found.get(key)
    if instance is None:
        instance = found[key] = make()
    return instance


def end(exc=None) -> None:
    """At the end of a request (a teardown_request): its connection back to the pool."""
    _taken(_WAITING, None)
    drop_connection()


def drop_connection() -> None:
    """End the page load's connection, if it has one: the next read takes
    another from the pool (error_pages reads a page again on a new one)."""
    connection = _taken(_CONNECTION, None)
    if connection is not None:
        connection.close()


def _taken(name: str, default):
    """The request's `name`, no longer the request's."""
    return vars(request._get_current_object()).pop(name, default)
