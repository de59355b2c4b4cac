"""Sign-in, sign-up and /healthz while Redis is down (killed) or hung (SIGSTOP).

Each test runs its own redis-server (tests/redis_server.py) as the rate-limit
store. While it is away the limits count in this process, with a warning in the
log, and requests are answered as usual, each waiting on Redis at most
REDIS_TIMEOUT (0.5 s), and then only once; when it is back they count in Redis
again. /healthz says which dependency is down and answers 503 only for the
database.
"""
import logging
import time

import flask_limiter._extension
import pytest

from community.extensions import limiter
from tests.factories import PASSWORD, make_user

LIMIT = 10  # sign-in attempts a minute, in these tests
SLOW = 1.5  # seconds: more than any answer may take while Redis is away (REDIS_TIMEOUT
#             is 0.5 s; a loaded CI machine took 1.04 s; a hang would be unbounded)


class LimiterClock:
    """time, as Flask-Limiter's extension reads it, `ahead` seconds on.

    While its store is away Flask-Limiter asks it again after 1, 2, 4 ... 32 s;
    moving its clock on lets a test see the return without waiting that long.
    """

    # For the whole test run: the limiter (one for every app) keeps the moment it
    # last asked, so its time must never go back from one test to the next.
    ahead = 0.0

    def advance(self, seconds: float) -> None:
        LimiterClock.ahead += seconds

    def time(self) -> float:
        return time.time() + LimiterClock.ahead

    def __getattr__(self, name):
        return getattr(time, name)


@pytest.fixture
def limited(make_app, own_redis, monkeypatch, caplog):
    """(app, clock): sign-in limited to LIMIT a minute, counted in our own Redis."""
    caplog.set_level(logging.INFO)
    clock = LimiterClock()
    monkeypatch.setattr(flask_limiter._extension, "time", clock)
    # The limiter is one object for every app this test process builds: start
    # (and leave) it with its store taken for alive.
    monkeypatch.setattr(limiter, "_storage_dead", False)
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=own_redis.url,
                   LOGIN_RATE_LIMIT=f"{LIMIT} per minute")
    with app.app_context():
        yield app, clock


def attempts(client, count: int) -> list[tuple[int, float]]:
    """`count` failed sign-ins: (status, seconds) of each."""
    answers = []
    for i in range(count):
        started = time.monotonic()
        status = client.post("/auth/login", data={"email": f"x{i}@example.org",
                                                  "password": "not the password"}).status_code
        answers.append((status, time.monotonic() - started))
    return answers


def counted_in_redis(own_redis) -> int:
    """Sign-in attempts Redis has counted (its one rate-limit key's value)."""
    client = own_redis.client()
    try:
        keys = [key for key in client.keys("LIMITS*") if b"login" in key]
        return sum(int(client.get(key)) for key in keys)
    finally:
        client.close()


def test_sign_in_with_redis_down_counts_in_process_and_back_in_redis(limited, own_redis, caplog):
    app, clock = limited
    client = app.test_client()
    assert attempts(client, 1)[0][0] == 400  # a wrong password: the form says so
    assert counted_in_redis(own_redis) == 1

    own_redis.kill()
    answers = attempts(client, LIMIT + 1)
    # Answered as usual, the limit still applies (counted afresh in this process),
    # and none waited on the dead Redis.
    assert [status for status, _ in answers] == [400] * LIMIT + [429]
    print(f"sign-in, Redis down: slowest {max(s for _, s in answers):.3f} s of {len(answers)}")
    assert max(seconds for _, seconds in answers) < SLOW, answers
    assert "falling back to in-memory storage" in caplog.text
    signed_in = client.post("/auth/login", data={"email": make_user().email, "password": PASSWORD})
    assert signed_in.status_code == 429  # the limit holds for a right password too

    own_redis.start()  # back, and empty
    clock.advance(64)  # past Flask-Limiter's longest wait before asking again
    assert attempts(client, 1)[0][0] == 400
    assert "Rate limit storage recovered" in caplog.text
    assert counted_in_redis(own_redis) == 1


