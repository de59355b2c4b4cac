"""What every template can use: times in the viewer's zone, the policy predicates."""
from datetime import datetime
from functools import lru_cache

from flask import Flask, current_app, g, request, url_for
from flask_login import current_user

from .fast.fragments import SLOT_MARKS, rendering_kept
from .security import csrf_token
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


def kept_url_for(endpoint: str, **values) -> str:
    """url_for for templates, remembering what it built.

    A page builds 20-30 links that are the same on every request (stylesheets,
    the nav, a circle's tabs): through the URL map each cost ~10 µs, a tenth
    of a thread page's own work. The map is fixed once the app runs, so a URL
    depends only on what is asked; relative endpoints ('.x') and options
    ('_external', '_anchor', ...) depend on more and are built every time.
    """
    if endpoint.startswith(".") or any(key.startswith("_") for key in values):
        return url_for(endpoint, **values)
    try:
        return _built_url(endpoint, request.script_root, tuple(values.items()))
    except TypeError:  # a value that can't be a key (a list): build it
        return url_for(endpoint, **values)


@lru_cache(maxsize=4096)
def _built_url(endpoint: str, script_root: str, values: tuple) -> str:
    return url_for(endpoint, **dict(values))


def unread_notifications() -> int:
    """The bell's count, asked once per request (the layout and its key both show it)."""
    if "unread_notifications" not in g:
        from .notifications.actions import unread_count

        g.unread_notifications = unread_count(current_user.id) if current_user.is_authenticated else 0
    return g.unread_notifications


def layout_state() -> tuple:
    """Everything base.html shows that its page's context doesn't give it: a kept
    page's key holds this too (see fragments.kept_page)."""
    signed_in = current_user.is_authenticated
    transports = current_app.config.get("SOCKETIO_TRANSPORTS")
    return (tuple(transports) if transports else None, signed_in,
            signed_in and current_user.is_site_admin, unread_notifications())


def template_csrf_token() -> str:
    """csrf_token() in templates: the session's token, or the 'csrf' slot in a kept fragment."""
    return SLOT_MARKS.csrf if rendering_kept() else csrf_token()


def init_app(app: Flask) -> None:
    app.jinja_env.globals["url_for"] = kept_url_for
    app.jinja_env.globals["csrf_token"] = template_csrf_token
    app.jinja_env.globals["unread_notifications"] = unread_notifications
    app.add_template_filter(localtime)
    app.add_template_filter(isotime)
    app.add_template_filter(ago)

    @app.template_global()
    def has_endpoint(name: str) -> bool:
        return name in app.view_functions

    @app.context_processor
    def site():
        from . import policy

        # csrf_token as in the globals: Flask-WTF's context processor gives its own.
        return {"site_name": "Alumni Circles", "policy": policy, "csrf_token": template_csrf_token}
