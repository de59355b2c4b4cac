""""Your data": everything a member wrote or set, read in a fixed number of queries.

One query per section, each joining what it names (thread, circle, meeting), so
the cost doesn't grow with how much the member wrote. Only the member's own rows
are read; the things around them (a thread's title, a circle's name) are those
of threads and circles the member wrote in or belonged to.
"""
import zipfile
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..policy import membership_history, readable_message
from .models import User


def _rows(query) -> list[dict]:
    return [dict(row._mapping) for row in db.session.execute(query)]


def collect(user: User) -> dict:
    """Every section of the member's data, as plain values (datetimes in UTC)."""
    from ..chat.models import ChatMessage
    from ..circles.models import Circle, JoinRequest
    from ..meetings.models import (
        RSVP,
        CalendarFeed,
        DatePoll,
        HostOffer,
        Meeting,
        MeetingOccurrence,
        PollOption,
        PollVote,
    )
    from ..notifications.actions import channels_for
    from ..notifications.kinds import CHANNELS, label
    from ..threads.models import REACTIONS, Post, Reaction, Thread

    uid = user.id
    circle = (Circle.name.label("circle"), Circle.slug.label("circle_slug"))
    data = {
        "profile": {
            "email": user.email, "display_name": user.display_name, "handle": user.handle,
            "organisation": user.organisation, "job_title": user.job_title,
            "sector": user.sector_label, "location": user.location, "bio": user.bio,
            "timezone": user.timezone, "clock": user.clock, "site_admin": user.is_site_admin,
            "joined": user.created_at, **_directory_profile(user),
        },
        "profile_photo": _photo_file(user),
        "memberships": _rows(membership_history(uid)),
        "join_requests": _rows(
            select(*circle, JoinRequest.message, JoinRequest.status, JoinRequest.created_at)
            .join(Circle, Circle.id == JoinRequest.circle_id)
            .where(JoinRequest.user_id == uid).order_by(JoinRequest.created_at)),
        "threads": _rows(
            select(Thread.id.label("thread_id"), Thread.title, Thread.created_at, *circle)
            .join(Circle, Circle.id == Thread.circle_id)
            .where(Thread.author_id == uid).order_by(Thread.created_at, Thread.id)),
        "posts": _rows(
            select(Post.id, Post.number, Post.kind, Post.source, Post.created_at, Post.edited_at,
                   Post.deleted_at, Thread.id.label("thread_id"), Thread.title.label("thread"),
                   *circle)
            .join(Thread, Thread.id == Post.thread_id).join(Circle, Circle.id == Post.circle_id)
            .where(Post.author_id == uid).order_by(Post.created_at, Post.id)),
        **_challenges(uid, circle),
        "chat_messages": _rows(
            select(ChatMessage.id, ChatMessage.source, ChatMessage.created_at,
                   ChatMessage.edited_at, ChatMessage.deleted_at, *circle)
            .join(Circle, Circle.id == ChatMessage.circle_id)
            .where(ChatMessage.author_id == uid).order_by(ChatMessage.id)),
        "reactions": [
            {**row, "emoji": REACTIONS.get(row["emoji"], row["emoji"])} for row in _rows(
                select(Reaction.emoji, Reaction.created_at, Post.id.label("post_id"),
                       Thread.id.label("thread_id"), Thread.title.label("thread"), *circle)
                .join(Post, Post.id == Reaction.post_id)
                .join(Thread, Thread.id == Post.thread_id)
                .join(Circle, Circle.id == Post.circle_id)
                .where(Reaction.user_id == uid).order_by(Reaction.created_at, Reaction.id))],
        "meetings_organised": _rows(
            select(Meeting.id, Meeting.title, Meeting.starts_at, Meeting.timezone,
                   Meeting.location, Meeting.cancelled_at, *circle)
            .join(Circle, Circle.id == Meeting.circle_id)
            .where(Meeting.organiser_id == uid).order_by(Meeting.starts_at)),
        "rsvps": _rows(
            select(RSVP.answer, RSVP.responded_at, MeetingOccurrence.starts_at,
                   Meeting.id.label("meeting_id"), Meeting.title.label("meeting"), *circle)
            .join(MeetingOccurrence, MeetingOccurrence.id == RSVP.occurrence_id)
            .join(Meeting, Meeting.id == MeetingOccurrence.meeting_id)
            .join(Circle, Circle.id == Meeting.circle_id)
            .where(RSVP.user_id == uid).order_by(MeetingOccurrence.starts_at)),
        "polls_asked": _rows(
            select(DatePoll.id, DatePoll.title, DatePoll.status, DatePoll.created_at, *circle)
            .join(Circle, Circle.id == DatePoll.circle_id)
            .where(DatePoll.organiser_id == uid).order_by(DatePoll.created_at)),
        "poll_votes": _rows(
            select(PollVote.answer, PollVote.created_at, PollOption.starts_at,
                   PollOption.ends_at, DatePoll.id.label("poll_id"),
                   DatePoll.title.label("poll"), *circle)
            .join(PollOption, PollOption.id == PollVote.option_id)
            .join(DatePoll, DatePoll.id == PollVote.poll_id)
            .join(Circle, Circle.id == DatePoll.circle_id)
            .where(PollVote.user_id == uid).order_by(PollOption.starts_at)),
        "host_offers": _rows(
            select(HostOffer.organisation, HostOffer.note, HostOffer.created_at,
                   HostOffer.withdrawn_at, *circle)
            .join(Circle, Circle.id == HostOffer.circle_id)
            .where(HostOffer.user_id == uid).order_by(HostOffer.created_at)),
        "notification_settings": [
            {"kind": kind, "label": label(kind), "channel": channel,
             "channel_label": CHANNELS.get(channel, channel)}
            for kind, channel in channels_for(user).items()],
        "calendar_feed": _rows(
            select(CalendarFeed.created_at).where(CalendarFeed.user_id == uid)),
        "files": _shared_files(uid, circle),
        **_introductions(uid),
        **_conversations(uid),
    }
    return data


