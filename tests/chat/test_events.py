"""The /chat Socket.IO namespace, through Flask-SocketIO's test client: every rule of issue 6."""
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from community.accounts import actions as accounts
from community.chat import actions as chat
from community.chat.models import ChatMessage
from community.circles import actions as circles
from community.extensions import db
from community.moderation import actions as moderation
from community.moderation.models import AuditEvent, Report
from community.notifications.models import Notification
from tests.chat.conftest import call, post, received
from tests.factories import PASSWORD, make_circle, make_user

NOT_FOUND = {"ok": False, "error": "not_found",
             "message": "There is no such circle or message, or you are not a member of the circle."}


def join(sc, circle, **extra):
    answer = call(sc, "join", {"circle": circle.slug, **extra})
    assert answer["ok"], answer
    return answer


def message_count() -> int:
    return db.session.scalar(select(func.count(ChatMessage.id)))


# --- Connecting ------------------------------------------------------------------------

def test_a_connection_without_a_signed_in_session_is_refused(connect):
    sc = connect(None)
    assert not sc.is_connected("/chat")


def test_a_signed_in_member_connects(connect, people):
    assert connect(people["member"]).is_connected("/chat")


@pytest.mark.parametrize("origin, allowed", [
    ("https://evil.example", False),
    ("http://localhost.evil.example", False),
    ("null", False),
    ("http://localhost", True),  # the test server's own origin
])
def test_only_our_own_origin_may_connect(connect, people, origin, allowed):
    """No cross-site WebSocket hijacking: another site's page can't use the member's cookie."""
    sc = connect(people["member"], headers={"Origin": origin})
    assert sc.is_connected("/chat") is allowed


def test_configured_extra_origins_may_connect(app, connect, people):
    app.config["CORS_ALLOWED_ORIGINS"] = "https://app.example.org https://m.example.org"
    assert connect(people["member"], headers={"Origin": "https://m.example.org"}).is_connected("/chat")
    assert not connect(people["member"], headers={"Origin": "https://x.example.org"}).is_connected("/chat")


# --- Joining ---------------------------------------------------------------------------

def test_join_answers_the_last_messages_and_who_is_online(connect, people):
    circle = people["circle"]
    first = post(people["other"], circle, "Morning all")
    sc = connect(people["member"])
    answer = join(sc, circle)
    assert [m["id"] for m in answer["messages"]] == [first["id"]]
    assert answer["messages"][0] == first
    assert answer["online"] == [{"id": people["member"].id, "name": "Gareth Lloyd"}]
    assert answer["has_older"] is False and answer["server_time"]


@pytest.mark.parametrize("who", ["outsider", "banned", "removed", "left"])
def test_join_by_a_non_member_is_refused_exactly_as_for_a_missing_circle(connect, people, who):
    circle, owner = people["circle"], people["owner"]
    if who == "outsider":
        user = people["outsider"]
    else:
        user = people["other"]
        if who == "banned":
            moderation.ban_member(owner, circle.slug, user.id)
        elif who == "removed":
            moderation.remove_member(owner, circle.slug, user.id)
        else:
            circles.leave_circle(user, circle.slug)
    sc = connect(user)
    existing = call(sc, "join", {"circle": circle.slug})
    missing = call(sc, "join", {"circle": "no-such-circle"})
    assert existing == missing == NOT_FOUND
    # Not in the room: nothing said in the circle reaches them.
    received(sc)
    post(people["member"], circle, "Only for members")
    assert received(sc, "message_created") == []
    assert call(sc, "load_older", {"circle": circle.slug, "before_id": 10**6}) == NOT_FOUND


def test_the_room_comes_from_the_server_not_the_payload(connect, people):
    """A member of one circle can't get into another's room by naming it."""
    other_circle = make_circle(make_user(), name="Oxford Leaders")
    sc = connect(people["member"])
    for name in (other_circle.slug, f"circle:{other_circle.id}", "circle:1"):
        assert call(sc, "join", {"circle": name}) == NOT_FOUND
    post(db.session.get(type(people["owner"]), other_circle.created_by_id), other_circle, "Secret")
    assert received(sc, "message_created") == []


def test_a_member_who_has_not_accepted_the_pledge_is_asked_to(connect, people):
    circle, owner = people["circle"], people["owner"]
    circles.update_circle(owner, circle.slug, name=circle.name, pledge_required=True,
                          pledge_text="Nothing leaves the circle.")
    sc = connect(people["member"])
    answer = call(sc, "join", {"circle": circle.slug})
    assert answer["ok"] is False and answer["error"] == "pledge_required"
    circles.accept_pledge(people["member"], circle.slug)
    assert join(sc, circle)["ok"]


