"""Flask-WTF's and Flask-Limiter's per-request hooks, run only where they can
change an answer (community/fast/request_hooks.py)."""
import pytest
from flask_wtf.csrf import CSRFProtect

from community.fast import request_hooks
from tests.conftest import csrf_token_from


@pytest.fixture
def limited_app(make_app):
    return make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute", WTF_CSRF_ENABLED=True)


def _records_limiter_use(app) -> list[bool]:
    seen = []

    # Registered last, so it runs before Flask-Limiter's own teardown.
    @app.teardown_request
    def note(exc=None):
        seen.append(request_hooks.limiter_record_made())
    return seen


def test_a_page_load_makes_no_limiter_record(limited_app):
    seen = _records_limiter_use(limited_app)
    client = limited_app.test_client()
    assert client.get("/healthz").status_code == 200  # no limit on it
    assert client.get("/").status_code == 302  # to sign in
    assert seen == [False, False]


def test_a_limited_post_still_gets_its_headers_and_its_limit(limited_app):
    seen = _records_limiter_use(limited_app)
    client = limited_app.test_client()
    answers = []
    for number in range(4):
        token = csrf_token_from(client, "/auth/login")
        answers.append(client.post("/auth/login", data={"csrf_token": token, "email": f"x{number}@e.org",
                                                        "password": "nope nope nope"}))
    assert [answer.status_code for answer in answers] == [400, 400, 400, 429]
    # The after-request hook ran for the limited posts: it is what adds these.
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    assert answers[1].headers["X-RateLimit-Remaining"] == "1"
    assert seen == [True] * 8  # the form's GETs too: its limit's decorator checks the method


def test_csrf_exemptions_are_looked_up_only_for_methods_it_checks(limited_app, monkeypatch):
    looked_up = []
    exempt = CSRFProtect._is_exempt
    monkeypatch.setattr(CSRFProtect, "_is_exempt", lambda self: looked_up.append(1) or exempt(self))
    client = limited_app.test_client()
    assert client.get("/auth/login").status_code == 200
    assert client.head("/auth/login").status_code == 200
    assert looked_up == []
    refused = client.post("/auth/login", data={"email": "member@example.org", "password": "x"})
    assert refused.status_code == 400 and looked_up == [1]


def test_a_changed_extension_stops_the_start_rather_than_being_skipped():
    with pytest.raises(RuntimeError, match="Flask-WTF or Flask-Limiter changed"):
        request_hooks._wrap([print], lambda hook: False, lambda hook: hook, "a missing")


def test_flask_asks_once_whether_a_hook_or_view_is_async(app, client, monkeypatch):
    """Each plain function's answer is remembered; a coroutine function is
    still handed to Flask every time (it wraps it, or says what to install)."""
    import flask.app

    asked = []
    real = flask.app.iscoroutinefunction
    monkeypatch.setattr(flask.app, "iscoroutinefunction", lambda func: asked.append(func) or real(func))
    client.get("/auth/login")
    first = len(asked)
    for _ in range(3):
        assert client.get("/auth/login").status_code == 200
    assert first > 0 and len(asked) == first

    async def coroutine():
        return "ran"

    for _ in range(2):
        try:
            app.ensure_sync(coroutine)
        except RuntimeError:  # Flask without its async extra
            pass
    assert asked[first:] == [coroutine, coroutine]
