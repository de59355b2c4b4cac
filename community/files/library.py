"""The circle's Files page (GET /c/<slug>/files) and removing a file from it.

The same URL takes uploads by POST (views.upload); both are on the files blueprint.
"""
from datetime import datetime
from typing import NamedTuple

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from ..circles.pages import circle_page
from ..fast.fragments import clean, kept_row
from ..pagination import paginate_bound
from ..policy import can_remove_file
from ..security import csrf_token
from ..templating import time_tag, viewer_times
from ..threads.actions import PER_PAGE as POSTS_PER_PAGE
from ..urls import safe_next
from . import actions, queries
from .base import describe_size
from .kinds import KINDS

FILES_PER_PAGE = 30
FILTERS = (("", "All"), ("documents", "Documents"), ("images", "Images"))


class FileRow(NamedTuple):
    """One line of the page: its key (fast.fragments.kept_row), all it shows."""

    slug: str
    public_id: str
    name: str
    kind: str  # its label
    size: str
    sharer: str | None  # None: a former member
    created_at: datetime  # shown in the viewer's zone: a slot
    thread_id: int | None  # shared in a thread's post...
    post_number: int | None
    post_page: int | None
    meeting_id: int | None  # ...on a meeting's page, or else in the chat
    title: str | None  # the thread's or the meeting's
    removable: bool  # by this viewer (policy.can_remove_file)
    own: bool  # the viewer shared it


@login_required
@circle_page(rows=True)
def library(circle, membership):
    """Every file shared in the circle, newest first: filter by kind, search by name."""
    group = request.args.get("kind", "")
    if group not in queries.GROUPS:
        group = ""
    name = (request.args.get("q") or "").strip()[:100]
    page = paginate_bound(*queries.library(circle.id, group, name), FILES_PER_PAGE, rows=True)
    used, quota = queries.space_used(circle.id), current_app.config["FILE_CIRCLE_QUOTA"]
    rows = [_row(circle, membership, row) for row in page.items]
    return render_template(
        "files/library.html", circle=circle, membership=membership, page=page,
        files=rows, file_rows=_rows_html(rows), group=group, q=name, filters=FILTERS,
        used=describe_size(used), quota=describe_size(quota),
        percent=min(100, round(100 * used / quota)) if quota else 100)


def _row(circle, membership, row) -> FileRow:
    """What one line of the page shows of a file and where it was shared."""
    kind = KINDS.get(row.kind)
    in_thread = row.thread_id is not None
    meeting_id = row.meeting_id if not in_thread and row.meeting_title is not None else None
    return FileRow(circle.slug, row.public_id, row.name, kind.label if kind else row.kind,
                   describe_size(row.size), row.sharer, row.created_at, row.thread_id, row.number,
                   (row.number - 1) // POSTS_PER_PAGE + 1 if in_thread else None, meeting_id,
                   row.thread_title if in_thread else row.meeting_title,
                   can_remove_file(membership, row), row.uploader_id == membership.user_id)


def _rows_html(rows: list[FileRow]) -> Markup:
    slots = {"next": request.full_path.rstrip("?"), "csrf": csrf_token()}
    zone, clock = viewer_times()
    return Markup("").join(kept_row("files/_file_row.html", _row_context, row,
                                    {**slots, "shared": time_tag(row.created_at, zone, clock)})
                           for row in rows)


def _row_context(row: FileRow) -> dict:
    return {"f": row._replace(name=clean(row.name), sharer=row.sharer and clean(row.sharer),
                              title=row.title and clean(row.title))}


@login_required
def remove(slug, public_id):
    """Remove a file: its sharer, or an owner or moderator (audited)."""
    name = actions.remove_file(current_user, slug, public_id)
    flash(f"“{name}” is removed.", "success")
    return redirect(safe_next(request.form.get("next"), url_for("files.library", slug=slug)))
