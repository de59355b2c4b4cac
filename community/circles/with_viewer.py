"""The circle a page is in, read with its viewer: for a view that reads its
circle (the path's `slug`) as plain rows, the viewer's loader
(accounts.actions.load_session_user) reads the circle and the viewer's
membership of it in its own statement, one fewer: on PostgreSQL each
statement is a round trip (bench/findings.md, 39). Who may see the page is
decided as before, by policy.access_circle_rows, on what was read."""
from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..policy import access_circle_rows, could_be_slug


def reads_circle_rows(view):
    """Mark a view that reads its circle (the path's `slug`) by circle_rows: the
    viewer's loader reads them in its own statement (accounts.actions.load_session_user)."""
    view.reads_circle_rows = True
    return view


def circle_read_with_user() -> str | None:
    """The slug of the circle this request's view reads by circle_rows (a view
    reads_circle_rows marks), if it could be one."""
    if not has_request_context():
        return None
    asked = request._get_current_object()  # read a few times: not through the proxy
    if not asked.view_args:
        return None
    view = current_app.view_functions.get(asked.endpoint)
    slug = asked.view_args.get("slug")
    return slug if getattr(view, "reads_circle_rows", False) and could_be_slug(slug) else None


def keep_circle_rows(user_id: int, slug: str, read: tuple) -> None:
    """The circle's and membership's columns, read with the viewer (policy.with_circle_rows)."""
    g.circle_rows = (user_id, slug, read)


@event.listens_for(Session, "after_transaction_end")
def _circle_rows_read_before(session, transaction) -> None:
    # Read in a transaction now over (a write committed, the request ended): read again.
    if has_app_context():
        g.pop("circle_rows", None)


@event.listens_for(Session, "after_transaction_create")
def _circle_rows_read_outside(session, transaction) -> None:
    # Read on a page load's own connection (fast/page_load.py), which ends as
    # the Session begins: read again in the Session's transaction.
    if transaction.parent is None and has_app_context():
        g.pop("circle_rows", None)


def circle_rows(user, slug: str):
    """policy.access_circle_rows, from the columns read with the viewer for this
    circle if they were (taken once: asked again, it reads them again)."""
    kept = g.pop("circle_rows", None)
    read = kept[2] if kept is not None and kept[:2] == (getattr(user, "id", None), slug) else None
    return access_circle_rows(user, slug, read)
