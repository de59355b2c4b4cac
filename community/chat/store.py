"""The storing side of the chat machinery, shared by circle chat and direct
messages (community/messages/): checking a message's text and client id,
finding a resend, numbering without gaps, the rate limit, and reading a page
or "everything after seq n".

Each function takes the message model and the column that scopes a message
(ChatMessage.circle_id, DirectMessage.conversation_id), so both kinds of
message are stored, de-duplicated and read back by the same code; who may do
it stays with each area's actions and community/policy.py.
"""
import re
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import bindparam, func, select

from ..accounts.models import User
from ..errors import ActionError, TooManyAttempts
from ..extensions import db
from ..fast.prepared import Prepared, inline
from ..text import clean_text
from ..timeutil import utcnow

BODY_MAX = 4000
PAGE = 50           # messages on opening, and per "load older"
CATCH_UP = 500      # messages per catch-up answer; the client asks again if there are more
CHANGED_MAX = 500   # edits and deletions per catch-up answer
# Catch-up asks for changes since the server's time at the previous join; a
# margin covers clocks of different servers that disagree a little.
CLOCK_MARGIN = timedelta(seconds=5)
CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
# Characters clean_text() would silently drop: C0/C1 controls (but tab and
# newlines) and bidi embeddings, overrides and isolates, which can disguise
# text. Chat refuses them, so what is stored is exactly what the sender sees.
FORBIDDEN_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
CLIENT_ID_USED = "That client_id was already used for another message."


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds") if moment else None


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


def clean_client_id(client_id) -> str:
    """:raise ActionError: not 1 to 64 of the allowed characters (code invalid)."""
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise ActionError("client_id must be 1 to 64 letters, digits or - _ . :",
                          code="invalid", field="client_id")
    return client_id


class Storing(NamedTuple):
    """What storing a message needs to know first (`storing`)."""

    resend: Any  # the author's message already stored under this client_id, or None
    recent: int  # messages of this kind the author sent within the rate window
    seq: int  # the number a new message takes


def storing(scope, scope_id: int, author_id: int, client_id: str) -> Storing:
    """The resend, the author's recent count and the next number, read in one
    statement (three round trips were a fifth of sending a message on
    PostgreSQL). The caller holds the place's lock until commit, so no other
    sender reads the same next number (and the unique (place, seq) constraint
    would refuse it anyway).

    :raise ActionError: the client_id was used for a message elsewhere.
    """
    window = current_app.config["CHAT_RATE_WINDOW"]
    resend_id, recent, seq = _storing(scope).first({
        "place": scope_id, "author_id": author_id, "client_id": client_id,
        "since": utcnow() - timedelta(seconds=window)})
    resend = db.session.get(scope.class_, resend_id) if resend_id is not None else None
    if resend is not None and getattr(resend, scope.key) != scope_id:
        raise ActionError(CLIENT_ID_USED, code="invalid", field="client_id")
    return Storing(resend, recent, seq)


@cache
def _storing(scope) -> Prepared:
    model = scope.class_
    author_id = bindparam("author_id")
    return Prepared(lambda: select(
        select(model.id).where(model.author_id == author_id, model.client_id == bindparam("client_id"))
        .scalar_subquery(),
        select(func.count(model.id)).where(model.author_id == author_id,
                                           model.created_at > bindparam("since"))
        .scalar_subquery(),
        select(func.coalesce(func.max(model.seq), 0) + 1).where(scope == bindparam("place"))
        .scalar_subquery()))


def check_rate(recent: int) -> None:
    """At most CHAT_RATE_LIMIT messages of a kind per CHAT_RATE_WINDOW seconds,
    counted in the database (`storing`'s `recent`), so the limit holds across
    processes and restarts.

    :raise TooManyAttempts: over the limit (code rate_limited).
    """
    limit = current_app.config["CHAT_RATE_LIMIT"]
    window = current_app.config["CHAT_RATE_WINDOW"]
    if recent >= limit:
        raise TooManyAttempts(
            f"You're sending messages too quickly (at most {limit} every {window} seconds). "
            "Wait a few seconds and send it again.", code="rate_limited")


def last_seq(scope, scope_id: int) -> int:
    """The number of the scope's last message (0: none yet)."""
    return _last_seq(scope).scalar({"scope_id": scope_id})


@cache
def _last_seq(scope) -> Prepared:
    return Prepared(lambda: select(func.coalesce(func.max(scope.class_.seq), 0)).where(
        scope == bindparam("scope_id")))


