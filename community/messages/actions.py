"""Everything people do with direct messages: start, send, read, leave, block.

Each action authorises through community/policy.py every time (people stop
sharing circles and block each other while a conversation is open), writes
with one commit, and stores messages through the chat machinery
(community/chat/store.py): the same checks of text and client_id, the same
de-duplication of a resend, the same numbering without gaps.
"""
import re
from datetime import datetime
from functools import cache
from typing import NamedTuple

from sqlalchemy import String, and_, bindparam, case, cast, delete, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, lazyload

from ..accounts.models import User
from ..badges import COUNTED
from ..chat.live import broadcast_conversation, recheck_conversations_everywhere
from ..chat.store import (
    CATCH_UP,
    check_rate,
    clean_body,
    clean_client_id,
    describe,
    iso,
    last_seq,
    latest_page,
    older_than,
    storing,
)
from ..chat.store import after_seq as store_after_seq
from ..chat.store import changed_since as edits_since
from ..circles.actions import FORMER_MEMBER
from ..content import render
from ..database import begin_write, fresh_read
from ..errors import ActionError, Conflict
from ..extensions import db
from ..fast.prepared import Prepared, inline, prepared
from ..files.actions import attach_to_direct_message, clean_attachment_ids, discard_files_of
from ..files.present import describe as describe_file
from ..files.present import direct_message_files
from ..notifications.live import nudge
from ..policy import (
    ConversationMemberRow,
    access_blockable,
    access_conversation,
    access_conversation_rows,
    access_direct_message,
    add_refusal,
    blocks_with,
    can_delete_direct_message,
    can_edit_direct_message,
    can_leave_conversation,
    hearing_pairs,
    message_facts,
    others_with_facts,
    readable_message,
    require,
    send_refusal,
    start_refusal,
)
from ..timeutil import utcnow
from . import notify
from .models import MAX_PEOPLE, MIN_PEOPLE, Block, Conversation, ConversationMember, DirectMessage, people_key

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

def send_refusal_for(actor: User, conversation_id: int) -> str | None:
    """Why the actor can't write to the conversation now (for the page), or None.

    :raise NotFound: as access_conversation.
    """
    _, me = access_conversation_rows(actor, conversation_id)
    return _refusal(me)


def _refusal(me: ConversationMember) -> str | None:
    """Why the member can't write to their conversation now, or None (one statement)."""
    return send_refusal(me, *others_with_facts(me.user_id, me.conversation_id))


def send_message(actor: User, conversation_id, body, client_id,
                 attachments=None) -> tuple[dict, bool]:
    """Store a message in a conversation, with the actor's uploads there
    attached (its text may then be empty). A resend with the same client_id
    returns the stored message and creates (and attaches) nothing.

    Returns (the message's payload, whether it was created now).

    :raise NotFound: no such conversation, or the actor was never in it.
    :raise ActionError: bad body, client_id or attachments (invalid, too_many,
        attachment_gone: someone else's, another conversation's or a circle's,
        already attached; as chat's): nothing is stored then.
    :raise CantSend: the actor left, or someone in it blocked them, was
        blocked by them or no longer shares a circle with them (the message says which).
    :raise TooManyAttempts: over the rate limit (code rate_limited).
    """
    ids = clean_attachment_ids(attachments)
    body = clean_body(body, may_be_empty=bool(ids))
    client_id = clean_client_id(client_id)
    author = {"id": actor.id, "name": actor.display_name}
    # The conversation's lock is held until commit: numbers are taken one at a
    # time, and a block or departure lands wholly before or after the message.
    begin_write(keeping=actor)
    try:
        conversation, me = access_conversation(actor, conversation_id, for_update=True)
        place = {"conversation": conversation.id}
        known = storing(DirectMessage.conversation_id, conversation.id, author["id"], client_id)
        if known.resend is not None:
            payload = describe(known.resend, place, author,
                               direct_message_files([known.resend]).get(known.resend.id, ()))
            db.session.commit()
            return payload, False
        others, facts = others_with_facts(author["id"], conversation.id)
        refusal = send_refusal(me, others, facts)
        if refusal:
            raise CantSend(refusal, code="cant_send")
        check_rate(known.recent)
        now = utcnow()
        message = DirectMessage(conversation_id=conversation.id, seq=known.seq,
                                author_id=author["id"], client_id=client_id, source=body,
                                html=render(body), created_at=now)
        db.session.add(message)
        conversation.last_message_at = now
        me.last_read_seq = max(me.last_read_seq, message.seq)  # one has read what one writes
        db.session.flush()
        attached = attach_to_direct_message(actor, conversation.id, ids, message.id)
        payload = describe(message, place, author, [describe_file(None, a) for a in attached])
        listeners = [o.user_id for o in others if not o.muted]
        db.session.commit()
    except IntegrityError:
        # The same client_id raced in from another conversation or circle.
        db.session.rollback()
        raise ActionError("That client_id was already used for another message.",
                          code="invalid", field="client_id") from None
    except Exception:
        db.session.rollback()
        raise
    # Stored first, then broadcast: a lost broadcast is caught up by seq.
    broadcast_conversation("message_created", payload, payload["conversation"])
    nudge(listeners, "messages")  # their header badges ask for the new count
    notify.message_sent(place["conversation"], author["id"])  # the bell now, email later (notify.py)
    return payload, True


