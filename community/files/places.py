"""Files on a post or a meeting, as the actions that write those places change
them and as their pages and composers show them.

- change_files: attach new uploads and remove some of a place's files, in the
  caller's write transaction, never more than MAX_PER_PLACE in all.
- FileFace: what a page shows of an attached file (plain data: a thread page
  keeps it in its posts' keys, community/threads/post_html.py).
- kept_uploads: a refused form's uploads, shown again in its composer so
  nothing the member added is lost.
"""
from typing import NamedTuple

from flask import url_for
from sqlalchemy import func, select

from ..accounts.models import User
from ..errors import ActionError
from ..extensions import db
from .actions import MAX_PER_PLACE, PLACES, _unattached, attach, discard, record_removals
from .base import describe_size
from .kinds import KINDS
from .models import PUBLIC_ID_LENGTH, Attachment


def _ids(values) -> list[str]:
    """Public ids from a form's list; anything else is not one (so matches nothing)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    return [v for v in values if isinstance(v, str) and 0 < len(v) <= PUBLIC_ID_LENGTH][:MAX_PER_PLACE * 2]


def change_files(actor: User, circle_id: int, add=(), remove=(), *, own_only: bool = True,
                 **place) -> tuple[list[Attachment], int]:
    """Remove the files `remove` names from the place (only the actor's own
    unless own_only=False) and attach the actor's uploads `add` to it, in the
    caller's write transaction. Returns (attached, how many removed).
    An id in `remove` that is not on this place is ignored (already gone).

    :raise ActionError: ("too_many") the place would hold more than
        MAX_PER_PLACE files; as files.actions.attach for `add`.
    """
    (column_name, place_id), = place.items()
    if column_name not in PLACES:
        raise ValueError(f"not a place for files: {column_name}")
    column = getattr(Attachment, column_name)
    removed = 0
    gone = _ids(remove)
    if gone:
        where = [column == place_id, Attachment.public_id.in_(gone)]
        if own_only:
            where.append(Attachment.uploader_id == actor.id)
        else:
            record_removals(actor, circle_id, *where)
        removed = discard(*where)
    attached = attach(actor, circle_id, add, **place)
    if attached:
        held = db.session.scalar(select(func.count(Attachment.id)).where(column == place_id))
        if held > MAX_PER_PLACE:
            raise ActionError(f"A post or meeting holds at most {MAX_PER_PLACE} files: "
                              f"remove some to add others.", code="too_many", field="attachments")
    return attached, removed


class FileFace(NamedTuple):
    """An attached file as a page shows it: a link to it, what it is and how big."""

    public_id: str
    name: str
    label: str     # its kind, in words ("PDF", "Word document")
    badge: str     # a short mark standing for the kind ("PDF", "DOCX")
    size: str      # "1.2 MB"
    image: bool    # a thumbnail is shown, linking to the image


def face_columns() -> tuple:
    """The columns file_face takes, in its order: for a prepared read of a page's files."""
    return (Attachment.public_id, Attachment.name, Attachment.kind, Attachment.size,
            Attachment.thumbnail_key)


def file_face(public_id: str, name: str, kind: str, size: int, thumbnail_key: str | None) -> FileFace:
    known = KINDS.get(kind)
    return FileFace(public_id, name, known.label if known else "file",
                    (known.extension if known else "file").upper(), describe_size(size),
                    thumbnail_key is not None)


def face_of(attachment: Attachment) -> FileFace:
    return file_face(attachment.public_id, attachment.name, attachment.kind, attachment.size,
                     attachment.thumbnail_key)


def faces_of(attachments) -> tuple[FileFace, ...]:
    return tuple(face_of(attachment) for attachment in attachments)


def kept_uploads(actor: User, circle_id: int, public_ids, slug: str) -> list[dict]:
    """The actor's own uploads named in a form that was refused, still free to
    attach, in the order given, as the composer shows them (one statement)."""
    ids = list(dict.fromkeys(_ids(public_ids)))[:MAX_PER_PLACE]
    if not ids:
        return []
    rows = {row.public_id: row for row in db.session.scalars(select(Attachment).where(
        Attachment.public_id.in_(ids), Attachment.circle_id == circle_id,
        Attachment.uploader_id == actor.id, *_unattached()))}
    return [_composer_item(slug, rows[public_id]) for public_id in ids if public_id in rows]


def _composer_item(slug: str, attachment: Attachment) -> dict:
    face = face_of(attachment)
    return {"id": face.public_id, "name": face.name, "size": face.size, "label": face.label,
            "badge": face.badge,
            "thumbnail_url": (url_for("files.thumbnail", slug=slug, public_id=face.public_id)
                              if face.image else None)}
