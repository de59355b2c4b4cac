"""Direct messages live, over circle chat's Socket.IO protocol with {conversation: id}:
joining, sending, catch-up, typing, edit and delete, and who stops hearing when."""
import re

import pytest
from sqlalchemy import update

from community.extensions import db
from community.messages import actions as dm
from community.messages.models import ConversationMember
from tests.chat.conftest import call, received
from tests.messages.conftest import login, remove, text


def start(a, *others):
    return dm.start_conversation(a, [str(o.id) for o in others])


def joined(sc, conversation, **extra):
    answer = call(sc, "join", {"conversation": conversation.id, **extra})
    assert answer["ok"], answer
    return answer


def send(sc, conversation, body, client_id):
    return call(sc, "send_message", {"conversation": conversation.id, "body": body,
                                     "client_id": client_id})


@pytest.fixture
def pair(people):
    return start(people["member"], people["other"])


@pytest.fixture
def group(people):
    return start(people["member"], people["other"], people["third"])


# --- Joining ----------------------------------------------------------------------------

def test_members_join_with_the_latest_messages(people, pair, connect):
    dm.send_message(people["member"], pair.id, "Can I call you about the funding cliff?", "c1")
    answer = joined(connect(people["other"]), pair)
    assert [m["body"] for m in answer["messages"]] == ["Can I call you about the funding cliff?"]
    assert answer["messages"][0]["conversation"] == pair.id and answer["through"] == 1
    assert answer["live"] is True and answer["refusal"] is None and "server_time" in answer


@pytest.mark.parametrize("who", ["outsider", "admin", "moderator", "owner", "nina"])
def test_no_one_else_joins_and_learns_nothing(people, pair, connect, who):
    dm.send_message(people["member"], pair.id, "private", "c1")
    sc = connect(people[who])
    for event in ("join", "fetch", "load_older", "typing", "mark_read"):
        answer = call(sc, event, {"conversation": pair.id, "after_seq": 0, "before_id": 9,
                                  "seq": 1})
        assert answer["error"] == "not_found" and "private" not in str(answer), event
    assert call(sc, "join", {"conversation": 987654})["error"] == "not_found"


@pytest.mark.parametrize("value", ["1", 1.5, True, -1, None, [1], 2**64])
def test_a_conversation_must_be_an_id(people, pair, connect, value):
    answer = call(connect(people["member"]), "join", {"conversation": value})
    assert answer["error"] == "invalid"


def test_circle_chat_is_unchanged_beside_it(people, pair, connect):
    sc = connect(people["member"])
    assert call(sc, "join", {"circle": people["circle"].slug})["ok"]
    joined(sc, pair)
    sent = call(sc, "send_message", {"circle": people["circle"].slug, "body": "to the circle",
                                     "client_id": "circle-1"})
    assert sent["ok"] and sent["message"]["circle"] == people["circle"].slug


# --- Sending, live ----------------------------------------------------------------------

def test_a_message_is_stored_then_heard_once_by_the_others(people, pair, connect):
    me, them = connect(people["member"]), connect(people["other"])
    joined(me, pair)
    joined(them, pair)
    received(them)
    answer = send(me, pair, "**Hello** Priya", "m1")
    assert answer["ok"] and answer["message"]["seq"] == 1
    assert "<strong>Hello</strong>" in answer["message"]["html"]  # Markdown through content.py
    heard = received(them, "message_created")
    assert [d["id"] for _, d in heard] == [answer["message"]["id"]]
    again = send(me, pair, "**Hello** Priya", "m1")  # the same client_id: a resend
    assert again["duplicate"] and again["message"]["id"] == answer["message"]["id"]
    assert received(them, "message_created") == []


def test_a_message_reads_the_sender_once(people, pair, connect, count_queries):
    """Loaded for the event, the sender is kept by the write rather than read again."""
    me = connect(people["member"])
    joined(me, pair)
    with count_queries() as sending:
        assert send(me, pair, "Hello", "m1")["ok"]
    assert len([s for s in sending.statements if "FROM users" in s]) == 1, sending.statements


