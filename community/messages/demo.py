"""The demo's direct messages: the quiet follow-ups after a meetup, written
through the messages actions and dated back to when they were "said"."""
import uuid
from datetime import timedelta

from sqlalchemy import select, update

from ..accounts.models import User
from ..circles.models import Circle
from ..extensions import db
from ..timeutil import utcnow
from . import actions
from .models import Conversation, ConversationMember, DirectMessage

# (the people, besides the first writer, who are in it; [(minutes ago, name, text)])
CONVERSATIONS = [
    (("Helen Marsh", "Rachel Stone"), [
        (1500, "Helen Marsh", "Can I call you about the funding cliff? The practice's ARRS money "
                              "ends in March and I'd value a frank view before the partners meet."),
        (1490, "Rachel Stone", "Of course. Thursday after 4? I'll ring your mobile."),
        (45, "Helen Marsh", "Thank you for Thursday — the partners agreed to phase it. "
                            "Owe you a coffee."),
    ]),
    (("Gareth Lloyd", "Marcus Bell", "Rachel Stone"), [
        (3000, "Gareth Lloyd", "Following up from the meetup: care leavers released from "
                               "Thameside with nowhere to go. Could the three of us meet?"),
        (2950, "Marcus Bell", "Yes — our leaving-care team should be in the room too."),
        (30, "Gareth Lloyd", "I've put a draft protocol in our shared folder; thoughts by Friday?"),
    ]),
]
OWNER = "Rachel Stone"  # hasn't read the last message of either: her badge shows 2


def seed_demo(circle: Circle, people: dict[str, User]) -> None:
    """Start each conversation among people of the demo circle (skipping any missing)."""
    for names, script in CONVERSATIONS:
        if any(name not in people for name in names):
            continue
        starter, *others = (people[name] for name in names)
        conversation = actions.start_conversation(starter, [str(o.id) for o in others])
        _say(conversation, script, people)


def _say(conversation: Conversation, script, people: dict[str, User]) -> None:
    # Started just before its first message (everyone reads from when they joined).
    began = utcnow() - timedelta(minutes=script[0][0] + 1)
    db.session.get(Conversation, conversation.id).created_at = began
    db.session.execute(update(ConversationMember).where(
        ConversationMember.conversation_id == conversation.id).values(joined_at=began))
    db.session.commit()
    for minutes_ago, name, text in script:
        payload, _ = actions.send_message(people[name], conversation.id, text,
                                          f"demo-{uuid.uuid4().hex}")
        message = db.session.get(DirectMessage, payload["id"])
        # Dated back at once, so the demo's writers stay inside the rate limit.
        message.created_at = utcnow() - timedelta(minutes=minutes_ago)
        db.session.get(Conversation, conversation.id).last_message_at = message.created_at
        db.session.commit()
    # Everyone has read it all but the owner, who hasn't seen the last message.
    for member in db.session.scalars(select(ConversationMember).where(
            ConversationMember.conversation_id == conversation.id)).all():
        unread = 1 if member.user.display_name == OWNER else 0
        actions.mark_read(member.user, conversation.id, len(script) - unread)
