"""The decorator every page under /c/<slug>/ uses, in every area, and what
their shared layout (circles/_layout.html) shows."""
from functools import wraps
from typing import NamedTuple

from flask import redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from werkzeug.exceptions import NotFound

from ..fast.fragments import clean, kept_row
from ..policy import (
    access_circle,
    can_read_audit,
    ended_by_staff,
    former_membership,
    is_banned,
    is_staff,
    read_gate,
)
from .with_viewer import circle_rows, reads_circle_rows

KEPT_MAX = 20_000  # characters of unsent text shown back


class CircleHead(NamedTuple):
    """What a circle's layout shows of the circle and the viewer's place in it:
    a kept page holds it in its key and gives it as `circle_head`."""

    slug: str
    name: str
    cohort: str | None
    staff: bool  # the Manage tab
    reads_audit: bool  # else, maybe, the Audit log tab


def circle_head(circle, membership) -> CircleHead:
    return CircleHead(circle.slug, circle.name, circle.cohort, is_staff(membership),
                      can_read_audit(circle, membership))


def circle_nav(head: CircleHead, current: str | None) -> Markup:
    """The circle's header and tabs (circles/_header.html), the page's own
    (`current`, its endpoint) marked: drawn once per look and kept, as every
    page in a circle shows it (bench/findings.md, 34)."""
    return kept_row("circles/_header.html", _nav_context, (head, current), {})


def _nav_context(key: tuple) -> dict:
    head, current = key
    return {"head": head._replace(name=clean(head.name), cohort=head.cohort and clean(head.cohort)),
            "current": current}


def circle_page(view=None, *, pledge: bool = True, second_factor: bool = True, rows: bool = False,
                keep: str | None = None):
    """Load the circle and the viewer's membership, or 404 for anyone not in it.

    The view is called as view(circle, membership, **kwargs). With pledge=True
    (the default, for anything showing content) a member with something to do
    before reading (policy.read_gate: set up a second factor the circle
    requires, accept its confidentiality pledge) is sent to do it first;
    pledge=False lets through someone who owes the pledge (its own page), and
    second_factor=False, for pages that show nothing but the circle's name (the
    set-up page, leaving), someone without the factor. With
    rows=True, for a page that only shows them, they are plain rows
    (policy.access_circle_rows), not ORM objects. With keep (a form field's
    name, for pages where people write), someone whose membership ended while
    they wrote gets a page that says so, with their text to copy (a 403), in
    place of the 404 everyone else gets.
    """
    load = circle_rows if rows else access_circle

    def decorate(view):
        @wraps(view)
        def wrapper(slug, **kwargs):
            viewer = current_user._get_current_object()  # read by each rule below: not through the proxy
            try:
                circle, membership = load(viewer, slug)
            except NotFound:
                if keep and request.method == "POST":
                    ended = former_membership(viewer, slug)
                    if ended is not None:
                        return _ended_page(*ended, request.form.get(keep, ""))
                raise
            gate = read_gate(circle, membership, viewer)
            if (gate == "second_factor" and second_factor) or (gate == "pledge" and pledge):
                return redirect(gate_url(gate, circle.slug))
            return view(circle, membership, **kwargs)
        return reads_circle_rows(wrapper) if rows else wrapper

    return decorate(view) if view is not None else decorate


def gate_url(gate: str, slug: str) -> str:
    """Where a member goes to pass policy.read_gate's gate, then back to this page."""
    endpoint = "circles.second_factor" if gate == "second_factor" else "circles.pledge"
    return url_for(endpoint, slug=slug, next=request.full_path.rstrip("?"))


def _ended_page(circle, membership, text: str):
    """ "You are no longer a member of X", why (the moderator's reason, if any),
    and the person's own unsent text. Nothing of the circle's content: not even
    whether the thread they wrote in still exists."""
    from ..moderation.actions import ending_reason

    removed = ended_by_staff(membership)
    reason = ending_reason(circle.id, membership.user_id) if removed else ""
    return render_template("circles/ended.html", circle=circle, removed=removed, reason=reason,
                           banned=is_banned(membership), text=text[:KEPT_MAX]), 403
