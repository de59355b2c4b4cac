"""Files on live chat messages: sent with a message over Socket.IO, shown in
every list of messages (one statement for all their files), gone with the message."""
import io

import pytest
from sqlalchemy import func, select

from community.chat import actions as chat
from community.chat.models import ChatMessage
from community.extensions import db
from community.files import actions as files
from community.files.models import Attachment
from community.moderation import actions as moderation
from community.moderation.models import Report
from tests.chat.conftest import call, connect, no_rate_limit, people, received  # noqa: F401  (fixtures)
from tests.conftest import AuthActions
from tests.factories import add_member, make_circle, make_user
from tests.files.builders import docx_bytes, image_bytes
from tests.files.test_attachments import stored_files
from tests.racing import race, succeeded


def upload(user, circle, data=None, name="notes.docx") -> Attachment:
    return files.upload(user, circle.slug, io.BytesIO(data or docx_bytes()), name)


def joined(connect, user, circle):  # noqa: F811 - the fixture, passed on
    sc = connect(user)
    answer = call(sc, "join", {"circle": circle.slug})
    assert answer["ok"], answer
    received(sc)
    return sc, answer


def send(sc, circle, body="", attachments=None, client_id="c-1") -> dict:
    data = {"circle": circle.slug, "body": body, "client_id": client_id}
    if attachments is not None:
        data["attachments"] = attachments
    return call(sc, "send_message", data)


def message_count() -> int:
    return db.session.scalar(select(func.count(ChatMessage.id)))


def places(*uploads) -> list:
    return [db.session.scalar(select(Attachment.chat_message_id).where(Attachment.id == a.id))
            for a in uploads]


def test_a_message_of_files_alone_reaches_another_members_socket_with_them(app, connect, people):  # noqa: F811
    circle, member, other = people["circle"], people["member"], people["other"]
    doc = upload(member, circle, name="Visit notes.docx")
    photo = upload(member, circle, image_bytes("PNG", size=(400, 300)), "whiteboard.png")
    alice, _ = joined(connect, member, circle)
    bob, _ = joined(connect, other, circle)

    answer = send(alice, circle, attachments=[photo.public_id, doc.public_id])

    assert answer["ok"] and answer["duplicate"] is False, answer
    message = answer["message"]
    assert message["body"] == "" and message["html"] == ""
    shown = message["attachments"]
    assert [(a["id"], a["name"], a["kind"]) for a in shown] == [
        (photo.public_id, "whiteboard.png", "png"), (doc.public_id, "Visit notes.docx", "docx")]
    assert shown[0]["url"] == f"/c/{circle.slug}/files/{photo.public_id}/whiteboard.png"
    assert shown[0]["thumbnail_url"] == f"/c/{circle.slug}/files/{photo.public_id}/thumbnail"
    assert shown[1]["thumbnail_url"] is None and shown[1]["size"] == doc.size
    assert places(photo, doc) == [message["id"]] * 2
    assert received(bob, "message_created") == [("message_created", message)]
    # ...and the other member can open them.
    bob_http = app.test_client()
    AuthActions(bob_http).login(other)
    assert bob_http.get(shown[1]["url"]).status_code == 200
    assert bob_http.get(shown[0]["thumbnail_url"]).status_code == 200


def test_text_and_files_together_and_the_body_limits_still_hold(app, connect, people):  # noqa: F811
    circle, member = people["circle"], people["member"]
    doc = upload(member, circle)
    sc, _ = joined(connect, member, circle)
    assert send(sc, circle, "   ", client_id="empty")["error"] == "empty"  # no files: text needed
    assert send(sc, circle, "x" * (chat.BODY_MAX + 1), [doc.public_id], "long")["error"] == "too_long"
    answer = send(sc, circle, "The **slides**", [doc.public_id], "ok")
    assert "<strong>slides</strong>" in answer["message"]["html"]
    assert [a["id"] for a in answer["message"]["attachments"]] == [doc.public_id]


def test_a_resend_returns_the_stored_message_and_attaches_nothing_more(app, connect, people):  # noqa: F811
    circle, member = people["circle"], people["member"]
    doc, later = upload(member, circle), upload(member, circle, image_bytes("PNG"), "a.png")
    sc, _ = joined(connect, member, circle)
    first = send(sc, circle, "Slides", [doc.public_id], "same")
    again = send(sc, circle, "Slides", [doc.public_id], "same")
    other_files = send(sc, circle, "Slides", [later.public_id], "same")
    assert again["duplicate"] is True and again["message"] == first["message"]
    assert other_files["message"] == first["message"]
    assert message_count() == 1
    assert places(doc, later) == [first["message"]["id"], None]


