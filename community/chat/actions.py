"""Everything members do in chat: send, edit, delete, read, report, type.

Every action authorises through community/policy.py each time (a check when
the socket joined is not enough: people are removed while connected), writes
with one commit, and broadcasts to the circle's room only after that commit.

No message is lost by design: a broadcast can be (the process dies between
commit and broadcast; Redis drops a publish), so each message carries `seq`,
its number in the circle (1, 2, 3... no gap), and a client that sees a gap,
reconnects or is told to `resync` asks for what follows the last number it
holds without a gap (catch_up). Broadcasts are only the fast path.
"""
import os
import re
from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..after_commit import after_commit
from ..circles.models import Circle, Membership
from ..content import plain_excerpt
from ..database import begin_write
from ..errors import ActionError, TooManyAttempts
from ..extensions import db
from ..files import actions as files
from ..files import present
from ..files.models import Attachment
from ..mentions import notify_mentions, render_with_mentions
from ..moderation.actions import file_report
from ..moderation.audit import record
from ..moderation.models import Report
from ..moderation.reports import register
from ..policy import (
    access_chat_message,
    access_circle,
    active_membership,
    can_delete_message,
    can_edit_message,
    can_report_message,
    may_read,
    read_gate,
    require,
)
from ..text import clean_text
from ..timeutil import utcnow
from ..urls import path_for
from .live import broadcast
from .models import ChatMessage, ChatReadPosition

BODY_MAX = 4000
PAGE = 50           # messages on opening, and per "load older"
CATCH_UP = 500      # messages per catch-up answer; the client asks again if there are more
CHANGED_MAX = 500   # edits and deletions per catch-up answer
# Catch-up asks for changes since the server's time at the previous join; a
# margin covers clocks of different servers that disagree a little.
CLOCK_MARGIN = timedelta(seconds=5)
CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # an upload's id (files.models.new_public_id)
# Characters clean_text() would silently drop: C0/C1 controls (but tab and
# newlines) and bidi embeddings, overrides and isolates, which can disguise
# text. Chat refuses them, so what is stored is exactly what the sender sees.
FORBIDDEN_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
PLEDGE_FIRST = "Accept the circle's confidentiality pledge (on the circle's page) before using chat."
SECOND_FACTOR_FIRST = ("This circle requires two-factor sign-in: set it up (in your account's "
                       "security settings) before using chat.")


# --- Helpers ------------------------------------------------------------------------

def iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds") if moment else None


def message_payload(message: ChatMessage, slug: str, author: dict | None = None,
                    attachments=()) -> dict:
    """What clients get for a message (the Socket.IO contract).

    :param author: {id, name} when the caller has it (saves loading the user).
    :param attachments: the message's files (from present.files_of); a deleted
        message has none.
    """
    if author is None:
        user = message.author
        author = ({"id": user.id, "name": user.display_name} if user
                  else {"id": None, "name": "Former member"})
    removed = message.removed
    return {
        "id": message.id,
        "seq": message.seq,
        "circle": slug,
        "author": author,
        "html": "" if removed else message.html,
        "body": "" if removed else message.source,  # the Markdown, for editing
        "created_at": iso(message.created_at),
        "edited_at": iso(message.edited_at),
        "deleted": removed,
        "client_id": message.client_id,
        "attachments": [] if removed else [present.describe(slug, a) for a in attachments],
    }


def payloads(messages, slug: str) -> list[dict]:
    """The payloads of many messages, their files loaded in one statement."""
    messages = list(messages)
    found = present.files_of(Attachment.chat_message_id,
                             [m.id for m in messages if not m.removed])
    return [message_payload(m, slug, attachments=found.get(m.id, ())) for m in messages]


def _files_of(message: ChatMessage) -> list[Attachment]:
    return present.files_of(Attachment.chat_message_id, [message.id]).get(message.id, [])