def test_messages_of_another_conversation_are_not_heard(people, pair, group, connect):
    me, them = connect(people["member"]), connect(people["other"])
    joined(me, pair)
    joined(them, pair)
    received(them)
    assert send(me, group, "to the group", "g1")["ok"]
    assert received(them, "message_created") == []  # Priya's socket joined only the pair


def test_catch_up_after_a_reconnect_by_seq(people, pair, connect):
    them = connect(people["other"])
    first = joined(them, pair)
    them.disconnect("/chat")
    for n in range(3):
        dm.send_message(people["member"], pair.id, f"while away {n}", f"w{n}")
    back = joined(connect(people["other"]), pair, after_seq=first["through"],
                  changed_since=first["server_time"])
    assert [m["body"] for m in back["messages"]] == ["while away 0", "while away 1", "while away 2"]
    assert back["through"] == 3
    gap = call(connect(people["other"]), "fetch", {"conversation": pair.id, "after_seq": 0,
                                                   "before_seq": 3})
    assert [m["seq"] for m in gap["messages"]] == [1, 2] and gap["through"] == 2


def test_load_older_pages_back(people, pair, connect, no_rate_limit):
    for n in range(dm.PAGE + 5):
        dm.send_message(people["member"], pair.id, f"m{n}", f"c{n}")
    sc = connect(people["other"])
    first = joined(sc, pair)
    assert len(first["messages"]) == dm.PAGE and first["has_older"]
    older = call(sc, "load_older", {"conversation": pair.id,
                                    "before_id": first["messages"][0]["id"]})
    assert [m["body"] for m in older["messages"]] == [f"m{n}" for n in range(5)]
    assert older["has_older"] is False


def test_typing_reaches_the_others_only(people, pair, connect):
    me, them = connect(people["member"]), connect(people["other"])
    joined(me, pair)
    joined(them, pair)
    received(me)
    received(them)
    assert call(me, "typing", {"conversation": pair.id})["ok"]
    assert [d["user"]["id"] for _, d in received(them, "typing")] == [people["member"].id]
    assert received(me, "typing") == []


# --- Edit and delete ---------------------------------------------------------------------

def test_authors_edit_and_delete_and_everyone_hears_it(people, pair, connect):
    me, them = connect(people["member"]), connect(people["other"])
    joined(me, pair)
    joined(them, pair)
    sent = send(me, pair, "teh budget", "e1")["message"]
    received(them)
    edited = call(me, "edit_message", {"conversation": pair.id, "id": sent["id"],
                                       "body": "the budget"})
    assert edited["ok"] and edited["message"]["edited_at"]
    assert [d["body"] for _, d in received(them, "message_edited")] == ["the budget"]
    assert call(them, "edit_message", {"conversation": pair.id, "id": sent["id"],
                                       "body": "hijacked"})["error"] == "forbidden"
    assert call(them, "delete_message", {"conversation": pair.id,
                                         "id": sent["id"]})["error"] == "forbidden"
    deleted = call(me, "delete_message", {"conversation": pair.id, "id": sent["id"]})
    assert deleted["ok"] and deleted["message"]["deleted"] and deleted["message"]["body"] == ""
    assert [d["id"] for _, d in received(them, "message_deleted")] == [sent["id"]]
    rejoined = joined(connect(people["other"]), pair)
    assert rejoined["messages"] == []  # gone for everyone, history included


def test_a_message_id_from_another_conversation_is_not_found(people, pair, group, connect):
    elsewhere = dm.send_message(people["member"], group.id, "group text", "x1")[0]
    sc = connect(people["member"])
    for event in ("edit_message", "delete_message"):
        answer = call(sc, event, {"conversation": pair.id, "id": elsewhere["id"], "body": "x"})
        assert answer["error"] == "not_found", event