# --- Sending ---------------------------------------------------------------------------

def test_a_message_is_stored_then_broadcast_and_acked(connect, people):
    circle = people["circle"]
    alice, bob = connect(people["member"]), connect(people["other"])
    join(alice, circle)
    join(bob, circle)
    received(alice), received(bob)
    answer = call(alice, "send_message", {"circle": circle.slug, "body": "**Hello** <script>x()</script>",
                                          "client_id": "c-1"})
    assert answer["ok"] is True and answer["duplicate"] is False
    message = answer["message"]
    stored = db.session.get(ChatMessage, message["id"])
    assert stored.source == "**Hello** <script>x()</script>" and stored.client_id == "c-1"
    assert message["html"] == stored.html
    assert "<strong>Hello</strong>" in message["html"] and "<script>" not in message["html"]
    assert message["author"] == {"id": people["member"].id, "name": "Gareth Lloyd"}
    assert message["circle"] == circle.slug and message["client_id"] == "c-1"
    assert message["created_at"].endswith("+00:00")
    assert received(bob, "message_created") == [("message_created", message)]
    assert received(alice, "message_created") == [("message_created", message)]


def test_a_message_is_stored_in_five_statements_reading_the_sender_once(
        connect, people, count_queries, monkeypatch):
    """The sender (loaded for the event, and kept by the write), the circle's lock,
    the circle with the membership, the resend with the sender's recent count and
    the next number, the insert. No excerpt is made when no one is mentioned."""
    import community.mentions

    slug = people["circle"].slug
    alice = connect(people["member"])
    call(alice, "send_message", {"circle": slug, "body": "First", "client_id": "c-0"})
    monkeypatch.setattr(community.mentions, "plain_excerpt", None)  # would fail if called
    with count_queries() as sending:
        answer = call(alice, "send_message", {"circle": slug, "body": "Second", "client_id": "c-1"})
    assert answer["ok"] and answer["message"]["seq"] == 2
    assert len([s for s in sending.statements if "FROM users" in s]) == 1, sending.statements
    assert sending.count == 5, "\n".join(s[:100].replace("\n", " ") for s in sending.statements)


def test_mentions_of_members_become_links(connect, people):
    circle = people["circle"]
    sc = connect(people["member"])
    handle = people["other"].handle
    answer = call(sc, "send_message", {"circle": circle.slug, "body": f"Thanks @{handle} and @nobody",
                                       "client_id": "m-1"})
    assert f'href="/people/{people["other"].id}"' in answer["message"]["html"]
    assert "@nobody" in answer["message"]["html"]


def test_a_resend_with_the_same_client_id_creates_no_duplicate(connect, people):
    circle = people["circle"]
    sender, watcher = connect(people["member"]), connect(people["other"])
    join(watcher, circle)
    received(watcher)
    payload = {"circle": circle.slug, "body": "Only once, please", "client_id": "resend-42"}
    first = call(sender, "send_message", payload)
    # The connection drops before the ack arrives; the client reconnects and sends again.
    sender.disconnect("/chat")
    sender = connect(people["member"])
    again = call(sender, "send_message", payload)
    assert again["ok"] and again["duplicate"] is True
    assert again["message"] == first["message"]
    assert db.session.scalar(select(func.count(ChatMessage.id)).where(
        ChatMessage.client_id == "resend-42")) == 1
    assert len(received(watcher, "message_created")) == 1


def test_the_same_client_id_from_different_people_is_two_messages(connect, people):
    circle = people["circle"]
    a = call(connect(people["member"]), "send_message",
             {"circle": circle.slug, "body": "one", "client_id": "same"})
    b = call(connect(people["other"]), "send_message",
             {"circle": circle.slug, "body": "two", "client_id": "same"})
    assert a["ok"] and b["ok"] and a["message"]["id"] != b["message"]["id"]


def test_a_message_after_removal_is_refused(connect, people):
    circle = people["circle"]
    sc = connect(people["member"])
    join(sc, circle)
    moderation.remove_member(people["owner"], circle.slug, people["member"].id)
    answer = call(sc, "send_message", {"circle": circle.slug, "body": "Still here?", "client_id": "r-1"})
    assert answer == NOT_FOUND
    assert sc.is_connected("/chat")  # refused, not crashed
    assert message_count() == 0


