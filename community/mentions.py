"""@handles in what members write: who they name, the Markdown rendered with
each named member linked to their profile, telling the people named, and the
composer's suggestions. Threads and chat both use it."""
import re
from collections.abc import Callable

from sqlalchemy import case, select

from .accounts.models import User
from .content import mentioned_handles, plain_excerpt, render
from .errors import ActionError
from .extensions import db
from .notifications.actions import notify
from .notifications.models import Notification
from .policy import active_members
from .urls import path_for

SUGGESTIONS = 8
HANDLE = re.compile(r"[a-z0-9_]{2,40}")  # as content.MENTION, without the @
CHECK_MAX = 50


def mentioned_members(circle_id: int, source: str) -> dict[str, User]:
    """{handle: user} for the circle's active members named by @handle in source."""
    handles = mentioned_handles(source)
    if not handles:
        return {}
    rows = db.session.scalars(active_members(circle_id).where(User.handle.in_(handles)))
    return {user.handle: user for user in rows}


def render_with_mentions(circle_id: int, source: str) -> tuple[str, dict[str, User]]:
    """(safe HTML, {handle: user}): the source rendered, its mentions linked."""
    mentioned = mentioned_members(circle_id, source)
    links = {handle: path_for("circles.profile", user_id=user.id) for handle, user in mentioned.items()}
    return render(source, links), mentioned


EXCERPT = 200  # characters of the text quoted in the notification


def notify_mentions(actor_id: int, circle_id: int, mentioned: dict[str, User],
                    text: str | Callable[[int], str], url: str, html: str | None = None,
                    replaces: tuple[str, ...] = ()) -> set[int]:
    """Tell each member named (but the actor) that they were mentioned at url, in
    the caller's transaction. Someone already told of a mention at this url (an
    edit that keeps, or drops and restores, the mention) isn't told again.

    :param text: the notification's text, or a function of the person's id giving it.
    :param html: what mentions them, shown as a plain excerpt (made only when
        someone is told: it was a twentieth of sending any chat message).
    :param replaces: as notify's (an earlier item for the same url that this one becomes).
    Returns the ids of the people told now.
    """
    candidates = {user.id for user in mentioned.values() if user.id != actor_id}
    if not candidates:
        return set()
    told_before = set(db.session.scalars(select(Notification.user_id).where(
        Notification.kind == "mention", Notification.url == url,
        Notification.user_id.in_(candidates))))
    told = candidates - told_before
    excerpt = plain_excerpt(html, EXCERPT) if html is not None and told else None
    for user_id in sorted(told):
        notify(user_id, "mention", text(user_id) if callable(text) else text, url,
               circle_id=circle_id, actor_id=actor_id, excerpt=excerpt, replaces=replaces)
    return told


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def suggest_members(circle_id: int, q: str) -> list[tuple[str, str]]:
    """(handle, display name) of up to SUGGESTIONS active members whose handle
    or display name contains q anywhere, as people search finds them: names
    and handles starting with q first, then a word of them starting with q,
    then the rest; alphabetically within each."""
    q = "".join(c for c in q[:100] if c.isprintable()).strip().lstrip("@").lower()[:40]
    escaped = _like_escape(q)
    anywhere, start = f"%{escaped}%", f"{escaped}%"
    word, handle_word = f"% {escaped}%", f"%\\_{escaped}%"
    rank = case((User.handle.like(start, escape="\\") | User.display_name.ilike(start, escape="\\"), 0),
                (User.display_name.ilike(word, escape="\\") | User.handle.like(handle_word, escape="\\"), 1),
                else_=2)
    return [tuple(row) for row in db.session.execute(
        active_members(circle_id).with_only_columns(User.handle, User.display_name)
        .where(User.handle.like(anywhere, escape="\\") | User.display_name.ilike(anywhere, escape="\\"))
        .order_by(rank, User.display_name, User.handle).limit(SUGGESTIONS))]


def known_handles(circle_id: int, handles: list[str]) -> set[str]:
    """Which of these handles name an active member of the circle (for the
    composer's "matches no one" warning).

    :raise ActionError: more than CHECK_MAX handles, or one that isn't a handle.
    """
    handles = [h.lower() for h in handles if h]
    if len(handles) > CHECK_MAX:
        raise ActionError(f"Ask about at most {CHECK_MAX} handles at a time.", field="handles")
    if any(not HANDLE.fullmatch(h) for h in handles):
        raise ActionError("A handle is 2 to 40 letters, digits or underscores.", field="handles")
    if not handles:
        return set()
    return set(db.session.scalars(active_members(circle_id).with_only_columns(User.handle)
                                  .where(User.handle.in_(handles))))
