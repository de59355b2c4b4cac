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
from ..fast.prepared import prepared
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
    """(a select of the circle's attached files (plain rows: what the page
    shows of each), newest first, each with its sharer's name (None: a former
    member) and its place: the post's thread and number, the meeting's title,
    or the chat; its values). Narrowed to a GROUPS key and to names containing
    `name` (any case), if given. One statement to run, built once per kind of
    narrowing."""
    values = {"circle_id": circle_id}
    if group in GROUPS:
        values["kinds"] = list(GROUPS[group])
    if name:
        values["name"] = contains(name)
    return _library("kinds" in values, "name" in values), values


@cache
def _library(by_kind: bool, by_name: bool):
    # The sharer's name and the thread's title are looked up for the page's
    # rows only: joined in as well, the six tables took PostgreSQL 5 ms to
    # plan, which it did on every load (bench/findings.md, 32).
    sharer = select(User.display_name).where(User.id == Attachment.uploader_id).scalar_subquery()
    thread_title = select(Thread.title).where(Thread.id == Post.thread_id).scalar_subquery()
    query = (
        select(Attachment.public_id, Attachment.name, Attachment.kind, Attachment.size,
               Attachment.uploader_id, Attachment.created_at, Attachment.meeting_id,
               literal(True).label("attached"),  # each listed file is (policy.can_remove_file)
               sharer.label("sharer"), Post.thread_id, Post.number,
               thread_title.label("thread_title"), Meeting.title.label("meeting_title"))
        .outerjoin(Post, and_(Post.id == Attachment.post_id, Post.deleted_at.is_(None)))
        .outerjoin(Meeting, Meeting.id == Attachment.meeting_id)
        .outerjoin(ChatMessage, and_(ChatMessage.id == Attachment.chat_message_id,
                                     ChatMessage.deleted_at.is_(None)))
        .where(Attachment.circle_id == bindparam("circle_id"),
               Post.id.is_not(None) | Meeting.id.is_not(None) | ChatMessage.id.is_not(None))
        .order_by(Attachment.created_at.desc(), Attachment.id.desc()))
    if by_kind:
        query = query.where(Attachment.kind.in_(bindparam("kinds", expanding=True)))
    if by_name:
        query = query.where(Attachment.name.ilike(bindparam("name"), escape="\\"))
    return query


def space_used(circle_id: int) -> int:
    """Bytes the circle's files take against its quota (drafts count too: they are stored)."""
    return _space_used.scalar({"circle_id": circle_id})


@prepared
def _space_used():
    # Every Files page: prepared.
    return (select(func.coalesce(func.sum(Attachment.size), literal(0)))
            .where(Attachment.circle_id == bindparam("circle_id")))
