"""The dashboard and the health check."""
from flask import Blueprint, jsonify, render_template
from flask_login import current_user, login_required
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..circles.actions import my_circles, pending_requests_of
from ..extensions import db
from ..panels import DASHBOARD, render_panels
from ..policy import member_counts, readable

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def dashboard():
    circles = my_circles(current_user)
    # Panels show content, so they get only the circles the viewer may read:
    # a circle whose pledge is waiting is listed, with a way to accept it.
    return render_template("main/dashboard.html", circles=circles,
                           member_counts=member_counts([c.id for c, _ in circles]),
                           requests=pending_requests_of(current_user),
                           panels=render_panels(DASHBOARD, current_user, readable(circles)))


@bp.route("/healthz")
def healthz():
    """JSON status of the app and its database; 503 when the database is down."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
