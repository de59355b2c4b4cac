"""Chat fixtures: a circle with people in it, and Socket.IO clients signed in as them."""
import uuid

import pytest

from community.accounts.models import User
from community.chat import actions as chat
from community.extensions import db, socketio
from tests.chat.live_servers import app_servers, pg_world, redis_url  # noqa: F401  (fixtures)
from tests.conftest import AuthActions
from tests.factories import add_member, make_circle, make_user


@pytest.fixture
def people(app):
    """A circle with an owner, a moderator, two members, and an outsider."""
    owner = make_user("Rachel Stone")
    circle = make_circle(owner, name="Berkshire Leaders")
    return {
        "circle": circle,
        "owner": owner,
        "moderator": add_member(circle, make_user("Amara Okafor"), role="moderator"),
        "member": add_member(circle, make_user("Gareth Lloyd")),
        "other": add_member(circle, make_user("Priya Raman")),
        "outsider": make_user("Nina Outsider"),
    }


@pytest.fixture
def connect(app):
    """connect(user) -> a /chat test client signed in as user (own cookie jar).

    Presence is broadcast at once (not coalesced), so tests see it synchronously.
    """
    app.config["CHAT_PRESENCE_DELAY"] = 0
    clients = []

    def connect(user: User | None, headers: dict | None = None):
        http = app.test_client()
        if user is not None:
            assert AuthActions(http).login(user).status_code == 302
        sc = socketio.test_client(app, namespace="/chat", flask_test_client=http, headers=headers)
        clients.append(sc)
        return sc

    yield connect
    for sc in clients:
        if sc.is_connected("/chat"):
            sc.disconnect("/chat")


def call(sc, event: str, *args):
    """Emit with an ack and return the ack."""
    return sc.emit(event, *args, namespace="/chat", callback=True)


def received(sc, name: str | None = None) -> list:
    """Events received since last asked (optionally only those named), as (name, data)."""
    events = [(e["name"], e["args"][0] if e["args"] else None) for e in sc.get_received("/chat")]
    return [e for e in events if name is None or e[0] == name]


def post(user, circle, body: str = "Hello circle", client_id: str | None = None) -> dict:
    """Send a message through the action (as the socket handler does)."""
    payload, _ = chat.send_message(user, circle.slug, body, client_id or uuid.uuid4().hex)
    return payload


@pytest.fixture
def no_rate_limit(app):
    app.config["CHAT_RATE_LIMIT"] = 100_000


def refresh(obj):
    db.session.refresh(obj)
    return obj