@pytest.mark.parametrize("how", ["removed", "banned", "left"])
def test_a_removed_members_open_sockets_leave_the_room_at_once(connect, people, how):
    circle, member = people["circle"], people["member"]
    tab1, tab2 = connect(member), connect(member)
    watcher = connect(people["other"])
    for sc in (tab1, tab2, watcher):
        join(sc, circle)
    for sc in (tab1, tab2, watcher):
        received(sc)
    if how == "removed":
        moderation.remove_member(people["owner"], circle.slug, member.id)
    elif how == "banned":
        moderation.ban_member(people["owner"], circle.slug, member.id)
    else:
        circles.leave_circle(member, circle.slug)
    # A removed or banned member is told in so many words; someone who left knows.
    told = {} if how == "left" else {"message": f"You are no longer a member of {circle.name}."}
    for sc in (tab1, tab2):
        assert received(sc, "removed") == [("removed", {"circle": circle.slug, **told})]
    # Everyone else sees them go offline.
    presence = received(watcher, "presence")[-1][1]
    assert member.id not in [p["id"] for p in presence["online"]]
    # They receive nothing more: messages, edits, deletions, typing, presence.
    message = post(people["other"], circle, "After they left")
    chat.edit_message(people["other"], message["id"], "Edited after they left")
    chat.delete_message(people["other"], message["id"])
    call(watcher, "typing", {"circle": circle.slug})
    watcher.disconnect("/chat")
    for sc in (tab1, tab2):
        assert received(sc) == []
        assert call(sc, "typing", {"circle": circle.slug}) == NOT_FOUND
        assert call(sc, "join", {"circle": circle.slug}) == NOT_FOUND


def test_a_rewritten_pledge_takes_open_sockets_out_until_it_is_accepted(connect, people):
    """Chat refuses to join a member with a pledge to accept; one already in the
    room must not go on hearing the circle either."""
    circle, member, owner = people["circle"], people["member"], people["owner"]
    sc, owners = connect(member), connect(owner)
    join(sc, circle)
    join(owners, circle)
    received(sc)
    circles.update_circle(owner, circle.slug, name=circle.name, pledge_required=True,
                          pledge_text="New words, to accept again.")
    assert received(sc, "removed") == [("removed", {"circle": circle.slug})]
    assert received(owners, "removed") == []  # whoever set it has accepted it
    post(owner, circle, "Said after the change")
    assert received(sc) == []
    assert call(sc, "join", {"circle": circle.slug})["error"] == "pledge_required"
    circles.accept_pledge(member, circle.slug)
    assert call(sc, "join", {"circle": circle.slug})["ok"]


@pytest.mark.parametrize("spoofed", [("connect", {}), ("disconnect",), ("disconnect", 1, 2, 3)])
def test_an_event_named_connect_or_disconnect_changes_nothing(connect, people, spoofed):
    """python-socketio runs the connect/disconnect handlers for a client's events of
    those names too; run, they made the server forget the socket joined the circle
    (it stayed in the room), so a later ban left it listening."""
    circle, member = people["circle"], people["member"]
    sc, watcher = connect(member), connect(people["other"])
    join(sc, circle)
    join(watcher, circle)
    sc.emit(*spoofed, namespace="/chat", callback=True)  # answered, nothing raised
    assert sc.is_connected("/chat")
    received(sc)
    moderation.ban_member(people["owner"], circle.slug, member.id)
    assert [(name, data["circle"]) for name, data in received(sc, "removed")] == [("removed", circle.slug)]
    post(people["other"], circle, "After the ban")
    assert received(sc) == []


def test_a_removal_does_not_touch_the_member_in_other_circles(connect, people):
    circle, member = people["circle"], people["member"]
    elsewhere = make_circle(member, name="Reading Book Club")
    sc = connect(member)
    join(sc, circle)
    join(sc, elsewhere)
    moderation.remove_member(people["owner"], circle.slug, member.id)
    received(sc)
    post(member, elsewhere, "Still talking here")
    assert [e[1]["body"] for e in received(sc, "message_created")] == ["Still talking here"]


def test_ending_all_sessions_disconnects_every_socket(connect, people):
    member = people["member"]
    sc = connect(member)
    join(sc, people["circle"])
    accounts.change_password(member, PASSWORD, "a brand new passphrase")
    assert not sc.is_connected("/chat")


