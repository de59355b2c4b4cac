"""The notification centre, notification settings, and one-click unsubscribe."""
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..circles.models import Circle
from ..errors import ActionError
from ..extensions import csrf, db, socketio
from ..pagination import paginate
from ..urls import safe_next
from . import actions, live
from .dispatch import read_unsubscribe_token
from .kinds import CHANNELS, KINDS, label
from .models import Notification

bp = Blueprint("notifications", __name__)


@bp.record_once
def _wire_live_bell(setup_state):
    live.register(socketio)

PER_PAGE = 30


@bp.route("/notifications")
@login_required
def index():
    page = paginate(actions.visible(current_user.id).order_by(Notification.id.desc()), PER_PAGE)
    circle_ids = {n.circle_id for n in page.items if n.circle_id}
    circles = {c.id: c for c in db.session.scalars(select(Circle).where(Circle.id.in_(circle_ids)))}
    return render_template("notifications/index.html", page=page, circles=circles, label=label)


@bp.route("/notifications/unread")
@login_required
def unread():
    """The bell's count, for the page's script after a live nudge."""
    return jsonify(unread=actions.unread_count(current_user.id))


@bp.post("/notifications/<int:notification_id>/open")
@login_required
def open(notification_id):  # noqa: A001 - the endpoint's name
    note = actions.open_notification(current_user, notification_id)
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
    if request.method == "POST":
        choices = {kind: request.form.get(kind, "") for kind in KINDS}
        try:
            actions.set_preferences(current_user, choices)
        except ActionError as err:
            flash(err.message, "error")
            return render_template("notifications/settings.html", channels=choices,
                                   kinds=KINDS, names=CHANNELS), 400
        flash("Your notification settings are saved.", "success")
        return redirect(url_for("notifications.settings"))
    return render_template("notifications/settings.html", channels=actions.channels_for(current_user),
                           kinds=KINDS, names=CHANNELS)


@bp.route("/notifications/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed token is the proof; mail clients POST here (RFC 8058)
def unsubscribe(token):
    """One-click unsubscribe, without signing in. GET asks; POST does it."""
    parsed = read_unsubscribe_token(token)
    if parsed is None:
        abort(404)
    user_id, kind = parsed
    what = "the daily digest" if kind == "digest" else f"“{label(kind)}” emails"
    if request.method == "POST":
        actions.unsubscribe(user_id, kind)
        return render_template("notifications/unsubscribed.html", what=what, done=True)
    return render_template("notifications/unsubscribed.html", what=what, done=False, token=token)
