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
from datetime import datetime

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..after_commit import after_commit
from ..badges import COUNTED
from ..circles.models import Circle, Membership
from ..database import begin_write
from ..errors import ActionError
from ..extensions import db
from ..fast.prepared import prepared
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
from ..timeutil import utcnow
from ..urls import path_for
from .live import broadcast
from .models import ChatMessage, ChatReadPosition
from .store import (
    BODY_MAX,  # noqa: F401  (chat's limit, as tests and forms know it)
    CATCH_UP,
    CLIENT_ID_USED,
    PAGE,
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
from .store import after_seq as store_after_seq
from .store import changed_since as store_changed_since

PLEDGE_FIRST = "Accept the circle's confidentiality pledge (on the circle's page) before using chat."
SECOND_FACTOR_FIRST = ("This circle requires two-factor sign-in: set it up (in your account's "
                       "security settings) before using chat.")


# --- Helpers ------------------------------------------------------------------------

def message_payload(message: ChatMessage, slug: str, author: dict | None = None,
                    attachments=()) -> dict:
    """What clients get for a message (the Socket.IO contract).

    :param author: {id, name} when the caller has it (saves loading the user).
    :param attachments: the message's files (from present.files_of); a deleted
        message has none.
    """
    removed = message.removed
    return describe(message, {"circle": slug}, author,
                    [] if removed else [present.describe(slug, a) for a in attachments])


def payloads(messages, slug: str) -> list[dict]:
    """The payloads of many messages, their files loaded in one statement."""
    messages = list(messages)
    found = present.files_of(Attachment.chat_message_id,
                             [m.id for m in messages if not m.removed])
    return [message_payload(m, slug, attachments=found.get(m.id, ())) for m in messages]


def _files_of(message: ChatMessage) -> list[present.AttachmentRow]:
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


# The upload ids a message carries: the same check for chat and direct messages.
_clean_attachment_ids = files.clean_attachment_ids


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
    client_id = clean_client_id(client_id)
    author = {"id": actor.id, "name": actor.display_name}
    # Sending holds the circle's lock (as membership changes do): ids are then
    # committed in order within a circle, so catching up "after id N" can't
    # miss a message committed late with a smaller id; and a removal either
    # happened before (we refuse) or after (the message was sent as a member).
    begin_write(keeping=actor)
    try:
        circle, _ = _access_chat(actor, slug, for_update=True)
        circle_id = circle.id
        known = storing(ChatMessage.circle_id, circle_id, author["id"], client_id)
        if known.resend is not None:
            payload = message_payload(known.resend, circle.slug, author, _files_of(known.resend))
            db.session.commit()
            return payload, False
        check_rate(known.recent)
        html, mentioned = render_with_mentions(circle_id, body)
        message = ChatMessage(circle_id=circle_id, seq=known.seq,
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
        raise ActionError(CLIENT_ID_USED, code="invalid", field="client_id") from None
    except Exception:
        db.session.rollback()
        raise
    if _test_fault(body):
        return payload, True
    broadcast("message_created", payload, circle_id)
    return payload, True


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
                    html=message.html)


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
        result["through"] = last_seq(ChatMessage.circle_id, circle.id)
        result["messages"], result["has_older"] = latest_page(ChatMessage.circle_id, circle.id,
                                                              result["through"], PAGE)
    else:
        rows = db.session.scalars(live.where(ChatMessage.id > after_id)
                                  .order_by(ChatMessage.id).limit(CATCH_UP + 1)).all()
        result["has_newer"] = len(rows) > CATCH_UP
        result["messages"] = rows[:CATCH_UP]
        held = ChatMessage.id <= after_id
    if held is not None and changed_since is not None:
        result["changed"] = store_changed_since(ChatMessage.circle_id, circle.id, held,
                                                changed_since)
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
    # payload=False leaves the messages as rows, for the caller to describe.
    result = store_after_seq(ChatMessage.circle_id, circle.id, after_seq, before_seq,
                             limit=CATCH_UP)
    if payload:
        result["messages"] = payloads(result["messages"], circle.slug)
    return result


def older_messages(actor: User, slug, before_id: int) -> dict:
    """The PAGE messages before an id ("load older"), oldest first.

    :raise NotFound / ActionError: as open_chat.
    """
    circle, _ = _access_chat(actor, slug)
    rows, has_older = older_than(ChatMessage.circle_id, circle.id, before_id, PAGE)
    return {"messages": payloads(rows, circle.slug), "has_older": has_older}


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


# Unread counts are shown up to this ("99+" beyond, badges.py): counting stops
# there, so a circle whose chat someone never opens costs no more than one they read daily.
UNREAD_SHOWN = COUNTED


def unread_counts(user_id: int, circle_ids: list[int]) -> dict[int, int]:
    """Messages by others after the user's read position (or, before they first
    read the chat, since they joined), per circle, in one query, each counted
    up to UNREAD_SHOWN. Circles without any are left out."""
    if not circle_ids:
        return {}
    rows = _unread_counts.values({"user_id": user_id, "circle_ids": circle_ids})
    return {circle_id: count for circle_id, count in rows if count}


@prepared
def _unread_counts():
    # On every dashboard: prepared (building it cost more than running it).
    # Per circle, the first UNREAD_SHOWN unread ids are counted, from the
    # (circle_id, id) index after the read position; counting them all cost
    # the dashboard more than any other of its statements (bench/findings.md, 29).
    user_id = bindparam("user_id")
    unread = (select(ChatMessage.id)
              .where(ChatMessage.circle_id == Circle.id,
                     ChatMessage.id > func.coalesce(ChatReadPosition.last_read_id, 0),
                     # Never opened the chat: only what was said since joining counts.
                     or_(ChatReadPosition.id.is_not(None), ChatMessage.created_at > Membership.joined_at),
                     ChatMessage.deleted_at.is_(None),
                     or_(ChatMessage.author_id != user_id, ChatMessage.author_id.is_(None)))
              .correlate(Circle, Membership, ChatReadPosition)  # the row's, below
              .order_by(ChatMessage.id).limit(UNREAD_SHOWN).subquery())
    return (select(Circle.id, select(func.count()).select_from(unread).scalar_subquery())
            .join(Membership, active_membership(user_id, Circle.id))
            .outerjoin(ChatReadPosition, and_(ChatReadPosition.circle_id == Circle.id,
                                              ChatReadPosition.user_id == user_id))
            .where(Circle.id.in_(bindparam("circle_ids", expanding=True)), may_read(user_id, Circle.id)))


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

