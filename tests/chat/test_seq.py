"""No message lost, by design (issue 19, item 1): each circle numbers its
messages 1, 2, 3... (`seq`) with no gap, and a client catches up after the
last number it holds (join after_seq), or fetches exactly a range it missed."""

import pytest
from flask_migrate import upgrade
from sqlalchemy import select, text

from community import create_app
from community.chat import actions as chat
from community.chat.models import ChatMessage
from community.extensions import db
from community.moderation import actions as moderation
from tests.chat.conftest import call, post, received
from tests.conftest import app_config
from tests.factories import add_member, make_circle, make_user
from tests.racing import race, succeeded
from tests.test_migrations import MIGRATIONS, insert_chat_world

NOT_FOUND = "not_found"


def seqs(circle) -> list[int]:
    return list(db.session.scalars(select(ChatMessage.seq).where(
        ChatMessage.circle_id == circle.id).order_by(ChatMessage.id)))


def test_each_circle_numbers_its_messages_from_one_without_gaps(connect, people):
    circle, member = people["circle"], people["member"]
    other_circle = make_circle(people["owner"], name="Other Circle")
    add_member(other_circle, member)
    sent = [post(member, circle, "one"), post(member, other_circle, "elsewhere"),
            post(member, circle, "two"), post(people["other"], circle, "three")]
    assert [m["seq"] for m in sent] == [1, 1, 2, 3]
    assert seqs(circle) == [1, 2, 3] and seqs(other_circle) == [1]
    # A resend (same client_id) is the stored message, with its number: no new one.
    again, created = chat.send_message(member, circle.slug, "two", sent[2]["client_id"])
    assert not created and again["seq"] == 2 and seqs(circle) == [1, 2, 3]


def test_seq_is_in_the_broadcast_and_the_ack(connect, people):
    circle = people["circle"]
    sender, listener = connect(people["member"]), connect(people["other"])
    for sc in (sender, listener):
        assert call(sc, "join", {"circle": circle.slug})["ok"]
    received(listener)
    ack = call(sender, "send_message", {"circle": circle.slug, "body": "hi", "client_id": "c1"})
    assert ack["message"]["seq"] == 1
    [(_, broadcast)] = received(listener, "message_created")
    assert broadcast["seq"] == 1 and broadcast == ack["message"]


@pytest.mark.parametrize("engine_app", ["sqlite", pytest.param("postgresql",
                                                               marks=pytest.mark.postgres)],
                         indirect=True)
def test_concurrent_sends_keep_each_circles_numbers_unique_and_gapless(engine_app):
    owner = make_user("Rachel Stone")
    circle = make_circle(owner, name="Berkshire Leaders")
    other = make_circle(owner, name="Other Circle")
    senders = [add_member(circle, make_user(f"Sender {n}")) for n in range(12)]
    for sender in senders[:4]:
        add_member(other, sender)
    slug, other_slug = circle.slug, other.slug
    calls = [(lambda actor, s=slug: chat.send_message(actor, s, "hello", f"c-{actor.id}")[0]["seq"],
              sender.id) for sender in senders]
    calls += [(lambda actor, s=other_slug: chat.send_message(actor, s, "there", f"o-{actor.id}")[0][
        "seq"], sender.id) for sender in senders[:4]]
    outcomes = race(engine_app, *calls)
    assert all(succeeded(o) for o in outcomes), outcomes
    assert sorted(o[1] for o in outcomes[:12]) == list(range(1, 13))
    assert sorted(o[1] for o in outcomes[12:]) == [1, 2, 3, 4]
    db.session.expire_all()
    assert sorted(seqs(circle)) == list(range(1, 13)) == seqs(circle)  # id order is seq order
    assert seqs(other) == [1, 2, 3, 4]


def test_join_after_seq_answers_what_follows_in_order_a_page_at_a_time(connect, people,
                                                                       no_rate_limit,
                                                                       monkeypatch):
    circle, member = people["circle"], people["member"]
    sent = [post(people["other"], circle, f"message {n}") for n in range(7)]
    monkeypatch.setattr(chat, "CATCH_UP", 3)
    sc = connect(member)
    first = call(sc, "join", {"circle": circle.slug, "after_seq": 2})
    assert [m["seq"] for m in first["messages"]] == [3, 4, 5]
    assert first["through"] == 5 and first["has_newer"] is True
    second = call(sc, "join", {"circle": circle.slug, "after_seq": first["through"]})
    assert [m["seq"] for m in second["messages"]] == [6, 7]
    assert second["through"] == 7 and second["has_newer"] is False
    assert second["messages"][-1] == sent[-1]
    # A first join (no after_seq) says what it covers too.
    assert call(sc, "join", {"circle": circle.slug})["through"] == 7