# --- Reading ------------------------------------------------------------------------------

def conversation_page(actor: User, conversation_id) -> dict:
    """What the conversation's page shows: the conversation, the actor's
    membership, everyone who is or was in it (with what the actor may know
    of them), who added whom, the last PAGE messages the actor may read
    (policy.readable_message: from when they joined until they left), and
    why the actor can't write, if they can't.

    :raise NotFound: as access_conversation.
    """
    conversation, me = access_conversation_rows(actor, conversation_id)
    members, names = _members_and_names(conversation.id)
    others = [m for m in members if m.user_id != actor.id and m.is_current]
    facts = message_facts(actor.id, [m.user_id for m in members])
    after, through = _visible_range(conversation, me)
    messages, has_older = latest_page(DirectMessage.conversation_id, conversation.id, through, PAGE,
                                      after=after)
    place = {"conversation": conversation.id}
    files = direct_message_files(messages)  # one statement for all the page's messages
    return {"conversation": conversation, "me": me, "members": members, "names": names,
            "messages": [(describe(m, place, attachments=files.get(m.id, ())), m.created_at)
                         for m in messages],
            "has_older": has_older, "through": through, "refusal": send_refusal(me, others, facts),
            "blocked": {i for i, fact in facts.items() if fact["blocked"]},
            "has_unread": through > me.last_read_seq,
            "added": _added_lines(members, names, actor.id),
            "can_leave": can_leave_conversation(me, len(members)),
            "can_add": me.is_current and len(members) < MAX_PEOPLE}


def _members_and_names(conversation_id: int) -> tuple[list[ConversationMemberRow], dict[int, str]]:
    """Everyone who is or was in the conversation, by when they joined, and
    {user id: name} of them: one prepared read."""
    rows = _members_statement.values({"conversation_id": conversation_id})
    members = [ConversationMemberRow(*row[:-1]) for row in rows]
    return members, {member.user_id: row[-1] for member, row in zip(members, rows, strict=True)}


@prepared
def _members_statement():
    """Everyone who is or was in a conversation (ConversationMemberRow's
    columns), each with their name after them."""
    return (select(ConversationMember.__table__, User.display_name)
            .join(User, User.id == ConversationMember.user_id)
            .where(ConversationMember.conversation_id == bindparam("conversation_id"))
            .order_by(ConversationMember.joined_at, ConversationMember.id))


def _added_lines(members, names: dict, me_id: int) -> list[tuple[str, datetime]]:
    """("Amara added Tom", when) for each member added to the conversation under way."""
    def name(user_id):
        if user_id == me_id:
            return "You"
        return names.get(user_id, FORMER_MEMBER)

    return [(f"{name(m.added_by_id)} added {'you' if m.user_id == me_id else names[m.user_id]}",
             m.joined_at) for m in members if m.added_by_id is not None]


def _visible_range(conversation: Conversation, me: ConversationMember) -> tuple[int, int]:
    """(after, through): the member reads the messages numbered after `after`
    and up to `through` (policy.readable_message): all of them for someone there
    from the start and still in it; from when they were added; until they left."""
    if me.is_current and me.joined_at <= conversation.created_at:
        return 0, last_seq(DirectMessage.conversation_id, conversation.id)
    after, through = _range_statement(me.left_at is not None).values({
        "conversation_id": conversation.id, "joined_at": me.joined_at, "left_at": me.left_at})[0]
    return after, max(after, through)


