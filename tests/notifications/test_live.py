"""The bell is nudged over Socket.IO when a notification is committed."""
import pytest

from community.accounts import actions as accounts
from community.extensions import socketio
from community.threads import actions as threads
from tests.conftest import AuthActions
from tests.factories import add_member, make_circle, make_thread, make_user


def test_the_bell_hears_new_notifications_while_online(app, client):
    owner = make_user()
    circle = make_circle(owner)
    helen = add_member(circle)
    AuthActions(client).login(helen)
    bell = socketio.test_client(app, namespace="/notifications", flask_test_client=client)
    assert bell.is_connected("/notifications")
    bell.get_received("/notifications")
    thread = make_thread(circle, owner)  # a new thread: Helen is notified
    received = bell.get_received("/notifications")
    assert [m["name"] for m in received] == ["notification"]
    assert received[0]["args"] == [{}]  # a nudge only: no text over the socket
    assert client.get("/notifications/unread").json == {"unread": 1}
    threads.post_reply(owner, circle.slug, thread.id, "not for Helen: she doesn't follow")
    assert bell.get_received("/notifications") == []
    bell.disconnect(namespace="/notifications")


def test_only_the_recipient_is_nudged(app, client):
    owner = make_user()
    circle = make_circle(owner)
    helen = add_member(circle)
    AuthActions(client).login(owner)
    owners_bell = socketio.test_client(app, namespace="/notifications", flask_test_client=client)
    owners_bell.get_received("/notifications")
    make_thread(circle, helen)  # the owner hears; Helen, the author, doesn't
    assert len(owners_bell.get_received("/notifications")) == 1
    owners_bell.disconnect(namespace="/notifications")


def test_signed_out_sockets_are_refused(app):
    anonymous = socketio.test_client(app, namespace="/notifications", flask_test_client=app.test_client())
    assert not anonymous.is_connected("/notifications")


@pytest.mark.parametrize("spoofed", [("connect", {}), ("disconnect",), ("disconnect", 1, 2)])
def test_an_event_named_connect_or_disconnect_changes_nothing(app, client, spoofed):
    """python-socketio hands a client's events of those names to the bell's connect
    and disconnect handlers: the socket was forgotten (and so stayed open once its
    sessions ended), or the handler raised."""
    user = make_user()
    AuthActions(client).login(user)
    bell = socketio.test_client(app, namespace="/notifications", flask_test_client=client)
    bell.emit(*spoofed, namespace="/notifications", callback=True)  # answered, nothing raised
    assert bell.is_connected("/notifications")
    accounts.sign_out_everywhere(user)
    assert not bell.is_connected("/notifications")