def _directory_profile(user: User) -> dict:
    """The directory's part of one's profile: tags, flags, the photo's place in
    the zip, and who sees each field (community/directory)."""
    from ..directory.actions import tags_of
    from .models import PROFILE_FIELDS, VISIBILITIES

    return {
        "tags": tags_of(user.id), "open_to_contact": user.open_to_contact,
        "listed_in_directory": user.listed_in_directory,
        "photo": _photo_file(user)[0]["file"] if user.photo_key else None,
        "visibility": [{"field": field, "label": label, "audience": getattr(user, f"{field}_visibility"),
                        "audience_label": VISIBILITIES.get(getattr(user, f"{field}_visibility"))}
                       for field, label in PROFILE_FIELDS.items()],
    }


def _introductions(uid: int) -> dict:
    """Introductions the person asked (to whom, their words, "accepted" or
    "sent": a decline is never told) and those asked of them (by whom, the
    asker's words, what they decided). Two queries."""
    from ..directory.models import Introduction

    other = aliased(User)
    sent = _rows(select(other.display_name.label("to"), Introduction.message, Introduction.created_at,
                        case((Introduction.status == "accepted", "accepted"), else_="sent").label("status"))
                 .join(other, other.id == Introduction.recipient_id)
                 .where(Introduction.requester_id == uid).order_by(Introduction.created_at))
    received = _rows(select(other.display_name.label("from"), Introduction.message, Introduction.created_at,
                            Introduction.status, Introduction.decided_at)
                     .join(other, other.id == Introduction.requester_id)
                     .where(Introduction.recipient_id == uid).order_by(Introduction.created_at))
    return {"introductions_asked": sent, "introductions_received": received}


def _photo_file(user: User) -> list[dict]:
    """The profile photo as the zip holds it (profile/photo.<ext>), or nothing."""
    from ..files.kinds import KINDS

    if not user.photo_key:
        return []
    kind = KINDS.get(user.photo_kind or "")
    extension = kind.extension if kind else "img"
    return [{"file": f"profile/photo.{extension}", "storage_key": user.photo_key,
             "created_at": user.created_at, "size": 0}]


def _challenges(uid: int, circle) -> dict:
    """The challenges they presented, with their commitments, and the ideas they
    hold back (their posts in challenges are among "posts", with their kind)."""
    from ..challenges.models import Challenge, Commitment, IdeaDraft
    from ..circles.models import Circle
    from ..threads.models import Thread

    return {
        "challenges": _rows(
            select(Challenge.id.label("challenge_id"), Thread.id.label("thread_id"), Thread.title,
                   Challenge.phase, Challenge.created_at, Challenge.reflected_at, *circle)
            .join(Thread, Thread.id == Challenge.thread_id).join(Circle, Circle.id == Challenge.circle_id)
            .where(Challenge.presenter_id == uid).order_by(Challenge.id)),
        "commitments": _rows(
            select(Commitment.text, Commitment.due_on, Challenge.id.label("challenge_id"),
                   Thread.title.label("challenge"), *circle)
            .join(Challenge, Challenge.id == Commitment.challenge_id)
            .join(Thread, Thread.id == Challenge.thread_id).join(Circle, Circle.id == Challenge.circle_id)
            .where(Challenge.presenter_id == uid).order_by(Challenge.id, Commitment.position)),
        "held_ideas": _rows(
            select(IdeaDraft.source, IdeaDraft.created_at, Challenge.id.label("challenge_id"),
                   Thread.title.label("challenge"), *circle)
            .join(Challenge, Challenge.id == IdeaDraft.challenge_id)
            .join(Thread, Thread.id == Challenge.thread_id).join(Circle, Circle.id == Challenge.circle_id)
            .where(IdeaDraft.author_id == uid).order_by(IdeaDraft.id)),
    }


