"""Sessions: renewed at every sign-in; signing out ends that browser's live connections only."""

import pytest

from community.accounts import actions as accounts
from community.accounts import sessions
from community.extensions import socketio
from tests.chat.conftest import call
from tests.conftest import AuthActions, csrf_token_from
from tests.factories import PASSWORD, make_circle, make_user


def session_of(client) -> dict:
    with client.session_transaction() as sess:
        return dict(sess)


def preset(client, **values) -> None:
    with client.session_transaction() as sess:
        sess.update(values)


# --- Renewal at sign-in ------------------------------------------------------------------

def test_nothing_set_before_sign_in_survives_it(client, auth):
    user = make_user()
    preset(client, planted="by someone else", csrf_token="fixed-by-an-attacker")
    assert auth.login(user).status_code == 302
    after = session_of(client)
    assert "planted" not in after
    assert after.get("csrf_token") != "fixed-by-an-attacker"
    assert after["_user_id"] == user.get_id() and after[sessions.KEY]


def test_registration_renews_the_session(client):
    preset(client, planted="before")
    response = client.post("/auth/register", data={
        "email": "new@example.org", "password": "a long password", "display_name": "New Person",
        "sector": "public", "timezone": "Europe/London"})
    assert response.status_code == 302
    after = session_of(client)
    assert "planted" not in after and after[sessions.KEY]
    assert "Your account is ready" in client.get("/").get_data(as_text=True)  # the flash survives


def test_a_reset_link_sign_in_renews_the_session(app, client):
    from community.accounts.actions import _hash_tag, _reset_serializer

    user = make_user()
    token = _reset_serializer().dumps({"u": user.id, "h": _hash_tag(user)})
    preset(client, planted="before")
    response = client.post(f"/auth/reset/{token}", data={"new_password": "a brand new password"})
    assert response.status_code == 302
    after = session_of(client)
    assert "planted" not in after and after[sessions.KEY]


def test_each_sign_in_gets_a_new_id(app, auth, client):
    user = make_user()
    auth.login(user)
    first = session_of(client)[sessions.KEY]
    auth.logout()
    assert sessions.KEY not in session_of(client)
    auth.login(user)
    assert session_of(client)[sessions.KEY] != first


def test_csrf_works_after_the_session_is_renewed(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        token = csrf_token_from(client, "/auth/login")
        assert client.post("/auth/login", data={"email": user.email, "password": PASSWORD,
                                                "csrf_token": token}).status_code == 302
        # The token from before sign-in belonged to the old session: a form made now works.
        assert client.post("/settings/profile", data={"display_name": "X", "csrf_token": token,
                                                      "sector": "public",
                                                      "timezone": "Europe/London"}).status_code == 400
        fresh = csrf_token_from(client, "/settings/profile")
        saved = client.post("/settings/profile", data={"display_name": "Renamed", "csrf_token": fresh,
                                                       "sector": "public", "timezone": "Europe/London"})
        assert saved.status_code == 302


def test_a_session_restored_from_the_remember_cookie_gets_an_id(client, auth):
    user = make_user()
    auth.login(user, remember=True)
    with client.session_transaction() as sess:
        sess.clear()  # the browser was closed: only the long-lived cookie is left
    assert client.get("/").status_code == 200
    assert session_of(client)[sessions.KEY]


# --- Signing out ends that browser's sockets -----------------------------------------------

@pytest.fixture
def browsers(app):
    """Two browsers (own cookie jars) of one member, each with a chat and a bell socket."""
    app.config["CHAT_PRESENCE_DELAY"] = 0
    user = make_user()
    circle = make_circle(user)
    made = []
    for _ in range(2):
        http = app.test_client()
        assert AuthActions(http).login(user).status_code == 302
        chat = socketio.test_client(app, namespace="/chat", flask_test_client=http)
        bell = socketio.test_client(app, namespace="/notifications", flask_test_client=http)
        assert chat.is_connected("/chat") and bell.is_connected("/notifications")
        assert call(chat, "join", {"circle": circle.slug})["ok"]
        made.append({"http": http, "chat": chat, "bell": bell})
    yield user, circle, made
    for browser in made:
        for name, namespace in (("chat", "/chat"), ("bell", "/notifications")):
            if browser[name].is_connected(namespace):
                browser[name].disconnect(namespace=namespace)


def test_signing_out_closes_that_browsers_sockets_and_no_others(browsers):
    user, circle, (one, two) = browsers
    assert one["http"].post("/auth/logout").status_code == 302
    assert not one["chat"].is_connected("/chat")
    assert not one["bell"].is_connected("/notifications")
    assert two["chat"].is_connected("/chat") and two["bell"].is_connected("/notifications")
    # The other browser still chats.
    answer = call(two["chat"], "send_message", {"circle": circle.slug, "body": "still here",
                                                "client_id": "c1"})
    assert answer["ok"], answer
    assert two["http"].get("/").status_code == 200


def test_ending_every_session_closes_every_socket_of_both_kinds(browsers):
    user, _, (one, two) = browsers
    accounts.sign_out_everywhere(user)
    for browser in (one, two):
        assert not browser["chat"].is_connected("/chat")
        assert not browser["bell"].is_connected("/notifications")


def test_the_sign_out_is_published_on_the_control_bus(app, browsers, monkeypatch):
    """With several processes each one hears it (chat/live.py: Redis), and closes its own."""
    user, _, (one, two) = browsers
    published = []
    chat = app.extensions["chat"]
    monkeypatch.setattr(chat, "publish", published.append)
    one["http"].post("/auth/logout")
    assert published == [{"kind": "browser_signed_out", "user_id": user.id,
                          "session_id": published[0]["session_id"]}]
    assert one["chat"].is_connected("/chat")  # nothing closed until the message is handled
    chat.handle(published[0])
    assert not one["chat"].is_connected("/chat") and two["chat"].is_connected("/chat")


def test_the_registries_find_one_browsers_sockets():
    from community.chat.presence import SocketRegistry
    from community.notifications.live import BellSockets

    chat, bell = SocketRegistry(), BellSockets()
    for registry, add in ((chat, chat.connect), (bell, bell.add)):
        add("a1", 10, "browser-a")
        add("a2", 10, "browser-a")
        add("b1", 10, "browser-b")
        add("c1", 11, "browser-a")  # another person's socket, whatever its id
        assert sorted(registry.sids_of(10, "browser-a")) == ["a1", "a2"]
        assert sorted(registry.sids_of(10)) == ["a1", "a2", "b1"]
        assert registry.sids_of(12, "browser-a") == []
    chat.disconnect("a1")
    bell.discard("a1")
    bell.discard("unknown")
    assert chat.sids_of(10, "browser-a") == bell.sids_of(10, "browser-a") == ["a2"]
