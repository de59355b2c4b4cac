"""Everything people do with direct messages: start, send, read, leave, block.

Each action authorises through community/policy.py every time (people stop
sharing circles and block each other while a conversation is open), writes
with one commit, and stores messages through the chat machinery
(community/chat/store.py): the same checks of text and client_id, the same
de-duplication of a resend, the same numbering without gaps.
"""
import re

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from ..accounts.models import User
from ..chat.store import (
    check_rate,
    clean_body,
    clean_client_id,
    describe,
    find_resend,
    last_seq,
    latest_page,
    next_seq,
)
from ..content import render
from ..database import begin_write
from ..errors import ActionError
from ..extensions import db
from ..policy import (
    access_blockable,
    access_conversation,
    can_leave_conversation,
    message_facts,
    readable_message,
    require,
    send_refusal,
    start_refusal,
)
from ..timeutil import utcnow
from .models import MAX_PEOPLE, Block, Conversation, ConversationMember, DirectMessage, people_key

PAGE = 50      # messages shown on opening a conversation
LISTED = 50    # conversations on the Messages page
ID = re.compile(r"[0-9]{1,10}")


class CantSend(ActionError):
    """A rule says no to someone who may know the conversation exists."""

    status = 403


# --- Starting -----------------------------------------------------------------------------

def clean_people(actor: User, people) -> list[int]:
    """The other people picked for a conversation, as ids.

    :raise ActionError: not a list of ids, an id twice, oneself among them,
        or more than MAX_PEOPLE - 1 of them.
    """
    if not isinstance(people, list | tuple) or not all(
            isinstance(p, str) and ID.fullmatch(p) or type(p) is int for p in people):
        raise ActionError("Pick the people from the list.", code="invalid", field="people")
    ids = [int(p) for p in people]
    if len(ids) > MAX_PEOPLE - 1:
        raise ActionError(f"A conversation can have at most {MAX_PEOPLE} people, you included: "
                          f"pick at most {MAX_PEOPLE - 1}.", code="too_many", field="people")
    if len(set(ids)) != len(ids):
        raise ActionError("Each person can be picked once.", code="invalid", field="people")
    if actor.id in ids:
        raise ActionError("You're in every conversation you start: pick only other people.",
                          code="invalid", field="people")
    if not ids:
        raise ActionError("Pick at least one person to write to.", code="empty", field="people")
    return ids


def start_conversation(actor: User, people) -> Conversation:
    """A conversation between the actor and these people (ids): the existing
    one of exactly the same people if there is one (anyone of them who had
    left is back in it, as they would be in a new one), else a new one.

    :raise ActionError: bad list (as clean_people); someone who shares no
        active circle with the actor, or a block either way (CantSend).
    """
    others = clean_people(actor, people)
    actor_id = actor.id
    begin_write()
    try:
        refusal = start_refusal(others, message_facts(actor_id, others))
        if refusal:
            raise CantSend(refusal, code="cant_message", field="people")
        key = people_key([actor_id, *others])
        conversation = db.session.scalar(select(Conversation).where(Conversation.people == key))
        if conversation is None:
            conversation = Conversation(people=key, created_by_id=actor_id, created_at=utcnow())
            db.session.add(conversation)
            db.session.flush()
            db.session.add_all(ConversationMember(conversation_id=conversation.id, user_id=i,
                                                  joined_at=conversation.created_at)
                               for i in [actor_id, *others])
        else:
            db.session.execute(update(ConversationMember).where(
                ConversationMember.conversation_id == conversation.id,
                ConversationMember.left_at.is_not(None)).values(left_at=None))
        conversation_id = conversation.id
        db.session.commit()
    except IntegrityError:
        # The same people started it at the same moment elsewhere: theirs it is.
        db.session.rollback()
        conversation_id = db.session.scalar(select(Conversation.id).where(
            Conversation.people == people_key([actor_id, *others])))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return db.session.get(Conversation, conversation_id)


# --- Sending ------------------------------------------------------------------------------

def _others(conversation_id: int, user_id: int) -> list[ConversationMember]:
    """The other current members of a conversation."""
    return list(db.session.scalars(select(ConversationMember).where(
        ConversationMember.conversation_id == conversation_id,
        ConversationMember.user_id != user_id, ConversationMember.left_at.is_(None))))


def send_refusal_for(actor: User, conversation_id: int) -> str | None:
    """Why the actor can't write to the conversation now (for the page), or None.

    :raise NotFound: as access_conversation.
    """
    _, me = access_conversation(actor, conversation_id)
    others = _others(conversation_id, actor.id)
    return send_refusal(me, others, message_facts(actor.id, [o.user_id for o in others]))


