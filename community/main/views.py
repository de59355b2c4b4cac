"""The dashboard and the health check."""
from flask import jsonify, render_template
from flask_login import current_user, login_required
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from . import bp


@bp.route("/")
@login_required
def dashboard():
    return render_template("main/dashboard.html", user=current_user)


@bp.route("/healthz")
def healthz():
    """JSON status of the app and its database; 503 when the database is down."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
