"""The header's two counts on every signed-in page: the bell's (unread
notifications) and the Messages link's (unread direct messages), each counted
no further than its badge shows ("99+", badges.py).

On a page load they are read with the user (accounts.actions.load_session_user),
in the same statement: on PostgreSQL each statement is a round trip
(bench/findings.md, 33). Otherwise, or once the request has committed a change
(which may be to them), they are asked when the layout needs them.
"""
from flask import g, has_app_context, request
from flask_login import current_user
from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from .badges import COUNTED
from .fast.page_load import is_page_load
from .fast.prepared import prepared

# The header's counts stop where their badges do (badges.py): counting 356
# unread messages was a fifth of a served thread page.
HEADER_COUNTED = COUNTED


def header_counts() -> tuple[int, int]:
    """The bell's count and the unread direct messages', each up to HEADER_COUNTED:
    read with the user on a page load (accounts.actions.load_session_user), else
    asked once per request in one statement (the layout and its key both show them)."""
    if "header_counts" not in g:
        g.header_counts = (_header_counts.first({"user_id": current_user.id})
                           if current_user.is_authenticated else (0, 0))
    return g.header_counts


def page_asked() -> bool:
    """Whether this request asks for a page a browser shows (the layout, with its
    header's counts): a GET or HEAD accepting HTML (or anything), not a socket's
    event, a fetch for JSON or an image."""
    if not is_page_load():
        return False
    accept = request.headers.get("Accept")
    return not accept or "text/html" in accept


def keep_header_counts(bell: int, messages: int) -> None:
    """The header's counts, read with the user: no statement of their own."""
    g.header_counts = (bell, messages)


@event.listens_for(Session, "after_commit")
def _header_counts_changed(session) -> None:
    # A page load that writes shows the counts as they are after it: asked again.
    if has_app_context():
        g.pop("header_counts", None)


def header_count_columns(user_id) -> tuple:
    """The bell's and the messages' counts, as columns for a select (user_id: a parameter)."""
    from .messages.actions import unread_total_query
    from .notifications.actions import unread_count_query

    return (unread_count_query(user_id, HEADER_COUNTED).scalar_subquery().label("bell"),
            unread_total_query(user_id, HEADER_COUNTED).label("messages"))


@prepared
def _header_counts():
    # Built once with a parameter, as every page runs it.
    return select(*header_count_columns(bindparam("user_id")))