def test_a_blocked_person_cant_edit_but_can_take_a_message_back(people, pair, connect):
    sent = dm.send_message(people["other"], pair.id, "something I regret", "r1")[0]
    dm.block(people["member"], people["other"].id)
    sc = connect(people["other"])
    answer = call(sc, "edit_message", {"conversation": pair.id, "id": sent["id"], "body": "worse"})
    assert answer["error"] == "forbidden" and answer["message"] == "You can't message this person."
    assert call(sc, "delete_message", {"conversation": pair.id, "id": sent["id"]})["ok"]


# --- Who stops hearing, and the page says why ---------------------------------------------

def test_a_block_takes_the_blocked_persons_sockets_out_at_once(app, people, group, connect):
    blocker, blocked, third = (connect(people[k]) for k in ("member", "other", "third"))
    for sc in (blocker, blocked, third):
        joined(sc, group)
        received(sc)
    client = login(app, people["member"])
    assert client.post(f"/people/{people['other'].id}/block").status_code == 302
    assert received(blocked, "removed") == [("removed", {"conversation": group.id})]
    assert received(blocker, "removed") == received(third, "removed") == []
    # Tom still writes to the group; Gareth hears him, Priya no longer does.
    assert send(third, group, "still here", "t1")["ok"]
    assert len(received(blocker, "message_created")) == 1
    assert received(blocked, "message_created") == []
    # Joining again reads the history and says why she can't write, without a room.
    again = joined(blocked, group)
    assert again["live"] is False and again["refusal"] == "You can't message Gareth Lloyd."
    assert "still here" in [m["body"] for m in again["messages"]]
    assert send(blocked, group, "let me", "p1")["error"] == "cant_send"
    assert call(blocked, "typing", {"conversation": group.id})["ok"]
    assert received(third, "typing") == []  # not hearing, not heard typing


def test_leaving_stops_hearing_and_reads_up_to_then(app, people, group, connect):
    leaver, stayer = connect(people["third"]), connect(people["member"])
    joined(leaver, group)
    joined(stayer, group)
    received(leaver)
    dm.leave_conversation(people["third"], group.id)
    assert received(leaver, "removed") == [("removed", {"conversation": group.id})]
    assert send(stayer, group, "after Tom left", "s1")["ok"]
    assert received(leaver, "message_created") == []
    again = joined(leaver, group)
    assert again["live"] is False and again["refusal"].startswith("You left")
    assert "after Tom left" not in str(again)
    assert call(leaver, "fetch", {"conversation": group.id, "after_seq": 0})["messages"] == []


def test_leaving_the_last_shared_circle_stops_hearing(people, pair, connect):
    gone, stays = connect(people["other"]), connect(people["member"])
    joined(gone, pair)
    joined(stays, pair)
    received(gone)
    received(stays)
    remove(people, people["other"])
    assert ("removed", {"conversation": pair.id}) in received(gone)
    again = joined(gone, pair)
    assert again["live"] is False and "no longer shares a circle" in again["refusal"]


# --- Reading, and the header's badge -----------------------------------------------------

def badge(client) -> str | None:
    page = text(client.get("/messages"))
    found = re.search(r'class="messages-link".*?data-unread="(\d+)"', page, re.S)
    return found.group(1) if found else None


def test_the_header_badge_counts_unread_messages_and_updates(app, people, pair, group, connect):
    from community.extensions import socketio

    reader = login(app, people["other"])
    bell = socketio.test_client(app, namespace="/notifications", flask_test_client=reader)
    dm.send_message(people["member"], pair.id, "one", "b1")
    dm.send_message(people["member"], group.id, "two", "b2")
    dm.send_message(people["other"], group.id, "mine", "b3")  # one's own: never unread
    assert badge(reader) == "1"  # her reply read the group
    assert reader.get("/messages/unread").get_json() == {"unread": 1}
    nudges = [e for e in bell.get_received("/notifications") if e["name"] == "messages"]
    assert len(nudges) == 2 and nudges[0]["args"] == [{}]  # a nudge, with no text in it
    sc = connect(people["other"])
    assert call(sc, "mark_read", {"conversation": pair.id, "seq": 1})["last_read_seq"] == 1
    assert reader.get("/messages/unread").get_json() == {"unread": 0}
    # Its bell drops too: the notification of that conversation is read with it.
    assert sorted(e["name"] for e in bell.get_received("/notifications")) == ["messages",
                                                                             "notification"]
    bell.disconnect("/notifications")