def _access_chat(actor: User, slug, for_update: bool = False) -> tuple[Circle, Membership]:
    """The circle and membership, for a member who may read it (policy.read_gate).

    :raise NotFound: as access_circle.
    :raise ActionError: a second factor the circle requires must be set up first
        (code second_factor_required), or the pledge accepted (pledge_required).
    """
    circle, membership = access_circle(actor, slug if isinstance(slug, str) else "",
                                       for_update=for_update)
    _require_reading(circle, membership, actor)
    return circle, membership


def _require_reading(circle: Circle, membership: Membership, actor: User) -> None:
    gate = read_gate(circle, membership, actor)
    if gate == "second_factor":
        raise ActionError(SECOND_FACTOR_FIRST, code="second_factor_required")
    if gate == "pledge":
        raise ActionError(PLEDGE_FIRST, code="pledge_required")


def clean_body(body, may_be_empty: bool = False) -> str:
    """A message's Markdown source as it will be stored.

    :param may_be_empty: the message carries files, so the text is optional.
    :raise ActionError: not text, empty, too long, or with control or
        text-direction characters.
    """
    if body is None and may_be_empty:
        body = ""
    if not isinstance(body, str):
        raise ActionError("A message must be text.", code="invalid", field="body")
    if len(body) > BODY_MAX * 4:  # don't even normalise something this big
        raise ActionError(f"A message can be at most {BODY_MAX:,} characters.", code="too_long",
                          field="body")
    if FORBIDDEN_CHARS.search(body):
        raise ActionError("The message contains control or text-direction characters that "
                          "can't be sent. Remove them and try again.", code="invalid", field="body")
    try:
        body = clean_text(body, field="body", label="A message", max_len=BODY_MAX, multiline=True)
    except ActionError as err:
        raise ActionError(err.message, code="too_long", field="body") from None
    if not body and not may_be_empty:
        raise ActionError("Write something first: the message is empty.", code="empty",
                          field="body")
    return body


def _clean_attachment_ids(attachments) -> list[str]:
    """The upload ids a message carries: a list of ids, or none.

    :raise ActionError: not a list of ids (code invalid), or more than
        files.MAX_PER_PLACE of them (too_many).
    """
    if attachments is None:
        return []
    if not isinstance(attachments, list) or not all(
            isinstance(public_id, str) and PUBLIC_ID.fullmatch(public_id) for public_id in attachments):
        raise ActionError("The attached files were not understood.", code="invalid",
                          field="attachments")
    ids = list(dict.fromkeys(attachments))
    if len(ids) > files.MAX_PER_PLACE:
        raise ActionError(f"Attach at most {files.MAX_PER_PLACE} files to a message.",
                          code="too_many", field="attachments")
    return ids


def _clean_client_id(client_id) -> str:
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise ActionError("client_id must be 1 to 64 letters, digits or - _ . :",
                          code="invalid", field="client_id")
    return client_id


def _check_rate(user_id: int) -> None:
    """At most CHAT_RATE_LIMIT messages per CHAT_RATE_WINDOW seconds, counted in
    the database, so the limit holds across processes and restarts."""
    limit = current_app.config["CHAT_RATE_LIMIT"]
    window = current_app.config["CHAT_RATE_WINDOW"]
    recent = db.session.scalar(select(func.count(ChatMessage.id)).where(
        ChatMessage.author_id == user_id,
        ChatMessage.created_at > utcnow() - timedelta(seconds=window)))
    if recent >= limit:
        raise TooManyAttempts(
            f"You're sending messages too quickly (at most {limit} every {window} seconds). "
            "Wait a few seconds and send it again.", code="rate_limited")


# --- Sending, editing, deleting ----------------------------------------------------------