@cache
def _range_statement(left: bool) -> Prepared:
    """(after, through) of _visible_range for a member who joined late or left."""
    def build():
        joined = bindparam("joined_at", type_=DirectMessage.created_at.type)
        until = bindparam("left_at", type_=DirectMessage.created_at.type) if left else None
        earlier = func.max(case((DirectMessage.created_at < joined, DirectMessage.seq)))
        readable = func.max(case((readable_message(joined, until), DirectMessage.seq)))
        return (select(func.coalesce(earlier, 0), func.coalesce(readable, 0))
                .where(DirectMessage.conversation_id == bindparam("conversation_id")))
    return Prepared(build)


def mark_read(actor: User, conversation_id, seq) -> int:
    """Move the actor's read position forward to seq (never back, never past
    what they may read). Returns the position now stored.

    :raise NotFound: as access_conversation.
    :raise ActionError: seq is not a number.
    """
    if type(seq) is not int or not 0 <= seq < 2**31:
        raise ActionError("Say which message you read up to.", code="invalid", field="seq")
    conversation, me = access_conversation(actor, conversation_id)
    seq = min(seq, _visible_range(conversation, me)[1])
    member_id, position = me.id, me.last_read_seq
    # The read ends first: a transaction that starts with its write waits its
    # turn for SQLite's lock, where one that read first would fail at once.
    fresh_read()
    moved = db.session.execute(update(ConversationMember).where(
        ConversationMember.id == member_id, ConversationMember.last_read_seq < seq)
        .values(last_read_seq=seq)).rowcount
    if moved:
        # read before its email went: none goes
        notify.conversation_read(actor.id, me.conversation_id, seq)
    db.session.commit()
    position = max(position, seq)
    if moved:
        nudge([actor.id], "messages")  # the badge in the person's other tabs drops too
    return position


class ConversationRow(NamedTuple):
    """A line of the Messages page: everything it shows (its kept row's key)."""

    id: int
    newest: datetime  # its last message's time, or when it began
    people: tuple[tuple[str, bool], ...]  # everyone else in it: (name, has left), in order of joining
    unread: int  # messages by others the user hasn't read
    muted: bool
    left: bool  # the user has left it


def conversation_list(user: User, before: tuple[datetime, int] | None = None,
                      limit: int = LISTED) -> list[ConversationRow]:
    """The user's conversations, newest first (the `limit` most recent, or
    those older than `before`: the (newest time, id) of the last one on the
    page before), each with everyone in it and how many messages by others
    the user hasn't read: two statements, however many conversations and messages.
    """
    values = {"user_id": user.id, "limit": limit}
    if before is not None:
        values.update(before_time=before[0], before_id=before[1])
    rows = (_older_conversations if before is not None else _conversations).rows(values)
    if not rows:
        return []
    people: dict[int, list[tuple[str, bool]]] = {}
    for conversation_id, name, left_at in _others.values({"ids": [row.id for row in rows],
                                                           "user_id": user.id}):
        people.setdefault(conversation_id, []).append((name, left_at is not None))
    return [ConversationRow(row.id, row.newest, tuple(people.get(row.id, ())), row.unread, row.muted,
                            row.left_at is not None) for row in rows]


@prepared
def _conversations():
    # On every Messages page: prepared.
    return _conversations_statement(paged=False)


@prepared
def _older_conversations():
    return _conversations_statement(paged=True)


def _conversations_statement(paged: bool):
    mine = ConversationMember
    unread = (select(DirectMessage.id)
              .where(DirectMessage.conversation_id == mine.conversation_id,
                     DirectMessage.seq > mine.last_read_seq, DirectMessage.deleted_at.is_(None),
                     # nothing said before they joined, nor after they left
                     readable_message(mine.joined_at, mine.left_at),
                     (DirectMessage.author_id != mine.user_id) | DirectMessage.author_id.is_(None))
              .correlate(mine).limit(COUNTED).subquery())  # its badge's: badges.py
    unread = select(func.count()).select_from(unread).scalar_subquery()
    newest = func.coalesce(Conversation.last_message_at, Conversation.created_at)
    query = (select(Conversation.id, newest.label("newest"), mine.muted, mine.left_at, unread.label("unread"))
             .join(mine, and_(mine.conversation_id == Conversation.id, mine.user_id == bindparam("user_id")))
             .order_by(newest.desc(), Conversation.id.desc()).limit(inline("limit")))
    if paged:
        when = bindparam("before_time", type_=Conversation.created_at.type)
        query = query.where(or_(newest < when,
                                and_(newest == when, Conversation.id < bindparam("before_id"))))
    return query