def send_message(actor: User, conversation_id, body, client_id) -> tuple[dict, bool]:
    """Store a message in a conversation. A resend with the same client_id
    returns the stored message and creates nothing.

    Returns (the message's payload, whether it was created now).

    :raise NotFound: no such conversation, or the actor was never in it.
    :raise ActionError: bad body or client_id (nothing is stored then).
    :raise CantSend: the actor left, or someone in it blocked them, was
        blocked by them or no longer shares a circle with them (the message says which).
    :raise TooManyAttempts: over the rate limit (code rate_limited).
    """
    body = clean_body(body)
    client_id = clean_client_id(client_id)
    author = {"id": actor.id, "name": actor.display_name}  # before begin_write expires actor
    # The conversation's lock is held until commit: numbers are taken one at a
    # time, and a block or departure lands wholly before or after the message.
    begin_write()
    try:
        conversation, me = access_conversation(actor, conversation_id, for_update=True)
        place = {"conversation": conversation.id}
        existing = find_resend(DirectMessage, DirectMessage.conversation_id, conversation.id,
                               author["id"], client_id)
        if existing is not None:
            payload = describe(existing, place, author)
            db.session.commit()
            return payload, False
        others = _others(conversation.id, author["id"])
        refusal = send_refusal(me, others, message_facts(author["id"], [o.user_id for o in others]))
        if refusal:
            raise CantSend(refusal, code="cant_send")
        check_rate(DirectMessage, author["id"])
        now = utcnow()
        message = DirectMessage(conversation_id=conversation.id,
                                seq=next_seq(DirectMessage.conversation_id, conversation.id),
                                author_id=author["id"], client_id=client_id, source=body,
                                html=render(body), created_at=now)
        db.session.add(message)
        conversation.last_message_at = now
        me.last_read_seq = max(me.last_read_seq, message.seq)  # one has read what one writes
        db.session.flush()
        payload = describe(message, place, author)
        db.session.commit()
    except IntegrityError:
        # The same client_id raced in from another conversation or circle.
        db.session.rollback()
        raise ActionError("That client_id was already used for another message.",
                          code="invalid", field="client_id") from None
    except Exception:
        db.session.rollback()
        raise
    # The live side (a broadcast to the conversation's room) comes with the
    # socket handlers; a client that reconnects catches up by seq meanwhile.
    return payload, True


# --- Reading ------------------------------------------------------------------------------

def conversation_page(actor: User, conversation_id) -> dict:
    """What the conversation's page shows: the conversation, the actor's
    membership, everyone who is or was in it (with what the actor may know
    of them), the last PAGE messages (a former member's, up to when they
    left), and why the actor can't write, if they can't.

    :raise NotFound: as access_conversation.
    """
    conversation, me = access_conversation(actor, conversation_id)
    rows = db.session.execute(
        select(ConversationMember, User.display_name)
        .join(User, User.id == ConversationMember.user_id)
        .where(ConversationMember.conversation_id == conversation.id)
        .order_by(ConversationMember.joined_at, ConversationMember.id)
        .options(lazyload(ConversationMember.user))).all()
    members = [row[0] for row in rows]
    names = {row[0].user_id: row[1] for row in rows}
    others = [m for m in members if m.user_id != actor.id and m.is_current]
    facts = message_facts(actor.id, [m.user_id for m in members])
    through = _visible_through(conversation.id, me)
    messages, has_older = latest_page(DirectMessage.conversation_id, conversation.id, through, PAGE)
    place = {"conversation": conversation.id}
    return {"conversation": conversation, "me": me, "members": members, "names": names,
            "messages": [(describe(m, place), m.created_at) for m in messages],
            "has_older": has_older, "through": through, "refusal": send_refusal(me, others, facts),
            "blocked": {i for i, fact in facts.items() if fact["blocked"]},
            "has_unread": through > me.last_read_seq,
            "can_leave": can_leave_conversation(me, len(members))}


def _visible_through(conversation_id: int, me: ConversationMember) -> int:
    """The last seq the member may read: all of it, or, after leaving, up to then."""
    if me.is_current:
        return last_seq(DirectMessage.conversation_id, conversation_id)
    return db.session.scalar(select(func.coalesce(func.max(DirectMessage.seq), 0)).where(
        DirectMessage.conversation_id == conversation_id, readable_message(me.left_at)))


