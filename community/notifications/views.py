"""The notification centre, notification settings, and one-click unsubscribe."""
from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..circles.models import Circle
from ..errors import ActionError
from ..extensions import csrf, db, socketio
from ..pagination import paginate
from ..urls import safe_next
from . import actions, live
from .dispatch import read_unsubscribe_token
from .kinds import CHANNELS, DIGEST_FREQUENCIES, KINDS, PRESETS, label
from .models import Notification

bp = Blueprint("notifications", __name__)


@bp.record_once
def _wire_live_bell(setup_state):
    live.register(socketio)

PER_PAGE = 30


@bp.route("/notifications")
@login_required
def index():
    """The list; its script then marks what it shows as seen (POST, below), so the bell drops."""
    page = paginate(actions.visible(current_user.id).order_by(Notification.id.desc()), PER_PAGE)
    circle_ids = {n.circle_id for n in page.items if n.circle_id}
    circles = {c.id: c for c in db.session.scalars(select(Circle).where(Circle.id.in_(circle_ids)))}
    links = {n.id: safe_next(n.url, url_for("notifications.index")) for n in page.items}
    unseen = [n.id for n in page.items if n.seen_at is None and n.read_at is None]
    return render_template("notifications/index.html", page=page, circles=circles, label=label,
                           links=links, unseen=unseen)


@bp.post("/notifications/seen")
@login_required
def seen():
    """Mark the notifications a page showed as seen (ids, comma-separated)."""
    raw = request.form.get("ids", "")
    ids = [int(part) for part in raw.split(",") if part.isascii() and part.isdigit() and len(part) < 10]
    unread = actions.mark_seen(current_user, ids)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(unread=unread)
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/unread")
@login_required
def unread():
    """The bell's count, for the page's script after a live nudge."""
    return jsonify(unread=actions.unread_count(current_user.id))


@bp.post("/notifications/<int:notification_id>/open")
@login_required
def open(notification_id):  # noqa: A001 - the endpoint's name
    """Mark one read; follow its link (the page's script posts here as its link opens)."""
    note = actions.open_notification(current_user, notification_id)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(unread=actions.unread_count(current_user.id))
    return redirect(safe_next(note.url, url_for("notifications.index")))


@bp.post("/notifications/read")
@login_required
def read_all():
    actions.mark_all_read(current_user)
    flash("All caught up.", "success")
    return redirect(url_for("notifications.index"))


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def settings():
    kinds = actions.kinds_for(current_user)
    frequency, hour = actions.digest_choice(current_user)
    hour = str(current_app.config["DIGEST_HOUR"] if hour is None else hour)
    if request.method == "POST":
        # A field left out keeps what it was; a grid sent alone is the person's own choice.
        form = request.form
        grid = {kind: form.get(kind, "") for kind in kinds}
        preset, frequency = form.get("preset", "custom"), form.get("digest_frequency", frequency)
        hour = form.get("digest_hour", hour)
        # An unticked box sends nothing: the page says it showed the box.
        excerpts = "dm_excerpts" in form if "dm_excerpts_shown" in form else None
        try:
            actions.save_settings(current_user, preset, grid, frequency, hour, excerpts)
        except ActionError as err:
            flash(err.message, "error")
            return _settings_page(kinds, grid, preset, frequency, hour, excerpts), 400
        flash("Your notification settings are saved.", "success")
        return redirect(url_for("notifications.settings"))
    channels = actions.channels_for(current_user)
    return _settings_page(kinds, channels, actions.preset_of(channels, kinds), frequency, hour)


def _settings_page(kinds: list[str], channels: dict[str, str], preset: str, frequency: str,
                   hour: str, dm_excerpts: bool | None = None) -> str:
    if dm_excerpts is None:
        dm_excerpts = current_user.dm_email_excerpts
    return render_template("notifications/settings.html", channels=channels,
                           kinds={kind: KINDS[kind] for kind in kinds}, names=CHANNELS,
                           presets=PRESETS, preset=preset, frequencies=DIGEST_FREQUENCIES,
                           frequency=frequency, hour=hour, dm_excerpts=dm_excerpts)


@bp.route("/notifications/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed token is the proof; mail clients POST here (RFC 8058)
def unsubscribe(token):
    """One-click unsubscribe, without signing in. GET asks; POST does it."""
    parsed = read_unsubscribe_token(token)
    if parsed is None:
        abort(404)
    user_id, kind = parsed
    what = "the digest" if kind == "digest" else f"“{label(kind)}” emails"
    if request.method == "POST":
        actions.unsubscribe(user_id, kind)
        return render_template("notifications/unsubscribed.html", what=what, done=True)
    return render_template("notifications/unsubscribed.html", what=what, done=False, token=token)
