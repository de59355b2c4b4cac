"""Everything members do in threads: start, reply, edit, delete, react, follow, read."""
from datetime import timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..circles.models import Circle
from ..content import plain_excerpt, plain_text
from ..database import begin_write
from ..errors import ActionError, NotFound
from ..extensions import db
from ..files.actions import discard
from ..files.models import Attachment
from ..files.places import change_files
from ..mentions import notify_mentions, render_with_mentions
from ..moderation.actions import file_report
from ..moderation.audit import record
from ..moderation.reports import register
from ..notifications.actions import notify
from ..policy import (
    access_circle,
    access_post,
    access_thread,
    active_member_ids,
    can_delete_post,
    can_edit_post,
    can_moderate_content,
    can_reply,
    can_report,
    require,
)
from ..text import clean_text
from ..timeutil import utcnow
from ..urls import path_for
from .models import REACTIONS, Post, Reaction, SearchEntry, Thread, ThreadState

TITLE_MAX = 200
BODY_MAX = 20_000
PER_PAGE = 20
# The same text from the same person in the same place within this long is the
# same form sent twice (a double click, a browser's retry after a cut
# connection): it is answered with what the first one stored.
RESUBMIT_WINDOW = timedelta(minutes=2)


def _clean_title(title) -> str:
    return clean_text(title, field="title", label="A title", max_len=TITLE_MAX, required=True)


def _clean_body(body) -> str:
    body = clean_text(body, field="body", label="The post", max_len=BODY_MAX, multiline=True)
    if not body:
        raise ActionError("Write something first: the post is empty.", field="body")
    return body


def post_url(circle: Circle, thread: Thread, number: int) -> str:
    page = (number - 1) // PER_PAGE + 1
    return path_for("threads.show", slug=circle.slug, thread_id=thread.id, page=page) + f"#post-{number}"


def _add_post(actor: User, circle: Circle, thread: Thread, source: str) -> tuple[Post, dict]:
    """Append a post (the thread row must be locked by the caller)."""
    html, mentioned = render_with_mentions(circle.id, source)
    now = utcnow()
    thread.post_count += 1
    thread.last_post_at, thread.last_poster_id = now, actor.id
    post = Post(thread_id=thread.id, circle_id=circle.id, author_id=actor.id,
                number=thread.post_count, source=source, html=html, created_at=now)
    db.session.add(post)
    db.session.flush()
    # The title is searched once, with the opening post, so a title match finds the thread once.
    db.session.add(SearchEntry(post_id=post.id, circle_id=circle.id, thread_id=thread.id,
                               title=thread.title if post.number == 1 else "",
                               body=plain_text(html)))
    _state(actor.id, thread.id, read_to=post.number, follow=True)
    return post, mentioned


def _state(user_id: int, thread_id: int, read_to: int | None = None, follow: bool = False,
           subscription: str | None = "unchanged") -> ThreadState:
    state = db.session.scalar(select(ThreadState).where(
        ThreadState.user_id == user_id, ThreadState.thread_id == thread_id))
    if state is None:
        state = ThreadState(user_id=user_id, thread_id=thread_id, last_read_number=0)
        db.session.add(state)
    if read_to is not None:
        state.last_read_number = max(state.last_read_number or 0, read_to)
    if follow and state.subscription is None:
        state.subscription = "following"  # posting follows, unless muted
    if subscription != "unchanged":
        state.subscription = subscription
    return state


def _notify_mentions(actor, circle, thread, post, mentioned: dict[str, User],
                     told_of_post: set[int] = frozenset()) -> set[int]:
    """Tell the people mentioned in the post (each once per post). Someone who
    also hears of the post itself (told_of_post: a follower of the thread, a
    member of the circle for a new thread) gets one item saying both; a "reply"
    or "new thread" item already sent for this post (before an edit added the
    mention) becomes this one."""
    name, title = actor.display_name, thread.title
    both = (f"{name} started “{title}” and mentioned you" if post.number == 1
            else f"{name} replied in “{title}” and mentioned you")
    alone = f"{name} mentioned you in “{title}”"
    return notify_mentions(actor.id, circle.id, mentioned,
                           lambda user_id: both if user_id in told_of_post else alone,
                           post_url(circle, thread, post.number),
                           html=post.html, replaces=("reply", "new_thread"))


def _followers(circle: Circle, thread: Thread) -> set[int]:
    return set(db.session.scalars(
        select(ThreadState.user_id)
        .where(ThreadState.thread_id == thread.id, ThreadState.subscription == "following",
               ThreadState.user_id.in_(active_member_ids(circle.id)))))


