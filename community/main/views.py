"""The dashboard and the health check."""
from flask import Blueprint, jsonify, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from ..circles.actions import my_circles
from ..circles.models import Membership
from ..extensions import db
from ..panels import DASHBOARD, render_panels

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def dashboard():
    circles = my_circles(current_user)
    member_counts = dict(db.session.execute(
        select(Membership.circle_id, func.count(Membership.id))
        .where(Membership.circle_id.in_([c.id for c, _ in circles]), Membership.status == "active")
        .group_by(Membership.circle_id)).all())
    return render_template("main/dashboard.html", circles=circles, member_counts=member_counts,
                           panels=render_panels(DASHBOARD, current_user, circles))


@bp.route("/healthz")
def healthz():
    """JSON status of the app and its database; 503 when the database is down."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