@prepared
def _others():
    return (select(ConversationMember.conversation_id, User.display_name, ConversationMember.left_at)
            .join(User, User.id == ConversationMember.user_id)
            .where(ConversationMember.conversation_id.in_(bindparam("ids", expanding=True)),
                   ConversationMember.user_id != bindparam("user_id"))
            .order_by(ConversationMember.id))


def unread_total_query(user_id, up_to: int | None = None):
    """A scalar subquery: the messages by others the user hasn't read in the
    conversations they are in and haven't muted (the header badge's number;
    the Messages page still counts a muted conversation's), counted no further
    than up_to when given (the header shows "99+" beyond)."""
    mine = aliased(ConversationMember)
    unread = (select(DirectMessage.id)
              .join(mine, and_(mine.conversation_id == DirectMessage.conversation_id,
                               mine.user_id == user_id))
              .where(mine.left_at.is_(None), mine.muted.is_(False),
                     DirectMessage.seq > mine.last_read_seq, DirectMessage.deleted_at.is_(None),
                     (DirectMessage.author_id != user_id) | DirectMessage.author_id.is_(None)))
    if up_to is not None:
        unread = unread.limit(up_to)
    return select(func.count()).select_from(unread.subquery()).scalar_subquery()


def unread_total(user: User) -> int:
    """The header badge's number (unread_total_query), in one statement."""
    return db.session.scalar(select(unread_total_query(user.id)))


def conversation_list_page(user: User, before: tuple[datetime, int] | None = None) -> dict:
    """A page of the Messages list: {rows, older}, older being the (newest time,
    id) to ask for the next page with, or None on the last page."""
    rows = conversation_list(user, before, LISTED + 1)
    older = None
    if len(rows) > LISTED:
        rows = rows[:LISTED]
        older = (rows[-1].newest, rows[-1].id)
    return {"rows": rows, "older": older}


# --- Adding people ------------------------------------------------------------------------

def add_people(actor: User, conversation_id, people) -> tuple[Conversation, bool]:
    """Add people (ids) to a conversation, by the rule in policy.add_refusal.

    Added to a group (3 or more), they join it and read what is said from
    now on; its people key becomes that of everyone in it. Added to a
    conversation of two, they don't: the pair's conversation stays private,
    and the three or more meet in a new conversation, or in the one of exactly
    those people if there is one (anyone of them who had left is back in it).

    Returns (the conversation they are now in with the actor, whether it is
    another one than conversation_id).

    :raise NotFound: as access_conversation.
    :raise ActionError: bad list (as clean_people).
    :raise CantSend: the actor can't write to the conversation, or the rule
        says no (the message says why).
    :raise Conflict: a group of exactly the people it would have already
        exists (the message says so; `conversation_id` on the error is that one).
    """
    added = clean_people(actor, people)
    actor_id = actor.id
    begin_write()
    try:
        conversation, me = access_conversation(actor, conversation_id, for_update=True)
        members = list(db.session.scalars(
            select(ConversationMember).where(ConversationMember.conversation_id == conversation.id)
            .options(lazyload(ConversationMember.user))))
        current = [m.user_id for m in members if m.is_current]
        refusal = _refusal(me)
        if refusal:
            raise CantSend(refusal, code="cant_send")
        blocked = blocks_with(added, [i for i in current + added if i != actor_id])
        refusal = add_refusal(me, actor_id, current, [m.user_id for m in members if not m.is_current],
                              added, message_facts(actor_id, added), blocked)
        if refusal:
            raise CantSend(refusal, code="cant_add", field="people")
        now = utcnow()
        if len(members) <= MIN_PEOPLE:
            result = _pair_grows(actor_id, current, added, now)
        else:
            result = _group_grows(actor_id, conversation, members, added, now)
        db.session.commit()
    except IntegrityError:
        # Someone made a conversation of exactly these people at the same moment.
        db.session.rollback()
        raise Conflict("A conversation of exactly these people was started at the same moment: "
                       "open it from your messages.", code="exists", field="people") from None
    except Exception:
        db.session.rollback()
        raise
    return db.session.get(Conversation, result), result != conversation_id