class Author(NamedTuple):
    """A message's author as describe() reads one: what it takes of a User."""

    id: int
    display_name: str


class Said(NamedTuple):
    """A message as a page of the latest ones reads it: its columns and its
    author's name, plain values (the ORM's message and author, loaded whole for
    fifty messages, were a conversation page's dearest read)."""

    id: int
    seq: int
    client_id: str
    source: str
    html: str
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    author_id: int | None
    author_name: str | None

    @property
    def removed(self) -> bool:
        return self.deleted_at is not None

    @property
    def author(self) -> Author | None:
        """None for an author whose account is gone, as the model's relationship."""
        return None if self.author_id is None else Author(self.author_id, self.author_name)


def latest_page(scope, scope_id: int, through: int, page: int = PAGE,
                after: int = 0) -> tuple[list[Said], bool]:
    """The last `page` undeleted messages numbered up to `through` (and after
    `after`: someone added to a conversation reads from then on), oldest
    first, and whether there are older ones."""
    rows = _latest(scope).rows({"scope_id": scope_id, "through": through, "after": after,
                                "limit": page + 1}, into=Said)
    return rows[:page][::-1], len(rows) > page


@cache
def _latest(scope) -> Prepared:
    model = scope.class_
    said = [getattr(model, name) for name in Said._fields if name != "author_name"]
    return Prepared(lambda: select(*said, User.display_name).outerjoin(User, User.id == model.author_id)
                    .where(scope == bindparam("scope_id"), model.deleted_at.is_(None),
                           model.seq <= bindparam("through"), model.seq > bindparam("after"))
                    # By number, as by id (both grow in commit order within a scope, sending
                    # holds its lock), but along the (scope, seq) index both kinds have:
                    # by id, SQLite sorted a conversation's every message for fifty.
                    .order_by(model.seq.desc()).limit(inline("limit")))


def after_seq(scope, scope_id: int, after: int, before: int | None = None,
              limit: int = CATCH_UP) -> dict:
    """The messages numbered after `after` (and before `before`, if given), in
    order, up to `limit`, as rows: {messages, has_newer, through}. Deleted
    messages are read too (their seq is covered: `through`) but not returned."""
    model = scope.class_
    query = select(model).where(scope == scope_id, model.seq > after)
    if before is not None:
        query = query.where(model.seq < before)
    rows = db.session.scalars(query.order_by(model.seq).limit(limit + 1)).all()
    has_newer = len(rows) > limit
    rows = rows[:limit]
    return {"messages": [m for m in rows if m.deleted_at is None], "has_newer": has_newer,
            "through": rows[-1].seq if rows else after}


def changed_since(scope, scope_id: int, held, since: datetime) -> list:
    """The messages a returning client holds (`held`, a clause) that were
    edited or deleted since `since` (the server's time at its previous join)."""
    model = scope.class_
    return list(db.session.scalars(select(model).where(
        scope == scope_id, held, model.changed_at >= since - CLOCK_MARGIN)
        .order_by(model.changed_at).limit(CHANGED_MAX)))


def older_than(scope, scope_id: int, before_id: int, page: int = PAGE,
               where=None) -> tuple[list, bool]:
    """The `page` undeleted messages before an id ("load older"), oldest first,
    and whether there are more; `where` narrows what may be read."""
    model = scope.class_
    query = select(model).where(scope == scope_id, model.deleted_at.is_(None), model.id < before_id)
    if where is not None:
        query = query.where(where)
    rows = db.session.scalars(query.order_by(model.id.desc()).limit(page + 1)).all()
    return rows[:page][::-1], len(rows) > page


def describe(message, place: dict, author: dict | None = None, attachments=()) -> dict:
    """What clients get for a message (the Socket.IO contract), in a circle
    ({"circle": slug}) or a conversation ({"conversation": id}).

    :param author: {id, name} when the caller has it (saves loading the user).
    :param attachments: the files' descriptions (a deleted message has none).
    """
    if author is None:
        user = message.author
        author = ({"id": user.id, "name": user.display_name} if user
                  else {"id": None, "name": "Former member"})
    removed = message.deleted_at is not None
    return {
        "id": message.id,
        "seq": message.seq,
        **place,
        "author": author,
        "html": "" if removed else message.html,
        "body": "" if removed else message.source,  # the Markdown, for editing
        "created_at": iso(message.created_at),
        "edited_at": iso(message.edited_at),
        "deleted": removed,
        "client_id": message.client_id,
        "attachments": [] if removed else list(attachments),
    }
