"""What every template can use: times in the viewer's zone, the policy predicates,
the layout's state."""
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache, partial
from typing import NamedTuple

from flask import Flask, current_app, g, get_flashed_messages, request
from flask_login import current_user
from jinja2 import StrictUndefined
from markupsafe import Markup

from . import timefmt
from .badges import badge
from .fast.fragments import (
    MOMENT,
    SLOT_MARKS,
    guard_globals,
    kept_layout,
    kept_page,
    kept_row,
    rendering_kept,
    template_csrf_token,
)
from .fast.urls import kept_url_for
from .header import header_counts
from .security import csrf_token
from .timeutil import to_zone


def viewer_times() -> tuple[str | None, str]:
    """(zone, clock): the viewer's timezone (None: the site's) and "24" or "12"
    (community/timefmt.py), asked of the signed-in user once."""
    if rendering_kept():
        # Kept HTML goes to other viewers: their times must be slots.
        raise RuntimeError("a kept fragment can't show times in the viewer's zone or on their clock; "
                           "use a slot")
    user = current_user._get_current_object()
    if user.is_authenticated:
        return user.timezone, user.clock
    return None, timefmt.DEFAULT_CLOCK


def viewer_zone() -> str | None:
    return viewer_times()[0]


def viewer_clock() -> str:
    """ "24" or "12": the viewer's clock (community/timefmt.py)."""
    return viewer_times()[1]


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


def localclock(moment: datetime | None) -> str:
    """ "14:05" (or "2:05 pm") in the viewer's zone: a time within a day already shown."""
    return timefmt.clock_time(to_zone(moment, viewer_zone()), viewer_clock()) if moment else ""


def isotime(moment: datetime | None) -> str:
    """For datetime attributes: whole seconds (HTML allows at most milliseconds)."""
    return moment.isoformat(timespec="seconds") if moment else ""


_SHOWN = {"relative": timefmt.relative, "date_time": timefmt.date_time,
          "day": lambda moment, zone, _clock: timefmt.day(moment, zone),
          "clock": lambda moment, zone, clock: timefmt.clock_time(to_zone(moment, zone), clock)}


def timetag(moment: datetime | None, shown: str = "relative") -> Markup:
    """A <time> with its machine-readable datetime and the full date as its title;
    it shows the moment `relative`, as a `date_time`, as a `day` or as a `clock` time.
    In a kept page, the slot named by the moment (moment_slot), written per viewer.

    Lists show one per row, so it asks the viewer once and writes the tag
    itself: timefmt's words and ISO dates hold nothing HTML would read."""
    if moment is None:
        return Markup("")
    if rendering_kept():
        return moment_slot(shown, moment)
    return time_tag(moment, *viewer_times(), shown)


def time_writer() -> Callable[..., Markup]:
    """How a list writes its rows' times, write(moment, shown="relative"): in
    the viewer's zone and on their clock (asked once), or, in a kept page, as
    slots named by their moments."""
    if rendering_kept():
        return lambda moment, shown="relative": moment_slot(shown, moment)
    zone, clock = viewer_times()
    return lambda moment, shown="relative": time_tag(moment, zone, clock, shown)


# The kinds of slot named by what they show (fast.fragments.MOMENT), each
# written from its values for a viewer's zone and clock: writer(zone, clock, *values).
def _time_written(shown: str, zone: str | None, clock: str, moment: datetime) -> Markup:
    return time_tag(moment, zone, clock, shown)


MOMENT_WRITERS: dict[str, Callable[..., Markup]] = {shown: partial(_time_written, shown) for shown in _SHOWN}


def moment_writer(kind: str):
    """Register writer(zone, clock, *datetimes_or_strings) for moment_slot(kind, ...)."""
    def register(writer):
        MOMENT_WRITERS[kind] = writer
        return writer
    return register


def moment_slot(kind: str, *values: datetime | str) -> Markup:
    """In a kept page, the slot for what `kind` writes of these values (times,
    a zone's name): named by them, so every viewer's page holds the same name
    and the page fills it in their zone (moments)."""
    return getattr(SLOT_MARKS, MOMENT + MOMENT.join(
        (kind, *(value.isoformat() if isinstance(value, datetime) else value for value in values))))


def moments() -> Callable[[str], Markup]:
    """For kept_page: each moment slot, written in this viewer's zone and on their clock."""
    zone, clock = viewer_times()

    def write(name: str) -> Markup:
        kind, values = _moment_named(name)
        return MOMENT_WRITERS[kind](zone, clock, *values)  # not kept: "5 minutes ago" moves on
    return write


@lru_cache(maxsize=8192)
def _moment_named(name: str) -> tuple[str, tuple]:
    kind, *values = name[1:].split(MOMENT)
    return kind, tuple(_moment_value(value) for value in values)


