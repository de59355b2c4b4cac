"""On PostgreSQL a page load makes one round trip per statement, no more
(community/postgres.py): no ping, no BEGIN, no ROLLBACK, and statements stay
prepared from one request to the next. Counted with libpq's protocol trace:
every exchange with the server ends with its ReadyForQuery."""
import re

import psycopg
import pytest
from sqlalchemy import event, make_url, text

from community import create_app
from community.extensions import db
from community.meetings.actions import scheduling
from community.threads.actions import post_reply
from community.threads.models import Post
from tests.conftest import AuthActions, QueryCounter, app_config
from tests.factories import add_member, make_circle, make_thread, make_user

pytestmark = pytest.mark.postgres


class Trace:
    """libpq's trace of every connection the app checks out while active."""

    def __init__(self, engine, path):
        self.engine, self.path, self.files = engine, path, []

    def _start(self, dbapi_connection, record, proxy):
        out = open(self.path, "a")
        self.files.append(out)
        dbapi_connection.pgconn.trace(out.fileno())
        dbapi_connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

    def _stop(self, dbapi_connection, record):
        dbapi_connection.pgconn.untrace()

    def __enter__(self):
        self.path.write_text("")
        event.listen(self.engine, "checkout", self._start)
        event.listen(self.engine, "checkin", self._stop)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "checkout", self._start)
        event.remove(self.engine, "checkin", self._stop)
        for out in self.files:
            out.close()

    @property
    def lines(self) -> list[str]:
        return self.path.read_text().splitlines()

    def sent(self, kind: str) -> list[str]:
        return [line for line in self.lines if re.match(rf"F\t\d+\t{kind}\b", line)]

    @property
    def round_trips(self) -> int:
        return sum(1 for line in self.lines if "\tReadyForQuery\t" in line)


@pytest.fixture
def site(postgres_url):
    app = create_app(app_config(postgres_url))
    with app.app_context():
        db.create_all()
        owner = make_user("Rachel Stone")
        circle = make_circle(owner)
        add_member(circle, make_user("Helen Ward"))
        thread = make_thread(circle, owner, "Welcome", "Say hello here.")
        db.session.commit()
        for n in range(5):
            post_reply(owner, circle.slug, thread.id, f"Reply {n}")
        meeting = scheduling.schedule_meeting(owner, circle.slug, title="Monthly", start="2031-01-09T19:00",
                                              duration=120, timezone="Europe/London", location="Reading")
        page, email, engine = f"/c/{circle.slug}/t/{thread.id}", owner.email, db.engine
        meeting_page = f"/c/{circle.slug}/m/{meeting.id}"
        db.session.remove()
    # Requests outside any app context of the test's: each ends its session.
    client = app.test_client()
    AuthActions(client).login(email)
    yield {"app": app, "client": client, "page": page, "engine": engine, "url": postgres_url,
           "meeting_page": meeting_page}
    engine.dispose()


def traced_load(site, page: str, path) -> tuple[Trace, QueryCounter]:
    """The page loaded once it is warm, with libpq's trace of what it sent."""
    client = site["client"]
    for _ in range(6):  # past psycopg's prepare threshold (5)
        assert client.get(page).status_code == 200
    with Trace(site["engine"], path) as trace, QueryCounter(site["engine"]) as counted:
        assert client.get(page).status_code == 200
    return trace, counted


def test_a_page_load_makes_one_round_trip_per_statement(site, tmp_path):
    trace, counted = traced_load(site, site["page"], tmp_path / "trace")
    print(f"thread page: {counted.count} statements, {trace.round_trips} round trips")
    assert counted.count > 0
    assert trace.round_trips == counted.count, trace.lines
    queries = trace.sent("Query")
    assert not [line for line in queries if re.search(r'"(BEGIN|ROLLBACK|SELECT 1)"', line)], queries
    # Prepared by now: each statement is bound to a named statement, not parsed again.
    assert trace.sent("Parse") == [], trace.sent("Parse")
    assert len(trace.sent("Bind")) == counted.count


