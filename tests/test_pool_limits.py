"""Every pooled database connection in use: a request waits DB_POOL_TIMEOUT
seconds at most, then is refused clearly ("busy, try again in a moment": a 503
page, or chat's `unavailable` error, which the page retries), and all is well
once a connection is free.
(A reconnect storm used to queue every request for 30 s, then answer 500.)"""
import time

import pytest

from community.config import engine_options
from community.extensions import db, socketio
from tests.conftest import AuthActions, app_config
from tests.factories import make_circle, make_user

WAIT = 0.5  # the pool's timeout in these tests
ONE_CONNECTION = {"pool_pre_ping": False, "pool_size": 1, "max_overflow": 0, "pool_timeout": WAIT}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def tight_app(request):
    """An app whose pool holds one connection, on each engine, with Rachel and her circle."""
    options = {"SQLALCHEMY_ENGINE_OPTIONS": ONE_CONNECTION}
    if request.param == "sqlite":
        app = request.getfixturevalue("make_app")(**options)
    else:
        from community import create_app
        app = create_app(app_config(request.getfixturevalue("postgres_url"), **options))
    with app.app_context():
        db.create_all()
        owner = make_user("Rachel Stone", email="rachel@example.org")
        slug = make_circle(owner, name="Berkshire Leaders").slug
        db.session.commit()
        engine = db.engine
        db.session.remove()
    yield app, engine, slug
    engine.dispose()


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_a_page_is_refused_quickly_while_the_pool_is_full(tight_app):
    app, engine, slug = tight_app
    client = app.test_client()
    assert AuthActions(client).login("rachel@example.org").status_code == 302
    held = engine.connect()  # the only connection: as if a storm held them all
    try:
        page, took = timed(lambda: client.get(f"/c/{slug}/"))
        text = page.get_data(as_text=True)
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        assert page.headers["Cache-Control"] == "no-store"
        assert "Busy just now" in text and "try again in a moment" in text
        assert "Internal Server Error" not in text
        assert took < WAIT + 1
        api, _ = timed(lambda: client.get("/notifications/unread",
                                          headers={"Accept": "application/json"}))
        assert api.status_code == 503 and api.get_json()["error"] == "busy"
    finally:
        held.close()
    assert client.get(f"/c/{slug}/").status_code == 200


def test_a_chat_join_answers_not_now_while_the_pool_is_full(tight_app):
    app, engine, slug = tight_app
    http = app.test_client()
    assert AuthActions(http).login("rachel@example.org").status_code == 302
    sc = socketio.test_client(app, namespace="/chat", flask_test_client=http)
    try:
        assert sc.is_connected("/chat")
        held = engine.connect()
        try:
            ack, took = timed(lambda: sc.emit("join", {"circle": slug}, namespace="/chat",
                                              callback=True))
            assert ack["ok"] is False and ack["error"] == "unavailable"
            assert "try again in a moment" in ack["message"].lower()
            assert took < WAIT + 1
        finally:
            held.close()
        assert sc.emit("join", {"circle": slug}, namespace="/chat", callback=True)["ok"]
    finally:
        sc.disconnect("/chat")


def test_a_chat_connection_is_refused_not_left_unanswered_while_the_pool_is_full(tight_app):
    app, engine, _ = tight_app
    http = app.test_client()
    assert AuthActions(http).login("rachel@example.org").status_code == 302
    held = engine.connect()
    try:
        # Raised from the connect handler, the error left a real client with no
        # answer at all; refused, the client is told at once and tries again.
        sc, took = timed(lambda: socketio.test_client(app, namespace="/chat",
                                                      flask_test_client=http))
        assert not sc.is_connected("/chat") and took < WAIT + 1
    finally:
        held.close()
    sc = socketio.test_client(app, namespace="/chat", flask_test_client=http)
    assert sc.is_connected("/chat")
    sc.disconnect("/chat")


def test_pool_settings_come_from_the_environment(monkeypatch):
    assert engine_options() == {"pool_pre_ping": False, "pool_size": 10, "max_overflow": 10,
                                "pool_timeout": 3.0}
    monkeypatch.setenv("DB_POOL_SIZE", "4")
    monkeypatch.setenv("DB_MAX_OVERFLOW", "0")
    monkeypatch.setenv("DB_POOL_TIMEOUT", "1.5")
    assert engine_options() == {"pool_pre_ping": False, "pool_size": 4, "max_overflow": 0,
                                "pool_timeout": 1.5}


def queued_at_the_gate(gate, within: float = 10.0) -> None:
    """Wait until a join is waiting for the gate (a fixed sleep was too short on
    a loaded machine: the join still held its connection when the page asked)."""
    deadline = time.monotonic() + within
    while not gate._cond._waiters:  # CPython's Semaphore keeps its waiters there
        assert time.monotonic() < deadline, "the join never reached the gate"
        time.sleep(0.02)


def test_a_join_storm_queues_in_memory_and_leaves_the_pool_to_pages(tight_app):
    """At most CHAT_JOIN_CONCURRENCY joins read at once; the others wait without
    holding a connection, are let in as places free up, or answer busy after
    CHAT_JOIN_WAIT seconds."""
    import threading

    from community.chat.admission import _gate

    app, engine, slug = tight_app
    app.config.update(CHAT_JOIN_CONCURRENCY=1, CHAT_JOIN_WAIT=0.5)
    http = app.test_client()
    assert AuthActions(http).login("rachel@example.org").status_code == 302
    sc = socketio.test_client(app, namespace="/chat", flask_test_client=http)
    with app.app_context():
        gate = _gate()
    assert gate.acquire(timeout=1)  # the one place: taken, as by a join in progress
    try:
        ack, took = timed(lambda: sc.emit("join", {"circle": slug}, namespace="/chat",
                                          callback=True))
        assert ack["ok"] is False and ack["error"] == "unavailable" and WAIT - 0.1 < took < WAIT + 1
        app.config["CHAT_JOIN_WAIT"] = 5
        acks = []
        waiting = threading.Thread(target=lambda: acks.append(
            sc.emit("join", {"circle": slug}, namespace="/chat", callback=True)))
        waiting.start()
        queued_at_the_gate(gate)
        # The waiting join holds no connection: the pool's only one serves a page.
        assert http.get(f"/c/{slug}/").status_code == 200
        assert not acks
    finally:
        gate.release()
    waiting.join(5)
    assert acks and acks[0]["ok"]
    sc.disconnect("/chat")
