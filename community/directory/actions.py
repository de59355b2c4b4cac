"""Every state change of the directory: one's listing, field audiences, tags, photo.

The profile settings page saves these with the rest of the profile, in one
transaction (accounts.actions.update_profile calls clean_settings and
apply_settings); the photo has its own form, as it is a file.
"""
import re
import tempfile

from flask import current_app
from sqlalchemy import bindparam, case, delete, func, select

from ..accounts.models import PROFILE_FIELDS, VISIBILITIES, User
from ..errors import ActionError
from ..extensions import db
from ..fast.prepared import prepared
from ..text import clean_text
from .models import MAX_TAG_LENGTH, MAX_TAGS, ProfileTag

SETTINGS = ("listed_in_directory", "open_to_contact", "introduction_excerpts", "tags", "visibility")
PHOTO_KINDS = ("jpeg", "png", "gif", "webp")
PHOTO_MAX_BYTES = 10 * 1024 * 1024
_SEPARATORS = re.compile(r"[,;\n]")


def clean_tags(value) -> list[str]:
    """"Can help with" as typed ("Budgets, board recruitment; coaching") -> the
    tags, in order, each once whatever its case.

    :raise ActionError: more than MAX_TAGS, or one longer than MAX_TAG_LENGTH.
    """
    if value is None:
        value = ""
    if isinstance(value, list | tuple):
        value = ",".join(v for v in value if isinstance(v, str))
    text = clean_text(value, field="tags", label="Can help with", max_len=2000, multiline=True)
    tags, seen = [], set()
    for part in _SEPARATORS.split(text):
        tag = " ".join(part.split())
        if not tag or tag.casefold() in seen:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise ActionError(f"Each thing you can help with can be at most {MAX_TAG_LENGTH} characters "
                              f"(“{tag[:MAX_TAG_LENGTH]}…” is longer).", field="tags")
        seen.add(tag.casefold())
        tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ActionError(f"List at most {MAX_TAGS} things you can help with.", field="tags")
    return tags


def clean_settings(fields: dict) -> dict:
    """The directory's part of the profile form, checked: only the keys given.

    :raise ActionError: an audience not in VISIBILITIES, or bad tags.
    """
    clean = {}
    for flag in ("listed_in_directory", "open_to_contact", "introduction_excerpts"):
        if flag in fields:
            clean[flag] = bool(fields[flag])
    if "tags" in fields:
        clean["tags"] = clean_tags(fields["tags"])
    if "visibility" in fields:
        visibility = fields["visibility"] or {}
        for field, audience in visibility.items():
            if field not in PROFILE_FIELDS:
                raise ValueError(f"not a profile field: {field}")
            if audience not in VISIBILITIES:
                raise ActionError(f"Choose who sees your {PROFILE_FIELDS[field].lower()} from the list.",
                                  field=f"{field}_visibility")
        clean["visibility"] = dict(visibility)
    return clean


def apply_settings(user: User, clean: dict) -> None:
    """Write clean_settings' result in the caller's write transaction (the
    user's row locked first, so two saves at once replace the tags in turn)."""
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    for flag in ("listed_in_directory", "open_to_contact", "introduction_excerpts"):
        if flag in clean:
            setattr(user, flag, clean[flag])
    for field, audience in clean.get("visibility", {}).items():
        setattr(user, f"{field}_visibility", audience)
    if "tags" in clean:
        db.session.execute(delete(ProfileTag).where(ProfileTag.user_id == user.id))
        db.session.add_all(ProfileTag(user_id=user.id, position=i, name=tag, key=tag.casefold())
                           for i, tag in enumerate(clean["tags"]))


def tags_of(user_id: int) -> list[str]:
    """The person's tags, in their order (for their own settings and export)."""
    return list(db.session.scalars(select(ProfileTag.name).where(ProfileTag.user_id == user_id)
                                   .order_by(ProfileTag.position, ProfileTag.id)))


def set_photo(user: User, stream, name: str = "") -> None:
    """Set (or replace) one's profile photo: its kind read from its content, its
    pixels re-encoded without EXIF/GPS or anything else, a thumbnail made; the
    replaced photo's bytes go once no row uses them.

    :raise ActionError: too large ("too_large", 413), not a JPEG, PNG, GIF or
        WebP ("unsupported_type"), damaged ("invalid"). Nothing is kept then.
    """
    from ..files.actions import keep_image, release_keys
    from ..files.base import copy_hashing
    from ..files.safety import clean_image, sniff_file

    config = current_app.config
    max_bytes = min(PHOTO_MAX_BYTES, config["FILE_MAX_BYTES"])
    with tempfile.SpooledTemporaryFile(max_size=1024 * 1024) as copy:
        copy_hashing(stream, copy, max_bytes)
        if copy.tell() == 0:
            raise ActionError("Choose a photo to upload.", code="required", field="photo")
        try:
            kind = sniff_file(copy, name, allowed=PHOTO_KINDS)
        except ActionError as err:
            raise ActionError("A photo must be a JPEG, PNG, GIF or WebP image.", code=err.code,
                              field="photo") from None
        image = clean_image(copy, max_pixels=config["FILE_IMAGE_MAX_PIXELS"], max_bytes=max_bytes)
    old = (user.photo_key, user.photo_thumbnail_key)

    def write(main_key: str, thumbnail_key: str) -> None:
        user.photo_key, user.photo_thumbnail_key, user.photo_kind = main_key, thumbnail_key, kind.name
        release_keys(k for k in old if k not in (main_key, thumbnail_key))
        db.session.commit()

    keep_image(image, write)