def test_a_meetings_page_makes_four_round_trips(site, tmp_path):
    """The viewer with the circle; the meeting with the date it opens on and that
    date's run sheet (meetings.queries.opened_meeting: three round trips before,
    bench/findings.md, 42); who answered; the files."""
    trace, counted = traced_load(site, site["meeting_page"], tmp_path / "trace")
    assert trace.round_trips == counted.count == 4, trace.lines


def test_a_connection_the_server_closed_is_replaced_without_a_failed_request(site):
    client, page = site["client"], site["page"]
    assert client.get(page).status_code == 200
    admin_url = make_url(site["url"]).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_url, autocommit=True) as admin:  # a restart, as the pool sees it
        ended = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
    assert ended
    for _ in range(3):
        assert client.get(page).status_code == 200


def test_a_page_load_that_writes_writes_in_a_transaction(site):
    """Reads in autocommit; the first write turns a transaction on, so a write
    that is rolled back leaves nothing."""
    app = site["app"]
    with app.test_request_context(site["page"], method="GET"):
        db.session.execute(text("SELECT 1"))
        driver = db.session.connection().connection.driver_connection
        assert driver.autocommit  # reading: no BEGIN was sent
        db.session.execute(text("UPDATE posts SET source = 'changed' WHERE id = (SELECT min(id) FROM posts)"))
        assert not driver.autocommit
        assert driver.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        db.session.rollback()
        db.session.remove()
    with app.app_context():
        assert db.session.scalar(db.select(Post).where(Post.source == "changed")) is None


def test_form_posts_and_background_work_use_transactions(site):
    app = site["app"]
    with app.test_request_context(site["page"], method="POST"):
        db.session.execute(text("SELECT 1"))
        driver = db.session.connection().connection.driver_connection
        assert not driver.autocommit
        assert driver.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        db.session.remove()
    with app.app_context():  # a background loop, a CLI command
        db.session.execute(text("SELECT 1"))
        assert db.session.connection().connection.driver_connection.info.transaction_status == \
            psycopg.pq.TransactionStatus.INTRANS
        db.session.remove()


def test_a_page_load_then_a_form_post_on_the_same_connection(site):
    """The connection a page load left in autocommit is used by a form post
    next: the post's write is a transaction again, and commits."""
    client, page = site["client"], site["page"]
    assert client.get(page).status_code == 200
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get(page).text).group(1)
    answer = client.post(f"{page}/reply", data={"body": "After a page load", "csrf_token": token})
    assert answer.status_code in (302, 303)
    with site["app"].app_context():
        assert db.session.scalar(db.select(Post).where(Post.source == "After a page load")) is not None


def test_no_statement_is_compiled_to_machine_code(site):
    """JIT is off on every connection, kept across rollbacks: compiling the
    directory search (a 20 ms statement with a large estimate) had taken 360 ms.
    And random reads are costed as an SSD's (bench/findings.md, 32)."""
    app = site["app"]
    for method in ("GET", "POST"):
        with app.test_request_context(site["page"], method=method):
            assert db.session.scalar(text("SHOW jit")) == "off"
            db.session.rollback()
            assert db.session.scalar(text("SHOW jit")) == "off"
            assert db.session.scalar(text("SHOW random_page_cost")) == "1.1"
            db.session.remove()
    with app.app_context():  # a statement that would be compiled at any cost, were JIT on
        db.session.execute(text("SET LOCAL jit_above_cost = 0"))
        plan = db.session.execute(text(
            "EXPLAIN (ANALYZE, FORMAT TEXT) SELECT count(*) FROM generate_series(1, 1000) AS n "
            "WHERE n::text LIKE '%7%'")).scalars().all()
        assert not any(line.startswith("JIT") for line in plan)
        db.session.rollback()
        db.session.remove()
