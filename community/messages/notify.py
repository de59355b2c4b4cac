"""Telling people about direct messages: under the bell at once, by email a
little later, and once for a burst.

As in Slack or Discourse, a person has at most one unread notification per
conversation. A new message updates it (who wrote, how many, when: the bell
lights again) instead of adding another. The mail worker routes it by the
person's choice for "Direct messages" once it has waited DM_EMAIL_DELAY
seconds (its due_at, set when it was made), so ten messages in a minute make
one email ("Amara Okafor sent you 10 messages"), and none goes if the person
read the conversation, muted it or left it meanwhile. After that, while the
notification stays unread, more messages update it but send nothing; once it
is read (opened, or the conversation read up to its end), the next message
starts a new one. The worker claims notifications as it claims the outbox's
mail, so several workers send each email once.

Only a conversation's current members who haven't muted it are told; no one
else (a site admin neither). Nothing of what was written is stored in a
notification: its line says who wrote and how many. An email quotes the
messages only for someone who asked for that (User.dm_email_excerpts, off
unless they turn it on), read from the messages when the email is made, so a
message deleted meanwhile is never quoted.
"""
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import lazyload

from ..accounts.models import User
from ..content import plain_excerpt
from ..database import begin_write
from ..extensions import db
from ..notifications import live
from ..notifications.models import Notification
from ..policy import blocked_by
from ..timeutil import utcnow
from ..urls import path_for
from .models import Conversation, ConversationMember, DirectMessage

log = logging.getLogger(__name__)
KIND = "direct_message"
NAMED = 3    # people named in a notification's line; beyond, "and n others"
QUOTED = 3   # the newest unread messages an email may quote, for those who asked
QUOTE_LENGTH = 200


@dataclass
class Waiting:
    """What someone has unread in a conversation, for their notification and email."""

    count: int = 0
    authors: list[str] = field(default_factory=list)  # newest first
    others: list[str] = field(default_factory=list)   # everyone else in it now
    quotes: list[tuple[str, str]] = field(default_factory=list)  # (author, words), oldest first

    @property
    def line(self) -> str:
        """"Amara Okafor sent you 3 messages" (in a group, which conversation too): no text of them."""
        what = "a message" if self.count == 1 else f"{self.count} messages"
        who = names(self.authors) or "Someone"
        if len(self.others) <= 1:
            return f"{who} sent you {what}"
        return f"{who} sent {what} in your conversation with {names(self.others)}"


def names(people: list[str], most: int = NAMED) -> str:
    """"A", "A and B", "A, B and C", "A, B, C and 2 others"."""
    if len(people) > most:
        people = [*people[:most], f"{len(people) - most} others"]
    return people[0] if len(people) < 2 else ", ".join(people[:-1]) + " and " + people[-1]


# --- When a message is sent, read, or a conversation muted -----------------------------------

def message_sent(conversation_id: int, author_id: int) -> None:
    """After a message is committed: notify each other current member who hasn't
    muted the conversation, and put away the author's own notification of it
    (one has read what one answers). Its own transaction: the message is
    stored already, so a failure here is logged, never the sender's error."""
    try:
        _notify_members(conversation_id, author_id)
    except Exception:  # noqa: BLE001 - the message is sent; the sender must not see an error
        db.session.rollback()
        log.exception("conversation %s: the notifications of a new message were not written",
                      conversation_id)


def _notify_members(conversation_id: int, author_id: int) -> None:
    begin_write()
    # The conversation's lock first, as sending takes it (then a member's row):
    # two messages at once update one notification rather than make two, and
    # this never waits on a sender that waits on it.
    db.session.execute(select(Conversation.id).where(Conversation.id == conversation_id)
                       .with_for_update())
    now = utcnow()
    put_away(author_id, conversation_id, now)
    members = db.session.scalars(
        select(ConversationMember).where(
            ConversationMember.conversation_id == conversation_id,
            ConversationMember.user_id != author_id, ConversationMember.left_at.is_(None),
            ConversationMember.muted.is_(False))
        .options(lazyload(ConversationMember.user))
        .with_for_update(of=ConversationMember).execution_options(populate_existing=True)).all()
    if not members:
        db.session.commit()
        return
    ids = [m.user_id for m in members]
    waiting = _waiting(conversation_id, ids)
    notes = {note.user_id: note for note in db.session.scalars(
        select(Notification).where(Notification.kind == KIND,
                                   Notification.conversation_id == conversation_id,
                                   Notification.user_id.in_(ids), Notification.read_at.is_(None))
        .order_by(Notification.id).with_for_update().execution_options(populate_existing=True))}
    due = now + timedelta(seconds=current_app.config["DM_EMAIL_DELAY"])
    url = path_for("messages.conversation", conversation_id=conversation_id)
    for user_id in ids:
        if not waiting[user_id].count:
            continue  # they read it already (another tab, at this moment)
        note = notes.get(user_id)
        if note is None:
            note = Notification(user_id=user_id, kind=KIND, conversation_id=conversation_id,
                                url=url, due_at=due)
            db.session.add(note)
        note.text, note.actor_id = waiting[user_id].line[:300], author_id
        note.created_at, note.seen_at = now, None  # the latest message's time; the bell counts it again
        live.remember(db.session(), user_id)
    db.session.commit()


