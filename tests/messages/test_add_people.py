"""Adding people to a conversation: a pair stays private (a new conversation
holds the three), a group takes them in, and they read from when they joined."""
import json
import re
from html import unescape

import pytest
from sqlalchemy import func, select

from community.errors import ActionError, Conflict, NotFound
from community.extensions import db
from community.messages import actions as dm
from community.messages.actions import CantSend
from community.messages.models import Conversation, ConversationMember, people_key
from tests.factories import add_member, make_user
from tests.messages.conftest import login, text


def start(a, *others):
    return dm.start_conversation(a, [str(o.id) for o in others])


def ids(*users) -> list[str]:
    return [str(u.id) for u in users]


def member_ids(conversation_id: int) -> set[int]:
    return set(db.session.scalars(select(ConversationMember.user_id).where(
        ConversationMember.conversation_id == conversation_id)))


def said(html: str) -> list[str]:
    return re.findall(r'<div class="chat-msg__body"><p>(.*?)</p>', html)


# --- A pair stays a pair ----------------------------------------------------------------------

def test_adding_to_a_pair_starts_a_new_conversation_of_all_three(app, people):
    gareth, priya, tom = people["member"], people["other"], people["third"]
    pair = start(gareth, priya)
    dm.send_message(priya, pair.id, "Between us: the budget is gone.", "p1")
    client = login(app, gareth)
    answer = client.post(f"/messages/{pair.id}/add", data={"people": ids(tom)})
    assert answer.status_code == 302
    group_id = int(answer.location.rsplit("/", 1)[1])
    assert group_id != pair.id
    assert member_ids(pair.id) == {gareth.id, priya.id}  # the pair is as it was
    assert member_ids(group_id) == {gareth.id, priya.id, tom.id}
    assert "new conversation" in text(client.get(answer.location))
    toms = login(app, tom)
    assert toms.get(f"/messages/{pair.id}").status_code == 404
    assert "the budget is gone" not in text(toms.get(f"/messages/{group_id}"))
    # Adding the same person again opens the same group: no third conversation.
    again, elsewhere = dm.add_people(priya, pair.id, ids(tom))
    assert again.id == group_id and elsewhere
    assert db.session.scalar(select(func.count(Conversation.id))) == 2


def test_a_pair_grows_into_the_group_of_exactly_those_people_if_there_is_one(app, people):
    gareth, priya, tom = people["member"], people["other"], people["third"]
    group = start(tom, gareth, priya)
    pair = start(gareth, priya)
    found, _ = dm.add_people(gareth, pair.id, ids(tom))
    assert found.id == group.id


# --- A group takes them in ----------------------------------------------------------------------

def test_someone_added_to_a_group_reads_from_when_they_joined(app, people):
    gareth, priya, tom, rachel = people["member"], people["other"], people["third"], people["owner"]
    group = start(gareth, priya, tom)
    dm.send_message(priya, group.id, "Before Rachel", "p1")
    answer = login(app, gareth).post(f"/messages/{group.id}/add", data={"people": ids(rachel)})
    assert answer.status_code == 302 and answer.location.endswith(f"/messages/{group.id}")
    dm.send_message(tom, group.id, "After Rachel", "t1")
    rachels = login(app, rachel)
    html = text(rachels.get(f"/messages/{group.id}"))
    assert said(html) == ["After Rachel"]
    assert "Gareth Lloyd added you" in html
    assert re.findall(r'title="Unread messages">(\d+)<', text(rachels.get("/messages"))) == ["1"]
    # The others see who added whom, and read everything.
    priyas = text(login(app, priya).get(f"/messages/{group.id}"))
    assert "Gareth Lloyd added Rachel Stone" in priyas
    assert said(priyas) == ["Before Rachel", "After Rachel"]
    # Her data export holds what she may read, and no more.
    data = json.loads(rachels.get("/settings/data.json").get_data(as_text=True))
    assert [m["source"] for m in data["direct_messages"]] == ["After Rachel"]