def _hostile(which, people, connect):  # noqa: F811
    circle, member, other = people["circle"], people["member"], people["other"]
    if which == "someone_elses":
        return [upload(other, circle).public_id]
    if which == "another_circles":
        elsewhere = make_circle(member, name="Oxford Leaders")
        return [upload(member, elsewhere).public_id]
    if which == "already_attached":
        mine = upload(member, circle)
        sc, _ = joined(connect, member, circle)
        assert send(sc, circle, "first", [mine.public_id], "setup")["ok"]
        return [mine.public_id]
    if which == "eleven":
        return [upload(member, circle, image_bytes("PNG", color=(n, 0, 0)), f"{n}.png").public_id
                for n in range(11)]
    return {"made_up": ["A" * 22], "a_string": upload(member, circle).public_id,
            "a_dict": {"id": "x"}, "numbers": [1, 2], "nul": ["a\x00b"], "too_long_id": ["a" * 65],
            "nested": [["x"]]}[which]


@pytest.mark.parametrize("which, code", [
    ("someone_elses", "attachment_gone"), ("another_circles", "attachment_gone"),
    ("already_attached", "attachment_gone"), ("made_up", "attachment_gone"), ("eleven", "too_many"),
    ("a_string", "invalid"), ("a_dict", "invalid"), ("numbers", "invalid"), ("nul", "invalid"),
    ("too_long_id", "invalid"), ("nested", "invalid"),
])
def test_hostile_attachments_are_refused_and_no_message_is_stored(app, connect, people, which, code):  # noqa: F811
    circle, member = people["circle"], people["member"]
    mine = upload(member, circle, name="mine.docx")
    hostile = _hostile(which, people, connect)
    before = message_count()
    sc, _ = joined(connect, member, circle)
    ids = [mine.public_id, *hostile] if isinstance(hostile, list) else hostile

    answer = send(sc, circle, "Look", ids, "hostile")

    assert answer["ok"] is False and answer["error"] == code, answer
    assert answer["message"]  # a sentence for the person
    assert message_count() == before
    assert places(mine) == [None]
    # The same client_id is free for the honest resend: nothing was half-written.
    assert send(sc, circle, "Look", [mine.public_id], "hostile")["ok"]


def test_join_fetch_and_load_older_carry_each_messages_files(app, connect, people, no_rate_limit):  # noqa: F811
    circle, member = people["circle"], people["member"]
    doc, photo = upload(member, circle), upload(member, circle, image_bytes("PNG"), "p.png")
    sc, _ = joined(connect, member, circle)
    with_files = send(sc, circle, "One", [doc.public_id, photo.public_id], "one")["message"]
    plain = send(sc, circle, "Two", None, "two")["message"]
    expected = {with_files["id"]: [doc.public_id, photo.public_id], plain["id"]: []}

    def ids_of(messages):
        return {m["id"]: [a["id"] for a in m["attachments"]] for m in messages}

    reader, history = joined(connect, people["other"], circle)
    assert ids_of(history["messages"]) == expected
    assert ids_of(call(reader, "fetch", {"circle": circle.slug, "after_seq": 0})["messages"]) == expected
    older = call(reader, "load_older", {"circle": circle.slug, "before_id": plain["id"] + 1})
    assert ids_of(older["messages"]) == expected
    caught_up = call(reader, "join", {"circle": circle.slug, "after_seq": 0})
    assert ids_of(caught_up["messages"]) == expected


def test_an_edit_keeps_the_files_and_its_broadcast_carries_them(app, connect, people):  # noqa: F811
    circle, member = people["circle"], people["member"]
    doc = upload(member, circle)
    sc, first_join = joined(connect, member, circle)
    message = send(sc, circle, "Draft", [doc.public_id])["message"]
    watcher, _ = joined(connect, people["other"], circle)
    edited = call(sc, "edit_message", {"id": message["id"], "body": "Final"})["message"]
    assert edited["attachments"] == message["attachments"]
    assert received(watcher, "message_edited") == [("message_edited", edited)]
    assert places(doc) == [message["id"]]
    # A client coming back sees the edit, files and all, among what changed.
    back = call(sc, "join", {"circle": circle.slug, "after_seq": message["seq"],
                             "changed_since": first_join["server_time"]})
    assert [m["attachments"] for m in back["changed"]] == [message["attachments"]]


