"""Sharing files: upload (checked, cleaned, stored, counted) and the orphan sweep.

Bytes are stored before the row is written, so the circle's lock is held only
for the quota check and the insert, never while a large file is copied. Any
refusal after that deletes the bytes this call stored, unless another row
already points at the same content (same SHA-256, same key).

Deleting bytes and pointing a new row at them both hold the key's lock
(`_lock_keys`) from their check to their commit, so the last row of some
content going away while the same content is uploaded again never leaves the
new row pointing at nothing.
"""
import io
import re
import tempfile
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, exists, func, or_, select

from ..accounts.models import User
from ..after_commit import after_commit
from ..database import begin_write
from ..errors import ActionError, NotFound
from ..extensions import db
from ..moderation.audit import record
from ..policy import access_circle, access_file, can_remove_file, read_gate, require
from ..timeutil import utcnow
from .base import copy_hashing, describe_size
from .models import Attachment
from .safety import clean_image, safe_filename, sniff_file
from .storage import storage_for

MAX_PER_PLACE = 10  # files on one post, chat message, meeting or direct message
PLACES = ("post_id", "chat_message_id", "meeting_id", "direct_message_id")
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # an upload's id (models.new_public_id)


def upload(actor: User, slug: str, stream, name: str) -> Attachment:
    """Share a file in a circle; the row is not attached to anything yet.

    :raise NotFound: not an active member who may read the circle (policy.read_gate).
    :raise ActionError: too large ("too_large", 413), a kind not allowed
        ("unsupported_type"), a damaged image ("invalid"), over the circle's
        quota ("quota"). Nothing is left behind by any refusal.
    """
    circle, membership = access_circle(actor, slug)
    if read_gate(circle, membership, actor) is not None:
        raise NotFound()

    def owner(size: int) -> dict:
        # The circle's row, locked: two uploads can't both fit the last of the quota.
        circle, _ = access_circle(actor, slug, for_update=True)
        used = db.session.scalar(select(func.coalesce(func.sum(Attachment.size), 0))
                                 .where(Attachment.circle_id == circle.id))
        quota = current_app.config["FILE_CIRCLE_QUOTA"]
        if used + size > quota:
            raise ActionError(f"This circle's files have used their space of {describe_size(quota)}; "
                              "the file was not shared.", code="quota", field="file")
        return {"circle_id": circle.id}

    return receive(actor, stream, name, owner)


def receive(actor: User, stream, name: str, owner) -> Attachment:
    """Check, clean and store an upload, then write its row: the checks every
    upload passes, wherever it is shared (a circle, a conversation).

    :param owner: called with the file's size inside the write transaction,
        after the bytes are stored: checks access and quota again (raising to
        refuse) and returns the row's owner columns ({"circle_id": ...}).
    :raise ActionError: too large ("too_large", 413), a kind not allowed
        ("unsupported_type"), a damaged image ("invalid"), and what `owner`
        raises. Nothing is left behind by any refusal.
    """
    config = current_app.config
    max_bytes = config["FILE_MAX_BYTES"]
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as copy:
        # Our own copy: the size limit holds whatever the request said, and the
        # sniffing and decoding below may seek in it.
        copy_hashing(stream, copy, max_bytes)
        kind = sniff_file(copy, name, allowed=config["FILE_KINDS"])
        thumbnail = None
        if kind.inline:
            # Only the re-encoded pixels are kept: no EXIF (GPS), no trailing payload.
            image = clean_image(copy, max_pixels=config["FILE_IMAGE_MAX_PIXELS"], max_bytes=max_bytes)
            copy, thumbnail = io.BytesIO(image.data), image.thumbnail
        return _store(actor, owner, kind, safe_filename(name, kind), copy, thumbnail)


def _store(actor, owner, kind, name, content, thumbnail) -> Attachment:
    storage = storage_for(current_app)
    stored_here: list[str] = []  # keys new in storage because of this call
    actor_id = actor.id  # before begin_write expires actor

    try:
        main = _save_new(storage, content, stored_here)
        thumb = _save_new(storage, io.BytesIO(thumbnail), stored_here) if thumbnail else None
        begin_write()
        columns = owner(main.size)
        _lock_keys([main.key] + ([thumb.key] if thumb else []))
        # Bytes that were already there when saved may have been deleted since,
        # with the last row that used them: store them again.
        _restore_if_gone(storage, main, content, stored_here)
        if thumb:
            _restore_if_gone(storage, thumb, io.BytesIO(thumbnail), stored_here)
        attachment = Attachment(**columns, uploader_id=actor_id, storage_key=main.key,
                                thumbnail_key=thumb.key if thumb else None, name=name,
                                kind=kind.name, size=main.size)
        db.session.add(attachment)
        db.session.commit()
        return attachment
    except BaseException:
        db.session.rollback()
        _delete_unused(storage, stored_here)
        raise