def test_a_session_that_no_longer_signs_in_is_answered_unauthorised(connect, people):
    """Checked on every event, not only at connect (here without any signal)."""
    member = people["member"]
    sc = connect(member)
    db.session.execute(update(type(member)).where(type(member).id == member.id)
                       .values(session_token="rotated-elsewhere"))
    db.session.commit()
    answer = call(sc, "send_message", {"circle": people["circle"].slug, "body": "hi", "client_id": "u1"})
    assert answer["error"] == "unauthorised"
    assert not sc.is_connected("/chat")
    assert message_count() == 0


# --- Abuse -------------------------------------------------------------------------------

def test_at_most_ten_messages_in_ten_seconds(app, connect, people):
    circle = people["circle"]
    sc = connect(people["member"])
    for i in range(10):
        assert call(sc, "send_message", {"circle": circle.slug, "body": f"n{i}", "client_id": f"n{i}"})["ok"]
    received(sc)
    answer = call(sc, "send_message", {"circle": circle.slug, "body": "one too many", "client_id": "n10"})
    assert answer["ok"] is False and answer["error"] == "rate_limited"
    assert "too quickly" in answer["message"]
    errors = received(sc, "error")
    assert errors == [("error", {**answer, "event": "send_message"})]
    assert message_count() == 10
    # Other people are not limited by it.
    assert call(connect(people["other"]), "send_message",
                {"circle": circle.slug, "body": "me too", "client_id": "o1"})["ok"]
    # Ten seconds later the sender may go on, on the same connection.
    for stored in db.session.scalars(select(ChatMessage)):
        stored.created_at -= timedelta(seconds=11)
    db.session.commit()
    assert call(sc, "send_message", {"circle": circle.slug, "body": "later", "client_id": "n11"})["ok"]


def test_the_rate_limit_counts_stored_messages_not_resends(connect, people):
    circle = people["circle"]
    sc = connect(people["member"])
    for i in range(10):
        call(sc, "send_message", {"circle": circle.slug, "body": f"n{i}", "client_id": f"n{i}"})
    assert call(sc, "send_message", {"circle": circle.slug, "body": "n3", "client_id": "n3"})["duplicate"]


BIG = "x" * 10_000
MALFORMED = [
    ("join", "not a dict", "invalid"),
    ("join", ["circle"], "invalid"),
    ("join", None, "invalid"),
    ("join", 42, "invalid"),
    ("join", {}, "invalid"),
    ("join", {"circle": 123}, "invalid"),
    ("join", {"circle": "x" * 500}, "invalid"),
    ("join", {"circle": "{slug}", "after_id": "10"}, "invalid"),
    ("join", {"circle": "{slug}", "after_id": -1}, "invalid"),
    ("join", {"circle": "{slug}", "after_id": True}, "invalid"),
    ("join", {"circle": "{slug}", "after_id": 1.5}, "invalid"),
    ("join", {"circle": "{slug}", "after_id": 2**70}, "invalid"),
    ("join", {"circle": "{slug}", "after_id": 1, "changed_since": "yesterday"}, "invalid"),
    ("join", {"circle": "{slug}", "after_id": 1, "changed_since": "2025-01-01T00:00:00"}, "invalid"),
    # Times that can't be moved to UTC, or have the catch-up margin taken off: were server_error.
    ("join", {"circle": "{slug}", "after_id": 1, "changed_since": "0001-01-01T00:00:00+14:00"},
     "invalid"),
    ("join", {"circle": "{slug}", "after_id": 1, "changed_since": "0001-01-01T00:00:00+00:00"},
     "invalid"),
    ("join", {"circle": "{slug}", "after_id": 1, "changed_since": "9999-12-31T23:59:59-14:00"},
     "invalid"),
    ("send_message", "hello", "invalid"),
    ("send_message", {"circle": "{slug}", "client_id": "a"}, "invalid"),
    ("send_message", {"circle": "{slug}", "body": "hi"}, "invalid"),
    ("send_message", {"body": "hi", "client_id": "a"}, "invalid"),
    ("send_message", {"circle": "{slug}", "body": ["hi"], "client_id": "a"}, "invalid"),
    ("send_message", {"circle": "{slug}", "body": {"$ne": 1}, "client_id": "a"}, "invalid"),
    ("send_message", {"circle": "{slug}", "body": "hi", "client_id": 7}, "invalid"),
    ("send_message", {"circle": "{slug}", "body": "hi", "client_id": "has space"}, "invalid"),
    ("send_message", {"circle": "{slug}", "body": "hi", "client_id": "c" * 65}, "invalid"),
    ("send_message", {"circle": "{slug}", "body": BIG, "client_id": "a"}, "too_long"),
    ("send_message", {"circle": "{slug}", "body": "y" * 4001, "client_id": "a"}, "too_long"),
    ("send_message", {"circle": "{slug}", "body": "nul\x00byte", "client_id": "a"}, "invalid"),
    ("send_message", {"circle": "{slug}", "body": "evil\u202etxt.exe", "client_id": "a"}, "invalid"),
    ("send_message", {"circle": "{slug}", "body": "isolate\u2066x", "client_id": "a"}, "invalid"),
    ("send_message", {"circle": "{slug}", "body": "bell\x07", "client_id": "a"}, "invalid"),
    ("send_message", {"circle": "{slug}", "body": "   \n\t ", "client_id": "a"}, "empty"),
    # JSON can carry lone surrogates ("\ud800"), which no database stores: were server_error.
    ("send_message", {"circle": "{slug}", "body": "half \ud800 a pair", "client_id": "a"},
     "invalid"),
    ("join", {"circle": "\udc80"}, "invalid"),
    ("join", {"circle": "a\x00b"}, "invalid"),  # PostgreSQL refuses NUL even in a query
    ("edit_message", {"id": 1, "body": "\udbff"}, "invalid"),
    ("report_message", {"id": 1, "reason": "why \ud800"}, "invalid"),
    ("load_older", {"circle": "{slug}"}, "invalid"),
    ("load_older", {"circle": "{slug}", "before_id": "5"}, "invalid"),
    ("typing", "typing!", "invalid"),
    ("typing", {"circle": None}, "invalid"),
    ("edit_message", {"id": "1", "body": "x"}, "invalid"),
    ("edit_message", {"body": "x"}, "invalid"),
    ("delete_message", {"id": None}, "invalid"),
    ("delete_message", [1], "invalid"),
    ("mark_read", {"circle": "{slug}", "id": "last"}, "invalid"),
    ("report_message", {"id": 1, "reason": BIG}, "invalid"),
    ("report_message", {"id": 1, "reason": 5}, "invalid"),
]