@pytest.mark.parametrize("who", ["author", "moderator", "report"])
def test_deleting_a_message_removes_its_files_rows_and_bytes(app, connect, people, who):  # noqa: F811
    circle, member = people["circle"], people["member"]
    doc, photo = upload(member, circle), upload(member, circle, image_bytes("PNG"), "p.png")
    kept = upload(member, circle, image_bytes("PNG", color="blue"), "kept.png")
    sc, _ = joined(connect, member, circle)
    message = send(sc, circle, "Slides", [doc.public_id, photo.public_id])["message"]
    also = send(sc, circle, "More", [kept.public_id], "c-2")["message"]
    watcher, _ = joined(connect, people["other"], circle)
    before = len(stored_files(app))

    if who == "author":
        assert call(sc, "delete_message", {"id": message["id"]})["ok"]
    elif who == "moderator":
        assert call(connect(people["moderator"]), "delete_message", {"id": message["id"]})["ok"]
    else:
        report_id = chat.report_message(people["other"], message["id"], "Not for here").id
        moderation.decide_report(people["moderator"], circle.slug, report_id, "removed")
        assert db.session.get(Report, report_id).status == "removed"

    assert db.session.scalar(select(func.count()).select_from(Attachment)
                             .where(Attachment.chat_message_id == message["id"])) == 0
    assert len(stored_files(app)) == before - 3  # the document, the image and its thumbnail
    assert places(kept) == [also["id"]]
    [(_, deleted)] = received(watcher, "message_deleted")
    assert deleted["id"] == message["id"] and deleted["attachments"] == []
    history = call(watcher, "join", {"circle": circle.slug})["messages"]
    assert [m["id"] for m in history] == [also["id"]]


def test_join_costs_the_same_statements_with_no_files_and_with_twenty(
        app, connect, people, count_queries, no_rate_limit):  # noqa: F811
    """Nor with the messages: one statement loads the files of them all."""
    member, owner = people["member"], people["owner"]
    costs = []
    for messages, files_each in ((1, 0), (2, 0), (2, 10)):
        circle = make_circle(owner, name=f"Circle {messages} {files_each}")
        add_member(circle, member)
        sc, _ = joined(connect, owner, circle)
        for n in range(messages):
            ids = [upload(owner, circle, image_bytes("PNG", color=(n, k, 0)), f"{k}.png").public_id
                   for k in range(files_each)]
            assert send(sc, circle, f"Message {n}", ids, f"c-{messages}-{files_each}-{n}")["ok"]
        reader = connect(member)
        with count_queries() as counted:
            answer = call(reader, "join", {"circle": circle.slug})
        assert sum(len(m["attachments"]) for m in answer["messages"]) == messages * files_each
        costs.append(counted)
    assert costs[0].count == costs[1].count == costs[2].count, costs[2].statements


def test_an_outsider_never_receives_a_message_or_its_files(app, client, auth, connect, people):  # noqa: F811
    circle, member, outsider = people["circle"], people["member"], people["outsider"]
    doc = upload(member, circle)
    spy = connect(outsider)
    assert call(spy, "join", {"circle": circle.slug})["error"] == "not_found"
    received(spy)  # the refusal's own error event
    sc, _ = joined(connect, member, circle)
    message = send(sc, circle, "Slides", [doc.public_id])["message"]
    assert [name for name, _ in received(spy)] == []
    assert call(spy, "fetch", {"circle": circle.slug, "after_seq": 0})["error"] == "not_found"
    assert call(spy, "send_message", {"circle": circle.slug, "body": "", "client_id": "spy",
                                      "attachments": [doc.public_id]})["error"] == "not_found"
    auth.login(outsider)
    assert client.get(message["attachments"][0]["url"]).status_code == 404


def test_two_messages_racing_for_the_same_upload_store_one(engine_app):
    owner = make_user("Rachel Stone")
    circle = make_circle(owner, name="Berkshire Leaders")
    doc = upload(owner, circle)
    slug, public_id = circle.slug, doc.public_id

    def send_with_the_file(actor, client_id):
        with engine_app.test_request_context():
            return chat.send_message(actor, slug, "Mine", client_id, [public_id])[0]["id"]

    outcomes = race(engine_app, *[(send_with_the_file, owner.id, f"c-{n}") for n in range(4)])
    won = [outcome[1] for outcome in outcomes if succeeded(outcome)]
    assert len(won) == 1, outcomes
    assert {outcome.code for outcome in outcomes if not succeeded(outcome)} == {"attachment_gone"}
    db.session.expire_all()
    assert db.session.scalars(select(ChatMessage.id)).all() == won
    assert places(doc) == won