def mark_read(actor: User, conversation_id, seq) -> int:
    """Move the actor's read position forward to seq (never back, never past
    what they may read). Returns the position now stored.

    :raise NotFound: as access_conversation.
    :raise ActionError: seq is not a number.
    """
    if type(seq) is not int or not 0 <= seq < 2**31:
        raise ActionError("Say which message you read up to.", code="invalid", field="seq")
    _, me = access_conversation(actor, conversation_id)
    seq = min(seq, _visible_through(me.conversation_id, me))
    if seq > me.last_read_seq:
        me.last_read_seq = seq
    position = me.last_read_seq
    db.session.commit()
    return position


def conversation_list(user: User) -> list[dict]:
    """The user's conversations, newest first (the LISTED most recent), each
    with everyone in it and how many messages by others the user hasn't read:
    two statements, however many conversations and messages.
    """
    mine = ConversationMember
    unread = (select(func.count(DirectMessage.id))
              .where(DirectMessage.conversation_id == mine.conversation_id,
                     DirectMessage.seq > mine.last_read_seq, DirectMessage.deleted_at.is_(None),
                     # a former member counts nothing said after they left
                     readable_message(mine.left_at),
                     (DirectMessage.author_id != mine.user_id) | DirectMessage.author_id.is_(None))
              .correlate(mine).scalar_subquery())
    newest = func.coalesce(Conversation.last_message_at, Conversation.created_at)
    rows = db.session.execute(
        select(Conversation, mine.muted, mine.left_at, unread.label("unread"))
        .join(mine, and_(mine.conversation_id == Conversation.id, mine.user_id == user.id))
        .order_by(newest.desc(), Conversation.id.desc()).limit(LISTED)).all()
    if not rows:
        return []
    people: dict[int, list[tuple[str, bool]]] = {}
    for conversation_id, name, left_at in db.session.execute(
            select(ConversationMember.conversation_id, User.display_name, ConversationMember.left_at)
            .join(User, User.id == ConversationMember.user_id)
            .where(ConversationMember.conversation_id.in_([r.Conversation.id for r in rows]),
                   ConversationMember.user_id != user.id)
            .order_by(ConversationMember.id)):
        people.setdefault(conversation_id, []).append((name, left_at is not None))
    return [{"conversation": r.Conversation, "people": people.get(r.Conversation.id, []),
             "unread": r.unread, "muted": r.muted, "left": r.left_at is not None} for r in rows]


# --- Leaving, muting, blocking ----------------------------------------------------------------

def leave_conversation(actor: User, conversation_id) -> None:
    """Leave a group conversation: no more messages reach the actor, who keeps
    reading what was said until then; the others see that they left.

    :raise NotFound: as access_conversation.
    :raise Forbidden: already left, or a conversation of two.
    """
    _, me = access_conversation(actor, conversation_id)
    people = db.session.scalar(select(func.count(ConversationMember.id)).where(
        ConversationMember.conversation_id == me.conversation_id))
    require(can_leave_conversation(me, people),
            "You already left this conversation." if not me.is_current else
            "A conversation of two can't be left: mute it, or block the person.")
    me.left_at = utcnow()
    db.session.commit()


def block(actor: User, user_id) -> User:
    """Block someone: they can no longer start a conversation with the actor
    or write to one they share. They are told only that they can't message
    the actor; blocking again changes nothing.

    :raise NotFound: no such person, oneself, or someone the actor shares
        neither a circle nor a conversation with.
    """
    other = access_blockable(actor, user_id)
    exists = db.session.scalar(select(Block.id).where(Block.blocker_id == actor.id,
                                                      Block.blocked_id == other.id))
    if exists is None:
        db.session.add(Block(blocker_id=actor.id, blocked_id=other.id, created_at=utcnow()))
        try:
            db.session.commit()
        except IntegrityError:  # the same block, from another tab at the same moment
            db.session.rollback()
    else:
        db.session.commit()
    return other


def unblock(actor: User, user_id) -> None:
    """Lift a block (nothing happens if there was none).

    :raise NotFound: no block, and as block (a block outlives sharing a
        circle, so lifting it never needs one).
    """
    if not has_blocked(actor, user_id):
        access_blockable(actor, user_id)
    db.session.execute(delete(Block).where(Block.blocker_id == actor.id,
                                           Block.blocked_id == user_id))
    db.session.commit()


def has_blocked(actor: User, user_id) -> bool:
    """Whether the actor blocked this person (for the actor's own pages only)."""
    if type(user_id) is not int or not 0 < user_id < 2**31:
        return False
    return db.session.scalar(select(Block.id).where(Block.blocker_id == actor.id,
                                                    Block.blocked_id == user_id)) is not None
