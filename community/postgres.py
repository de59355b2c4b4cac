"""PostgreSQL connections that serve a page in as few round trips as it has
statements (bench/findings.md, 28).

A page had cost three round trips more than its statements: the pool's ping
at checkout, BEGIN sent alone before the first statement, and the ROLLBACK
that ends the request. And every ROLLBACK made psycopg drop the statements it
had prepared on the server (it sends DEALLOCATE ALL: those prepared inside a
rolled-back transaction are gone), so none lived long enough to be used.

- No ping (`alive`): a connection the server has closed (a restart, an idle
  timeout, pg_terminate_backend) has something to read on its socket: the
  server's last message, or the end of the stream. A live idle connection has
  nothing. One poll of the socket, no round trip, tells the pool to drop it
  and connect again before the request uses it.
- Page loads read in autocommit (`on_begin`): no BEGIN, no ROLLBACK, and the
  prepared statements stay. Under READ COMMITTED, PostgreSQL's default, each
  statement takes its own snapshot inside a transaction too, so the reads
  see what they saw before. A page load writes nothing; if one ever does,
  its first statement that is not a SELECT turns a transaction on first
  (`on_statement`), so what it writes is whole or not at all.
- No JIT (`planner_settings`): PostgreSQL compiles a statement to machine code
  when its estimated cost passes jit_above_cost. For a web page's statements
  that is all loss: the directory search, a 20 ms statement whose LIKE filters
  make its estimate large, spent 360 ms compiling 517 functions first
  (bench/findings.md, 30).
- Random reads costed as what they are here (`planner_settings`):
  random_page_cost 1.1, not the default 4 that models a spinning disk. What a
  page reads is a few rows by index, from memory or an SSD; at 4 the planner
  read every notification in turn rather than the reader's by index, on
  every page, for the header's count (0.7 ms, against 0.25 ms by index),
  and walked all coming meeting dates for the dashboard's next three
  (bench/findings.md, 32). 1.1 is PostgreSQL's own suggestion for SSDs.
"""
import select

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError

from .database import IMMEDIATE
from .fast.page_load import is_page_load

try:  # gevent's select waits in its loop; this must only look
    from gevent.monkey import get_original

    _poll = get_original("select", "poll")
except ImportError:  # pragma: no cover - gevent is a dependency
    _poll = select.poll

READING = "alumni_reading_in_autocommit"  # on the connection record's info: we turned autocommit on


def install(engine) -> None:
    """Listen on a PostgreSQL engine (community.configure_extensions)."""
    event.listen(engine, "connect", planner_settings)
    event.listen(engine, "checkout", alive)
    event.listen(engine, "begin", on_begin)
    event.listen(engine, "before_cursor_execute", on_statement)


PLANNER_SETTINGS = "SET jit = off; SET random_page_cost = 1.1"


def planner_settings(dbapi_connection, connection_record) -> None:
    """Each new connection sets the planner's settings for its session (one
    round trip a connection, not a request)."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute(PLANNER_SETTINGS)
    dbapi_connection.commit()


def alive(dbapi_connection, connection_record, connection_proxy) -> None:
    """At checkout: a connection with anything to read has been closed by the
    server (or has a notice nobody asked for): the pool connects again."""
    poller = _poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    if poller.poll(0):
        raise DisconnectionError("the server closed this connection")


def on_begin(conn) -> None:
    driver = conn.connection.driver_connection
    reading = is_page_load() and not conn.get_execution_options().get(IMMEDIATE)  # begin_write()
    if reading:
        if not driver.autocommit:
            driver.autocommit = True
            conn.info[READING] = True
    elif conn.info.pop(READING, False):
        driver.autocommit = False


def on_statement(conn, cursor, statement, parameters, context, executemany) -> None:
    if conn.info.get(READING) and not statement.lstrip()[:6].upper() == "SELECT":
        # A write: from here on in a transaction (psycopg sends BEGIN with it),
        # committed or rolled back as a whole.
        conn.connection.driver_connection.autocommit = False
        del conn.info[READING]