@pytest.mark.parametrize("event, payload, code", MALFORMED)
def test_malformed_payloads_get_an_error_and_the_connection_stays_usable(connect, people, event,
                                                                       payload, code):
    circle = people["circle"]
    sc, bystander = connect(people["member"]), connect(people["other"])
    join(bystander, circle)
    if isinstance(payload, dict):
        payload = {k: (circle.slug if v == "{slug}" else v) for k, v in payload.items()}
    answer = call(sc, event, payload)
    assert answer["ok"] is False and answer["error"] == code, answer
    assert answer["message"]
    assert received(sc, "error") == [("error", {**answer, "event": event})]
    assert message_count() == 0
    # The sender's connection still works, and so does everyone else's.
    assert sc.is_connected("/chat") and bystander.is_connected("/chat")
    ok = call(sc, "send_message", {"circle": circle.slug, "body": "still here", "client_id": "ok-1"})
    assert ok["ok"]
    assert received(bystander, "message_created")[-1][1]["id"] == ok["message"]["id"]


def test_an_event_with_no_payload_at_all_is_answered(connect, people):
    sc = connect(people["member"])
    answer = sc.emit("send_message", namespace="/chat", callback=True)
    assert answer["error"] == "invalid"
    assert sc.is_connected("/chat")


def test_a_bug_in_an_action_answers_server_error_and_harms_nothing(connect, people, monkeypatch):
    circle = people["circle"]
    sc = connect(people["member"])

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(chat, "send_message", broken)
    answer = call(sc, "send_message", {"circle": circle.slug, "body": "hi", "client_id": "b1"})
    assert answer["error"] == "server_error" and "a bug" not in answer["message"]
    monkeypatch.undo()
    assert call(sc, "send_message", {"circle": circle.slug, "body": "hi", "client_id": "b1"})["ok"]


# --- History and catching up -----------------------------------------------------------

