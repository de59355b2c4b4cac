"""What every template can use: times in the viewer's zone, the policy predicates,
the layout's state."""
from datetime import datetime
from typing import NamedTuple

from flask import Flask, current_app, g, get_flashed_messages, request
from flask_login import current_user
from jinja2 import StrictUndefined
from markupsafe import Markup

from . import timefmt
from .fast.fragments import SLOT_MARKS, guard_globals, kept_layout, rendering_kept, template_csrf_token
from .fast.urls import kept_url_for


def viewer_zone() -> str | None:
    if rendering_kept():
        # Kept HTML goes to other viewers: their times must be slots.
        raise RuntimeError("a kept fragment can't show times in the viewer's zone; use a slot")
    return current_user.timezone if current_user.is_authenticated else None


def viewer_clock() -> str:
    """ "24" or "12": the viewer's clock (community/timefmt.py)."""
    if rendering_kept():
        raise RuntimeError("a kept fragment can't show times on the viewer's clock; use a slot")
    return current_user.clock if current_user.is_authenticated else timefmt.DEFAULT_CLOCK


# Times in templates, all written by community/timefmt.py in the viewer's zone and clock.

def relative(moment: datetime | None) -> str:
    """ "5 minutes ago", "yesterday at 14:05"..., then "3 Dec 2026, 14:05"."""
    return timefmt.relative(moment, viewer_zone(), viewer_clock()) if moment else ""


def localtime(moment: datetime | None, zone: str | None = None) -> str:
    """ "3 Dec 2026, 14:05" in the viewer's (or that) zone."""
    return timefmt.date_time(moment, zone or viewer_zone(), viewer_clock()) if moment else ""


def fulltime(moment: datetime | None) -> str:
    """ "Thursday 3 December 2026, 14:05": what every <time>'s title says."""
    return timefmt.full(moment, viewer_zone(), viewer_clock()) if moment else ""


def localday(moment: datetime | None) -> str:
    """ "3 Dec 2026", for a date without its time."""
    return timefmt.day(moment, viewer_zone()) if moment else ""


def isotime(moment: datetime | None) -> str:
    """For datetime attributes: whole seconds (HTML allows at most milliseconds)."""
    return moment.isoformat(timespec="seconds") if moment else ""


def timetag(moment: datetime | None, shown: str = "relative") -> Markup:
    """A <time> with its machine-readable datetime and the full date as its title;
    it shows the moment `relative`, as a `date_time` or as a `day`."""
    if moment is None:
        return Markup("")
    text = {"relative": relative, "date_time": localtime, "day": localday}[shown](moment)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(isotime(moment), fulltime(moment), text)


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
    transports: tuple[str, ...] | None  # Socket.IO's, when SOCKETIO_TRANSPORTS limits them


def layout_state() -> LayoutState:
    from .policy import is_site_admin

    signed_in = current_user.is_authenticated
    transports = current_app.config.get("SOCKETIO_TRANSPORTS")
    return LayoutState(request.endpoint, signed_in, signed_in and is_site_admin(current_user),
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
    # The partial is rendered with autoescape on: what it returns is already safe HTML.
    html = current_app.jinja_env.get_template("_partials/flashes.html").render(messages=messages)
    return Markup(html)  # nosec B704


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
    for time_filter in (relative, localtime, fulltime, localday, isotime):
        app.add_template_filter(time_filter)
    app.jinja_env.globals["timetag"] = timetag

    @app.context_processor
    def site():
        from . import policy

        # csrf_token as in the globals: Flask-WTF's context processor gives its own.
        return {"site_name": "Alumni Circles", "policy": policy, "csrf_token": template_csrf_token}
