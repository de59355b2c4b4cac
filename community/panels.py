"""Panels other areas add to the circle home and the dashboard.

Each area registers a loader and a template; the page calls every loader (each
runs a fixed number of queries) and includes every template, in order.

Both pages are kept whole (fast/README.md): a loader returns plain values
(rows as named tuples, lists, dicts), which become part of the page's key, and
its template shows only those, the layout's and `circle_head`; its times are
written with timetag() or the row helpers, which make them slots.
"""
from collections.abc import Callable
from dataclasses import dataclass

from .fast.fragments import Frozen, frozen, thawed


@dataclass(frozen=True)
class Panel:
    order: int
    template: str
    load: Callable[..., dict]


CIRCLE_HOME: list[Panel] = []
DASHBOARD: list[Panel] = []


def circle_home_panel(template: str, order: int = 50):
    """Register load(circle, membership) -> dict for the circle home page."""
    def register(load):
        CIRCLE_HOME.append(Panel(order, template, load))
        CIRCLE_HOME.sort(key=lambda p: p.order)
        return load
    return register


def dashboard_panel(template: str, order: int = 50):
    """Register load(user, circles) -> dict for the dashboard; circles are
    the user's [(circle, membership)] as plain rows (policy.circle_rows_of)."""
    def register(load):
        DASHBOARD.append(Panel(order, template, load))
        DASHBOARD.sort(key=lambda p: p.order)
        return load
    return register


def render_panels(panels: list[Panel], *args) -> list[tuple[str, dict]]:
    return [(panel.template, panel.load(*args)) for panel in panels]


def kept_panels(panels: list[Panel], *args) -> tuple[tuple[str, Frozen], ...]:
    """Each panel's template and data, frozen: part of a kept page's key."""
    return tuple((template, frozen(shown)) for template, shown in render_panels(panels, *args))


def shown_panels(kept: tuple[tuple[str, Frozen], ...]) -> list[tuple[str, dict]]:
    """Kept panels as their templates take them."""
    return [(template, thawed(shown)) for template, shown in kept]