def _save_new(storage, stream, stored_here: list[str]):
    stream.seek(0)
    stored = storage.save(stream, current_app.config["FILE_MAX_BYTES"])
    if stored.key not in stored_here and not _referenced(stored.key):
        stored_here.append(stored.key)
    return stored


def _restore_if_gone(storage, stored, stream, stored_here: list[str]) -> None:
    if not storage.exists(stored.key):
        _save_new(storage, stream, stored_here)


def _lock_keys(keys) -> None:
    """Hold these keys, until the transaction ends, against another transaction
    deleting their bytes or pointing a new row at them.

    PostgreSQL: a transaction-scoped advisory lock per key (the first 64 bits of
    the SHA-256, which no two files share in practice; sharing would only make
    two uploads take turns). SQLite: `begin_write` holds the whole database.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):
        db.session.execute(select(func.pg_advisory_xact_lock(int(key[:16], 16) - 2 ** 63)))


def _referenced(key: str) -> bool:
    # Profile photos (community/directory) keep their bytes in the same storage.
    return bool(db.session.scalar(select(or_(
        exists().where(or_(Attachment.storage_key == key, Attachment.thumbnail_key == key)),
        exists().where(or_(User.photo_key == key, User.photo_thumbnail_key == key))))))


def keep_image(image, write) -> None:
    """Store a cleaned image (safety.CleanImage) and its thumbnail, then run
    `write(main_key, thumbnail_key)` in a write transaction holding both keys,
    to point a row that is not an attachment (a profile photo) at them; the
    caller's `write` commits. A failure deletes the bytes this call stored."""
    storage = storage_for(current_app)
    stored_here: list[str] = []
    try:
        main = _save_new(storage, io.BytesIO(image.data), stored_here)
        thumb = _save_new(storage, io.BytesIO(image.thumbnail), stored_here)
        begin_write()
        _lock_keys([main.key, thumb.key])
        _restore_if_gone(storage, main, io.BytesIO(image.data), stored_here)
        _restore_if_gone(storage, thumb, io.BytesIO(image.thumbnail), stored_here)
        write(main.key, thumb.key)
    except BaseException:
        db.session.rollback()
        _delete_unused(storage, stored_here)
        raise


def release_keys(keys) -> None:
    """Delete the bytes of these keys once the caller's transaction commits,
    where no row uses them any more (a profile photo replaced or removed)."""
    keys = {key for key in keys if key}
    if keys:
        app = current_app._get_current_object()
        after_commit(lambda: _delete_unused(storage_for(app), keys))


def _delete_unused(storage, keys) -> None:
    """Delete the bytes of those keys no row uses, each checked and deleted
    under its lock, so no upload of the same content can start using it between."""
    if not keys:
        return
    begin_write()
    try:
        _lock_keys(keys)
        for key in keys:
            if not _referenced(key):
                storage.delete(key)
    finally:
        db.session.rollback()  # nothing was written: end the transaction, free the locks


def sweep_orphans(older_than: timedelta = timedelta(days=1)) -> int:
    """Delete files uploaded but never attached (or whose place went away) before
    `older_than` ago, and their bytes where no other row uses them. Returns rows deleted."""
    begin_write()
    cutoff = utcnow() - older_than
    # Rows another process's sweep holds are its to delete (PostgreSQL; SQLite's
    # write lock already makes sweeps take turns).
    orphans = db.session.execute(
        select(Attachment.id, Attachment.storage_key, Attachment.thumbnail_key).where(
            Attachment.created_at < cutoff, *_unattached())
        .with_for_update(skip_locked=True)).all()
    if not orphans:
        db.session.rollback()
        return 0
    db.session.execute(delete(Attachment).where(Attachment.id.in_([row.id for row in orphans])))
    db.session.commit()
    keys = {key for row in orphans for key in (row.storage_key, row.thumbnail_key) if key}
    _delete_unused(storage_for(current_app), keys)
    return len(orphans)


def attach(actor: User, circle_id: int, public_ids, **place) -> list[Attachment]:
    """Attach the actor's own uploads, not yet attached, in this circle to one
    place (post_id=, chat_message_id= or meeting_id=), in the caller's write
    transaction. Returns them in the order given.

    :raise ActionError: more than MAX_PER_PLACE files ("too_many"), or an id that
        is not such an upload ("attachment_gone": swept, someone else's, another
        circle's, already attached); nothing is attached then.
    """
    (column, place_id), = place.items()
    if column not in PLACES or column == "direct_message_id":
        raise ValueError(f"not a place for a circle's files: {column}")
    return _attach(actor, Attachment.circle_id == circle_id, public_ids, column, place_id)


