"""The decorator every page under /c/<slug>/ uses, in every area, and what
their shared layout (circles/_layout.html) shows."""
from functools import wraps
from typing import NamedTuple

from flask import redirect, request, url_for
from flask_login import current_user

from ..policy import access_circle, access_circle_rows, can_read_audit, is_staff, needs_pledge


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


def circle_page(view=None, *, pledge: bool = True, rows: bool = False):
    """Load the circle and the viewer's membership, or 404 for anyone not in it.

    The view is called as view(circle, membership, **kwargs). With pledge=True
    (the default, for anything showing content) a member who hasn't accepted
    the circle's confidentiality pledge is sent to accept it first. With
    rows=True, for a page that only shows them, they are plain rows
    (policy.access_circle_rows), not ORM objects.
    """
    load = access_circle_rows if rows else access_circle

    def decorate(view):
        @wraps(view)
        def wrapper(slug, **kwargs):
            circle, membership = load(current_user, slug)
            if pledge and needs_pledge(circle, membership):
                return redirect(url_for("circles.pledge", slug=circle.slug,
                                        next=request.full_path.rstrip("?")))
            return view(circle, membership, **kwargs)
        return wrapper

    return decorate(view) if view is not None else decorate