def add_page(actor: User, conversation_id) -> dict:
    """What the "Add people" page shows: the conversation, who is in it now
    (their ids, to leave out of the picker), whether it is a pair (adding
    starts another conversation), and why the actor can't add anyone, if so.

    :raise NotFound: as access_conversation.
    """
    conversation, me = access_conversation_rows(actor, conversation_id)
    members, names = _members_and_names(conversation.id)
    current = [m for m in members if m.is_current]
    others = [m for m in current if m.user_id != actor.id]
    if not me.is_current:
        refusal = "You left this conversation, so you can't add people to it."
    elif len(members) >= MAX_PEOPLE:
        refusal = f"This conversation already has {MAX_PEOPLE} people, the most there can be."
    else:  # one who can't write to it can't bring others into it
        refusal = _refusal(me)
    return {"conversation": conversation, "names": [names[m.user_id] for m in others],
            "member_ids": [m.user_id for m in current], "pair": len(members) <= MIN_PEOPLE,
            "room": MAX_PEOPLE - len(members), "refusal": refusal}


def _pair_grows(actor_id: int, current: list[int], added: list[int], now) -> int:
    """A conversation of two gains people: a new one of all of them, or the existing one."""
    key = people_key([*current, *added])
    existing = db.session.scalar(select(Conversation).where(Conversation.people == key))
    if existing is not None:
        db.session.execute(update(ConversationMember).where(
            ConversationMember.conversation_id == existing.id,
            ConversationMember.left_at.is_not(None)).values(left_at=None))
        return existing.id
    conversation = Conversation(people=key, created_by_id=actor_id, created_at=now)
    db.session.add(conversation)
    db.session.flush()
    db.session.add_all(ConversationMember(conversation_id=conversation.id, user_id=i, joined_at=now,
                                          added_by_id=actor_id if i in added else None)
                       for i in [*current, *added])
    db.session.flush()
    return conversation.id


def _group_grows(actor_id: int, conversation: Conversation, members, added: list[int], now) -> int:
    """A group gains people: they read from now on; the key is everyone's who is or was in it."""
    key = people_key([*(m.user_id for m in members), *added])
    existing = db.session.scalar(select(Conversation.id).where(Conversation.people == key))
    if existing is not None:
        err = Conflict("There is already a conversation of exactly these people: "
                       "write there instead.", code="exists", field="people")
        err.conversation_id = existing
        raise err
    through = last_seq(DirectMessage.conversation_id, conversation.id)
    former = {m.user_id: m for m in members}
    for i in added:
        if i in former:  # back in it, as start_conversation brings someone back
            former[i].left_at, former[i].added_by_id = None, actor_id
        else:
            db.session.add(ConversationMember(conversation_id=conversation.id, user_id=i,
                                              joined_at=now, added_by_id=actor_id,
                                              last_read_seq=through))
    conversation.people = key
    db.session.flush()
    return conversation.id


# --- An account deleted ---------------------------------------------------------------------

GONE = "gone:"  # a people key no set of people has: people_key() is digits and commas


def retire_people_keys(user_id: int) -> None:
    """Before the account user_id is deleted, in the same transaction (no commit):
    every conversation they are or were in stops being found by its people.

    Conversation.people holds user ids, and on SQLite the users table (no
    AUTOINCREMENT) gives a deleted account's id to the next one made: without
    this, start_conversation by or with the newcomer would find the deleted
    person's conversation of exactly those ids. Its members' rows go with the
    account (ON DELETE CASCADE), so the newcomer could not read it, but the
    others would be writing into the old conversation to someone else. Its key
    becomes "gone:<id>", unique and never equal to a set of people; the others
    keep reading it (their rows stay), and start a new one to go on.
    """
    db.session.execute(update(Conversation).where(Conversation.id.in_(
        select(ConversationMember.conversation_id).where(ConversationMember.user_id == user_id)))
        .values(people=literal(GONE, String) + cast(Conversation.id, String)),
        execution_options={"synchronize_session": False})


# --- Leaving, muting, blocking ----------------------------------------------------------------

