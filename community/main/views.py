"""The dashboard and the health check."""
from typing import NamedTuple

from flask import Blueprint, current_app, jsonify
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..circles.actions import PendingRequest, pending_requests_of
from ..extensions import db
from ..fast.fragments import Frozen, clean, cleaned, kept_row
from ..panels import DASHBOARD, kept_panels, shown_panels
from ..policy import circle_rows_of, read_gate, readable
from ..redis_client import answers, is_redis_url, quick_client
from ..templating import kept_in_layout

bp = Blueprint("main", __name__)


class CircleCard(NamedTuple):
    """A circle's card on the dashboard: everything it shows (its kept row's key)."""

    slug: str
    name: str
    cohort: str | None
    members: int
    role_label: str | None  # the viewer's role, unless a plain member
    gate: str | None  # what the viewer must do first (policy.read_gate)


class DashboardFrame(NamedTuple):
    """Everything the dashboard shows, bar its slots: its key in the memo."""

    name: str  # the viewer's, in the welcome
    cards: tuple[CircleCard, ...]
    requests: tuple[PendingRequest, ...]  # to join a circle, still waiting
    panels: tuple[tuple[str, Frozen], ...]  # each panel's template, and what it shows (frozen)


@bp.route("/")
@login_required
def dashboard():
    """Kept whole per what it shows (fast.fragments.kept_page): drawing its
    panels and layout was half of it (bench/findings.md, 36)."""
    user = current_user._get_current_object()
    rows = circle_rows_of(user.id)
    circles = [(c, m) for c, m, _ in rows]
    # Panels show content, so they get only the circles the viewer may read:
    # a circle whose pledge is waiting, or that requires a second factor the
    # viewer has yet to set up, is listed by name, with what to do first.
    frame = DashboardFrame(user.display_name, tuple(_card(c, m, members, user) for c, m, members in rows),
                           tuple(pending_requests_of(user)),
                           kept_panels(DASHBOARD, user, readable(circles, user)))
    return kept_in_layout("main/dashboard.html", frame, lambda: _page_context(frame))


def _card(circle, membership, members: int, user) -> CircleCard:
    return CircleCard(circle.slug, circle.name, circle.cohort, members,
                      membership.role_label if membership.role != "member" else None,
                      read_gate(circle, membership, user))


def _page_context(frame: DashboardFrame) -> dict:
    shown = cleaned(frame)
    return {"frame": shown, "panels": shown_panels(shown.panels),
            "cards": Markup("").join(kept_row("main/_circle_card.html", _card_context, card, {})
                                     for card in frame.cards)}


def _card_context(card: CircleCard) -> dict:
    return {"card": card._replace(name=clean(card.name), cohort=card.cohort and clean(card.cohort))}


@bp.route("/healthz")
def healthz():
    """Each dependency's state, as JSON: {status, database, redis}.

    database: "ok" or "down"; redis: "ok", "down" (any Redis it is configured
    with doesn't answer within REDIS_TIMEOUT) or "not configured". 503 only when
    the database is down (status "error"): the site works without Redis, so
    then it is 200, status "degraded".
    """
    database = _database_state()
    redis = _redis_state()
    if database != "ok":
        return jsonify(status="error", database=database, redis=redis), 503
    return jsonify(status="degraded" if redis == "down" else "ok", database=database, redis=redis)


def _database_state() -> str:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return "down"
    return "ok"


def _redis_state() -> str:
    urls = {url for url in (current_app.config.get("SOCKETIO_MESSAGE_QUEUE"),
                            current_app.config.get("RATELIMIT_STORAGE_URI")) if is_redis_url(url)}
    if not urls:
        return "not configured"
    # One quick client per URL, kept: a check shouldn't open a connection each time.
    clients = current_app.extensions.setdefault("healthz_redis", {})
    for url in sorted(urls):
        if url not in clients:
            clients[url] = quick_client(url, current_app.config["REDIS_TIMEOUT"])
        if not answers(clients[url]):
            return "down"
    return "ok"