def send_message(actor: User, slug: str, body, client_id, attachments=None) -> tuple[dict, bool]:
    """Store a message with the actor's uploads attached (its text may then be
    empty), then broadcast it. A resend with the same client_id returns the
    stored message and creates (and attaches) nothing.

    Returns (the message's payload, whether it was created now).

    :raise NotFound: no such circle, or the actor is not an active member.
    :raise ActionError: bad body, client_id or attachments (invalid, too_many,
        attachment_gone: nothing is stored then); pledge not accepted.
    :raise TooManyAttempts: over the rate limit (code rate_limited).
    """
    ids = _clean_attachment_ids(attachments)
    body = clean_body(body, may_be_empty=bool(ids))
    client_id = _clean_client_id(client_id)
    author = {"id": actor.id, "name": actor.display_name}  # before begin_write expires actor
    # Sending holds the circle's lock (as membership changes do): ids are then
    # committed in order within a circle, so catching up "after id N" can't
    # miss a message committed late with a smaller id; and a removal either
    # happened before (we refuse) or after (the message was sent as a member).
    begin_write()
    try:
        circle, _ = _access_chat(actor, slug, for_update=True)
        circle_id = circle.id
        existing = db.session.scalar(select(ChatMessage).where(
            ChatMessage.author_id == author["id"], ChatMessage.client_id == client_id))
        if existing is not None:
            if existing.circle_id != circle_id:
                raise ActionError("That client_id was already used for another message.",
                                  code="invalid", field="client_id")
            payload = message_payload(existing, circle.slug, author, _files_of(existing))
            db.session.commit()
            return payload, False
        _check_rate(author["id"])
        html, mentioned = render_with_mentions(circle_id, body)
        message = ChatMessage(circle_id=circle_id, seq=_next_seq(circle_id),
                              author_id=author["id"], client_id=client_id,
                              source=body, html=html, created_at=utcnow())
        db.session.add(message)
        db.session.flush()
        attached = files.attach(actor, circle_id, ids, chat_message_id=message.id)
        _notify_mentions(author, circle, message, mentioned)
        payload = message_payload(message, circle.slug, author, attached)
        db.session.commit()
    except IntegrityError:
        # The same client_id raced in from another circle's lock.
        db.session.rollback()
        raise ActionError("That client_id was already used for another message.",
                          code="invalid", field="client_id") from None
    except Exception:
        db.session.rollback()
        raise
    if _test_fault(body):
        return payload, True
    broadcast("message_created", payload, circle_id)
    return payload, True


def _next_seq(circle_id: int) -> int:
    """The circle's next message number. The caller holds the circle's lock
    until commit, so no other sender reads the same largest number (and the
    unique (circle_id, seq) constraint would refuse a second one anyway)."""
    return db.session.scalar(select(func.coalesce(func.max(ChatMessage.seq), 0) + 1)
                             .where(ChatMessage.circle_id == circle_id))


# Test-only fault injection, inert unless CHAT_TEST_FAULT is set in the
# environment (tests/chat/test_no_message_lost.py): "exit:<marker>" ends the
# process between commit and broadcast, "drop:<marker>" skips the broadcast,
# for a message whose text contains <marker>. Never set it in production.
def _test_fault(body: str) -> bool:
    """True if the broadcast of this message must be skipped (a test's fault)."""
    fault = os.environ.get("CHAT_TEST_FAULT")
    if not fault:
        return False
    kind, _, marker = fault.partition(":")
    if not marker or marker not in body:
        return False
    if kind == "exit":
        os._exit(3)  # as a worker killed at this very moment: no cleanup, no broadcast
    return kind == "drop"


def edit_message(actor: User, message_id: int, body) -> dict:
    """Change one's own message; everyone in the circle sees the new text.

    :raise NotFound: no such message, or not a member of its circle.
    :raise Forbidden: not the author, or the message is deleted.
    :raise ActionError: bad body; pledge not accepted.
    """
    body = clean_body(body)
    circle, membership, message = access_chat_message(actor, message_id)
    _require_reading(circle, membership, actor)
    require(can_edit_message(membership, message), "You can only edit your own messages.")
    if body != message.source:
        now = utcnow()
        message.html, mentioned = render_with_mentions(circle.id, body)
        message.source = body
        message.edited_at = message.changed_at = now
        # Only people the edit newly mentions hear of it (notify_mentions tells each once).
        _notify_mentions({"id": actor.id, "name": actor.display_name}, circle, message, mentioned)
    payload = message_payload(message, circle.slug, attachments=_files_of(message))
    circle_id = circle.id
    db.session.commit()
    broadcast("message_edited", payload, circle_id)
    return payload