def leave_conversation(actor: User, conversation_id) -> None:
    """Leave a group conversation: no more messages reach the actor, who keeps
    reading what was said until then; the others see that they left.

    :raise NotFound: as access_conversation.
    :raise Forbidden: already left, or a conversation of two.
    """
    begin_write()
    _, me = access_conversation(actor, conversation_id)
    people = db.session.scalar(select(func.count(ConversationMember.id)).where(
        ConversationMember.conversation_id == me.conversation_id))
    require(can_leave_conversation(me, people),
            "You already left this conversation." if not me.is_current else
            "A conversation of two can't be left: mute it, or block the person.")
    me.left_at = utcnow()
    db.session.commit()
    recheck_conversations_everywhere(me.conversation_id, actor.id)  # their sockets stop hearing it


def mute_conversation(actor: User, conversation_id) -> None:
    """Mute a conversation: no notification or email of it reaches the actor (its
    unread one is put away). Its unread count still shows on the Messages page,
    but not in unread_total (the header's badge). Muting again changes nothing.

    :raise NotFound: as access_conversation.
    """
    _, me = access_conversation(actor, conversation_id)
    me.muted = True
    notify.put_away(actor.id, me.conversation_id)
    db.session.commit()


def unmute_conversation(actor: User, conversation_id) -> None:
    """Hear about the conversation again, from its next message.

    :raise NotFound: as access_conversation.
    """
    _, me = access_conversation(actor, conversation_id)
    me.muted = False
    db.session.commit()


def block(actor: User, user_id) -> User:
    """Block someone: they can no longer start a conversation with the actor
    or write to one they share. They are told only that they can't message
    the actor; blocking again changes nothing.

    :raise NotFound: no such person, oneself, or someone the actor shares
        neither a circle nor a conversation with.
    """
    begin_write()  # a send racing the block waits for it, or it for the send
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
    # Their sockets stop hearing every conversation the actor is in, on every process.
    recheck_conversations_everywhere(user_id=other.id)
    return other


def unblock(actor: User, user_id) -> None:
    """Lift a block (nothing happens if there was none).

    :raise NotFound: no block, and as block (a block outlives sharing a
        circle, so lifting it never needs one).
    """
    begin_write()
    if not has_blocked(actor, user_id):
        access_blockable(actor, user_id)
    db.session.execute(delete(Block).where(Block.blocker_id == actor.id,
                                           Block.blocked_id == user_id))
    db.session.commit()


def has_blocked(actor: User, user_id) -> bool:
    """Whether the actor blocked this person (for the actor's own pages only)."""
    if type(user_id) is not int or not 0 < user_id < 2**31:
        return False
    return _blocked.scalar({"blocker_id": actor.id, "blocked_id": user_id}) is not None


@prepared
def _blocked():
    return select(Block.id).where(Block.blocker_id == bindparam("blocker_id"),
                                  Block.blocked_id == bindparam("blocked_id"))


# --- Live: what the Socket.IO handlers (events.py) call ---------------------------------

def hears(actor: User, conversation_id: int) -> bool:
    """Whether the actor's sockets may be in the conversation's room now."""
    return (conversation_id, actor.id) in hearing_pairs({(conversation_id, actor.id)})


def history(actor: User, conversation_id, after_seq: int | None = None,
            changed_since: datetime | None = None) -> dict:
    """What a client opening a conversation needs: the last PAGE messages, or,
    when it comes back with the last seq it holds without a gap, what follows
    it (up to CATCH_UP; `has_newer`: ask again) and the edits and deletions
    since `changed_since` of what it holds; `through` is the seq the answer
    covers; `refusal`, why the actor can't write here (or None); `live`,
    whether the actor hears the conversation (the caller's socket joins its
    room only then).

    :raise NotFound: as access_conversation.
    """
    # A fresh transaction: the caller joined the room after its own check and
    # must now see every message, and any block or departure, committed since.
    fresh_read()
    server_time = utcnow()
    conversation, me = access_conversation_rows(actor, conversation_id)
    place = {"conversation": conversation.id}
    after, through = _visible_range(conversation, me)
    result = {"has_older": False, "has_newer": False, "changed": []}
    if after_seq is None:
        result["messages"], result["has_older"] = latest_page(
            DirectMessage.conversation_id, conversation.id, through, PAGE, after=after)
        result["through"] = through
    else:
        result.update(_after_seq(conversation.id, max(after_seq, after), through))
        if changed_since is not None:
            result["changed"] = edits_since(DirectMessage.conversation_id, conversation.id,
                                              DirectMessage.seq <= min(after_seq, through),
                                              changed_since)
    both = payloads([*result["messages"], *result["changed"]], place)
    count = len(result["messages"])
    result["messages"], result["changed"] = both[:count], both[count:]
    result["refusal"] = _refusal(me)
    result["live"] = hears(actor, conversation.id)
    result["server_time"] = iso(server_time)
    return result


