"""Direct messages when people act at the same moment, on SQLite and PostgreSQL:
the same people starting a conversation at once get one, and a block landing
while a message is sent lands wholly before or after it."""
import pytest
from sqlalchemy import func, select

from community.extensions import db
from community.messages import actions as dm
from community.messages.models import Conversation, ConversationMember, DirectMessage
from tests.factories import add_member, make_circle, make_user
from tests.racing import race, succeeded


def circle_of_four():
    owner = make_user("Rachel Stone")
    circle = make_circle(owner, name="Berkshire Leaders")
    return [owner] + [add_member(circle, make_user(name))
                      for name in ("Gareth Lloyd", "Priya Raman", "Tom Hale")]


def test_the_same_people_starting_at_once_get_one_conversation(engine_app):
    _, gareth, priya, tom = circle_of_four()

    def start(actor, *others):
        return dm.start_conversation(actor, [str(o) for o in others]).id

    # Each of the three starts the group with the other two, twice over.
    calls = [(start, a, *[b for b in (gareth.id, priya.id, tom.id) if b != a])
             for a in (gareth.id, priya.id, tom.id) for _ in range(2)]
    outcomes = race(engine_app, *calls)
    assert all(succeeded(o) for o in outcomes), outcomes
    started = {o[1] for o in outcomes}
    assert len(started) == 1  # everyone was taken to the same conversation
    assert db.session.scalar(select(func.count(Conversation.id))) == 1
    members = db.session.scalars(select(ConversationMember.user_id).where(
        ConversationMember.conversation_id == started.pop())).all()
    assert sorted(members) == sorted([gareth.id, priya.id, tom.id])


def test_a_block_and_a_send_at_once_never_leave_a_message_after_the_block(engine_app):
    _, gareth, priya, _ = circle_of_four()
    pair = dm.start_conversation(gareth, [str(priya.id)])
    pair_id = pair.id

    def send(actor, n):
        dm.send_message(actor, pair_id, f"message {n}", f"race-{n}")
        return n

    def block(actor, other_id):
        dm.block(actor, other_id)
        return 0

    engine_app.config["CHAT_RATE_LIMIT"] = 1000
    outcomes = race(engine_app, *[(send, gareth.id, n) for n in range(6)], (block, priya.id, gareth.id))
    sent = [o for o in outcomes[:6] if succeeded(o)]
    refused = [o for o in outcomes[:6] if not succeeded(o)]
    assert all(isinstance(o, dm.CantSend) for o in refused), refused
    stored = db.session.scalar(select(func.count(DirectMessage.id)).where(
        DirectMessage.conversation_id == pair_id))
    assert stored == len(sent)  # what was refused stored nothing; what succeeded is there
    assert [m.seq for m in db.session.scalars(select(DirectMessage).order_by(DirectMessage.seq))] == \
        list(range(1, stored + 1))  # numbered without a gap
    # After the block, nothing more goes through.
    with pytest.raises(dm.CantSend):
        dm.send_message(db.session.get(type(gareth), gareth.id), pair_id, "after", "race-after")
