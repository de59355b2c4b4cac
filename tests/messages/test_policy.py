"""Who may start, read, send to, leave and block in direct messages (the policy matrix)."""
import pytest
from werkzeug.exceptions import Forbidden, NotFound

from community.errors import ActionError
from community.messages import actions as dm
from community.messages.actions import CantSend
from community.policy import CANT_MESSAGE, ONLY_CIRCLE_MATES
from tests.messages.conftest import remove


def ids(*users):
    return [str(u.id) for u in users]


# --- Starting -------------------------------------------------------------------------------

@pytest.mark.parametrize("starter, picked, allowed", [
    ("member", ["other"], True),                       # share a circle
    ("member", ["other", "third", "moderator"], True), # a group, all circle-mates
    ("owner", ["nina"], True),                         # share another circle
    ("member", ["nina"], False),                       # Nina shares no circle with Gareth
    ("member", ["other", "nina"], False),              # one stranger spoils the group
    ("member", ["outsider"], False),                   # in no circle at all
    ("admin", ["member"], False),                      # a site admin is no circle-mate
    ("outsider", ["member"], False),
])
def test_who_may_start_a_conversation(people, starter, picked, allowed):
    if allowed:
        conversation = dm.start_conversation(people[starter], ids(*(people[p] for p in picked)))
        assert conversation.id
    else:
        with pytest.raises(CantSend) as refused:
            dm.start_conversation(people[starter], ids(*(people[p] for p in picked)))
        assert refused.value.message == ONLY_CIRCLE_MATES
        assert refused.value.status == 403


def test_a_made_up_person_reads_as_a_stranger(people):
    with pytest.raises(CantSend) as refused:
        dm.start_conversation(people["member"], ["999999"])
    assert refused.value.message == ONLY_CIRCLE_MATES


def test_the_same_people_reuse_their_conversation(people):
    first = dm.start_conversation(people["member"], ids(people["other"], people["third"]))
    again = dm.start_conversation(people["third"], ids(people["member"], people["other"]))
    assert again.id == first.id
    other = dm.start_conversation(people["member"], ids(people["other"]))
    assert other.id != first.id  # two of the three is another conversation


def test_starting_again_brings_back_someone_who_left(people):
    group = dm.start_conversation(people["member"], ids(people["other"], people["third"]))
    dm.leave_conversation(people["third"], group.id)
    again = dm.start_conversation(people["member"], ids(people["other"], people["third"]))
    assert again.id == group.id
    dm.send_message(people["third"], group.id, "back", "c-back")  # a current member again


@pytest.mark.parametrize("picked, words", [
    ([], "at least one"),
    (["self"], "only other people"),
    (["other", "other"], "once"),
    (["1.5"], "from the list"),
    (["x"], "from the list"),
    (["-1"], "from the list"),
    ([" 3"], "from the list"),
    (["9" * 11], "from the list"),
    (["١"], "from the list"),
    ("3", "from the list"),  # not a list
])
def test_hostile_lists_of_people_get_a_clear_400(people, picked, words):
    me = people["member"]
    picked = picked if isinstance(picked, str) else [
        str(me.id) if p == "self" else str(people[p].id) if p in people else p for p in picked]
    with pytest.raises(ActionError) as refused:
        dm.start_conversation(me, picked)
    assert refused.value.status == 400 and words in refused.value.message


def test_ten_others_are_too_many(app, people):
    from tests.factories import add_member, make_user

    crowd = [add_member(people["circle"], make_user(f"Crowd {i}")) for i in range(10)]
    with pytest.raises(ActionError) as refused:
        dm.start_conversation(people["member"], ids(*crowd))
    assert refused.value.status == 400 and "at most 9" in refused.value.message
    # Eight others (nine people) is the most, and fine.
    assert dm.start_conversation(people["member"], ids(*crowd[:8])).id


# --- Reading --------------------------------------------------------------------------------

@pytest.fixture
def talk(people):
    """Gareth, Priya and Tom in a conversation with two messages."""
    conversation = dm.start_conversation(people["member"], ids(people["other"], people["third"]))
    dm.send_message(people["member"], conversation.id, "Can I call you about the funding cliff?", "m1")
    dm.send_message(people["other"], conversation.id, "Yes, after four.", "m2")
    return conversation


@pytest.mark.parametrize("who, readable", [
    ("member", True), ("other", True), ("third", True),
    ("owner", False),      # the circle's owner, not in the conversation
    ("moderator", False),  # a moderator of the circle they all share
    ("admin", False),      # a site admin
    ("outsider", False), ("nina", False),
])
def test_only_the_people_in_it_read_a_conversation(people, talk, who, readable):
    if readable:
        page = dm.conversation_page(people[who], talk.id)
        assert [m["body"] for m, _ in page["messages"]] == [
            "Can I call you about the funding cliff?", "Yes, after four."]
    else:
        with pytest.raises(NotFound):
            dm.conversation_page(people[who], talk.id)


@pytest.mark.parametrize("conversation_id", [10**6, 0, -1, 2**31, "1", None, True, 1.0])
def test_a_made_up_id_is_the_same_not_found(people, talk, conversation_id):
    with pytest.raises(NotFound):
        dm.conversation_page(people["member"], conversation_id)


