"""Direct messages across two real `python app.py` processes sharing PostgreSQL and
Redis: a message reaches the other process's sockets once, and a block, or a
removal from the last circle two people share, takes the person's sockets out of
the conversation on both processes at once.
Needs TEST_DATABASE_URL and TEST_REDIS_URL: skipped without them, failed in CI.
"""
import re
import threading
import time

import pytest

from tests.chat.live_servers import Listener, sign_in

pytestmark = pytest.mark.postgres


def post_form(http, base: str, page: str, action: str, data: dict):
    token = re.search(r'name="csrf_token" value="([^"]+)"', http.get(f"{base}{page}", timeout=5).text)
    return http.post(f"{base}{action}", data={"csrf_token": token.group(1), **data},
                     allow_redirects=False, timeout=5)


def close_all(listeners) -> None:
    """Close the sockets at once, not one after another's timeout."""
    closing = [threading.Thread(target=listener.close) for listener in listeners]
    for thread in closing:
        thread.start()
    for thread in closing:
        thread.join()


def test_two_processes_carry_a_conversation_and_a_block_cuts_off_everywhere(app_servers, pg_world):
    world = pg_world
    one, two = app_servers
    alice_http, bob_http = sign_in(one, "alice@example.org"), sign_in(two, "bob@example.org")
    started = post_form(alice_http, one, "/messages/new", "/messages/new",
                        {"people": str(world["bob"])})
    assert started.status_code == 302
    conversation = int(re.search(r"/messages/(\d+)", started.headers["Location"]).group(1))
    alice, bob, bob_tab_on_one = Listener(one, alice_http), Listener(two, bob_http), Listener(one, bob_http)
    listeners = [alice, bob, bob_tab_on_one]
    try:
        for listener in listeners:
            answer = listener.call("join", {"conversation": conversation})
            assert answer["ok"] and answer["live"], answer
        sent = alice.call("send_message", {"conversation": conversation, "body": "Lunch on Friday?",
                                           "client_id": "dm-scale-1"})
        assert sent["ok"]
        for listener in (bob, bob_tab_on_one):
            assert listener.wait_for(lambda n, d: n == "message_created"
                                     and d["id"] == sent["message"]["id"])
        reply = bob.call("send_message", {"conversation": conversation, "body": "Yes please",
                                          "client_id": "dm-scale-2"})
        assert reply["ok"]
        assert alice.wait_for(lambda n, d: n == "message_created" and d["id"] == reply["message"]["id"])

        # Alice blocks Bob through process one: Bob's sockets leave on both processes.
        blocked = post_form(alice_http, one, f"/messages/{conversation}",
                            f"/people/{world['bob']}/block", {"next": f"/messages/{conversation}"})
        assert blocked.status_code == 302
        for listener in (bob, bob_tab_on_one):
            assert listener.wait_for(lambda n, d: n == "removed" and d == {"conversation": conversation})
        assert alice.named("removed") == []

        # Nothing more reaches Bob: Alice takes her message back, and only she hears it.
        assert alice.call("delete_message", {"conversation": conversation,
                                             "id": sent["message"]["id"]})["ok"]
        assert alice.wait_for(lambda n, d: n == "message_deleted")
        time.sleep(0.5)  # time enough for a stray broadcast to arrive, were there one
        for listener in (bob, bob_tab_on_one):
            assert listener.named("message_deleted") == []
            again = listener.call("join", {"conversation": conversation})
            assert again["live"] is False and again["refusal"] == "You can't message this person."
        assert bob.call("send_message", {"conversation": conversation, "body": "Why?",
                                         "client_id": "dm-scale-3"})["error"] == "cant_send"
    finally:
        close_all(listeners)


def test_a_removal_from_the_last_shared_circle_cuts_a_conversation_off_everywhere(
        app_servers, pg_world):
    """The owner removes Bob through process one; Bob's sockets on both
    processes leave his conversation with Alice at once, and rejoining says why."""
    world = pg_world
    one, two = app_servers
    alice_http, bob_http = sign_in(one, "alice@example.org"), sign_in(two, "bob@example.org")
    owner_http = sign_in(one, "rachel@example.org")
    started = post_form(alice_http, one, "/messages/new", "/messages/new",
                        {"people": str(world["bob"])})
    conversation = int(re.search(r"/messages/(\d+)", started.headers["Location"]).group(1))
    alice, bob, bob_tab_on_one = Listener(one, alice_http), Listener(two, bob_http), Listener(one, bob_http)
    listeners = [alice, bob, bob_tab_on_one]
    try:
        for listener in listeners:
            assert listener.call("join", {"conversation": conversation})["live"]
        removed = post_form(owner_http, one, f"/c/{world['slug']}/members",
                            f"/c/{world['slug']}/manage/members/{world['bob']}/remove", {})
        assert removed.status_code == 302
        for listener in (bob, bob_tab_on_one):
            assert listener.wait_for(lambda n, d: n == "removed" and d == {"conversation": conversation})
        sent = alice.call("send_message", {"conversation": conversation, "body": "Still there?",
                                           "client_id": "dm-scale-removed"})
        assert sent["ok"] is False and sent["error"] == "cant_send"
        time.sleep(0.5)  # time enough for a stray broadcast to arrive, were there one
        for listener in (bob, bob_tab_on_one):
            assert listener.named("message_created") == []
            again = listener.call("join", {"conversation": conversation})
            assert again["live"] is False and "no longer shares a circle" in again["refusal"]
    finally:
        close_all(listeners)