def _just_started(actor: User, circle: Circle, title: str, body: str) -> Thread | None:
    """The thread the actor opened with this title and text a moment ago, if any."""
    return db.session.scalar(
        select(Thread).join(Post, (Post.thread_id == Thread.id) & (Post.number == 1))
        .where(Thread.circle_id == circle.id, Thread.author_id == actor.id, Thread.title == title,
               Post.source == body, Post.deleted_at.is_(None),
               Thread.created_at > utcnow() - RESUBMIT_WINDOW)
        .order_by(Thread.id.desc()).limit(1))


def _just_posted(actor: User, thread: Thread, body: str) -> Post | None:
    """The actor's reply of this text to this thread a moment ago, if any."""
    return db.session.scalar(
        select(Post).where(Post.thread_id == thread.id, Post.author_id == actor.id,
                           Post.source == body, Post.deleted_at.is_(None),
                           Post.created_at > utcnow() - RESUBMIT_WINDOW)
        .order_by(Post.id.desc()).limit(1))


def _same_files(post_id: int, attachments) -> bool:
    """Whether the post holds exactly these files: the same text with other
    files is a new post, not the same form sent twice."""
    held = set(db.session.scalars(select(Attachment.public_id).where(Attachment.post_id == post_id)))
    return held == {public_id for public_id in (attachments or ()) if public_id}


def _attach(actor: User, circle: Circle, post: Post, attachments) -> None:
    """The post's files, in the transaction that writes it: refused, nothing is written."""
    try:
        change_files(actor, circle.id, add=attachments, post_id=post.id)
    except ActionError:
        db.session.rollback()
        raise


def start_thread(actor: User, slug: str, title: str, body: str, attachments=()) -> Thread:
    """Open a new thread with its first post and the actor's uploads `attachments`
    (public ids) on it; the circle's members hear of it. The same thread sent
    twice in a row is stored once (RESUBMIT_WINDOW).

    :raise NotFound: not an active member.
    :raise ActionError: empty or too long title or body; a file that can't be
        attached (files.actions.attach): then nothing is written.
    """
    title, body = _clean_title(title), _clean_body(body)
    begin_write()
    # The circle's row, locked: two copies of one form are looked at one at a time.
    circle, _ = access_circle(actor, slug, for_update=True)
    earlier = _just_started(actor, circle, title, body)
    if earlier is not None and _same_files(
            db.session.scalar(select(Post.id).where(Post.thread_id == earlier.id, Post.number == 1)),
            attachments):
        db.session.commit()
        return earlier
    thread = Thread(circle_id=circle.id, author_id=actor.id, title=title, post_count=0,
                    removed_count=0, last_poster_id=actor.id)
    db.session.add(thread)
    db.session.flush()
    post, mentioned = _add_post(actor, circle, thread, body)
    _attach(actor, circle, post, attachments)
    members = set(db.session.scalars(active_member_ids(circle.id)))
    told = _notify_mentions(actor, circle, thread, post, mentioned, members)
    url = post_url(circle, thread, 1)
    for user_id in members:
        if user_id != actor.id and user_id not in told:
            notify(user_id, "new_thread", f"{actor.display_name} started “{title}” in {circle.name}",
                   url, circle_id=circle.id, actor_id=actor.id)
    db.session.commit()
    return thread


def post_reply(actor: User, slug: str, thread_id: int, body: str, attachments=()) -> Post:
    """Reply to a thread, with the actor's uploads `attachments` (public ids) on
    the reply; its followers and anyone mentioned are told. The same reply sent
    twice in a row is stored once (RESUBMIT_WINDOW).

    :raise NotFound: the thread doesn't exist or actor can't see its circle.
    :raise Forbidden: the thread is locked.
    :raise ActionError: empty or too long; a file that can't be attached
        (files.actions.attach): then nothing is written.
    """
    body = _clean_body(body)
    begin_write()
    circle, membership, thread = access_thread(actor, slug, thread_id, for_update=True)
    require(can_reply(membership, thread),
            "This thread is locked: a moderator has closed it to new replies.")
    # A challenge's posts each have a kind its phase allows (challenges.actions).
    require(thread.kind != "challenge", "Post to a challenge with its own form, as its phase allows.")
    earlier = _just_posted(actor, thread, body)
    if earlier is not None and _same_files(earlier.id, attachments):
        db.session.commit()
        return earlier
    post, mentioned = _add_post(actor, circle, thread, body)
    _attach(actor, circle, post, attachments)
    followers = _followers(circle, thread)
    told = _notify_mentions(actor, circle, thread, post, mentioned, followers) | {actor.id}
    for user_id in followers:
        if user_id not in told:
            notify(user_id, "reply", f"{actor.display_name} replied in “{thread.title}”",
                   post_url(circle, thread, post.number), circle_id=circle.id, actor_id=actor.id,
                   excerpt=plain_excerpt(post.html, 200))
    db.session.commit()
    return post


