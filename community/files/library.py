"""The circle's Files page (GET /c/<slug>/files) and removing a file from it.

The same URL takes uploads by POST (views.upload); both are on the files blueprint.
"""
from datetime import datetime
from typing import NamedTuple

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from ..circles.pages import CircleHead, circle_head, circle_page
from ..fast.fragments import SLOT_MARKS, clean, cleaned, kept_page, numbered, parts_of
from ..pagination import paginate_bound
from ..policy import can_remove_file
from ..security import csrf_token
from ..templating import layout_slots, layout_state, time_tag, viewer_times
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


class FilesFrame(NamedTuple):
    """Everything the Files page shows, bar its slots: its key in the memo."""

    head: CircleHead
    group: str  # the kind filtered on ("": all)
    q: str  # the name searched for
    args: tuple[tuple[str, str], ...]  # the filter, as the pager's links keep it
    total: int
    page: int
    pages: int
    used: str  # of the circle's quota, in words
    quota: str
    percent: int
    rows: tuple[FileRow, ...]


@login_required
@circle_page(rows=True)
def library(circle, membership):
    """Every file shared in the circle, newest first: filter by kind, search by name.
    Kept whole per what it shows (fast.fragments.kept_page), as the thread page is."""
    group = request.args.get("kind", "")
    if group not in queries.GROUPS:
        group = ""
    name = (request.args.get("q") or "").strip()[:100]
    statement, values, shown = queries.library(circle.id, group, name)
    total, used = queries.tally(values)
    page = paginate_bound(statement, values, FILES_PER_PAGE, rows=True, shown=shown, total=total)
    quota = current_app.config["FILE_CIRCLE_QUOTA"]
    rows = tuple(_row(circle, membership, row) for row in page.items)
    args = (("slug", circle.slug), *((key, value) for key, value in (("kind", group), ("q", name)) if value))
    frame = FilesFrame(circle_head(circle, membership), group, name, args, page.total, page.page,
                       page.pages, describe_size(used), describe_size(quota),
                       min(100, round(100 * used / quota)) if quota else 100, rows)
    return kept_page("files/library.html", frame, lambda: _page_context(frame), _slots(rows),
                     inner={"rows": lambda: numbered([parts_of("files/_file_row.html", _row_context, row)
                                                      for row in rows])},
                     layout=layout_state())


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


def _slots(rows: tuple[FileRow, ...]) -> dict:
    """The page's slots: the token, the page to come back to, and each row's time."""
    slots = {"next": request.full_path.rstrip("?"), "csrf": csrf_token(), **layout_slots()}
    zone, clock = viewer_times()
    for number, row in enumerate(rows):
        slots[f"shared#{number}"] = time_tag(row.created_at, zone, clock)
    return slots


def _page_context(frame: FilesFrame) -> dict:
    shown = cleaned(frame)
    return {"frame": shown._replace(args=dict(shown.args)), "circle_head": frame.head,
            "filters": FILTERS, "rows": SLOT_MARKS.rows}


def _row_context(row: FileRow) -> dict:
    return {"f": row._replace(name=clean(row.name), sharer=row.sharer and clean(row.sharer),
                              title=row.title and clean(row.title))}


@login_required
def remove(slug, public_id):
    """Remove a file: its sharer, or an owner or moderator (audited)."""
    name = actions.remove_file(current_user, slug, public_id)
    flash(f"“{name}” is removed.", "success")
    return redirect(safe_next(request.form.get("next"), url_for("files.library", slug=slug)))
