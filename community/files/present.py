"""Files as pages and payloads show them: one query for all the files of many
places (so a page's statement count doesn't grow with its files), and the
JSON a composer or a chat message carries."""
from collections import defaultdict, namedtuple
from functools import cache

from flask import url_for
from sqlalchemy import bindparam, select

from ..fast.prepared import Prepared
from .models import Attachment


class AttachmentRow(namedtuple("AttachmentRow", Attachment.__table__.columns.keys())):
    """An attachment as pages and payloads show it: its columns, plain values."""

    __slots__ = ()
    attached = Attachment.attached  # the model's own rule


def files_of(column, ids) -> dict[int, list[AttachmentRow]]:
    """{place id: [attachments, oldest first]} for the places in `ids`, where
    `column` is Attachment.post_id, .chat_message_id, .meeting_id or
    .direct_message_id. One prepared statement, plain rows: a conversation's
    fifty messages made fifty ORM objects only to be shown (bench/findings.md, 45)."""
    found: dict[int, list[AttachmentRow]] = defaultdict(list)
    ids = [place for place in ids if place is not None]
    if not ids:
        return found
    for attachment in _files_at(column.key).rows({"ids": ids}, into=AttachmentRow):
        found[getattr(attachment, column.key)].append(attachment)
    return found


@cache
def _files_at(place: str) -> Prepared:
    # One per kind of place: meeting pages, chat history and messages run it.
    return Prepared(lambda: select(Attachment.__table__).where(
        getattr(Attachment, place).in_(bindparam("ids", expanding=True))).order_by(Attachment.id))


def direct_message_files(messages) -> dict[int, list[dict]]:
    """{message id: its files as the message's payload carries them} for these
    direct messages (deleted ones carry none): one statement for all."""
    found = files_of(Attachment.direct_message_id, [m.id for m in messages if not m.removed])
    return {message_id: [describe(None, a) for a in attachments]
            for message_id, attachments in found.items()}


def describe(slug: str | None, attachment: Attachment | AttachmentRow) -> dict:
    """What the upload answers, and what a composer or a chat message needs to
    show the file. A direct conversation's file (slug None) links to the
    conversation's routes, a circle's to the circle's."""
    url, thumbnail_url = file_urls(slug, attachment)
    return {
        "id": attachment.public_id, "name": attachment.name, "kind": attachment.kind,
        "size": attachment.size, "url": url, "thumbnail_url": thumbnail_url,
    }


def file_urls(slug: str | None, attachment: Attachment | AttachmentRow) -> tuple[str, str | None]:
    """(download URL, thumbnail URL or None): both checked on every request."""
    public_id = attachment.public_id
    if attachment.conversation_id is not None:
        where = {"conversation_id": attachment.conversation_id}
        download, thumbnail = "files.conversation_download", "files.conversation_thumbnail"
    else:
        where = {"slug": slug}
        download, thumbnail = "files.download", "files.thumbnail"
    return (url_for(download, **where, public_id=public_id, name=attachment.name),
            url_for(thumbnail, **where, public_id=public_id) if attachment.thumbnail_key else None)
