"""The circle's Files page (GET /c/<slug>/files) and removing a file from it.

The same URL takes uploads by POST (views.upload); both are on the files blueprint.
"""
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..circles.pages import circle_page
from ..pagination import paginate_rows
from ..threads.actions import PER_PAGE as POSTS_PER_PAGE
from ..urls import safe_next
from . import actions, queries
from .base import describe_size
from .kinds import KINDS

FILES_PER_PAGE = 30
FILTERS = (("", "All"), ("documents", "Documents"), ("images", "Images"))


@login_required
@circle_page
def library(circle, membership):
    """Every file shared in the circle, newest first: filter by kind, search by name."""
    group = request.args.get("kind", "")
    if group not in queries.GROUPS:
        group = ""
    name = (request.args.get("q") or "").strip()[:100]
    page = paginate_rows(queries.library(circle.id, group, name), FILES_PER_PAGE)
    used, quota = queries.space_used(circle.id), current_app.config["FILE_CIRCLE_QUOTA"]
    return render_template(
        "files/library.html", circle=circle, membership=membership, page=page,
        files=[_shown(circle, row) for row in page.items], group=group, q=name, filters=FILTERS,
        used=describe_size(used), quota=describe_size(quota),
        percent=min(100, round(100 * used / quota)) if quota else 100)


def _shown(circle, row) -> dict:
    """What one line of the page shows of a file and where it was shared."""
    attachment = row.Attachment
    if row.thread_id is not None:
        page = (row.number - 1) // POSTS_PER_PAGE + 1
        where = ("thread", row.thread_title,
                 url_for("threads.show", slug=circle.slug, thread_id=row.thread_id, page=page)
                 + f"#post-{row.number}")
    elif row.meeting_title is not None:
        where = ("meeting", row.meeting_title,
                 url_for("meetings.meeting", slug=circle.slug, meeting_id=attachment.meeting_id))
    else:
        where = ("chat", "Chat", url_for("chat.page", slug=circle.slug))
    kind = KINDS.get(attachment.kind)
    return {"file": attachment, "sharer": row.sharer, "kind": kind.label if kind else attachment.kind,
            "size": describe_size(attachment.size), "where": where,
            "url": url_for("files.download", slug=circle.slug, public_id=attachment.public_id,
                           name=attachment.name)}


@login_required
def remove(slug, public_id):
    """Remove a file: its sharer, or an owner or moderator (audited)."""
    name = actions.remove_file(current_user, slug, public_id)
    flash(f"“{name}” is removed.", "success")
    return redirect(safe_next(request.form.get("next"), url_for("files.library", slug=slug)))