def edit_post(actor: User, slug: str, post_id: int, body: str, title: str | None = None,
              attachments=(), remove_files=()) -> Post:
    """Edit one's own post (and the title, for the opening post): add the actor's
    uploads `attachments` and take away the post's files named in `remove_files`
    (public ids; their bytes go too). Marked as edited.

    :raise NotFound: no such post in a circle the actor is in.
    :raise Forbidden: not the author, or the post was removed.
    :raise ActionError: empty or too long; a file that can't be attached, or more
        than ten in all: then nothing is changed.
    """
    body = _clean_body(body)
    begin_write()
    circle, membership, post = access_post(actor, slug, post_id)
    require(can_edit_post(membership, post), "You can only edit your own posts.")
    thread = db.session.get(Thread, post.thread_id)
    try:
        new_title = _clean_title(title) if title is not None and post.number == 1 else None
        change_files(actor, circle.id, add=attachments, remove=remove_files, post_id=post.id)
    except ActionError:
        db.session.rollback()
        raise
    if new_title is not None:
        thread.title = new_title
        db.session.execute(update(SearchEntry).where(SearchEntry.post_id == post.id)
                           .values(title=thread.title))
    post.source = body
    post.html, mentioned = render_with_mentions(circle.id, body)
    post.edited_at = utcnow()
    db.session.execute(update(SearchEntry).where(SearchEntry.post_id == post.id)
                       .values(body=plain_text(post.html)))
    # Only people newly mentioned by the edit hear of it (notify_mentions tells each once).
    _notify_mentions(actor, circle, thread, post, mentioned,
                     set(db.session.scalars(active_member_ids(circle.id))) if post.number == 1
                     else _followers(circle, thread))
    db.session.commit()
    return post


def delete_post(actor: User, slug: str, post_id: int) -> Post:
    """Remove a post; its place shows "post removed". Audited when a moderator does it.

    :raise NotFound: no such post in a circle the actor is in.
    :raise Forbidden: neither the author nor a moderator, or already removed.
    """
    circle, membership, post = access_post(actor, slug, post_id)
    require(can_delete_post(membership, post), "You can only remove your own posts.")
    _remove(actor, circle, post)
    db.session.commit()
    return post


def _remove(actor: User, circle: Circle, post: Post) -> None:
    """Soft-delete in the caller's transaction (also used by the report queue)."""
    post.deleted_at, post.deleted_by_id = utcnow(), actor.id
    db.session.execute(update(Thread).where(Thread.id == post.thread_id)
                       .values(removed_count=Thread.removed_count + 1))
    db.session.execute(delete(SearchEntry).where(SearchEntry.post_id == post.id))
    discard(Attachment.post_id == post.id)  # the files go with the post (bytes after the commit)
    if post.author_id != actor.id:
        record(circle.id, actor.id, "post.deleted", target_user_id=post.author_id,
               detail=f"post #{post.id}")


def _set_flag(actor: User, slug: str, thread_id: int, flag: str, value: bool) -> Thread:
    circle, membership, thread = access_thread(actor, slug, thread_id)
    require(can_moderate_content(membership), "Only the circle's owners and moderators can do that.")
    if getattr(thread, flag) != value:
        setattr(thread, flag, value)
        verb = {"pinned": ("thread.pinned", "thread.unpinned"),
                "locked": ("thread.locked", "thread.unlocked")}[flag][0 if value else 1]
        record(circle.id, actor.id, verb, detail=f"“{thread.title}”")
        db.session.commit()
    return thread


def set_pinned(actor: User, slug: str, thread_id: int, pinned: bool) -> Thread:
    """Pin a thread to the top of the list, or unpin it (moderators; audited).

    :raise NotFound / Forbidden: as usual.
    """
    return _set_flag(actor, slug, thread_id, "pinned", pinned)


def set_locked(actor: User, slug: str, thread_id: int, locked: bool) -> Thread:
    """Close a thread to replies, or reopen it (moderators; audited).

    :raise NotFound / Forbidden: as usual.
    """
    return _set_flag(actor, slug, thread_id, "locked", locked)