def test_catch_up_after_a_reconnect_loses_nothing(connect, people, no_rate_limit):
    circle, member, other = people["circle"], people["member"], people["other"]
    early = [post(other, circle, f"early {i}") for i in range(3)]
    sc = connect(member)
    first = join(sc, circle)
    newest = first["messages"][-1]["id"]
    sc.disconnect("/chat")  # the train goes into a tunnel
    missed = [post(other, circle, f"missed {i}") for i in range(4)]
    chat.edit_message(other, early[0]["id"], "early 0, corrected")
    chat.delete_message(other, early[1]["id"])
    sc = connect(member)
    again = join(sc, circle, after_id=newest, changed_since=first["server_time"])
    assert [m["id"] for m in again["messages"]] == [m["id"] for m in missed]
    changed = {m["id"]: m for m in again["changed"]}
    assert changed[early[0]["id"]]["body"] == "early 0, corrected"
    assert changed[early[1]["id"]]["deleted"] is True and changed[early[1]["id"]]["html"] == ""
    assert early[2]["id"] not in changed


def test_catch_up_comes_in_batches_when_much_was_missed(connect, people, no_rate_limit, monkeypatch):
    monkeypatch.setattr(chat, "CATCH_UP", 3)
    circle = people["circle"]
    ids = [post(people["other"], circle, f"m{i}")["id"] for i in range(7)]
    sc = connect(people["member"])
    got, after = [], 0
    while True:
        answer = join(sc, circle, after_id=after)
        got += [m["id"] for m in answer["messages"]]
        if not answer["has_newer"]:
            break
        after = got[-1]
    assert got == ids


def test_history_pages_back_by_id(connect, people, no_rate_limit):
    circle = people["circle"]
    ids = [post(people["other"], circle, f"m{i}")["id"] for i in range(120)]
    chat.delete_message(people["other"], ids[10])
    sc = connect(people["member"])
    answer = join(sc, circle)
    assert [m["id"] for m in answer["messages"]] == ids[70:]
    assert answer["has_older"] is True
    older = call(sc, "load_older", {"circle": circle.slug, "before_id": ids[70]})
    assert [m["id"] for m in older["messages"]] == ids[20:70] and older["has_older"] is True
    oldest = call(sc, "load_older", {"circle": circle.slug, "before_id": ids[20]})
    assert [m["id"] for m in oldest["messages"]] == ids[:10] + ids[11:20]
    assert oldest["has_older"] is False


def test_a_message_sent_while_joining_is_not_missed(connect, people, monkeypatch):
    """Join enters the room before reading history: a message in between arrives (twice at worst)."""
    circle = people["circle"]
    sc = connect(people["member"])
    real_history = chat.history

    def history_with_a_message_in_between(*args, **kwargs):
        post(people["other"], circle, "sent while you were joining")
        return real_history(*args, **kwargs)

    monkeypatch.setattr(chat, "history", history_with_a_message_in_between)
    join(sc, circle)
    assert [e[1]["body"] for e in received(sc, "message_created")] == ["sent while you were joining"]


def test_a_removal_while_joining_leaves_the_socket_outside(connect, people, monkeypatch):
    circle, member = people["circle"], people["member"]
    sc = connect(member)
    real_history = chat.history

    def removed_in_between(*args, **kwargs):
        moderation.remove_member(people["owner"], circle.slug, member.id)
        return real_history(*args, **kwargs)

    monkeypatch.setattr(chat, "history", removed_in_between)
    assert call(sc, "join", {"circle": circle.slug}) == NOT_FOUND
    monkeypatch.undo()
    received(sc)
    post(people["other"], circle, "not for them")
    assert received(sc, "message_created") == []


# --- Editing, deleting, reporting ---------------------------------------------------------

def test_members_edit_their_own_messages(connect, people):
    circle = people["circle"]
    author, watcher = connect(people["member"]), connect(people["other"])
    join(watcher, circle)
    message = post(people["member"], circle, "Meeting at 10")
    received(watcher)
    answer = call(author, "edit_message", {"id": message["id"], "body": "Meeting at *11*"})
    assert answer["ok"] is True
    edited = received(watcher, "message_edited")[0][1]
    assert edited["id"] == message["id"] and "<em>11</em>" in edited["html"]
    assert edited["edited_at"] and edited["body"] == "Meeting at *11*"
    assert db.session.get(ChatMessage, message["id"]).source == "Meeting at *11*"


def test_nobody_edits_someone_elses_message_not_even_a_moderator(connect, people):
    message = post(people["member"], people["circle"], "Mine")
    for who in ("other", "moderator", "owner"):
        answer = call(connect(people[who]), "edit_message", {"id": message["id"], "body": "Theirs"})
        assert answer["ok"] is False and answer["error"] == "forbidden"
    assert db.session.get(ChatMessage, message["id"]).source == "Mine"


