"""static/js/chat.js fills a gap in seq (issue 19, item 1), and keeps trying
while the server says live updates are paused (item 2), in Chromium.

The server runs with the test-only CHAT_TEST_FAULT=drop:<marker> hook, so the
broadcast of a message containing the marker is skipped (as if lost between
processes) while the message is stored. The page hears the next message,
numbered one too far, fetches the one it missed, and shows both in order, once.
"""
import os
import subprocess
import sys
import time

import pytest

from community import create_app
from community.extensions import db
from tests.chat.live_servers import ROOT, Listener, Member, require_chromium, sign_in
from tests.conftest import app_config
from tests.factories import add_member, make_circle, make_user
from tests.test_server import free_port, wait_for

# An init script: the page's Socket.IO uses WebSocket from the start (as with
# several workers), so every packet passes the test's route; and the options
# each io() call was given are kept in window.__ioCalls.
WEBSOCKET_ONLY = """
    window.__ioCalls = [];
    Object.defineProperty(window, "io", {configurable: true,
      get: function () { return this.__io; },
      set: function (real) {
        this.__io = function (ns, options) {
          window.__ioCalls.push([ns, options]);
          return real(ns, Object.assign({}, options, {transports: ["websocket"]}));
        };
      }});
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    require_chromium()  # before the server starts
    home = tmp_path_factory.mktemp("chat-seq")
    url = f"sqlite:///{home}/chat.sqlite3"
    app = create_app(app_config(url))
    with app.app_context():
        db.create_all()
        owner = make_user("Rachel Stone", email="rachel@example.org")
        circle = make_circle(owner, name="Berkshire Leaders")
        add_member(circle, make_user("Helen Marsh", email="helen@example.org"))
        slug = circle.slug
        db.session.remove()
        db.engine.dispose()
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "ACCESS_LOG": "0",
           "DATABASE_URL": url, "SECRET_KEY": "chat-seq-" + "k" * 30, "RATELIMIT_ENABLED": "false",
           "MAIL_WORKER_INTERVAL": "3600", "LOG_LEVEL": "WARNING",
           "CHAT_TEST_FAULT": "drop:UNHEARD"}
    for key in ("SOCKETIO_ASYNC_MODE", "SOCKETIO_MESSAGE_QUEUE"):
        env.pop(key, None)
    log = open(home / "server.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/healthz").close()
        yield base, slug
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def test_the_page_fetches_a_message_whose_broadcast_was_lost(chromium_browser, live):
    from playwright.sync_api import expect

    base, slug = live
    helen = Member(chromium_browser, base, "helen@example.org")
    helen.open_chat(base, slug)
    rachel = Listener(base, sign_in(base, "rachel@example.org"))
    try:
        assert rachel.call("join", {"circle": slug})["ok"]
        first = rachel.call("send_message", {"circle": slug, "body": "First, UNHEARD by anyone",
                                             "client_id": "b1"})
        assert first["ok"] and first["message"]["seq"] == 1
        # The broadcast never came: the page can't know yet.
        helen.page.wait_for_timeout(300)
        assert helen.messages() == []
        second = rachel.call("send_message", {"circle": slug, "body": "Second, heard",
                                              "client_id": "b2"})
        assert second["message"]["seq"] == 2
        # Seq 2 with nothing before it held: the page fetches seq 1, and shows both in order.
        expect(helen.page.locator("#chat-messages .chat-msg")).to_have_count(2, timeout=5000)
        assert helen.messages() == ["First, UNHEARD by anyone", "Second, heard"]
        assert helen.page.locator("#chat-messages .chat-msg").evaluate_all(
            "els => els.map(el => el.dataset.seq)") == ["1", "2"]
        # A third, broadcast as usual, comes once.
        rachel.call("send_message", {"circle": slug, "body": "Third", "client_id": "b3"})
        expect(helen.page.locator("#chat-messages .chat-msg")).to_have_count(3, timeout=5000)
        helen.page.wait_for_timeout(500)
        assert helen.messages() == ["First, UNHEARD by anyone", "Second, heard", "Third"]
        assert helen.problems == []
    finally:
        rachel.close()
        helen.context.close()


def test_while_live_updates_are_paused_the_page_says_so_and_keeps_trying(chromium_browser, live):
    """The server refuses the /chat connection with `unavailable` (its Redis is
    away) twice; the page says so, backs off, tries again and then joins. The
    bell's /notifications connection, refused twice too, tries again as well."""
    from playwright.sync_api import expect

    base, slug = live
    helen = Member(chromium_browser, base, "helen@example.org")
    refusals, bell_connects = [], []

    def handler(ws):
        server = ws.connect_to_server()

        def from_page(message):
            # Socket.IO's CONNECT to a namespace ("40/chat," + auth): refuse the first
            # two as the server does while Redis is away (CONNECT_ERROR, "44").
            for namespace in ("/chat", "/notifications"):
                if isinstance(message, str) and message.startswith(f"40{namespace},"):
                    if namespace == "/notifications":
                        bell_connects.append(message)
                    if sum(m.startswith(f"40{namespace},") for m in refusals) < 2:
                        refusals.append(message)
                        ws.send(f'44{namespace},{{"message":"Live updates are paused; '
                                'retrying.","data":{"error":"unavailable"}}')
                        return
            server.send(message)

        ws.on_message(from_page)

    helen.page.route_web_socket("**/socket.io/**", handler)
    helen.page.add_init_script(WEBSOCKET_ONLY)
    helen.page.goto(f"{base}/c/{slug}/chat")
    expect(helen.page.locator("#chat-status")).to_have_text("Live updates paused, retrying…",
                                                            timeout=5000)
    expect(helen.page.locator("#chat-status.chat__status--ok")).to_be_visible(timeout=15000)
    assert len([m for m in refusals if m.startswith("40/chat,")]) == 2
    deadline = time.monotonic() + 10
    while len(bell_connects) < 3 and time.monotonic() < deadline:
        helen.page.wait_for_timeout(200)
    assert len(bell_connects) == 3  # refused twice, then let through
    # Reconnects back off with jitter (half either way), the bell's as chat's.
    calls = dict(helen.page.evaluate("window.__ioCalls"))
    for namespace in ("/chat", "/notifications"):
        options = calls[namespace]
        assert (options["reconnectionDelay"], options["reconnectionDelayMax"],
                options["randomizationFactor"]) == (1000, 10000, 0.5), namespace
    assert helen.problems == []
    helen.context.close()