def remove_photo(user: User) -> None:
    """Take one's profile photo down; its bytes go once no row uses them."""
    from ..database import begin_write
    from ..files.actions import release_keys

    begin_write()
    old = (user.photo_key, user.photo_thumbnail_key)
    user.photo_key = user.photo_thumbnail_key = user.photo_kind = None
    release_keys(old)
    db.session.commit()


# --- Introductions ------------------------------------------------------------------

def introduction_facts(actor: User, person: User, shown: dict[str, bool]) -> str | None:
    """policy.introduction_refusal for the actor and this person (two prepared
    statements: a profile page asks it, and makes no ORM Session)."""
    from datetime import timedelta

    from ..policy import introduction_refusal, message_facts
    from ..timeutil import utcnow

    if person.id == actor.id:
        return introduction_refusal(actor, person, shown, None, False, 0)
    facts = message_facts(actor.id, [person.id]).get(person.id)
    asked, today = _introductions_asked.values({"actor_id": actor.id, "person_id": person.id,
                                                "since": utcnow() - timedelta(days=1)})[0]
    return introduction_refusal(actor, person, shown, facts, bool(asked), today)


@prepared
def _introductions_asked():
    """(how many times the actor asked to be introduced to the person, how
    many introductions they asked for since a moment)."""
    from .models import Introduction

    since = bindparam("since", type_=Introduction.created_at.type)
    return (select(
        func.coalesce(func.sum(case((Introduction.recipient_id == bindparam("person_id"), 1), else_=0)), 0),
        func.coalesce(func.sum(case((Introduction.created_at >= since, 1), else_=0)), 0))
        .where(Introduction.requester_id == bindparam("actor_id")))


def ask_introduction(actor: User, person_id: int, message: str):
    """Ask someone one shares no circle with, from their directory profile, for
    an introduction; they are told (by email only that someone asked, unless
    they chose to have the words emailed too).

    :raise NotFound: no such person, or not one the actor may see (access_profile).
    :raise ActionError: policy.introduction_refusal's reasons; the message too long.
    """
    from ..database import begin_write
    from ..notifications.actions import notify
    from ..policy import access_profile
    from ..urls import path_for
    from .models import MAX_INTRODUCTION_LENGTH, Introduction

    text = clean_text(message, field="message", label="Your message", max_len=MAX_INTRODUCTION_LENGTH,
                      multiline=True)
    begin_write()
    # The asker's row, locked: two requests at once count against the day's limit in turn.
    db.session.execute(select(User.id).where(User.id == actor.id).with_for_update())
    person, shown = access_profile(actor, person_id)
    refusal = introduction_facts(actor, person, shown)
    if refusal:
        db.session.rollback()
        raise ActionError(refusal, code="cant_introduce", field="message")
    introduction = Introduction(requester_id=actor.id, recipient_id=person.id, message=text)
    db.session.add(introduction)
    notify(person.id, "introduction", f"{actor.display_name} asks to be introduced to you",
           url=path_for("directory.introductions"), actor_id=actor.id, excerpt=text or None)
    db.session.commit()
    return introduction


def _received(actor: User, introduction_id: int, for_update: bool = True):
    """A pending introduction asked of the actor.

    :raise NotFound: no such introduction, not asked of the actor, or decided already.
    """
    from werkzeug.exceptions import NotFound

    from .models import Introduction

    query = select(Introduction).where(Introduction.id == introduction_id,
                                       Introduction.recipient_id == actor.id,
                                       Introduction.status == "pending")
    introduction = db.session.scalar(query.with_for_update() if for_update else query)
    if introduction is None:
        raise NotFound()
    return introduction


def accept_introduction(actor: User, introduction_id: int):
    """Accept an introduction asked of one: the two may now message each other,
    and a direct conversation between them opens. Returns the conversation.

    :raise NotFound: as _received.
    :raise ActionError: the conversation can't open (a block since): the
        introduction stays accepted.
    """
    from ..database import begin_write
    from ..messages.actions import start_conversation
    from ..notifications.actions import notify
    from ..timeutil import utcnow
    from ..urls import path_for

    begin_write()
    introduction = _received(actor, introduction_id)
    introduction.status, introduction.decided_at = "accepted", utcnow()
    requester_id = introduction.requester_id
    db.session.commit()
    conversation = start_conversation(actor, [requester_id])
    begin_write()
    notify(requester_id, "introduction_accepted", f"{actor.display_name} accepted your introduction",
           url=path_for("messages.conversation", conversation_id=conversation.id), actor_id=actor.id)
    db.session.commit()
    return conversation


def decline_introduction(actor: User, introduction_id: int) -> None:
    """Decline an introduction asked of one, silently: the asker is not told,
    and their request reads as sent.

    :raise NotFound: as _received.
    """
    from ..database import begin_write
    from ..timeutil import utcnow

    begin_write()
    introduction = _received(actor, introduction_id)
    introduction.status, introduction.decided_at = "declined", utcnow()
    db.session.commit()