def attach_to_direct_message(actor: User, conversation_id: int, public_ids,
                             message_id: int) -> list[Attachment]:
    """Attach the actor's own unattached uploads in this conversation to one of
    its messages, in the caller's write transaction; as attach (same refusals:
    another conversation's or a circle's upload is "attachment_gone")."""
    return _attach(actor, Attachment.conversation_id == conversation_id, public_ids,
                   "direct_message_id", message_id)


def _attach(actor: User, owned, public_ids, column: str, place_id: int) -> list[Attachment]:
    ids = list(dict.fromkeys(_clean_ids(public_ids)))
    if len(ids) > MAX_PER_PLACE:
        raise ActionError(f"Attach at most {MAX_PER_PLACE} files at once.", code="too_many",
                          field="attachments")
    if not ids:
        return []
    rows = {row.public_id: row for row in db.session.scalars(select(Attachment).where(
        Attachment.public_id.in_(ids), owned,
        Attachment.uploader_id == actor.id, *_unattached()).with_for_update())}
    if len(rows) != len(ids):
        raise ActionError("One of the files is no longer there to attach; please add it again.",
                          code="attachment_gone", field="attachments")
    for row in rows.values():
        setattr(row, column, place_id)
    return [rows[public_id] for public_id in ids]


def clean_attachment_ids(attachments) -> list[str]:
    """The upload ids a message carries (chat's or a direct message's): a list
    of ids, or none.

    :raise ActionError: not a list of ids (code invalid), or more than
        MAX_PER_PLACE of them (too_many).
    """
    if attachments is None:
        return []
    if not isinstance(attachments, list) or not all(
            isinstance(public_id, str) and PUBLIC_ID.fullmatch(public_id) for public_id in attachments):
        raise ActionError("The attached files were not understood.", code="invalid",
                          field="attachments")
    ids = list(dict.fromkeys(attachments))
    if len(ids) > MAX_PER_PLACE:
        raise ActionError(f"Attach at most {MAX_PER_PLACE} files to a message.",
                          code="too_many", field="attachments")
    return ids


def _clean_ids(public_ids) -> list[str]:
    if public_ids is None:
        return []
    if isinstance(public_ids, str) or not isinstance(public_ids, list | tuple):
        public_ids = [public_ids]
    if not all(isinstance(public_id, str) for public_id in public_ids):
        raise ActionError("The attached files were not understood.", code="invalid", field="attachments")
    return [public_id for public_id in public_ids if public_id]


def _unattached():
    return [Attachment.post_id.is_(None), Attachment.chat_message_id.is_(None),
            Attachment.meeting_id.is_(None), Attachment.direct_message_id.is_(None)]


def discard(*where) -> int:
    """Delete the files matching `where` (e.g. Attachment.post_id == post.id) in
    the caller's write transaction; their bytes go once it commits, where no
    other row uses them. Returns how many rows were deleted."""
    rows = db.session.execute(select(Attachment.id, Attachment.storage_key, Attachment.thumbnail_key)
                              .where(*where)).all()
    if not rows:
        return 0
    db.session.execute(delete(Attachment).where(Attachment.id.in_([row.id for row in rows]))
                       .execution_options(synchronize_session=False))
    keys = {key for row in rows for key in (row.storage_key, row.thumbnail_key) if key}
    app = current_app._get_current_object()
    after_commit(lambda: _delete_unused(storage_for(app), keys))
    return len(rows)


def record_removals(actor: User, circle_id: int, *where) -> None:
    """Put in the circle's audit log each file matching `where` that someone
    other than the actor shared (a moderator's or a meeting manager's removal),
    in the caller's write transaction, before the files are discarded."""
    others = or_(Attachment.uploader_id.is_(None), Attachment.uploader_id != actor.id)
    for name, uploader_id in db.session.execute(select(Attachment.name, Attachment.uploader_id)
                                                .where(*where, others).order_by(Attachment.id)):
        record(circle_id, actor.id, "file.deleted", target_user_id=uploader_id, detail=f"“{name}”")


def remove_file(actor: User, slug: str, public_id: str) -> str:
    """Remove a shared file from the circle (and from its post, message or
    meeting), its bytes once no row uses them. Audited when a moderator
    removes someone else's. Returns the file's name.

    :raise NotFound: no such file in a circle whose content the actor may read.
    :raise Forbidden: not the sharer, nor an owner or moderator.
    """
    begin_write()
    circle, membership, attachment = access_file(actor, slug, public_id, for_update=True)
    require(can_remove_file(membership, attachment), "You can only remove files you shared.")
    name = attachment.name
    record_removals(actor, circle.id, Attachment.id == attachment.id)
    discard(Attachment.id == attachment.id)
    db.session.commit()
    return name


def discard_files_of(message) -> int:
    """Delete a direct message's files, in the caller's write transaction
    (deleting the message); their bytes go after the commit, unless shared."""
    return discard(Attachment.direct_message_id == message.id)
