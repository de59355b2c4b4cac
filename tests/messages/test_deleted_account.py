"""A deleted account and its conversations: on SQLite the next account may get
its id, and Conversation.people holds ids, so the newcomer must not be matched
to the deleted person's conversations nor read them."""
import re

from sqlalchemy import func, select

from community.accounts import actions as accounts
from community.extensions import db
from community.messages import actions as dm
from community.messages.models import Conversation, ConversationMember
from tests.factories import PASSWORD, add_member, make_user
from tests.messages.conftest import login, text


def start(a, *others):
    return dm.start_conversation(a, [str(o.id) for o in others])


def test_a_new_account_with_a_deleted_ones_id_gets_a_new_conversation(app, people):
    gareth, circle = people["member"], people["circle"]
    leaving = add_member(circle, make_user("Ben Leaving"))  # the newest account: its id comes back
    old = start(gareth, leaving)
    dm.send_message(leaving, old.id, "Only for Gareth: my resignation letter", "b1")
    dm.send_message(gareth, old.id, "Sorry to hear it", "g1")
    old_id, leaving_id = old.id, leaving.id
    accounts.delete_account(leaving, PASSWORD)

    newcomer = add_member(circle, make_user("Nadia New"))
    if db.engine.dialect.name == "sqlite":
        assert newcomer.id == leaving_id  # the id really is given again (no AUTOINCREMENT)
    # Neither of them starting a conversation finds the old one.
    fresh = start(newcomer, gareth)
    assert fresh.id != old_id
    assert start(gareth, newcomer).id == fresh.id
    # The newcomer is in no row of the old conversation (its members went by
    # cascade) and reads nothing of it, by page, list or action.
    assert db.session.scalar(select(func.count(ConversationMember.id)).where(
        ConversationMember.conversation_id == old_id, ConversationMember.user_id == newcomer.id)) == 0
    client = login(app, newcomer)
    assert client.get(f"/messages/{old_id}").status_code == 404
    assert "resignation" not in text(client.get(f"/messages/{fresh.id}"))
    assert "resignation" not in text(client.get("/messages"))
    data = client.get("/settings/data.json").get_data(as_text=True)
    assert "resignation" not in data and "Sorry to hear it" not in data


def test_the_deleted_persons_messages_stay_for_the_others_as_former_member(app, people):
    gareth, priya, circle = people["member"], people["other"], people["circle"]
    leaving = add_member(circle, make_user("Ben Leaving"))
    group = start(gareth, priya, leaving)
    dm.send_message(leaving, group.id, "The last word from Ben", "b1")
    dm.send_message(priya, group.id, "Priya answers", "p1")
    accounts.delete_account(leaving, PASSWORD)
    html = text(login(app, gareth).get(f"/messages/{group.id}"))
    authors = re.findall(r'<span class="chat-msg__author">(.*?)</span>', html)
    assert authors == ["Former member", "Priya Raman"]
    assert "The last word from Ben" in html and "Ben Leaving" not in html
    # The others' conversation of the remaining two is a new one.
    pair = start(gareth, priya)
    assert pair.id != group.id


def test_every_conversation_of_the_deleted_person_is_retired_and_no_other(app, people):
    gareth, priya, tom, circle = people["member"], people["other"], people["third"], people["circle"]
    leaving = add_member(circle, make_user("Ben Leaving"))
    theirs = [start(leaving, gareth), start(leaving, gareth, priya)]
    dm.leave_conversation(leaving, theirs[1].id)  # a former member's id counts too
    untouched = start(gareth, tom)
    key = untouched.people
    accounts.delete_account(leaving, PASSWORD)
    for conversation in theirs:
        assert db.session.get(Conversation, conversation.id).people == f"gone:{conversation.id}"
    assert db.session.get(Conversation, untouched.id).people == key
    assert start(tom, gareth).id == untouched.id