def delete_message(actor: User, message_id: int) -> dict:
    """Delete one's own message, or (owners and moderators) anyone's, audited.

    The text is wiped; the row stays so ids, reports and read positions hold.

    :raise NotFound: no such message, or not a member of its circle.
    :raise Forbidden: someone else's message and not staff, or already deleted.
    """
    circle, membership, message = access_chat_message(actor, message_id)
    _require_reading(circle, membership, actor)
    require(can_delete_message(membership, message),
            "You can only delete your own messages." if not message.removed
            else "That message is already deleted.")
    _wipe(message, actor)
    if message.author_id != actor.id:
        record(circle.id, actor.id, "chat.message_deleted", target_user_id=message.author_id,
               detail=f"message #{message.id}")
    payload, circle_id = message_payload(message, circle.slug), circle.id
    db.session.commit()
    broadcast("message_deleted", payload, circle_id)
    return payload


def _notify_mentions(author: dict, circle: Circle, message: ChatMessage, mentioned: dict) -> None:
    """Tell the members a message mentions, as threads do (in the caller's transaction).

    :param author: {id, name} of the one who wrote it.
    """
    notify_mentions(author["id"], circle.id, mentioned,
                    f"{author['name']} mentioned you in chat in {circle.name}",
                    path_for("chat.page", slug=circle.slug) + f"#message-{message.id}",
                    excerpt=plain_excerpt(message.html, 200))


def _wipe(message: ChatMessage, actor: User) -> None:
    """Empty a message and discard its files (their bytes go after the commit)."""
    files.discard(Attachment.chat_message_id == message.id)
    now = utcnow()
    message.source = message.html = ""
    message.deleted_at = message.changed_at = now
    message.deleted_by_id = actor.id


# --- Reading ------------------------------------------------------------------------------

def open_chat(actor: User, slug) -> Circle:
    """The circle whose chat the actor may join.

    :raise NotFound: no such circle, or not an active member.
    :raise ActionError: pledge not accepted.
    """
    circle, _ = _access_chat(actor, slug)
    return circle


def history(actor: User, slug, after_id: int | None = None,
            changed_since: datetime | None = None, after_seq: int | None = None) -> dict:
    """What a client opening the chat needs: the last PAGE messages, or, when it
    comes back with the last seq it holds without a gap (after_seq; or, from
    older clients, the newest id it holds), every message after it (up to
    CATCH_UP a time; `has_newer` says ask again; `through` is the seq the answer
    covers up to) and the edits and deletions since `changed_since` of the
    messages it has.

    :raise NotFound / ActionError: as open_chat.
    """
    # A fresh transaction: the caller joined the room after its own check and
    # must now see every message, and any removal, committed since.
    db.session.commit()
    server_time = utcnow()
    circle, _ = _access_chat(actor, slug)
    live = select(ChatMessage).where(ChatMessage.circle_id == circle.id,
                                     ChatMessage.deleted_at.is_(None))
    result = {"has_older": False, "has_newer": False, "changed": []}
    held = None  # which of the circle's messages the client already has
    if after_seq is not None:
        result.update(_after_seq(circle, after_seq, payload=False))
        held = ChatMessage.seq <= after_seq
    elif after_id is None:
        # The last number first, then the page up to it: a message committed in
        # between is after `through` (the client hears of it), never inside it.
        result["through"] = _last_seq(circle.id)
        rows = db.session.scalars(live.where(ChatMessage.seq <= result["through"])
                                  .order_by(ChatMessage.id.desc()).limit(PAGE + 1)).all()
        result["has_older"] = len(rows) > PAGE
        result["messages"] = rows[:PAGE][::-1]
    else:
        rows = db.session.scalars(live.where(ChatMessage.id > after_id)
                                  .order_by(ChatMessage.id).limit(CATCH_UP + 1)).all()
        result["has_newer"] = len(rows) > CATCH_UP
        result["messages"] = rows[:CATCH_UP]
        held = ChatMessage.id <= after_id
    if held is not None and changed_since is not None:
        result["changed"] = db.session.scalars(select(ChatMessage).where(
            ChatMessage.circle_id == circle.id, held,
            ChatMessage.changed_at >= changed_since - CLOCK_MARGIN)
            .order_by(ChatMessage.changed_at).limit(CHANGED_MAX)).all()
    # Every message's files in one statement, however many messages and files.
    both = payloads([*result["messages"], *result["changed"]], circle.slug)
    count = len(result["messages"])
    result["messages"], result["changed"] = both[:count], both[count:]
    result["server_time"] = iso(server_time)
    result["circle_id"] = circle.id
    return result