def test_the_header_counts_stop_where_they_read_99_plus(app, people, pair, no_rate_limit):
    """The header counts unread messages and notifications up to 100 and reads
    "99+" from there (counting them all was a fifth of a served page); the
    count bell.js asks for stays exact."""
    from community.header import HEADER_COUNTED, header_counts
    from community.notifications.models import Notification

    for n in range(150):
        dm.send_message(people["member"], pair.id, f"message {n}", f"m{n}")
    db.session.add_all(Notification(user_id=people["other"].id, kind="mention", text=f"note {n}")
                       for n in range(150))
    db.session.commit()
    reader = login(app, people["other"])
    page = text(reader.get("/messages"))
    for link in ("messages-link", "bell"):
        found = re.search(rf'class="{link}".*?data-unread="(\d+)".*?data-bell-count>([^<]+)<', page, re.S)
        assert found.groups() == (str(HEADER_COUNTED), "99+"), link
    assert reader.get("/messages/unread").get_json() == {"unread": 150}
    # The conversation's own count, on the Messages page, stops there too.
    assert re.search(r'title="Unread messages">99\+</span>', page)
    with app.test_request_context("/"):
        from flask_login import login_user

        login_user(people["other"])
        assert header_counts() == (HEADER_COUNTED, HEADER_COUNTED)


def test_a_muted_conversation_is_not_in_the_badge(app, people, pair):
    dm.send_message(people["member"], pair.id, "one", "b1")
    db.session.execute(update(ConversationMember).where(
        ConversationMember.conversation_id == pair.id,
        ConversationMember.user_id == people["other"].id).values(muted=True))
    db.session.commit()
    reader = login(app, people["other"])
    assert reader.get("/messages/unread").get_json() == {"unread": 0}
    assert re.findall(r'title="Unread messages">(\d+)<', text(reader.get("/messages"))) == ["1"]


def test_the_badge_costs_no_statement_of_its_own(app, people, pair, count_queries):
    """The bell's count and the messages' come in one statement, on every page."""
    reader = login(app, people["other"])
    reader.get("/messages")
    with count_queries() as queries:
        reader.get("/settings/profile")
    dm.send_message(people["member"], pair.id, "one", "b1")
    with count_queries() as again:
        page = text(reader.get("/settings/profile"))
    assert again.count == queries.count and 'data-unread="1"' in page



def test_a_page_load_reads_the_header_counts_with_the_user(app, people, pair, count_queries):
    """On a page load the header's counts come in the user's own statement (on
    PostgreSQL each statement is a round trip): one statement fewer than a
    request that isn't a page (a fetch for JSON), and the counts shown are right."""
    from community.header import _header_counts
    from community.notifications.models import Notification

    dm.send_message(people["member"], pair.id, "one", "b1")
    db.session.add_all(Notification(user_id=people["other"].id, kind="mention", text=f"note {n}")
                       for n in range(3))
    db.session.commit()
    reader = login(app, people["other"])
    reader.get("/settings/profile")
    counts_sql = _header_counts._compiled_for(db.engine.dialect).sql
    with count_queries() as page_load:
        page = text(reader.get("/settings/profile", headers={"Accept": "text/html,*/*;q=0.8"}))
    assert 'data-unread="1"' in page  # the Messages link's
    # three mentions, and the message's own notification
    assert re.search(r'class="bell"[^>]*data-unread="(\d+)"', page).group(1) == "4"
    assert counts_sql not in page_load.statements
    with count_queries() as fetch:  # bell.js's: no layout, so no counts read with the user
        assert reader.get("/messages/unread", headers={"Accept": "application/json"}).get_json() == {
            "unread": 1}
    assert counts_sql not in fetch.statements and "bell" not in fetch.statements[0]