def put_away(user_id: int, conversation_id: int, now: datetime | None = None) -> None:
    """Mark read the person's unread notification of the conversation, in the
    caller's transaction (they read it, answered it, or muted it)."""
    now = now or utcnow()
    changed = db.session.execute(update(Notification).where(
        Notification.user_id == user_id, Notification.kind == KIND,
        Notification.conversation_id == conversation_id, Notification.read_at.is_(None))
        .values(read_at=now, seen_at=func.coalesce(Notification.seen_at, now))).rowcount
    if changed:
        live.remember(db.session(), user_id)


def conversation_read(user_id: int, conversation_id: int, read_seq: int) -> None:
    """After a member's read position moved to read_seq (in the caller's
    transaction): once nothing by others is left unread, their notification of
    it is read too, and an email not sent yet won't be."""
    unread = exists().where(
        DirectMessage.conversation_id == conversation_id,
        DirectMessage.seq > read_seq, DirectMessage.deleted_at.is_(None),
        (DirectMessage.author_id != user_id) | DirectMessage.author_id.is_(None))
    if not db.session.scalar(select(unread)):
        put_away(user_id, conversation_id)


# --- For the mail worker ---------------------------------------------------------------------

def waiting_for(user: User, conversation_id: int) -> Waiting | None:
    """What the person has unread in the conversation now (count 0: nothing), with
    quotes only if they asked for them; None if they are no longer told about
    it (they left, or muted it)."""
    member = db.session.scalar(select(ConversationMember).where(
        ConversationMember.conversation_id == conversation_id,
        ConversationMember.user_id == user.id).options(lazyload(ConversationMember.user)))
    if member is None or not member.is_current or member.muted:
        return None
    waiting = _waiting(conversation_id, [user.id])[user.id]
    if waiting.count and user.dm_email_excerpts:
        waiting.quotes = _quotes(member)
    return waiting


def _waiting(conversation_id: int, user_ids: list[int]) -> dict[int, Waiting]:
    """{user id: what they have unread}: messages by others after their read
    position, not deleted, with their authors' names, newest author first."""
    member = ConversationMember
    rows = db.session.execute(
        select(member.user_id, DirectMessage.author_id, func.count(DirectMessage.id),
               func.max(DirectMessage.seq))
        .join(DirectMessage, and_(DirectMessage.conversation_id == member.conversation_id,
                                  DirectMessage.seq > member.last_read_seq))
        .where(member.conversation_id == conversation_id, member.user_id.in_(user_ids),
               DirectMessage.deleted_at.is_(None),
               (DirectMessage.author_id != member.user_id) | DirectMessage.author_id.is_(None),
               # blocked since: what they wrote before isn't emailed either
               ~blocked_by(member.user_id, DirectMessage.author_id))
        .group_by(member.user_id, DirectMessage.author_id)).all()
    people = _people(conversation_id)
    waiting = {}
    for user_id in user_ids:
        mine = sorted((r for r in rows if r[0] == user_id), key=lambda r: -r[3])
        waiting[user_id] = Waiting(
            count=sum(r[2] for r in mine),
            authors=[people.get(r[1], (None, "Someone"))[1] for r in mine],
            others=[name for i, (current, name) in people.items() if current and i != user_id])
    return waiting


def _people(conversation_id: int) -> dict[int, tuple[bool, str]]:
    """{user id: (still in it, name)} of everyone who is or was in the conversation, in joining order."""
    rows = db.session.execute(
        select(ConversationMember.user_id, ConversationMember.left_at, User.display_name)
        .join(User, User.id == ConversationMember.user_id)
        .where(ConversationMember.conversation_id == conversation_id)
        .order_by(ConversationMember.joined_at, ConversationMember.id))
    return {user_id: (left_at is None, name) for user_id, left_at, name in rows}


def _quotes(member: ConversationMember) -> list[tuple[str, str]]:
    rows = db.session.execute(
        select(User.display_name, DirectMessage.html)
        .outerjoin(User, User.id == DirectMessage.author_id)
        .where(DirectMessage.conversation_id == member.conversation_id,
               DirectMessage.seq > member.last_read_seq, DirectMessage.deleted_at.is_(None),
               (DirectMessage.author_id != member.user_id) | DirectMessage.author_id.is_(None),
               ~blocked_by(member.user_id, DirectMessage.author_id))
        .order_by(DirectMessage.seq.desc()).limit(QUOTED)).all()
    quotes = [(name or "Someone", plain_excerpt(html, QUOTE_LENGTH)) for name, html in reversed(rows)]
    return [(name, words) for name, words in quotes if words]