def catch_up(actor: User, slug, after_seq: int, before_seq: int | None = None) -> dict:
    """The circle's messages numbered after after_seq (and before before_seq,
    if given), in order, up to CATCH_UP; for a client that saw a gap or was
    told to resync. `through` is the last seq the answer covers (deleted
    messages are covered but not sent), `has_newer` that there is more.

    :raise NotFound / ActionError: as open_chat.
    """
    db.session.commit()  # a fresh snapshot: everything committed until now
    circle, _ = _access_chat(actor, slug)
    return _after_seq(circle, after_seq, before_seq)


def _after_seq(circle: Circle, after_seq: int, before_seq: int | None = None,
               payload: bool = True) -> dict:
    # Deleted messages are read too (their seq is covered) but not sent: the
    # client has no use for them, and `through` tells it nothing is missing.
    # payload=False leaves the messages as rows, for the caller to describe.
    query = select(ChatMessage).where(ChatMessage.circle_id == circle.id,
                                      ChatMessage.seq > after_seq)
    if before_seq is not None:
        query = query.where(ChatMessage.seq < before_seq)
    rows = db.session.scalars(query.order_by(ChatMessage.seq).limit(CATCH_UP + 1)).all()
    has_newer = len(rows) > CATCH_UP
    rows = rows[:CATCH_UP]
    messages = [m for m in rows if not m.removed]
    return {"messages": payloads(messages, circle.slug) if payload else messages,
            "has_newer": has_newer, "through": rows[-1].seq if rows else after_seq}


def _last_seq(circle_id: int) -> int:
    return db.session.scalar(select(func.coalesce(func.max(ChatMessage.seq), 0))
                             .where(ChatMessage.circle_id == circle_id))


def older_messages(actor: User, slug, before_id: int) -> dict:
    """The PAGE messages before an id ("load older"), oldest first.

    :raise NotFound / ActionError: as open_chat.
    """
    circle, _ = _access_chat(actor, slug)
    rows = db.session.scalars(
        select(ChatMessage).where(ChatMessage.circle_id == circle.id,
                                  ChatMessage.deleted_at.is_(None), ChatMessage.id < before_id)
        .order_by(ChatMessage.id.desc()).limit(PAGE + 1)).all()
    return {"messages": payloads(rows[:PAGE][::-1], circle.slug),
            "has_older": len(rows) > PAGE}


def mark_read(actor: User, slug, message_id: int) -> int:
    """Move the actor's read position forward to a message (never back).

    Returns the position now stored.

    :raise NotFound / ActionError: as open_chat.
    """
    circle, _ = _access_chat(actor, slug)
    newest = db.session.scalar(select(func.max(ChatMessage.id)).where(
        ChatMessage.circle_id == circle.id, ChatMessage.id <= message_id))
    if newest is None:
        db.session.rollback()
        return 0
    where = (ChatReadPosition.user_id == actor.id, ChatReadPosition.circle_id == circle.id)
    moved = db.session.execute(update(ChatReadPosition).where(
        *where, ChatReadPosition.last_read_id < newest).values(last_read_id=newest)).rowcount
    if not moved and db.session.scalar(select(ChatReadPosition.id).where(*where)) is None:
        db.session.add(ChatReadPosition(user_id=actor.id, circle_id=circle.id,
                                        last_read_id=newest))
        try:
            db.session.commit()
        except IntegrityError:  # another tab made the row at the same moment
            db.session.rollback()
            db.session.execute(update(ChatReadPosition).where(
                *where, ChatReadPosition.last_read_id < newest).values(last_read_id=newest))
    db.session.commit()
    return newest


