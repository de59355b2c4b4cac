"""The circle's Files page as queries: the files shown where they were shared,
and how much of the circle's space they use.

Only attached files are listed (an upload not yet posted is its sharer's
draft), and only where their place is still shown: a removed post's or chat
message's files are not the circle's any more, whatever became of their bytes.
"""
from functools import cache

from sqlalchemy import and_, bindparam, func, literal, select

from ..accounts.models import User
from ..chat.models import ChatMessage
from ..fast.prepared import Prepared
from ..meetings.models import Meeting
from ..threads.models import Post, Thread
from .kinds import KINDS
from .models import Attachment

# The page's filter: "documents" are whatever downloads (documents, text, CSV).
GROUPS = {
    "documents": tuple(k.name for k in KINDS.values() if k.group != "image"),
    "images": tuple(k.name for k in KINDS.values() if k.group == "image"),
}


def contains(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own % _ and \\ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def library(circle_id: int, group: str = "", name: str = "") -> tuple:
    """(a select of the circle's attached files, newest first; its values; and
    what the page shows of a page of them: `paginate_bound`'s statement,
    params and `shown`). Each shown row is plain: the file, its sharer's name
    (None: a former member) and its place: the post's thread and number, the
    meeting's title, or the chat. Narrowed to a GROUPS key and to names
    containing `name` (any case), if given. Statements built once per kind of
    narrowing."""
    values = {"circle_id": circle_id}
    if group in GROUPS:
        values["kinds"] = list(GROUPS[group])
    if name:
        values["name"] = contains(name)
    return _library("kinds" in values, "name" in values), values, shown


def tally(values: dict) -> tuple[int, int]:
    """(how many files `library` lists with these values, the bytes all the
    circle's files take against its quota: drafts count too, they are stored)
    in one statement, from the circle's index alone: the unfiltered count reads
    no row. A file with a place has a shown one: removing a post or chat
    message discards its files, and a meeting's going sets theirs back to NULL
    (models.Attachment). Checking each file's place, as the list does, cost a
    quarter of the page at 1,137 files; the two apart, PostgreSQL a round trip
    (bench/findings.md, 39)."""
    return tuple(_tally("kinds" in values, "name" in values).first(values))


@cache
def _library(by_kind: bool, by_name: bool):
    query = (
        select(Attachment.id, Attachment.public_id, Attachment.name, Attachment.kind, Attachment.size,
               Attachment.uploader_id, Attachment.created_at, Attachment.meeting_id, Post.thread_id,
               Post.number)
        .outerjoin(Post, and_(Post.id == Attachment.post_id, Post.deleted_at.is_(None)))
        .outerjoin(Meeting, Meeting.id == Attachment.meeting_id)
        .outerjoin(ChatMessage, and_(ChatMessage.id == Attachment.chat_message_id,
                                     ChatMessage.deleted_at.is_(None)))
        .where(Attachment.circle_id == bindparam("circle_id"),
               Post.id.is_not(None) | Meeting.id.is_not(None) | ChatMessage.id.is_not(None))
        .order_by(Attachment.created_at.desc(), Attachment.id.desc()))
    return _narrowed(query, by_kind, by_name)


@cache
def _tally(by_kind: bool, by_name: bool) -> Prepared:
    placed = (Attachment.post_id.is_not(None) | Attachment.meeting_id.is_not(None)
              | Attachment.chat_message_id.is_not(None))
    listed = _narrowed(select(Attachment.id).where(placed), by_kind, by_name).whereclause
    tally = select(func.count().filter(listed), func.coalesce(func.sum(Attachment.size), literal(0))
                   ).where(Attachment.circle_id == bindparam("circle_id"))
    return Prepared(lambda: tally)


def _narrowed(query, by_kind: bool, by_name: bool):
    """`query` narrowed to the page's filter: the kinds of a group, a name searched."""
    if by_kind:
        query = query.where(Attachment.kind.in_(bindparam("kinds", expanding=True)))
    if by_name:
        query = query.where(Attachment.name.ilike(bindparam("name"), escape="\\"))
    return query


def shown(page):
    """What the Files page shows of a page of files (`page`, a subquery of
    _library's rows): the names and titles looked up for its rows alone.
    Joined into the statement that finds them, the six tables took PostgreSQL
    5 ms to plan, on every load (bench/findings.md, 32); as that statement's
    columns, PostgreSQL still planned it anew each time, its generic plan
    estimated dearer than one for the circle's own count of files (732 µs
    against 164 µs as here; 37)."""
    def of(column, key):
        return select(column).where(key).scalar_subquery()

    return (select(page.c.public_id, page.c.name, page.c.kind, page.c.size, page.c.uploader_id,
                   page.c.created_at, page.c.meeting_id,
                   literal(True).label("attached"),  # each listed file is (policy.can_remove_file)
                   of(User.display_name, User.id == page.c.uploader_id).label("sharer"),
                   page.c.thread_id, page.c.number,
                   of(Thread.title, Thread.id == page.c.thread_id).label("thread_title"),
                   of(Meeting.title, Meeting.id == page.c.meeting_id).label("meeting_title"))
            .order_by(page.c.created_at.desc(), page.c.id.desc()))