def test_counts_read_with_the_user_are_read_again_after_a_change_is_committed(app, people, pair):
    """A page load that commits a change (to the counts, perhaps) shows the counts
    as they are after it, not as they were read with the user."""
    from flask_login import current_user, login_user

    from community.header import header_counts
    from community.notifications import actions as notes
    from community.notifications.models import Notification

    db.session.add_all(Notification(user_id=people["other"].id, kind="mention", text=f"note {n}")
                       for n in range(2))
    db.session.commit()
    from community.templating import layout_state

    with app.test_request_context("/settings/profile"):
        login_user(people["other"])
        assert header_counts() == (2, 0)
        layout = layout_state()
        assert layout.unread == 2 and layout_state() is layout  # kept for the page's layouts
        notes.mark_all_read(current_user)  # commits
        assert header_counts() == (0, 0)
        assert layout_state().unread == 0  # the layout's bell too, not the one kept


def test_joining_costs_the_same_statements_however_long_the_conversation(
        app, people, pair, connect, no_rate_limit, count_queries):
    sc = connect(people["other"])
    dm.send_message(people["member"], pair.id, "first", "f0")
    pair = db.session.get(type(pair), pair.id)  # loaded before counting
    with count_queries() as short:
        joined(sc, pair)
    for n in range(120):
        dm.send_message(people["member"], pair.id, f"m{n}", f"c{n}")
    pair = db.session.get(type(pair), pair.id)
    with count_queries() as long:
        joined(sc, pair)
    assert short.count == long.count <= 8


# --- Files, live ------------------------------------------------------------------------

def test_a_message_with_a_file_goes_live_and_comes_back_on_joining(app, people, pair, connect):
    import io

    from community.files import conversations
    from tests.files.builders import docx_bytes

    upload = conversations.upload(people["member"], pair.id, io.BytesIO(docx_bytes()), "plan.docx")
    me, them = connect(people["member"]), connect(people["other"])
    joined(me, pair)
    joined(them, pair)
    received(them)
    sent = call(me, "send_message", {"conversation": pair.id, "body": "", "client_id": "f1",
                                     "attachments": [upload.public_id]})
    assert sent["ok"] and [f["name"] for f in sent["message"]["attachments"]] == ["plan.docx"]
    heard = received(them, "message_created")[0][1]
    assert heard["attachments"] == sent["message"]["attachments"]
    url = heard["attachments"][0]["url"]
    reader = login(app, people["other"])
    assert reader.get(url).status_code == 200
    again = joined(connect(people["other"]), pair)
    assert again["messages"][0]["attachments"][0]["url"] == url
    # Taking the message back takes its file: the link is gone for everyone.
    assert call(me, "delete_message", {"conversation": pair.id, "id": sent["message"]["id"]})["ok"]
    assert reader.get(url).status_code == 404


def test_a_message_is_reported_over_the_socket_only_with_consent(people, pair, connect):
    from community.messages.models import DirectMessageReport

    theirs = dm.send_message(people["member"], pair.id, "Something unkind", "u1")[0]
    sc = connect(people["other"])
    report = {"conversation": pair.id, "id": theirs["id"], "reason": "Unkind"}
    assert call(sc, "report_message", report)["error"] == "no_consent"
    assert db.session.query(DirectMessageReport).count() == 0
    answer = call(sc, "report_message", {**report, "consent": True})
    assert answer["ok"]
    stored = db.session.get(DirectMessageReport, answer["report_id"])
    assert stored.source == "Something unkind" and stored.reason == "Unkind"
    outsider = connect(people["outsider"])
    assert call(outsider, "report_message", {**report, "consent": True})["error"] == "not_found"