def unread_counts(user: User, circle_ids: list[int]) -> dict[int, int]:
    """Messages by others after the user's read position (or, before they first
    read the chat, since they joined), per circle, in one query. Circles
    without any are left out."""
    if not circle_ids:
        return {}
    rows = db.session.execute(_unread_counts(), {"user_id": user.id, "circle_ids": circle_ids})
    return {circle_id: count for circle_id, count in rows}


@cache
def _unread_counts():
    # On every dashboard: built once (building it cost more than running it).
    user_id = bindparam("user_id")
    return (select(ChatMessage.circle_id, func.count(ChatMessage.id))
            .join(Membership, active_membership(user_id, ChatMessage.circle_id))
            .outerjoin(ChatReadPosition, and_(ChatReadPosition.circle_id == ChatMessage.circle_id,
                                              ChatReadPosition.user_id == user_id))
            .where(ChatMessage.circle_id.in_(bindparam("circle_ids", expanding=True)),
                   may_read(user_id, ChatMessage.circle_id),
                   ChatMessage.id > func.coalesce(ChatReadPosition.last_read_id, 0),
                   # Never opened the chat: only what was said since joining counts.
                   or_(ChatReadPosition.id.is_not(None), ChatMessage.created_at > Membership.joined_at),
                   ChatMessage.deleted_at.is_(None),
                   or_(ChatMessage.author_id != user_id, ChatMessage.author_id.is_(None)))
            .group_by(ChatMessage.circle_id))


def typing(actor: User, slug, skip_sid: str | None = None, allow=lambda circle_id: True) -> bool:
    """Tell the circle the actor is typing (not the typing socket itself), if
    allow(circle_id) says so (the caller's throttle). Returns whether it did.

    :raise NotFound / ActionError: as open_chat.
    """
    circle, _ = _access_chat(actor, slug)
    payload = {"circle": circle.slug, "user": {"id": actor.id, "name": actor.display_name}}
    db.session.rollback()  # read-only: end the transaction before the network
    if not allow(circle.id):
        return False
    broadcast("typing", payload, circle.id, skip_sid=skip_sid)
    return True


# --- Reports ----------------------------------------------------------------------------

def report_message(actor: User, message_id: int, reason) -> Report:
    """Flag someone else's message for the circle's moderators.

    :raise NotFound: no such message, or not a member of its circle.
    :raise Forbidden: one's own message.
    :raise ActionError: deleted (code gone), no reason, or already reported (duplicate).
    """
    circle, membership, message = access_chat_message(actor, message_id)
    _require_reading(circle, membership, actor)
    if message.removed:
        raise ActionError("That message has been deleted.", code="gone")
    require(can_report_message(membership, message), "You can't report your own message.")
    return file_report(actor, circle.slug, "chat_message", message.id, reason)


def _report_load(circle: Circle, target_id: int) -> ChatMessage | None:
    return db.session.scalar(select(ChatMessage).where(
        ChatMessage.id == target_id, ChatMessage.circle_id == circle.id))


def _report_summary(message: ChatMessage) -> dict:
    circle = db.session.get(Circle, message.circle_id)  # in the session already: no query
    return {"author": message.author, "html": message.html, "removed": message.removed,
            "url": path_for("chat.page", slug=circle.slug) + f"#message-{message.id}"}


def _report_remove(actor: User, circle: Circle, message: ChatMessage) -> None:
    """Remove a reported message (decide_report commits and audits)."""
    _wipe(message, actor)
    payload = message_payload(message, circle.slug)
    after_commit(lambda: broadcast("message_deleted", payload, circle.id))


register("chat_message", load=_report_load, summary=_report_summary, remove=_report_remove)