def test_deleted_messages_are_covered_but_not_sent(connect, people):
    circle, member = people["circle"], people["member"]
    sent = [post(member, circle, f"message {n}") for n in range(4)]
    chat.delete_message(member, sent[1]["id"])
    chat.delete_message(member, sent[3]["id"])
    sc = connect(people["other"])
    answer = call(sc, "join", {"circle": circle.slug, "after_seq": 0})
    assert [m["seq"] for m in answer["messages"]] == [1, 3]
    assert answer["through"] == 4  # nothing is missing up to the deleted last one
    fetched = call(sc, "fetch", {"circle": circle.slug, "after_seq": 1, "before_seq": 3})
    assert fetched["messages"] == [] and fetched["through"] == 2


def test_fetch_answers_exactly_the_missing_range(connect, people):
    circle = people["circle"]
    sent = [post(people["other"], circle, f"message {n}") for n in range(6)]
    sc = connect(people["member"])
    assert call(sc, "join", {"circle": circle.slug})["ok"]
    answer = call(sc, "fetch", {"circle": circle.slug, "after_seq": 2, "before_seq": 5})
    assert answer["ok"] and [m["seq"] for m in answer["messages"]] == [3, 4]
    assert answer["messages"] == sent[2:4]
    assert answer["through"] == 4 and answer["has_newer"] is False
    everything_after = call(sc, "fetch", {"circle": circle.slug, "after_seq": 4})
    assert [m["seq"] for m in everything_after["messages"]] == [5, 6]
    assert call(sc, "fetch", {"circle": circle.slug, "after_seq": 6}) == {
        "ok": True, "messages": [], "has_newer": False, "through": 6}


@pytest.mark.parametrize("who", ["outsider", "removed"])
def test_fetch_by_a_non_member_is_not_found(connect, people, who):
    circle = people["circle"]
    post(people["other"], circle, "private")
    user = people["outsider"]
    if who == "removed":
        user = people["member"]
    sc = connect(user)
    if who == "removed":
        assert call(sc, "join", {"circle": circle.slug})["ok"]
        moderation.remove_member(people["owner"], circle.slug, user.id)
    for event in ("fetch", "join"):
        answer = call(sc, event, {"circle": circle.slug, "after_seq": 0})
        assert answer["ok"] is False and answer["error"] == NOT_FOUND
        assert "messages" not in answer
    missing = call(sc, "fetch", {"circle": "no-such-circle", "after_seq": 0})
    assert {k: v for k, v in missing.items()} == {k: v for k, v in answer.items()}


@pytest.mark.parametrize("payload", [
    {"after_seq": "1"}, {"after_seq": -1}, {"after_seq": True}, {},
    {"after_seq": 1, "before_seq": "x"}, {"after_seq": 2**64},
])
def test_fetch_with_a_bad_range_is_invalid(connect, people, payload):
    sc = connect(people["member"])
    answer = call(sc, "fetch", {"circle": people["circle"].slug, **payload})
    assert answer["ok"] is False and answer["error"] == "invalid"
    assert sc.is_connected("/chat")


def test_fetch_is_throttled_with_join_and_load_older(app, connect, people):
    app.config["CHAT_READ_LIMIT"] = 3
    sc = connect(people["member"])
    slug = people["circle"].slug
    assert call(sc, "join", {"circle": slug})["ok"]
    answers = [call(sc, "fetch", {"circle": slug, "after_seq": 0}) for _ in range(3)]
    assert [a["ok"] for a in answers] == [True, True, False]
    assert answers[-1]["error"] == "rate_limited"


def test_older_clients_still_catch_up_by_id(connect, people):
    circle = people["circle"]
    sent = [post(people["other"], circle, f"message {n}") for n in range(3)]
    sc = connect(people["member"])
    answer = call(sc, "join", {"circle": circle.slug, "after_id": sent[0]["id"]})
    assert [m["id"] for m in answer["messages"]] == [sent[1]["id"], sent[2]["id"]]


# --- The migration numbers the messages that already exist ------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_uri(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/migrate.sqlite3"
    return request.getfixturevalue("postgres_url")


def test_the_migration_numbers_existing_messages_per_circle_in_id_order(db_uri):
    app = create_app(app_config(db_uri))
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="a7d3e0c45f12")
        _, first_id, second_id = insert_chat_world()
        db.session.remove()
        upgrade(directory=MIGRATIONS)
        rows = db.session.execute(text(
            "SELECT circle_id, seq FROM chat_messages ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(first_id, 1), (second_id, 1), (first_id, 2),
                                             (first_id, 3), (second_id, 2)]
        with pytest.raises(Exception, match="(?i)unique"):
            db.session.execute(text("UPDATE chat_messages SET seq = 1 WHERE circle_id = :c"),
                               {"c": first_id})
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
