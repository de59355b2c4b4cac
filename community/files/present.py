"""Files as pages and payloads show them: one query for all the files of many
places (so a page's statement count doesn't grow with its files), and the
JSON a composer or a chat message carries."""
from collections import defaultdict

from flask import url_for
from sqlalchemy import select

from ..extensions import db
from .models import Attachment


def files_of(column, ids) -> dict[int, list[Attachment]]:
    """{place id: [attachments, oldest first]} for the places in `ids`, where
    `column` is Attachment.post_id, .chat_message_id or .meeting_id. One statement."""
    found: dict[int, list[Attachment]] = defaultdict(list)
    ids = [place for place in ids if place is not None]
    if not ids:
        return found
    for attachment in db.session.scalars(select(Attachment).where(column.in_(ids))
                                         .order_by(Attachment.id)):
        found[getattr(attachment, column.key)].append(attachment)
    return found


def describe(slug: str, attachment: Attachment) -> dict:
    """What the upload answers, and what a composer or a chat message needs to show the file."""
    return {
        "id": attachment.public_id, "name": attachment.name, "kind": attachment.kind,
        "size": attachment.size,
        "url": url_for("files.download", slug=slug, public_id=attachment.public_id, name=attachment.name),
        "thumbnail_url": (url_for("files.thumbnail", slug=slug, public_id=attachment.public_id)
                          if attachment.thumbnail_key else None),
    }
