"""Files in direct conversations: uploading into one, what its messages carry,
and removing them with a message, a conversation or an account.

A conversation's file is an Attachment with conversation_id in place of
circle_id (models.Attachment), so it is checked, cleaned (EXIF gone), stored,
de-duplicated and swept by the same code as a circle's (actions.receive,
actions.sweep_orphans), and served by the same views after its own access
rule (policy.access_conversation_attachment).

Quota: a conversation has no owner to charge, so each person has
DM_FILE_QUOTA bytes for all the files they share in all their conversations,
drafts included (they are stored), as a circle counts its files. A file
leaves the count when its message is deleted or its draft swept. Uploads by
one person take turns on PostgreSQL (an advisory lock on the uploader), so
two at once can't both fit the last of it; SQLite's write lock does the same.
"""
from flask import current_app
from sqlalchemy import exists, func, select

from ..accounts.models import User
from ..errors import ActionError
from ..extensions import db
from ..messages.actions import CantSend, send_refusal_for
from ..messages.models import ConversationMember
from .actions import MAX_PER_PLACE, _unattached, discard, receive
from .base import describe_size
from .models import PUBLIC_ID_LENGTH, Attachment
from .places import face_of
from .present import file_urls

# Key of the advisory lock (its two-int form: apart from the files' own keys).
QUOTA_LOCK = 0x444D4651  # "DMFQ"


def upload(actor: User, conversation_id, stream, name: str) -> Attachment:
    """Share a file in a conversation, to attach to one's next message there.

    :raise NotFound: no such conversation, or the actor was never in it.
    :raise CantSend: the actor may not write to it now (left, a block, no
        shared circle: messages.actions.send_refusal_for).
    :raise ActionError: as actions.receive; over the actor's DM_FILE_QUOTA
        ("quota"). Nothing is left behind by any refusal.
    """
    _require_sending(actor, conversation_id)

    def owner(size: int) -> dict:
        # Again, in the write transaction: they may have left while the bytes came.
        _require_sending(actor, conversation_id)
        uploader_id = actor.id
        if db.session.get_bind().dialect.name == "postgresql":
            db.session.execute(select(func.pg_advisory_xact_lock(QUOTA_LOCK, uploader_id)))
        used = db.session.scalar(select(func.coalesce(func.sum(Attachment.size), 0)).where(
            Attachment.uploader_id == uploader_id, Attachment.conversation_id.is_not(None)))
        quota = current_app.config["DM_FILE_QUOTA"]
        if used + size > quota:
            raise ActionError(f"Your files in messages have used their space of "
                              f"{describe_size(quota)}; the file was not shared. Deleting "
                              "messages with files frees space.", code="quota", field="file")
        return {"conversation_id": conversation_id}

    return receive(actor, stream, name, owner)


def _require_sending(actor: User, conversation_id) -> None:
    refusal = send_refusal_for(actor, conversation_id)
    if refusal:
        raise CantSend(refusal, code="cant_send", field="file")


def kept_uploads(actor: User, conversation_id: int, public_ids) -> list[dict]:
    """The actor's own uploads named in a refused form, still free to attach
    in this conversation, in the order given, as the composer shows them."""
    if isinstance(public_ids, str):
        public_ids = [public_ids]
    ids = [i for i in dict.fromkeys(public_ids or ())
           if isinstance(i, str) and 0 < len(i) <= PUBLIC_ID_LENGTH][:MAX_PER_PLACE]
    if not ids:
        return []
    rows = {row.public_id: row for row in db.session.scalars(select(Attachment).where(
        Attachment.public_id.in_(ids), Attachment.conversation_id == conversation_id,
        Attachment.uploader_id == actor.id, *_unattached()))}
    items = []
    for public_id in ids:
        if public_id in rows:
            face = face_of(rows[public_id])
            items.append({"id": face.public_id, "name": face.name, "size": face.size,
                          "label": face.label, "badge": face.badge,
                          "thumbnail_url": file_urls(None, rows[public_id])[1]})
    return items


def discard_conversation_files(conversation_ids) -> int:
    """Delete every file of these conversations, drafts included, in the
    caller's write transaction: call it before deleting the conversations,
    whose cascade would take the rows but leave their bytes."""
    ids = list(conversation_ids)
    return discard(Attachment.conversation_id.in_(ids)) if ids else 0


def discard_for_account(user_id: int) -> int:
    """The direct-message files that go with a deleted account, in the
    caller's write transaction: the person's drafts (no one else could ever
    see them), and every file of a conversation no one else is or was in
    (no one is left to read it). Files on messages others still read stay, as
    the messages' text does ("Former member")."""
    others = ConversationMember.__table__.alias("others")
    alone = select(ConversationMember.conversation_id).where(
        ConversationMember.user_id == user_id,
        ~exists().where(others.c.conversation_id == ConversationMember.conversation_id,
                        others.c.user_id != user_id))
    return (discard(Attachment.conversation_id.is_not(None), Attachment.uploader_id == user_id,
                    *_unattached())
            + discard(Attachment.conversation_id.in_(alone)))
