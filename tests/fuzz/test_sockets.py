"""Every Socket.IO event, with hostile and malformed payloads (see strategies.py).

For each example: nothing escapes a handler (the test client would raise);
every /chat event is answered with an ack `{ok, ...}`, a refusal with a known
error code (never `server_error`, which means a bug) and a message a person
can read, also sent as an `error` event; a refusal writes nothing; whatever an
accepted event wrote still hangs together; and the socket stays connected.
"""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from community.chat import events
from community.chat.live import Throttle
from community.extensions import socketio
from tests.fingerprint import inconsistencies
from tests.fuzz.strategies import SOCKET_EVENTS, json_value, socket_payload

# The codes events.py documents; server_error is left out on purpose.
ERROR_CODES = {"unauthorised", "invalid", "too_long", "empty", "not_found", "forbidden",
               "rate_limited", "pledge_required", "second_factor_required", "duplicate", "gone",
               "cant_send", "no_consent", "stale"}
# Names a client may send that have no handler of their own, or belong to the protocol.
STRAY_EVENTS = ["connect", "disconnect", "message", "error", "presence", "history", "*", ""]


@pytest.fixture(scope="module")
def sockets(world):
    """A /chat socket for the owner and for a member, and a /notifications one."""
    connected = {}
    for who in ("owner", "member"):
        sc = socketio.test_client(world.app, namespace="/chat",
                                  flask_test_client=world.client(who))
        assert sc.is_connected("/chat")
        answer = sc.emit("join", {"circle": world.pools["slug"][0]}, namespace="/chat",
                         callback=True)
        assert answer["ok"], answer
        connected[who] = sc
    # Which socket is in which circle, as the server keeps it (to cut people off).
    world.rooms = sorted(world.app.extensions["chat"].registry.entries())
    bell = socketio.test_client(world.app, namespace="/notifications",
                                flask_test_client=world.client("member"))
    assert bell.is_connected("/notifications")
    connected["bell"] = bell
    yield connected
    for sc in connected.values():
        if sc.is_connected("/chat"):
            sc.disconnect("/chat")
        if sc.is_connected("/notifications"):
            sc.disconnect("/notifications")


def test_every_chat_event_has_a_fuzz_strategy():
    handled = {name for name, _ in events.HANDLERS} - {"connect", "disconnect"}
    missing = sorted(handled - set(SOCKET_EVENTS))
    assert missing == [], f"/chat events with no fuzz strategy (add to SOCKET_EVENTS): {missing}"


@pytest.mark.parametrize("event", sorted(SOCKET_EVENTS) + STRAY_EVENTS)
@settings(max_examples=settings().max_examples * 2)  # cheap next to a page: twice as many
@given(data=st.data())
def test_hostile_chat_event(world, sockets, event, data):
    who = data.draw(st.sampled_from(["owner", "member"]), label="who")
    args = data.draw(socket_payload(event, world), label="args")
    sc = sockets[who]
    sc.get_received("/chat")
    try:
        ack = sc.emit(event, *args, namespace="/chat", callback=True)
        assert sc.is_connected("/chat"), "the socket was dropped"
        assert sorted(world.app.extensions["chat"].registry.entries()) == world.rooms, \
            "the server lost track of which socket is in which circle"
        errors = [e["args"][0] for e in sc.get_received("/chat") if e["name"] == "error"]
        if event not in SOCKET_EVENTS:
            assert errors == []
            assert world.changed_tables() == []
            return
        assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
        if not ack["ok"]:
            assert ack["error"] in ERROR_CODES, ack
            assert isinstance(ack["message"], str) and ack["message"].strip(), ack
            assert errors == [{**ack, "event": event}]
        changed = world.changed_tables()
        if not ack["ok"]:
            assert changed == [], f"a refused {event} wrote to {changed}"
        elif changed:
            with world.app.app_context():
                assert inconsistencies() == []
    finally:
        world.app.extensions["chat"].throttle = Throttle()  # rate limits would hide the rest
        world.reset()


@given(event=st.one_of(st.sampled_from(sorted(SOCKET_EVENTS) + STRAY_EVENTS), st.text(max_size=20)),
       args=st.lists(json_value, max_size=3))
def test_hostile_bell_event(world, sockets, event, args):
    """/notifications takes no events from clients: anything sent is ignored."""
    bell = sockets["bell"]
    try:
        ack = bell.emit(event, *args, namespace="/notifications", callback=True)
        assert ack is None or ack == []
        assert bell.is_connected("/notifications")
        assert world.changed_tables() == []
    finally:
        world.reset()


@pytest.mark.parametrize("namespace", ["/chat", "/notifications"])
@given(auth=st.one_of(st.none(), st.dictionaries(st.text(max_size=8), json_value, max_size=4)),
       who=st.sampled_from(["owner", "anonymous"]))
def test_hostile_connect(world, namespace, auth, who):
    """Whatever a client sends as its connection's auth (an object, in the protocol),
    only a session signs it in."""
    sc = socketio.test_client(world.app, namespace=namespace, auth=auth,
                              flask_test_client=world.client(who))
    try:
        assert sc.is_connected(namespace) is (who == "owner")
    finally:
        if sc.is_connected(namespace):
            sc.disconnect(namespace)
        world.reset()