def test_members_delete_their_own_messages_unaudited(connect, people):
    circle = people["circle"]
    author, watcher = connect(people["member"]), connect(people["other"])
    join(watcher, circle)
    message = post(people["member"], circle, "Oops, wrong circle")
    received(watcher)
    assert call(author, "delete_message", {"id": message["id"]})["ok"]
    deleted = received(watcher, "message_deleted")[0][1]
    assert deleted["id"] == message["id"] and deleted["deleted"] is True
    assert deleted["html"] == "" and deleted["body"] == ""
    stored = db.session.get(ChatMessage, message["id"])
    assert stored.source == "" and stored.html == "" and stored.deleted_at is not None
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "chat.message_deleted")) == 0
    # Gone from history, and can't be deleted twice.
    assert join(watcher, circle)["messages"] == []
    assert call(author, "delete_message", {"id": message["id"]})["error"] == "forbidden"


def test_a_member_cannot_delete_someone_elses_message(connect, people):
    message = post(people["member"], people["circle"], "Mine")
    answer = call(connect(people["other"]), "delete_message", {"id": message["id"]})
    assert answer["error"] == "forbidden"
    assert db.session.get(ChatMessage, message["id"]).deleted_at is None


@pytest.mark.parametrize("who", ["moderator", "owner"])
def test_moderators_delete_any_message_and_it_is_audited(connect, people, who):
    circle = people["circle"]
    watcher = connect(people["other"])
    join(watcher, circle)
    message = post(people["member"], circle, "Something unkind")
    received(watcher)
    assert call(connect(people[who]), "delete_message", {"id": message["id"]})["ok"]
    assert received(watcher, "message_deleted")[0][1]["id"] == message["id"]
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "chat.message_deleted"))
    assert audit.actor_id == people[who].id and audit.target_user_id == people["member"].id
    assert audit.circle_id == circle.id and audit.detail == f"message #{message['id']}"
    assert audit.description == "deleted a chat message by"


def test_editing_deleting_reporting_in_another_circle_is_not_found(connect, people):
    """Same answer for a message id in a circle you're not in as for one that doesn't exist."""
    stranger_circle = make_circle(make_user(), name="Private Elsewhere")
    owner = db.session.get(type(people["owner"]), stranger_circle.created_by_id)
    theirs = post(owner, stranger_circle, "Not for you")
    sc = connect(people["member"])
    for event, extra in [("edit_message", {"body": "x"}), ("delete_message", {}),
                         ("report_message", {"reason": "x"})]:
        existing = call(sc, event, {"id": theirs["id"], **extra})
        missing = call(sc, event, {"id": 10**9, **extra})
        assert existing == missing == NOT_FOUND
    assert db.session.get(ChatMessage, theirs["id"]).source == "Not for you"


def test_reporting_a_message_puts_it_in_the_moderation_queue(connect, people):
    circle = people["circle"]
    message = post(people["member"], circle, "Names a colleague outside the circle")
    sc = connect(people["other"])
    answer = call(sc, "report_message", {"id": message["id"], "reason": "Breaks the pledge"})
    assert answer["ok"] is True
    report = db.session.get(Report, answer["report_id"])
    assert (report.kind, report.target_id, report.reason) == ("chat_message", message["id"],
                                                              "Breaks the pledge")
    assert {n.user_id for n in db.session.scalars(select(Notification).where(
        Notification.kind == "report_filed"))} == {people["owner"].id, people["moderator"].id}
    again = call(sc, "report_message", {"id": message["id"], "reason": "Again"})
    assert again["error"] == "duplicate"
    assert call(sc, "report_message", {"id": message["id"], "reason": "  "})["error"] == "invalid"
    own = call(connect(people["member"]), "report_message", {"id": message["id"], "reason": "me"})
    assert own["error"] == "forbidden"


def test_removing_a_reported_message_from_the_queue_deletes_it_live(connect, people):
    circle = people["circle"]
    message = post(people["member"], circle, "Please remove")
    report = chat.report_message(people["other"], message["id"], "Unkind")
    watcher = connect(people["other"])
    join(watcher, circle)
    received(watcher)
    moderation.decide_report(people["moderator"], circle.slug, report.id, "removed")
    assert received(watcher, "message_deleted")[0][1]["id"] == message["id"]
    assert db.session.get(ChatMessage, message["id"]).removed


