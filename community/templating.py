"""What every template can use: times in the viewer's zone, the policy predicates,
the layout's state."""
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from flask import Flask, current_app, g, get_flashed_messages, request
from flask_login import current_user
from jinja2 import StrictUndefined
from markupsafe import Markup

from .fast.fragments import SLOT_MARKS, guard_globals, kept_layout, rendering_kept, template_csrf_token
from .fast.urls import kept_url_for
from .timeutil import to_zone, utcnow


def viewer_zone() -> str | None:
    if rendering_kept():
        # Kept HTML goes to other viewers: their times must be slots.
        raise RuntimeError("a kept fragment can't show times in the viewer's zone; use a slot")
    return current_user.timezone if current_user.is_authenticated else None


def localtime(moment: datetime | None, fmt: str = "%a %-d %b %Y, %H:%M", zone: str | None = None) -> str:
    """A UTC moment as the viewer's (or that zone's) wall-clock time."""
    if moment is None:
        return ""
    return _wall_clock(moment, zone or viewer_zone(), fmt)


@lru_cache(maxsize=8192)
def _wall_clock(moment: datetime, zone: str | None, fmt: str) -> str:
    # A page shows the same few hundred moments to everyone in a zone.
    return to_zone(moment, zone).strftime(fmt)


def isotime(moment: datetime | None) -> str:
    """For datetime attributes: whole seconds (HTML allows at most milliseconds)."""
    return moment.isoformat(timespec="seconds") if moment else ""


def ago(moment: datetime | None, zone: str | None = None) -> str:
    """'5 minutes ago', 'yesterday', or the date for older moments."""
    if moment is None:
        return ""
    seconds = (utcnow() - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        n = int(seconds // 60)
        return f"{n} minute{'s' if n != 1 else ''} ago"
    if seconds < 86400:
        n = int(seconds // 3600)
        return f"{n} hour{'s' if n != 1 else ''} ago"
    if seconds < 2 * 86400:
        return "yesterday"
    if seconds < 7 * 86400:
        return f"{int(seconds // 86400)} days ago"
    return localtime(moment, "%-d %b %Y", zone)


def unread_notifications() -> int:
    """The bell's count, asked once per request (the layout and its key both show it)."""
    if "unread_notifications" not in g:
        from .notifications.actions import unread_count

        g.unread_notifications = unread_count(current_user.id) if current_user.is_authenticated else 0
    return g.unread_notifications


class LayoutState(NamedTuple):
    """Everything base.html and a circle's layout show that a page's context
    doesn't give them: a kept page's key holds this too (fast.fragments.kept_page)."""

    endpoint: str | None  # the page's own link in the nav is marked current
    signed_in: bool
    site_admin: bool
    unread: int  # the bell's count
    transports: tuple[str, ...] | None  # Socket.IO's, when WORKERS > 1


def layout_state() -> LayoutState:
    from .policy import can_administer_site

    signed_in = current_user.is_authenticated
    transports = current_app.config.get("SOCKETIO_TRANSPORTS")
    return LayoutState(request.endpoint, signed_in, signed_in and can_administer_site(current_user),
                       unread_notifications(), tuple(transports) if transports else None)


def page_layout() -> LayoutState:
    """The layout's state in templates: in a kept page, the one in its key."""
    return kept_layout() if rendering_kept() else layout_state()


def layout_slots() -> dict[str, str]:
    """What a kept page's layout fills in per request: its flashed messages."""
    return {"flashes": flashes_html()}


def flashes() -> Markup:
    """The flashed messages in templates: in a kept page, the 'flashes' slot."""
    return SLOT_MARKS.flashes if rendering_kept() else flashes_html()


def flashes_html() -> Markup:
    messages = get_flashed_messages(with_categories=True)
    if not messages:
        return Markup("")
    return Markup(current_app.jinja_env.get_template("_partials/flashes.html").render(messages=messages))


def init_app(app: Flask) -> None:
    from .circles.pages import circle_head

    # A name a template doesn't have is an error, not an empty string: in a kept
    # page it could be a value the key was meant to hold.
    app.jinja_env.undefined = StrictUndefined
    guard_globals(app.jinja_env)
    app.jinja_env.globals["url_for"] = kept_url_for
    app.jinja_env.globals["csrf_token"] = template_csrf_token
    app.jinja_env.globals["page_layout"] = page_layout
    app.jinja_env.globals["flashes"] = flashes
    app.jinja_env.globals["head_of_circle"] = circle_head
    app.add_template_filter(localtime)
    app.add_template_filter(isotime)
    app.add_template_filter(ago)

    @app.context_processor
    def site():
        from . import policy

        # csrf_token as in the globals: Flask-WTF's context processor gives its own.
        return {"site_name": "Alumni Circles", "policy": policy, "csrf_token": template_csrf_token}
