"""The app shell: settings, headers, error pages, the sign-in gate, health, CLI."""
import html
import json

import pytest
from flask import abort
from sqlalchemy import text

from community import create_app, security
from community.accounts.models import User
from community.config import load_secret_key
from community.extensions import db
from tests.conftest import app_config, csrf_token_from
from tests.factories import add_member, make_circle, make_thread, make_user


def test_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_secret_key(str(tmp_path))
    assert len(first) >= 64
    assert load_secret_key(str(tmp_path)) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # readable by owner only
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert load_secret_key(str(tmp_path)) == "from-the-environment"


def test_secret_key_differs_between_instances(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    assert load_secret_key(str(tmp_path / "a")) != load_secret_key(str(tmp_path / "b"))


def test_no_connection_is_pinged_and_postgresql_ones_are_looked_at(tmp_path):
    """A ping was a round trip per request; a PostgreSQL connection the server
    closed is found by a look at its socket instead (tests/test_postgres_round_trips.py)."""
    from community import postgres
    from community.config import DEFAULTS

    sqlite = create_app(app_config(f"sqlite:///{tmp_path}/x.sqlite3"))
    postgresql = create_app(app_config("postgresql+psycopg://u@127.0.0.1/x"))
    with sqlite.app_context():
        assert db.engine.pool._pre_ping is False
        assert postgres.alive not in list(db.engine.pool.dispatch.checkout)
    with postgresql.app_context():
        assert db.engine.pool._pre_ping is False
        assert postgres.alive in list(db.engine.pool.dispatch.checkout)
    assert DEFAULTS["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is False


def test_environment_configuration(tmp_path, monkeypatch):
    from community.config import from_environment

    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/x")
    monkeypatch.setenv("HTTPS", "true")
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "2048")
    config = from_environment(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@127.0.0.1/x"
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["MAX_CONTENT_LENGTH"] == 2048
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.delenv("HTTPS")
    config = from_environment(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/community.sqlite3"
    assert config["SESSION_COOKIE_SECURE"] is False


@pytest.mark.parametrize("env, site_url", [
    ({}, "http://127.0.0.1:5000"),
    ({"PORT": "5077"}, "http://127.0.0.1:5077"),
    ({"HOST": "0.0.0.0", "PORT": "8080"}, "http://127.0.0.1:8080"),
    ({"HOST": "10.1.2.3", "PORT": "8080", "HTTPS": "true"}, "https://10.1.2.3:8080"),
    ({"PORT": "5077", "SITE_URL": "https://circles.example.org"}, "https://circles.example.org"),
])
def test_site_url_follows_host_and_port_unless_set(tmp_path, monkeypatch, env, site_url):
    from community.config import from_environment

    for name in ("HOST", "PORT", "HTTPS", "SITE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert from_environment(str(tmp_path))["SITE_URL"] == site_url


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):
    assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "not configured"}


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path):
    app = create_app(app_config(f"sqlite:///{tmp_path}/missing-dir/x.sqlite3"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "error", "database": "down", "redis": "not configured"}


@pytest.mark.parametrize("path", ["/auth/login", "/healthz", "/no-such-page"])
def test_security_headers_on_every_response(client, path):
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers.getlist("X-Frame-Options") == ["DENY"]
    assert headers["Permissions-Policy"] == "camera=(), microphone=(), geolocation=()"
    assert "Strict-Transport-Security" not in headers  # only when the cookie is for HTTPS


def test_a_views_own_security_header_is_replaced_or_kept_as_each_says(make_app):
    """X-Frame-Options is always DENY, once; a view's own Referrer-Policy stays."""
    app = make_app(SESSION_COOKIE_SECURE=True)

    @app.route("/own-headers")
    def own_headers():
        return "x", 200, {"X-Frame-Options": "SAMEORIGIN", "Referrer-Policy": "no-referrer"}

    security.PUBLIC_ENDPOINTS.add("own_headers")
    try:
        headers = app.test_client().get("/own-headers").headers
    finally:
        security.PUBLIC_ENDPOINTS.discard("own_headers")
    assert headers.getlist("X-Frame-Options") == ["DENY"]
    assert headers.getlist("Referrer-Policy") == ["no-referrer"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000"


def test_the_headers_every_answer_carries_are_written_as_it_is_sent(app):
    """By the response class (security.SecureResponse), not copied through each
    response's Headers: any answer the app makes has each of them once, a
    view's own X-Frame-Options replaced and its own Referrer-Policy kept."""
    from werkzeug.test import run_wsgi_app

    from community.security import ALWAYS, UNLESS_SET, SecureResponse

    assert app.response_class is SecureResponse
    plain = SecureResponse("x")
    assert "Content-Security-Policy" not in plain.headers  # not in its Headers...
    _, _, sent = run_wsgi_app(plain, {"REQUEST_METHOD": "GET"})
    for name, value in ALWAYS + UNLESS_SET:  # ...but in what is sent
        assert sent.getlist(name) == [value]
    own = SecureResponse("x", headers={"X-Frame-Options": "SAMEORIGIN", "Referrer-Policy": "no-referrer"})
    _, _, sent = run_wsgi_app(own, {"REQUEST_METHOD": "GET"})
    assert sent.getlist("X-Frame-Options") == ["DENY"] and sent.getlist("Referrer-Policy") == ["no-referrer"]


def test_private_pages_are_not_cached(client, auth):
    auth.login(make_user())
    assert client.get("/").headers["Cache-Control"] == "private, no-store"


def test_session_cookie_is_httponly_and_lax(client, auth):
    auth.login(make_user())
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure


def test_session_cookie_is_secure_when_configured_for_https(make_app):
    app = make_app(SESSION_COOKIE_SECURE=True)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        client.post("/auth/login", data={"email": user.email, "password": "correct horse battery"})
        assert client.get_cookie("session").secure


# Every private path — real or not — sends a signed-out visitor to sign in, so
# a stranger can't tell which paths exist.
PRIVATE_PATHS = ["/", "/settings/", "/settings/profile", "/settings/password",
                 "/settings/security/passkeys",
                 "/c/berkshire-2025/", "/c/no-such-circle/threads/new", "/people/1",
                 "/definitely/not/a/page"]


@pytest.mark.parametrize("path", PRIVATE_PATHS)
def test_signed_out_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")


def test_sign_in_returns_to_the_page_asked_for(client):
    user = make_user()
    response = client.get("/settings/profile")
    login_url = response.headers["Location"]
    response = client.post(login_url, data={"email": user.email, "password": "correct horse battery"})
    assert response.headers["Location"] == "/settings/profile"


def error_app(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1000)
    app.add_url_rule("/boom", "boom", lambda: 1 / 0)
    app.add_url_rule("/forbidden", "forbidden", lambda: abort(403))
    app.add_url_rule("/bad", "bad", lambda: abort(400))
    return app


@pytest.mark.parametrize("method,path,status,words", [
    ("get", "/bad", 400, "wasn't right"),
    ("get", "/forbidden", 403, "can't do that"),
    ("get", "/nothing-here", 404, "Page not found"),
    ("get", "/auth/logout", 405, "isn't allowed"),
    ("post", "/auth/login", 413, "too large"),
    ("get", "/boom", 500, "went wrong on our side"),
])
def test_error_pages_use_the_layout(make_app, method, path, status, words):
    app = error_app(make_app)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with app.app_context():
        client = app.test_client()
        user = make_user()
        client.post("/auth/login", data={"email": user.email, "password": "correct horse battery"})
        data = {"big": "x" * 5000} if status == 413 else None
        response = getattr(client, method)(path, data=data)
        body = html.unescape(response.get_data(as_text=True))
        assert response.status_code == status
        assert words in body
        assert 'class="site-header"' in body and "<title>" in body
        assert "Traceback" not in body and "ZeroDivisionError" not in body


@pytest.mark.parametrize("token", [None, "", "garbage", "ImFiYyI.aaaaaa.forged"])
def test_a_missing_or_wrong_csrf_token_is_a_400_that_says_so(make_app, token):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        data = {"email": "a@b.org", "password": "x" * 10}
        if token is not None:
            data["csrf_token"] = token
        response = app.test_client().post("/auth/login", data=data)
        assert response.status_code == 400
        body = html.unescape(response.get_data(as_text=True))
        assert "This form has expired" in body and "reload the page" in body
        assert 'class="site-header"' in body


def test_a_multipart_field_without_a_name_is_ignored_not_a_500(make_app):
    """Werkzeug keeps such a part under the key None, which Flask-WTF's CSRF check
    choked on (None.endswith) when the token came in the header."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        client = app.test_client()
        token = csrf_token_from(client, "/auth/login")
        boundary = "xYzZY"
        body = (f'--{boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\n'
                f'a@b.org\r\n--{boundary}\r\nContent-Disposition: form-data; name="\r\n\r\n'
                f'\r\n--{boundary}--\r\n').encode()
        response = client.post("/auth/login", data=body, headers={"X-CSRFToken": token},
                               content_type=f"multipart/form-data; boundary={boundary}")
        assert response.status_code == 400  # no password: the form's own error
        assert "This field is required" in response.get_data(as_text=True)


@pytest.mark.parametrize("lone", ["\ud800", "\x00"])
@pytest.mark.parametrize("where", ["value", "key", "nested"])
def test_json_with_half_a_surrogate_pair_or_a_nul_is_a_400_not_a_500(client, auth, where, lone):
    """Forms take JSON bodies too (Flask-WTF), and JSON's "\\ud800" escape decodes
    to half a surrogate pair, which has no UTF-8 form: a form shown again with
    it could not be sent, and was a 500 (the fuzz test's meetings.move_date).
    A NUL there passed the form parser's filter (a 500 on PostgreSQL)."""
    auth.login(make_user("Olive Owner"))
    body = {"value": {"display_name": lone}, "key": {lone: "x", "display_name": "Olive"},
            "nested": {"display_name": "Olive", "extra": [{"deep": lone}]}}[where]
    response = client.post("/settings/profile", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert "Something in that request wasn" in response.get_data(as_text=True)
    fine = client.post("/settings/profile", data=json.dumps({"display_name": "Olive \U0001F600"}),
                       content_type="application/json")
    assert fine.status_code in (200, 302)


def test_nul_characters_are_dropped_from_query_and_form_values(client, auth):
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    add_member(circle, make_user("Helen Marsh"))
    auth.login(owner)
    members = client.get(f"/c/{circle.slug}/members?q=Hel%00en")
    assert members.status_code == 200 and "Helen Marsh" in members.get_data(as_text=True)
    assert client.get("/c/a%00b/").status_code == 404  # no slug has one


@pytest.mark.postgres
def test_nul_characters_never_reach_postgresql(postgres_url):
    """PostgreSQL refuses a NUL even as a query parameter: these were all 500s there."""
    app = create_app(app_config(postgres_url))
    with app.app_context():
        db.create_all()
        owner = make_user()
        circle = make_circle(owner)
        client = app.test_client()
        assert client.post("/auth/login", data={"email": "a\x00b@example.org",
                                                "password": "x" * 12}).status_code == 400
        assert client.post("/auth/reset", data={"email": "a\x00@example.org"}).status_code == 200
        client.post("/auth/login", data={"email": owner.email, "password": "correct horse battery"})
        for path, status in [(f"/c/{circle.slug}/members?q=a%00b", 200),
                             (f"/c/{circle.slug}/mentions?q=%00", 200), ("/c/a%00b/", 404),
                             ("/circles/a%00b/request", 404)]:
            assert client.get(path).status_code == status, path
        assert client.post("/c/a%00b/leave").status_code == 404
        db.session.remove()
        db.engine.dispose()


def test_429_page_uses_the_layout(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="1 per minute")
    with app.app_context():
        client = app.test_client()
        client.post("/auth/login", data={"email": "a@b.org", "password": "x" * 10})
        response = client.post("/auth/login", data={"email": "a@b.org", "password": "x" * 10})
        assert response.status_code == 429
        assert 'class="site-header"' in response.get_data(as_text=True)


def test_json_clients_get_json_errors(client, auth):
    auth.login(make_user())
    response = client.get("/nothing-here", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.json["error"] == "Page not found"


def test_pages_have_titles_and_a_skip_link(client, auth):
    assert "<title>Sign in · Alumni Circles</title>" in client.get("/auth/login").get_data(as_text=True)
    auth.login(make_user())
    page = client.get("/").get_data(as_text=True)
    assert "<title>Dashboard · Alumni Circles</title>" in page
    assert 'href="#main"' in page and 'name="viewport"' in page


def test_pages_link_no_outside_hosts(client):
    page = client.get("/auth/register").get_data(as_text=True)
    assert "http://" not in page and "https://" not in page


def test_cli_seed_demo_is_idempotent(app, runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "Demo data loaded" in first.output and "@demo.alumni-circles.test" in first.output
    count = db.session.query(User).count()
    assert count >= 12
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "nothing added" in second.output
    assert db.session.query(User).count() == count


def test_demo_cohort_spans_the_sectors(app, runner):
    runner.invoke(args=["seed-demo"])
    users = db.session.query(User).all()
    assert {u.sector for u in users} == {"public", "private", "non_profit"}
    organisations = " ".join(u.organisation for u in users)
    for kind in ("Foundation Trust", "GP Practice", "HMP", "Radio", "Bank"):
        assert kind in organisations


def test_cli_create_admin(app, runner):
    user = make_user()
    result = runner.invoke(args=["create-admin", user.email])
    assert result.exit_code == 0 and "site admin" in result.output
    db.session.refresh(user)
    assert user.is_site_admin
    missing = runner.invoke(args=["create-admin", "nobody@example.org"])
    assert missing.exit_code != 0 and "No account" in missing.output


def test_ids_beyond_the_database_range_are_404_not_500(client, auth):
    auth.login(make_user())
    assert client.get(f"/people/{2**31}").status_code == 404
    assert client.get(f"/people/{2**63}").status_code == 404


@pytest.mark.postgres
def test_the_main_pages_show_a_circles_life_on_postgresql(postgres_url):
    """Every page's statements are built once with parameters (lists, LIMIT and
    OFFSET among them): the pages a member opens most, on PostgreSQL, with
    content in every panel."""
    import uuid
    from datetime import timedelta

    from community.chat import actions as chat
    from community.meetings.actions import scheduling
    from community.threads import actions as threads
    from community.timeutil import utcnow

    app = create_app(app_config(postgres_url))
    with app.app_context():
        db.create_all()
        owner = make_user("Olive Owner")
        circle = make_circle(owner)
        helen = add_member(circle, make_user("Helen Marsh"))
        thread = make_thread(circle, owner, title="Winter pressures", body="Opening thoughts")
        reply = threads.post_reply(owner, circle.slug, thread.id, "A reply worth a heart")
        threads.toggle_reaction(helen, circle.slug, reply.id, "heart")
        chat.send_message(owner, circle.slug, "Anyone around?", uuid.uuid4().hex)
        start = (utcnow() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
        scheduling.schedule_meeting(owner, circle.slug, title="Prison visit", description="",
                                    start=start.strftime("%Y-%m-%dT%H:%M"), duration=60,
                                    timezone="Europe/London", location="Reading", host_user_id=owner.id)
        client = app.test_client()
        client.post("/auth/login", data={"email": helen.email, "password": "correct horse battery"})
        slug = circle.slug
        expected = {"/": ["Winter pressures", "Prison visit", "Berkshire Leaders"],
                    f"/c/{slug}/": ["Winter pressures", "Prison visit"],
                    f"/c/{slug}/threads": ["Winter pressures"],
                    f"/c/{slug}/t/{thread.id}?page=1": ["A reply worth a heart", "Heart, 1: Helen Marsh"],
                    f"/c/{slug}/meetings/": ["Prison visit"]}
        for path, texts in expected.items():
            response = client.get(path)
            assert response.status_code == 200, path
            page = response.get_data(as_text=True)
            assert all(text in page for text in texts), (path, [t for t in texts if t not in page])
        db.session.remove()
        db.engine.dispose()
