"""@handles in what members write: who they name, and the Markdown rendered
with each named member linked to their profile. Threads and chat both use it."""
from .accounts.models import User
from .content import mentioned_handles, render
from .extensions import db
from .policy import active_members
from .urls import path_for


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