def payloads(messages, place: dict) -> list[dict]:
    """The payloads of these messages, their files loaded in one statement."""
    files = direct_message_files(messages)
    return [describe(m, place, attachments=files.get(m.id, ())) for m in messages]


def _after_seq(conversation_id: int, after: int, through: int, before: int | None = None) -> dict:
    """The messages after seq `after` that may be read (up to `through`), as rows."""
    before = through + 1 if before is None else min(before, through + 1)
    return store_after_seq(DirectMessage.conversation_id, conversation_id, after, before,
                           limit=CATCH_UP)


def catch_up(actor: User, conversation_id, after_seq: int, before_seq: int | None = None) -> dict:
    """The messages numbered after after_seq (and before before_seq), for a
    client that saw a gap or was told to resync (as chat's catch_up).

    :raise NotFound: as access_conversation.
    """
    fresh_read()  # everything committed until now
    conversation, me = access_conversation_rows(actor, conversation_id)
    after, through = _visible_range(conversation, me)
    result = _after_seq(conversation.id, max(after_seq, after), through, before_seq)
    result["messages"] = payloads(result["messages"], {"conversation": conversation.id})
    return result


def older_messages(actor: User, conversation_id, before_id: int) -> dict:
    """The PAGE messages before an id ("load older"), oldest first.

    :raise NotFound: as access_conversation.
    """
    conversation, me = access_conversation_rows(actor, conversation_id)
    rows, has_older = older_than(DirectMessage.conversation_id, conversation.id, before_id, PAGE,
                                 where=readable_message(me.joined_at, me.left_at))
    return {"messages": payloads(rows, {"conversation": conversation.id}), "has_older": has_older}


def edit_message(actor: User, conversation_id, message_id, body) -> dict:
    """Change one's own message; everyone in the conversation sees the new text.

    :raise NotFound: as policy.access_direct_message.
    :raise Forbidden: not the author, deleted, or the actor can't write here now.
    :raise ActionError: bad body.
    """
    body = clean_body(body)
    begin_write()
    conversation, me, message = access_direct_message(actor, conversation_id, message_id)
    refusal = _refusal(me)
    mine = message.author_id == actor.id and message.deleted_at is None
    require(can_edit_direct_message(me, message, refusal),
            refusal if mine and refusal else "You can only edit your own messages.")
    if body != message.source:
        message.source, message.html = body, render(body)
        message.edited_at = message.changed_at = utcnow()
    payload = payloads([message], {"conversation": conversation.id})[0]
    db.session.commit()
    broadcast_conversation("message_edited", payload, payload["conversation"])
    return payload


def delete_message(actor: User, conversation_id, message_id) -> dict:
    """Take back one's own message: its text goes for everyone; the row stays
    so numbers and read positions hold.

    :raise NotFound: as policy.access_direct_message.
    :raise Forbidden: someone else's message, or already deleted.
    """
    begin_write()
    conversation, me, message = access_direct_message(actor, conversation_id, message_id)
    require(can_delete_direct_message(me, message),
            "That message is already deleted." if message.deleted_at is not None
            else "You can only delete your own messages.")
    discard_files_of(message)  # their bytes go after the commit, unless shared
    message.source = message.html = ""
    message.deleted_at = message.changed_at = utcnow()
    payload = describe(message, {"conversation": conversation.id})
    db.session.commit()
    broadcast_conversation("message_deleted", payload, payload["conversation"])
    return payload


def typing(actor: User, conversation_id, skip_sid: str | None = None,
           allow=lambda conversation_id: True) -> bool:
    """Tell the conversation the actor is typing (not the typing socket), if
    they hear it and allow(conversation_id) says so (the caller's throttle).

    :raise NotFound: as access_conversation.
    """
    conversation, _ = access_conversation_rows(actor, conversation_id)
    live = hears(actor, conversation.id)
    payload = {"conversation": conversation.id, "user": {"id": actor.id, "name": actor.display_name}}
    db.session.rollback()  # read-only: end the transaction before the network
    if not live or not allow(conversation.id):
        return False
    broadcast_conversation("typing", payload, conversation.id, skip_sid=skip_sid)
    return True