def test_a_former_circle_mate_reads_the_history_but_cant_send(people, talk):
    remove(people, people["third"])
    page = dm.conversation_page(people["third"], talk.id)
    assert len(page["messages"]) == 2
    assert page["refusal"]  # Tom shares no circle with Gareth or Priya now
    with pytest.raises(CantSend, match="no longer shares a circle"):
        dm.send_message(people["third"], talk.id, "still there?", "t1")
    # And the others can't write to Tom either: the page says why.
    page = dm.conversation_page(people["member"], talk.id)
    assert "Tom Hale no longer shares a circle with you" in page["refusal"]
    with pytest.raises(CantSend, match="Tom Hale no longer shares a circle"):
        dm.send_message(people["member"], talk.id, "hello?", "g9")


# --- Sending --------------------------------------------------------------------------------

def test_a_member_sends_and_a_resend_is_not_stored_twice(people, talk):
    payload, created = dm.send_message(people["third"], talk.id, "I'm in **too**", "t-1")
    assert created and payload["seq"] == 3 and payload["conversation"] == talk.id
    assert payload["html"] == "<p>I'm in <strong>too</strong></p>\n"
    again, created = dm.send_message(people["third"], talk.id, "I'm in **too**", "t-1")
    assert not created and again["id"] == payload["id"]
    assert len(dm.conversation_page(people["member"], talk.id)["messages"]) == 3


@pytest.mark.parametrize("who", ["owner", "moderator", "admin", "outsider"])
def test_no_one_outside_sends(people, talk, who):
    with pytest.raises(NotFound):
        dm.send_message(people[who], talk.id, "let me in", "x-1")


@pytest.mark.parametrize("body, code", [("", "empty"), ("   ", "empty"), (None, "invalid"),
                                        ("a\u202eb", "invalid"), ("x" * 4001, "too_long")])
def test_bad_text_is_refused_as_in_chat(people, talk, body, code):
    with pytest.raises(ActionError) as refused:
        dm.send_message(people["member"], talk.id, body, "bad-1")
    assert refused.value.code == code


def test_messages_are_numbered_per_conversation(people, talk):
    pair = dm.start_conversation(people["member"], ids(people["other"]))
    payload, _ = dm.send_message(people["member"], pair.id, "just us", "p-1")
    assert payload["seq"] == 1  # its own numbering, whatever the group's is


# --- Leaving --------------------------------------------------------------------------------

def test_leaving_a_group(people, talk):
    dm.leave_conversation(people["third"], talk.id)
    page = dm.conversation_page(people["member"], talk.id)
    assert [m.user_id for m in page["members"] if not m.is_current] == [people["third"].id]
    dm.send_message(people["member"], talk.id, "after Tom left", "m3")
    # Tom keeps what was said while he was in it, and nothing after.
    tom = dm.conversation_page(people["third"], talk.id)
    assert [m["body"] for m, _ in tom["messages"]][-1] == "Yes, after four."
    assert "You left" in tom["refusal"]
    with pytest.raises(CantSend, match="You left"):
        dm.send_message(people["third"], talk.id, "wait", "t-2")
    with pytest.raises(Forbidden, match="already left"):
        dm.leave_conversation(people["third"], talk.id)


def test_a_conversation_of_two_cant_be_left(people):
    pair = dm.start_conversation(people["member"], ids(people["other"]))
    with pytest.raises(Forbidden, match="mute it, or block"):
        dm.leave_conversation(people["member"], pair.id)


def test_only_members_leave(people, talk):
    with pytest.raises(NotFound):
        dm.leave_conversation(people["moderator"], talk.id)


# --- Blocking -------------------------------------------------------------------------------

def test_a_blocked_person_only_hears_they_cant_message(people):
    pair = dm.start_conversation(people["member"], ids(people["other"]))
    dm.block(people["other"], people["member"].id)
    with pytest.raises(CantSend) as refused:
        dm.send_message(people["member"], pair.id, "hello?", "b-1")
    assert refused.value.message == CANT_MESSAGE
    with pytest.raises(CantSend) as refused:
        dm.start_conversation(people["member"], ids(people["other"]))
    assert refused.value.message == CANT_MESSAGE
    # The page says the same, and nothing else about it.
    assert dm.conversation_page(people["member"], pair.id)["refusal"] == CANT_MESSAGE
    # The one who blocked is told why, and how to undo it.
    with pytest.raises(CantSend, match="You've blocked Gareth Lloyd"):
        dm.send_message(people["other"], pair.id, "hi", "b-2")
    dm.unblock(people["other"], people["member"].id)
    dm.send_message(people["member"], pair.id, "hello again", "b-3")


def test_a_block_in_a_group_stops_the_blocked_person_writing_to_it(people, talk):
    dm.block(people["other"], people["third"].id)
    with pytest.raises(CantSend) as refused:
        dm.send_message(people["third"], talk.id, "hi all", "g-1")
    assert refused.value.message == "You can't message Priya Raman."
    dm.send_message(people["member"], talk.id, "Gareth still writes", "g-2")


def test_blocking_twice_is_once_and_strangers_cant_be_blocked(people):
    dm.block(people["member"], people["other"].id)
    dm.block(people["member"], people["other"].id)
    for who in ("outsider", "nina", "admin"):
        with pytest.raises(NotFound):
            dm.block(people["member"], people[who].id)
    with pytest.raises(NotFound):
        dm.block(people["member"], people["member"].id)
    with pytest.raises(NotFound):
        dm.block(people["member"], 10**6)


def test_a_block_outlives_the_shared_circle_and_can_still_be_lifted(people):
    dm.block(people["member"], people["third"].id)
    remove(people, people["third"])
    dm.unblock(people["member"], people["third"].id)
    assert not dm.has_blocked(people["member"], people["third"].id)