def _moment_value(value: str) -> datetime | str:
    # A moment's ISO form starts with its year; a zone's name never with a digit.
    return datetime.fromisoformat(value) if value[:1].isdigit() else value


def time_tag(moment: datetime, zone: str | None, clock: str, shown: str = "relative") -> Markup:
    """timetag for a viewer's (zone, clock) already asked: lists ask once for all their rows."""
    # nosec: an ISO date and timefmt's own words (letters, digits, ",:–"): nothing HTML reads.
    return Markup(f"{_time_open(moment, zone, clock)}{_SHOWN[shown](moment, zone, clock)}</time>")  # nosec B704


@lru_cache(maxsize=8192)
def _time_open(moment: datetime, zone: str | None, clock: str) -> str:
    # The same few hundred moments are listed to everyone in a zone; only the
    # words shown ("5 minutes ago") move with the clock.
    return (f'<time datetime="{moment.isoformat(timespec="seconds")}" '
            f'title="{timefmt.full(moment, zone, clock)}">')


class LayoutState(NamedTuple):
    """Everything base.html and a circle's layout show that a page's context
    doesn't give them: a kept page's key holds this too (fast.fragments.kept_page)."""

    endpoint: str | None  # the page's own link in the nav is marked current
    signed_in: bool
    site_admin: bool
    unread: int  # the bell's count
    messages_unread: int  # unread direct messages, in unmuted conversations
    transports: tuple[str, ...] | None  # Socket.IO's, when SOCKETIO_TRANSPORTS limits them
    programmes: bool = False  # the Programmes link (policy.can_create_programme)


def layout_state() -> LayoutState:
    """Asked once per request by each layout a page has (base.html and a
    circle's), so kept for the request: with the counts it was made from, as a
    commit makes them be asked again (header.py)."""
    from .policy import can_create_programme, is_site_admin

    counts = header_counts()
    request_g = g._get_current_object()  # each object through its proxy once (bench/findings.md, 46)
    kept = request_g.get("layout_state")
    if kept is not None and kept[0] is counts:
        return kept[1]
    user = current_user._get_current_object()  # the rules read it a few times
    signed_in = user.is_authenticated
    transports = current_app.config.get("SOCKETIO_TRANSPORTS")
    state = LayoutState(request.endpoint, signed_in, signed_in and is_site_admin(user),
                        *counts, tuple(transports) if transports else None,
                        signed_in and can_create_programme(user))
    request_g.layout_state = (counts, state)
    return state


def page_layout() -> LayoutState:
    """The layout's state in templates: in a kept page, the one in its key."""
    return kept_layout() if rendering_kept() else layout_state()


def site_nav() -> Markup:
    """The site's header and nav (_partials/site_nav.html): drawn once per
    layout state and kept, as every page shows it; its CSRF token is a slot."""
    return kept_row("_partials/site_nav.html", _nav_context, page_layout(), {"csrf": template_csrf_token()})


def _nav_context(layout: LayoutState) -> dict:
    return {"layout": layout}


def layout_slots() -> dict[str, str]:
    """What a kept page's layout fills in per request: its flashed messages."""
    return {"flashes": flashes_html()}


def kept_in_layout(template: str, frame: tuple, context: Callable[[], dict]) -> bytes:
    """A page kept whole (fast.fragments.kept_page) in the site's layout: keyed
    by its frame and the layout's state, its CSRF token, flashes and times
    filled for this request."""
    return kept_page(template, frame, context, {"csrf": csrf_token(), **layout_slots()},
                     layout=layout_state(), moments=moments())


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
    from .circles.pages import circle_head, circle_nav

    # A name a template doesn't have is an error, not an empty string: in a kept
    # page it could be a value the key was meant to hold.
    app.jinja_env.undefined = StrictUndefined
    guard_globals(app.jinja_env)
    app.jinja_env.globals["url_for"] = kept_url_for
    app.jinja_env.globals["csrf_token"] = template_csrf_token
    app.jinja_env.globals["page_layout"] = page_layout
    app.jinja_env.globals["flashes"] = flashes
    app.jinja_env.globals["head_of_circle"] = circle_head
    app.jinja_env.globals["circle_nav"] = circle_nav
    app.jinja_env.globals["site_nav"] = site_nav
    for time_filter in (relative, localtime, fulltime, localday, isotime):
        app.add_template_filter(time_filter)
    app.add_template_filter(badge)
    app.jinja_env.globals["timetag"] = timetag

    @app.context_processor
    def site():
        from . import policy

        # csrf_token as in the globals: Flask-WTF's context processor gives its own.
        return {"site_name": "Alumni Circles", "policy": policy, "csrf_token": template_csrf_token}
