"""The session cookie, verified once per distinct cookie (community/fast/session_cookie.py)."""
import time

import pytest
from flask import flash, get_flashed_messages, request

from community.fast.session_cookie import KeptCookieSessionInterface
from tests.factories import make_user


def _cookie_for(app, data: dict) -> str:
    return app.session_interface.get_signing_serializer(app).dumps(data)


def _opened(app, cookie: str):
    with app.test_request_context("/", headers={"Cookie": f"session={cookie}"}):
        return app.session_interface.open_session(app, request)


def test_the_app_reads_its_session_through_the_kept_interface(app):
    assert isinstance(app.session_interface, KeptCookieSessionInterface)
    serializer = app.session_interface.get_signing_serializer(app)
    assert app.session_interface.get_signing_serializer(app) is serializer  # built once


def test_what_a_request_changes_in_its_session_does_not_reach_the_next(app):
    cookie = _cookie_for(app, {"_flashes": [("info", "Saved.")], "csrf_token": "abc"})
    first = _opened(app, cookie)
    first["_flashes"].append(("error", "Something else"))
    first["csrf_token"] = "changed"
    again = _opened(app, cookie)
    assert again == {"_flashes": [("info", "Saved.")], "csrf_token": "abc"}


def test_a_flash_shows_once_even_when_the_browser_sends_the_old_cookie_again(app, client, auth):
    @app.route("/_test/flash")
    def flashing():
        flash("Second")
        return "ok"

    @app.route("/_test/show")
    def showing():
        return " | ".join(get_flashed_messages())

    auth.login(make_user())
    with client.session_transaction() as signed_in:
        signed_in["_flashes"] = [("message", "First")]
    cookie = client.get_cookie("session").value
    client.get("/_test/flash")
    assert client.get("/_test/show").get_data(as_text=True) == "First | Second"
    client.set_cookie("session", cookie)  # replayed: still only what it held when signed
    assert client.get("/_test/show").get_data(as_text=True) == "First"


def test_a_remembered_cookie_still_expires(app, monkeypatch):
    cookie = _cookie_for(app, {"_user_id": "1:tok"})
    assert _opened(app, cookie) == {"_user_id": "1:tok"}  # now remembered
    lifetime = app.permanent_session_lifetime.total_seconds()
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + lifetime + 5)
    assert _opened(app, cookie) == {}
    monkeypatch.setattr(time, "time", lambda: now - 3600)  # signed "in the future"
    assert _opened(app, cookie) == {}


def test_a_tampered_or_foreign_cookie_opens_an_empty_session(app):
    cookie = _cookie_for(app, {"_user_id": "1:tok"})
    payload, rest = cookie.split(".", 1)
    assert _opened(app, payload[:-2] + "AA." + rest) == {}
    assert _opened(app, "not-a-cookie") == {}
    old_key, app.secret_key = app.secret_key, "a-new-secret"
    assert _opened(app, cookie) == {}  # the old key no longer signs for anyone
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]
    assert _opened(app, cookie) == {"_user_id": "1:tok"}


def test_a_signed_in_session_survives_many_requests(app, client, auth):
    auth.login(make_user())
    for _ in range(3):
        response = client.get("/")
        assert response.status_code == 200 and "Sign out" in response.get_data(as_text=True)
    with client.session_transaction() as kept:
        assert kept.get("_user_id")


def test_a_page_with_nothing_to_send_reads_no_cookie_setting_and_still_varies(app, client, auth, monkeypatch):
    """An unchanged session ends with `Vary: Cookie` and no Set-Cookie, without
    reading the cookie's settings; a changed one is still sent."""
    @app.route("/_test/changes_session")
    def changes():
        from flask import session

        session["seen"] = True
        return "ok"

    user = make_user()
    auth.login(user.email)
    client.get("/")  # the session's CSRF token made
    read = []
    for name in ("get_cookie_domain", "get_cookie_path", "get_cookie_secure", "get_cookie_samesite"):
        real = getattr(KeptCookieSessionInterface, name)
        monkeypatch.setattr(KeptCookieSessionInterface, name,
                            lambda self, app, real=real, name=name: read.append(name) or real(self, app))
    page = client.get("/")
    assert page.status_code == 200 and "Set-Cookie" not in page.headers
    assert "Cookie" in page.vary and read == []
    changed = client.get("/_test/changes_session")
    assert "session=" in changed.headers["Set-Cookie"] and "Cookie" in changed.vary and read


def test_a_cookie_header_is_read_once_and_each_request_sees_its_own(app, monkeypatch):
    """Cookies as werkzeug reads them, each distinct header parsed once
    (community/http.py); what one request reads can't be changed for another."""
    from werkzeug.sansio import http as sansio_http

    from community import http

    parsed = []
    real = sansio_http.parse_cookie
    monkeypatch.setattr(http, "parse_cookie", lambda *args, **kw: parsed.append(args) or real(*args, **kw))
    http._cookies_of.cache_clear()
    header = 'theme=dark; session=abc; quoted="a b"; caf\u00e9=1'
    for _ in range(3):
        with app.test_request_context("/", headers={"Cookie": header}):
            assert request.cookies.to_dict() == real(header).to_dict()
            with pytest.raises(TypeError):
                request.cookies["theme"] = "light"  # immutable: shared by requests with this header
    with app.test_request_context("/", headers={"Cookie": "theme=light"}):
        assert request.cookies["theme"] == "light"
    with app.test_request_context("/"):
        assert request.cookies.to_dict() == {}
    assert len(parsed) == 3  # the first header once, then the other two