def test_a_newcomer_with_nothing_said_since_reads_nothing_and_cant_mark_past_it(app, people):
    gareth, priya, tom, rachel = people["member"], people["other"], people["third"], people["owner"]
    group = start(gareth, priya, tom)
    for n in range(3):
        dm.send_message(priya, group.id, f"Before {n}", f"p{n}")
    dm.add_people(gareth, group.id, ids(rachel))
    html = text(login(app, rachel).get(f"/messages/{group.id}"))
    assert said(html) == [] and "No messages yet" in html and "Mark as read" not in html
    assert "Unread messages" not in text(login(app, rachel).get("/messages"))
    assert dm.mark_read(rachel, group.id, 3) == 3  # her position: what was said before her
    dm.send_message(priya, group.id, "Hello Rachel", "p9")
    assert dm.mark_read(rachel, group.id, 10**6) == 4


def test_the_people_key_follows_the_members(app, people):
    gareth, priya, tom, rachel = people["member"], people["other"], people["third"], people["owner"]
    group = start(gareth, priya, tom)
    dm.add_people(gareth, group.id, ids(rachel))
    assert db.session.get(Conversation, group.id).people == people_key(
        [gareth.id, priya.id, tom.id, rachel.id])
    # Starting a conversation with exactly those four finds this one.
    assert start(rachel, gareth, priya, tom).id == group.id


def test_adding_into_the_people_of_another_conversation_is_refused_and_points_there(app, people):
    gareth, priya, tom, rachel = people["member"], people["other"], people["third"], people["owner"]
    four = start(rachel, gareth, priya, tom)
    group = start(gareth, priya, tom)
    with pytest.raises(Conflict):
        dm.add_people(gareth, group.id, ids(rachel))
    answer = login(app, gareth).post(f"/messages/{group.id}/add", data={"people": ids(rachel)})
    assert answer.status_code == 409
    assert "already a conversation of exactly these people" in text(answer)
    assert f'href="/messages/{four.id}"' in text(answer)
    assert member_ids(group.id) == {gareth.id, priya.id, tom.id}


# --- Who may be added ----------------------------------------------------------------------------

def test_the_added_person_must_share_a_circle_with_the_adder(app, people):
    gareth, priya, rachel, nina = people["member"], people["other"], people["owner"], people["nina"]
    group = start(gareth, priya, rachel)
    answer = login(app, gareth).post(f"/messages/{group.id}/add", data={"people": ids(nina)})
    assert answer.status_code == 403 and "share a circle with you" in text(answer)
    for stranger in (people["outsider"], people["admin"]):
        with pytest.raises(CantSend):
            dm.add_people(gareth, group.id, ids(stranger))
    # Rachel shares a circle with Nina: she may add her, though the others don't.
    dm.add_people(rachel, group.id, ids(nina))
    assert nina.id in member_ids(group.id)


def test_nobody_blocked_either_way_by_a_member_is_added_and_whose_block_is_not_said(app, people):
    gareth, priya, tom, amara = (people["member"], people["other"], people["third"],
                                 people["moderator"])
    group = start(gareth, priya, tom)
    dm.block(priya, amara.id)  # Priya blocked Amara
    answer = login(app, gareth).post(f"/messages/{group.id}/add", data={"people": ids(amara)})
    assert answer.status_code == 403
    alert = unescape(text(answer).split("alert--error")[1].split("</div>")[0])
    assert "Amara Okafor can't be added to this conversation." in alert and "Priya" not in alert
    dm.unblock(priya, amara.id)
    dm.block(amara, tom.id)  # the other way round
    with pytest.raises(CantSend, match="can't be added"):
        dm.add_people(gareth, group.id, ids(amara))
    dm.block(gareth, people["owner"].id)  # one's own block is named
    with pytest.raises(CantSend, match="You've blocked Rachel Stone"):
        dm.add_people(gareth, group.id, ids(people["owner"]))
    assert member_ids(group.id) == {gareth.id, priya.id, tom.id}