def test_sign_in_with_redis_hung_waits_once_then_counts_in_process(limited, own_redis, caplog):
    app, clock = limited
    client = app.test_client()
    user = make_user()
    assert attempts(client, 1)[0][0] == 400
    own_redis.pause()
    try:
        answers = attempts(client, LIMIT + 1)
        assert [status for status, _ in answers] == [400] * LIMIT + [429]
        print(f"sign-in, Redis hung: slowest {max(s for _, s in answers):.3f} s, all "
              f"{len(answers)} {sum(s for _, s in answers):.3f} s")
        # The first waited for Redis's REDIS_TIMEOUT; after it, Redis is asked again
        # only now and then (Flask-Limiter's 1, 2, 4 ... s): not on every request.
        assert max(seconds for _, seconds in answers) < SLOW, answers
        assert sum(seconds for _, seconds in answers) < 2 * SLOW, answers
        assert "falling back to in-memory storage" in caplog.text
    finally:
        own_redis.resume()
    clock.advance(64)
    # (What Redis counts meanwhile: the attempt that timed out, if its command
    # reached Redis before the pause, is counted when it resumes.)
    before = counted_in_redis(own_redis)
    assert attempts(client, 1)[0][0] == 400
    assert "Rate limit storage recovered" in caplog.text
    assert counted_in_redis(own_redis) == before + 1
    fresh = app.test_client()
    assert fresh.post("/auth/login", data={"email": user.email, "password": PASSWORD}).status_code == 302


def test_sign_up_with_redis_down(limited, own_redis):
    app, _ = limited
    own_redis.kill()
    client = app.test_client()
    started = time.monotonic()
    response = client.post("/auth/register", data={
        "email": "new@example.org", "password": "a long password", "display_name": "New Person",
        "organisation": "Kennet Valley GP Practice", "job_title": "Practice Manager",
        "sector": "public", "location": "Newbury", "timezone": "Europe/London"})
    assert response.status_code == 302 and time.monotonic() - started < SLOW
    assert client.get("/").status_code == 200


# --- /healthz ----------------------------------------------------------------------------

def healthz(app) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = app.test_client().get("/healthz")
    return response.status_code, response.json, time.monotonic() - started


def test_healthz_reports_redis_up_down_hung_and_back(make_app, own_redis):
    app = make_app(SOCKETIO_MESSAGE_QUEUE=None, RATELIMIT_STORAGE_URI=own_redis.url)
    with app.app_context():
        assert healthz(app)[:2] == (200, {"status": "ok", "database": "ok", "redis": "ok"})
        own_redis.kill()
        down = healthz(app)
        assert down[:2] == (200, {"status": "degraded", "database": "ok", "redis": "down"})
        assert down[2] < SLOW
        own_redis.start()
        assert healthz(app)[:2] == (200, {"status": "ok", "database": "ok", "redis": "ok"})
        own_redis.pause()
        try:
            hung = healthz(app)
            print(f"/healthz, Redis hung: {hung[2]:.3f} s; down: {down[2]:.3f} s")
            assert hung[:2] == (200, {"status": "degraded", "database": "ok", "redis": "down"})
            assert hung[2] < SLOW, hung
        finally:
            own_redis.resume()
        assert healthz(app)[:2] == (200, {"status": "ok", "database": "ok", "redis": "ok"})


def test_healthz_is_503_only_for_the_database(tmp_path, own_redis):
    from community import create_app
    from tests.conftest import app_config

    own_redis.kill()
    app = create_app(app_config(f"sqlite:///{tmp_path}/missing-dir/x.sqlite3",
                                RATELIMIT_STORAGE_URI=own_redis.url))
    status, body, _ = healthz(app)
    assert (status, body) == (503, {"status": "error", "database": "down", "redis": "down"})