def test_on_resync_the_page_fetches_what_it_missed(chromium_browser, live):
    """A lost broadcast and no message after it: the server's `resync` (sent when
    its Redis listener is back) makes the page fetch it."""
    from playwright.sync_api import expect

    base, slug = live
    helen = Member(chromium_browser, base, "helen@example.org")
    sockets = []

    def handler(ws):
        ws.connect_to_server()
        sockets.append(ws)

    helen.page.route_web_socket("**/socket.io/**", handler)
    helen.page.add_init_script(WEBSOCKET_ONLY)
    helen.open_chat(base, slug)
    shown = len(helen.messages())
    rachel = Listener(base, sign_in(base, "rachel@example.org"))
    try:
        sent = rachel.call("send_message", {"circle": slug, "body": "Lost, UNHEARD, last",
                                            "client_id": "r1"})
        assert sent["ok"]
        helen.page.wait_for_timeout(1000)
        assert len(helen.messages()) == shown  # nothing told the page
        for ws in sockets:
            ws.send('42/chat,["resync",{}]')  # as the server sends it
        expect(helen.page.locator("#chat-messages .chat-msg")).to_have_count(shown + 1,
                                                                             timeout=5000)
        assert helen.messages()[-1] == "Lost, UNHEARD, last"
        assert helen.problems == []
    finally:
        rachel.close()
        helen.context.close()