def _conversations(uid: int) -> dict:
    """The person's direct-message conversations (who else was in each, when
    they joined and left) and every message in them they may read: theirs and
    the others' (policy.readable_message), as the conversation's page shows them.
    Three queries, however many conversations and messages."""
    from ..circles.actions import FORMER_MEMBER
    from ..messages.models import Conversation, ConversationMember, DirectMessage

    mine, everyone = aliased(ConversationMember), aliased(ConversationMember)
    people: dict[int, list[str]] = {}
    for conversation_id, name in db.session.execute(
            select(everyone.conversation_id, User.display_name)
            .join(mine, and_(mine.conversation_id == everyone.conversation_id, mine.user_id == uid))
            .join(User, User.id == everyone.user_id)
            .where(everyone.user_id != uid).order_by(everyone.conversation_id, everyone.id)):
        people.setdefault(conversation_id, []).append(name)
    conversations = [
        {**row, "people": people.get(row["conversation_id"], [])} for row in _rows(
            select(Conversation.id.label("conversation_id"), Conversation.created_at,
                   ConversationMember.joined_at, ConversationMember.left_at)
            .join(ConversationMember, and_(ConversationMember.conversation_id == Conversation.id,
                                           ConversationMember.user_id == uid))
            .order_by(Conversation.id))]
    author = aliased(User)
    messages = _rows(
        select(DirectMessage.conversation_id, DirectMessage.seq,
               func.coalesce(author.display_name, FORMER_MEMBER).label("author"),
               (DirectMessage.author_id == uid).label("mine"), DirectMessage.source,
               DirectMessage.created_at, DirectMessage.edited_at, DirectMessage.deleted_at)
        .join(mine, and_(mine.conversation_id == DirectMessage.conversation_id, mine.user_id == uid))
        .outerjoin(author, author.id == DirectMessage.author_id)
        .where(readable_message(mine.joined_at, mine.left_at))
        .order_by(DirectMessage.conversation_id, DirectMessage.seq))
    return {"conversations": conversations, "direct_messages": messages}


def _shared_files(uid: int, circle) -> list[dict]:
    """The files the member shared (attached somewhere), each with the path it
    has in the zip download: files/<circle>/<name>, or for a direct message
    files/messages/<conversation id>/<name>, numbered where names repeat."""
    from ..circles.models import Circle
    from ..files.models import Attachment

    place = case((Attachment.post_id.is_not(None), "post"),
                 (Attachment.meeting_id.is_not(None), "meeting"),
                 (Attachment.direct_message_id.is_not(None), "direct message"),
                 else_="chat message")
    rows = _rows(
        select(Attachment.name, Attachment.kind, Attachment.size, Attachment.created_at,
               place.label("shared_in"), *circle, Attachment.conversation_id, Attachment.storage_key)
        .outerjoin(Circle, Circle.id == Attachment.circle_id)
        .where(Attachment.uploader_id == uid,
               or_(Attachment.post_id.is_not(None), Attachment.meeting_id.is_not(None),
                   Attachment.chat_message_id.is_not(None), Attachment.direct_message_id.is_not(None)))
        .order_by(Attachment.created_at, Attachment.id))
    taken: set[str] = set()
    for row in rows:
        folder = (row["circle_slug"] if row["conversation_id"] is None
                  else f"messages/{row['conversation_id']}")
        row["file"] = _unique(f"files/{folder}/{row['name']}", taken)
    return rows


def _unique(path: str, taken: set[str]) -> str:
    """`path`, or "name (2).ext", "name (3).ext"... if an earlier file has it."""
    stem, dot, ext = path.rpartition(".")
    if not dot or "/" in ext:
        stem, dot, ext = path, "", ""
    candidate, n = path, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem} ({n}){dot}{ext}"
    taken.add(candidate.lower())
    return candidate


def public(data: dict) -> dict:
    """The data as the member downloads it: without the storage's own keys."""
    return {**{k: v for k, v in data.items() if k != "profile_photo"},
            "files": [{k: v for k, v in row.items() if k != "storage_key"} for row in data["files"]]}


class _Chunks:
    """A write-only file that keeps what is written until it is taken: zipfile
    writes a zip into it (with data descriptors, as it can't seek), and the
    response sends each piece as soon as it is made."""

    def __init__(self):
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


def zip_chunks(data_json: bytes, files: list[dict], storage, chunk: int = 256 * 1024):
    """The export as a zip, piece by piece: data.json, then each shared file at
    its "file" path, read from storage a chunk at a time, so no file is ever
    held whole in memory. A file whose bytes are gone is left out (the JSON
    still lists it)."""
    sink = _Chunks()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", data_json)
        yield sink.take()
        for row in files:
            try:
                stream = storage.open(row["storage_key"])
            except FileNotFoundError:
                continue
            entry = zipfile.ZipInfo(row["file"], date_time=row["created_at"].timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            with stream, archive.open(entry, "w", force_zip64=row["size"] > 2 ** 31) as out:
                while piece := stream.read(chunk):
                    out.write(piece)
                    if part := sink.take():
                        yield part
            yield sink.take()
    yield sink.take()


def as_json(value):
    """json.dumps' default: datetimes as ISO 8601 in UTC."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
