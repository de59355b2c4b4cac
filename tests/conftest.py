"""Fixtures: a fresh app and database per test, clients, and sign-in helpers."""
import os
import re
import shutil
import uuid

import pytest
from flask import g
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from community import create_app
from community.extensions import db, socketio
from tests import compiled_sql, route_builders, template_code

# engine_app: both database engines, for racing actions; own_redis: a redis-server to stop.
pytest_plugins = ["tests.racing", "tests.redis_server"]

# Each test builds its own app; each rule's URL builders, each template and each SQL
# statement are compiled once for the run.
route_builders.install()
template_code.install()
compiled_sql.install()

IN_CI = os.environ.get("CI", "").lower() == "true"

# Property-based tests (tests/fuzz/): few examples by default, so the fuzz suite
# takes about a minute; HYPOTHESIS_PROFILE=thorough runs ten times as many, and
# HYPOTHESIS_MAX_EXAMPLES sets the number outright.
# No deadline: a request's time varies with the machine's load, not its input.
settings.register_profile(
    "circles", max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "40")), deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])
settings.register_profile("thorough", parent=settings.get_profile("circles"), max_examples=400)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "circles"))


def app_config(db_uri: str, **overrides) -> dict:
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": db_uri,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        # Hashing is deliberately slow in production; tests need many accounts.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        "SOCKETIO_ASYNC_MODE": "threading",
        "SERVER_NAME": None,
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory):
    """An empty database with the schema, built once and copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    app = create_app(app_config(f"sqlite:///{path}"))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return path


@pytest.fixture
def db_path(tmp_path, schema_template):
    path = tmp_path / "test.sqlite3"
    shutil.copy(schema_template, path)
    return path


def _forget_request_globals(exc):
    """Clear `g` and expire the session after each test request.

    Tests hold an app context open so they can call actions; Flask then reuses
    it for every request, so `g` (where Flask-Login caches the signed-in user)
    and the session's loaded objects would carry from one request into the
    next, unlike in production where each request starts afresh.
    """
    g.__dict__.clear()
    if db.session.registry.has():  # a page load may have read without one
        db.session.expire_all()


@pytest.fixture
def make_app(db_path):
    """Build an app on this test's database, with config overrides."""
    apps = []

    def make(**overrides):
        app = create_app(app_config(f"sqlite:///{db_path}", **overrides))
        app.teardown_request(_forget_request_globals)
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token_from(client, path: str) -> str:
    """The CSRF token in the form a page shows (for apps with CSRF on)."""
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


class AuthActions:
    """Sign in and out through the real forms."""

    def __init__(self, client):
        self._client = client

    def login(self, user_or_email, password: str = "correct horse battery", remember=False,
              csrf=False):
        """csrf=True: for an app with CSRF on, send the sign-in page's own token."""
        email = getattr(user_or_email, "email", user_or_email)
        data = {"email": email, "password": password}
        if remember:
            data["remember"] = "y"
        if csrf:
            data["csrf_token"] = csrf_token_from(self._client, "/auth/login")
        return self._client.post("/auth/login", data=data)

    def login_past_second_step(self, user):
        """Sign in with the password and, for an account with a second factor, be let
        through the second step as its code or passkey would let it through (tests
        of the second step itself are in tests/accounts)."""
        answer = self.login(user)
        if answer.status_code == 302 and answer.location.endswith("/auth/second-step"):
            pass_second_step(self._client, user)
        return answer

    def logout(self):
        return self._client.post("/auth/logout")


def pass_second_step(client, user) -> None:
    """Sign `user` in on this test client, as finishing the second step does."""
    from community.accounts import sessions

    with client.session_transaction() as session:
        session.clear()
        session["_user_id"], session["_fresh"] = user.get_id(), True
        session[sessions.KEY] = sessions.new_sign_in_id()


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def socket_client(app, client):
    """A Socket.IO test client sharing the HTTP client's session cookie."""
    clients = []

    def connect(namespace="/chat", http_client=None):
        sc = socketio.test_client(app, namespace=namespace, flask_test_client=http_client or client)
        clients.append(sc)
        return sc

    yield connect
    for sc in clients:
        if sc.is_connected():
            sc.disconnect()


def _postgres_base_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if IN_CI:
            pytest.fail("TEST_DATABASE_URL must be set in CI: the PostgreSQL tests must run")
        pytest.skip("TEST_DATABASE_URL is not set; PostgreSQL tests skipped outside CI")
    return url


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    base = make_url(_postgres_base_url())
    name = f"circles_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class QueryCounter:
    """Counts SQL statements sent while active."""

    def __init__(self, engine):
        self.engine = engine
        self.statements: list[str] = []

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            self.statements.append(statement)

    def __enter__(self):
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._record)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """`with count_queries() as q: ...; q.count` — statements sent to the database."""
    return lambda: QueryCounter(db.engine)


@pytest.fixture(scope="session")
def chromium_browser():
    """One headless Chromium for the whole run, shared by every browser test:
    Playwright's sync API runs one instance per thread, so a second one started
    while another test module's was still open failed ("Sync API inside the
    asyncio loop")."""
    from tests.chat.live_servers import chromium

    with chromium() as browser:
        yield browser