def test_a_conversation_has_at_most_nine_people_those_who_left_included(app, people):
    circle, gareth = people["circle"], people["member"]
    more = [add_member(circle, make_user(f"Alum {n}")) for n in range(6)]
    group = start(gareth, people["other"], people["third"], *more[:5])  # 8 people
    dm.leave_conversation(more[0], group.id)
    with pytest.raises(CantSend, match="at most 9 people"):
        dm.add_people(gareth, group.id, ids(more[5], people["owner"]))
    dm.add_people(gareth, group.id, ids(more[5]))
    assert len(member_ids(group.id)) == 9
    html = text(login(app, gareth).get(f"/messages/{group.id}/add"))
    assert "the most there can be" in html and 'name="people"' not in html
    assert "Add people" not in text(login(app, gareth).get(f"/messages/{group.id}"))


def test_bad_lists_are_refused_with_a_message(app, people):
    gareth = people["member"]
    group = start(gareth, people["other"], people["third"])
    client = login(app, gareth)
    for bad in ([], ["x"], [str(gareth.id)], ids(people["other"]), ["1", "1"]):
        answer = client.post(f"/messages/{group.id}/add", data={"people": bad})
        assert answer.status_code in (400, 403), bad
        assert 'class="alert alert--error"' in text(answer)
    assert member_ids(group.id) == {gareth.id, people["other"].id, people["third"].id}


# --- Who may add ----------------------------------------------------------------------------------

def test_strangers_site_admins_and_those_who_left_cant_add(app, people):
    gareth, priya, tom, rachel = people["member"], people["other"], people["third"], people["owner"]
    group = start(gareth, priya, tom)
    for outsider in (people["moderator"], people["admin"]):
        client = login(app, outsider)
        assert client.get(f"/messages/{group.id}/add").status_code == 404
        assert client.post(f"/messages/{group.id}/add", data={"people": ids(rachel)}).status_code == 404
        with pytest.raises(NotFound):
            dm.add_people(outsider, group.id, ids(rachel))
    assert login(app, gareth).post("/messages/999999/add", data={"people": ids(rachel)}).status_code == 404
    dm.leave_conversation(tom, group.id)
    toms = login(app, tom)
    assert "you can't add people" in unescape(text(toms.get(f"/messages/{group.id}/add")))
    answer = toms.post(f"/messages/{group.id}/add", data={"people": ids(rachel)})
    assert answer.status_code == 403
    assert member_ids(group.id) == {gareth.id, priya.id, tom.id}


def test_one_who_cant_write_to_it_cant_add_to_it(app, people):
    gareth, priya, tom = people["member"], people["other"], people["third"]
    group = start(gareth, priya, tom)
    dm.block(priya, gareth.id)
    with pytest.raises(CantSend):
        dm.add_people(gareth, group.id, ids(people["owner"]))


def test_the_add_page_picks_from_circle_mates_not_yet_in_it_and_filters_by_name(app, people):
    gareth = people["member"]
    group = start(gareth, people["other"], people["third"])
    client = login(app, gareth)
    html = text(client.get(f"/messages/{group.id}/add"))
    assert "Rachel Stone" in html and "Amara Okafor" in html
    assert f'id="person-{people["other"].id}"' not in html  # already in it
    assert "Nina Park" not in html
    assert "read what is said from when they join" in html
    html = text(client.get(f"/messages/{group.id}/add?q=amara"))
    assert "Amara Okafor" in html and "Rachel Stone" not in html
    pair = start(gareth, people["other"])
    assert "starts a\n        new conversation" in text(client.get(f"/messages/{pair.id}/add"))
    assert f'href="/messages/{group.id}/add"' in text(client.get(f"/messages/{group.id}"))


def test_clean_people_still_guards_the_list(app, people):
    group = start(people["member"], people["other"], people["third"])
    with pytest.raises(ActionError):
        dm.add_people(people["member"], group.id, "not a list")


def test_the_add_page_says_why_one_who_cant_write_cant_add(app, people):
    gareth, priya = people["member"], people["other"]
    group = start(gareth, priya, people["third"])
    dm.block(gareth, priya.id)
    html = unescape(text(login(app, gareth).get(f"/messages/{group.id}/add")))
    assert "You've blocked Priya Raman" in html and 'name="people"' not in html