def test_a_dismissed_report_changes_nothing(connect, people):
    circle = people["circle"]
    message = post(people["member"], circle, "Fine really")
    report = chat.report_message(people["other"], message["id"], "Hmm")
    watcher = connect(people["other"])
    join(watcher, circle)
    received(watcher)
    moderation.decide_report(people["moderator"], circle.slug, report.id, "dismissed")
    assert received(watcher, "message_deleted") == []
    assert not db.session.get(ChatMessage, message["id"]).removed


# --- Presence and typing -------------------------------------------------------------------

def test_presence_counts_a_person_once_across_tabs(connect, people):
    circle, member = people["circle"], people["member"]
    watcher = connect(people["other"])
    join(watcher, circle)
    received(watcher)
    tab1, tab2 = connect(member), connect(member)
    join(tab1, circle)
    online = received(watcher, "presence")[-1][1]["online"]
    assert online == [{"id": member.id, "name": "Gareth Lloyd"},   # sorted by name
                      {"id": people["other"].id, "name": "Priya Raman"}]
    join(tab2, circle)
    assert received(watcher, "presence") == []  # the same person, a second tab: no change
    tab1.disconnect("/chat")
    assert received(watcher, "presence") == []  # still online in the other tab
    tab2.disconnect("/chat")
    online = received(watcher, "presence")[-1][1]["online"]
    assert [p["id"] for p in online] == [people["other"].id]


def test_presence_broadcasts_are_coalesced(app, connect, people):
    """Many arrivals within CHAT_PRESENCE_DELAY make one broadcast, with everyone in it."""
    circle = people["circle"]
    watcher = connect(people["owner"])
    join(watcher, circle)
    app.config["CHAT_PRESENCE_DELAY"] = 1.0
    received(watcher)
    for who in ("member", "other", "moderator"):
        join(connect(people[who]), circle)
    assert received(watcher, "presence") == []
    deadline = time.monotonic() + 5
    while not (events := received(watcher, "presence")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(events) == 1
    assert {p["id"] for p in events[0][1]["online"]} == {
        people[w].id for w in ("owner", "member", "other", "moderator")}


def test_typing_reaches_the_others_and_is_throttled(connect, people):
    circle = people["circle"]
    typist, other_tab = connect(people["member"]), connect(people["member"])
    watcher = connect(people["other"])
    for sc in (typist, other_tab, watcher):
        join(sc, circle)
        received(sc)
    assert call(typist, "typing", {"circle": circle.slug}) == {"ok": True}
    assert received(watcher, "typing") == [("typing", {"circle": circle.slug, "user": {
        "id": people["member"].id, "name": "Gareth Lloyd"}})]
    assert received(typist, "typing") == []  # not echoed to the typing socket
    for _ in range(5):
        call(typist, "typing", {"circle": circle.slug})
    assert received(watcher, "typing") == []  # at most one every two seconds


def test_typing_by_a_non_member_is_refused(connect, people):
    watcher = connect(people["other"])
    join(watcher, people["circle"])
    received(watcher)
    assert call(connect(people["outsider"]), "typing", {"circle": people["circle"].slug}) == NOT_FOUND
    assert received(watcher) == []


# --- Read positions ------------------------------------------------------------------------------

def test_mark_read_moves_forward_only(connect, people):
    circle = people["circle"]
    ids = [post(people["other"], circle, f"m{i}")["id"] for i in range(3)]
    sc = connect(people["member"])
    assert call(sc, "mark_read", {"circle": circle.slug, "id": ids[2]})["last_read_id"] == ids[2]
    assert chat.unread_counts(people["member"].id, [circle.id]) == {}
    assert call(sc, "mark_read", {"circle": circle.slug, "id": ids[0]})["last_read_id"] == ids[0]
    assert chat.unread_counts(people["member"].id, [circle.id]) == {}
    # An id past the newest message stops at the newest.
    post(people["other"], circle, "new")
    call(sc, "mark_read", {"circle": circle.slug, "id": 10**12})
    assert chat.unread_counts(people["member"].id, [circle.id]) == {}
    assert call(connect(people["outsider"]), "mark_read", {"circle": circle.slug, "id": 1}) == NOT_FOUND


def test_a_removed_members_sockets_hear_the_moderators_reason(connect, people):
    circle, member = people["circle"], people["member"]
    sc = connect(member)
    join(sc, circle)
    received(sc)
    moderation.remove_member(people["owner"], circle.slug, member.id, reason="Please take a break.")
    assert received(sc, "removed") == [("removed", {
        "circle": circle.slug,
        "message": f"You are no longer a member of {circle.name}. The moderator said: Please take a break."})]