def mark_read(actor: User, slug: str, thread_id: int, number: int) -> ThreadState:
    """Move the actor's read position forward (never back).

    :raise NotFound: as access_thread.
    """
    _, _, thread = access_thread(actor, slug, thread_id)
    number = max(0, min(int(number), thread.post_count))
    state = _state(actor.id, thread.id, read_to=number)
    try:
        db.session.commit()
    except IntegrityError:  # the same member's two tabs created the row at once
        db.session.rollback()
        return mark_read(actor, slug, thread_id, number)
    return state


def mark_circle_read(actor: User, slug: str) -> int:
    """Mark every thread in the circle read. Returns how many threads changed.

    :raise NotFound: not an active member.
    """
    circle, _ = access_circle(actor, slug)
    threads = db.session.execute(select(Thread.id, Thread.post_count)
                                 .where(Thread.circle_id == circle.id)).all()
    states = {s.thread_id: s for s in db.session.scalars(select(ThreadState).where(
        ThreadState.user_id == actor.id,
        ThreadState.thread_id.in_(select(Thread.id).where(Thread.circle_id == circle.id))))}
    changed = 0
    for thread_id, count in threads:
        state = states.get(thread_id)
        if state is None:
            db.session.add(ThreadState(user_id=actor.id, thread_id=thread_id, last_read_number=count))
            changed += 1
        elif state.last_read_number < count:
            state.last_read_number = count
            changed += 1
    db.session.commit()
    return changed


def set_subscription(actor: User, slug: str, thread_id: int, subscription: str | None) -> ThreadState:
    """Follow a thread (hear of every reply), mute it (hear nothing but mentions), or neither.

    :raise NotFound: as access_thread.
    :raise ActionError: an unknown choice.
    """
    if subscription not in ("following", "muted", None):
        raise ActionError("Choose follow, mute or normal.", field="subscription")
    _, _, thread = access_thread(actor, slug, thread_id)
    state = _state(actor.id, thread.id, subscription=subscription)
    db.session.commit()
    return state


def toggle_reaction(actor: User, slug: str, post_id: int, emoji: str) -> bool:
    """Add the reaction if absent, take it away if present. Returns True if added.

    :raise NotFound: as access_post (and removed posts take no reactions).
    :raise ActionError: not one of the offered reactions.
    """
    if emoji not in REACTIONS:
        raise ActionError("Choose one of the offered reactions.", field="emoji")
    _, _, post = access_post(actor, slug, post_id)
    if post.removed:
        raise NotFound()
    removed = db.session.execute(delete(Reaction).where(
        Reaction.post_id == post.id, Reaction.user_id == actor.id, Reaction.emoji == emoji)).rowcount
    if not removed:
        try:
            db.session.execute(insert(Reaction).values(post_id=post.id, user_id=actor.id,
                                                       emoji=emoji, created_at=utcnow()))
        except IntegrityError:  # a double click: the other request added it
            db.session.rollback()
            return True
    db.session.commit()
    return not removed


def report_post(actor: User, slug: str, post_id: int, reason: str):
    """Flag someone else's post for the moderators.

    :raise NotFound / ActionError: as file_report; Forbidden for one's own post.
    """
    _, membership, post = access_post(actor, slug, post_id)
    require(can_report(membership, post.author_id), "You can't report your own post.")
    if post.removed:
        raise NotFound()
    return file_report(actor, slug, "post", post.id, reason)


# --- The report queue's view of posts ------------------------------------------

def _load_post(circle: Circle, post_id: int) -> Post | None:
    return db.session.scalar(select(Post).where(Post.id == post_id, Post.circle_id == circle.id))


def _summarise_post(post: Post) -> dict:
    thread = db.session.get(Thread, post.thread_id)
    circle = db.session.get(Circle, post.circle_id)
    return {"author": post.author, "html": post.html, "removed": post.removed,
            "url": post_url(circle, thread, post.number)}


register("post", load=_load_post, summary=_summarise_post, remove=_remove)


def unread_counts(user_id: int, thread_ids: list[int]) -> dict[int, int]:
    """thread id -> posts the user hasn't read, in one query."""
    if not thread_ids:
        return {}
    rows = db.session.execute(
        select(Thread.id, Thread.post_count - func.coalesce(ThreadState.last_read_number, 0))
        .outerjoin(ThreadState, (ThreadState.thread_id == Thread.id) & (ThreadState.user_id == user_id))
        .where(Thread.id.in_(thread_ids)))
    return {thread_id: max(0, n) for thread_id, n in rows}
