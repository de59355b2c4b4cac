"""Two real `python app.py` processes sharing PostgreSQL and Redis behave as one chat.

Each process is the production server (gevent, WebSockets); they share the
database and use Redis as the Socket.IO message queue, on a channel of their
own so that parallel or leftover runs don't hear each other. Real python-socketio
clients connect to each, signed in over HTTP like a browser (with CSRF).
Needs TEST_DATABASE_URL and TEST_REDIS_URL: skipped without them, failed in CI.
"""
import re
import threading
import time

import pytest

from tests.chat.live_servers import Listener, exchange_messages, sign_in

pytestmark = pytest.mark.postgres


def online_ids(data) -> set[int]:
    return {p["id"] for p in data["online"]}


def test_two_processes_share_rooms_presence_and_removal(app_servers, pg_world):
    started = time.monotonic()
    world = pg_world
    one, two = app_servers
    slug = world["slug"]
    owner = sign_in(one, "rachel@example.org")
    alice_http = sign_in(one, "alice@example.org")
    bob_http = sign_in(two, "bob@example.org")  # one cookie works on both: a shared SECRET_KEY
    alice = Listener(one, alice_http)
    bob = Listener(two, bob_http)
    bob_tab_on_one = Listener(one, bob_http)
    listeners = [alice, bob, bob_tab_on_one]
    try:
        # Presence crosses processes: Bob (on two) sees Alice (on one), and Alice hears Bob come.
        assert alice.call("join", {"circle": slug})["ok"]
        joined = bob.call("join", {"circle": slug})
        assert joined["ok"] and online_ids(joined) == {world["alice"], world["bob"]}
        assert alice.wait_for(lambda n, d: n == "presence" and world["bob"] in online_ids(d))
        assert bob_tab_on_one.call("join", {"circle": slug})["ok"]

        # A message sent through one process reaches the other, once.
        exchanged = exchange_messages(alice, bob, slug, "scale")

        # The owner removes Bob through process one: Bob is cut off on both processes.
        members_page = owner.get(f"{one}/c/{slug}/members", timeout=5).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', members_page).group(1)
        removed = owner.post(f"{one}/c/{slug}/manage/members/{world['bob']}/remove",
                             data={"csrf_token": token}, allow_redirects=False, timeout=5)
        assert removed.status_code == 302
        for listener in (bob, bob_tab_on_one):
            assert listener.wait_for(lambda n, d: n == "removed" and d.get("circle") == slug)
        assert alice.wait_for(lambda n, d: n == "presence" and online_ids(d) == {world["alice"]})

        # Nothing more reaches Bob, on either process; and he can't send.
        after = alice.call("send_message", {"circle": slug, "body": "After Bob left",
                                            "client_id": "scale-3"})
        assert after["ok"]
        assert alice.wait_for(lambda n, d: n == "message_created"
                              and d["id"] == after["message"]["id"])
        time.sleep(0.5)  # time enough for a stray broadcast to arrive, were there one
        for listener in (bob, bob_tab_on_one):
            assert [d["id"] for d in listener.named("message_created")] == list(exchanged)
            assert listener.call("send_message", {"circle": slug, "body": "Let me in",
                                                  "client_id": f"bob-{id(listener)}"})[
                "error"] == "not_found"

        # And the real server refuses another site's page (no cross-site WebSocket hijacking).
        import socketio

        with pytest.raises(socketio.exceptions.ConnectionError):
            Listener(one, alice_http, origin="https://evil.example")
    finally:
        # In parallel: a websocket-client close waits up to 3 s for the close handshake.
        closing = [threading.Thread(target=listener.close) for listener in listeners]
        for thread in closing:
            thread.start()
        for thread in closing:
            thread.join(10)
    assert time.monotonic() - started < 20
