"""Error pages in the site's layout, and JSON for clients that ask for it.

While the database can't be reached, every page answers 503 with a page that
reads nothing of the viewer: the site's layout would load the signed-in user
(and the bell) from that same database, and fail again inside the handler.
"""
import logging

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import Forbidden, HTTPException, InternalServerError

from .errors import ActionError
from .extensions import db
from .fast import page_load

log = logging.getLogger(__name__)
RETRY_AFTER = 30  # seconds: what a client is told to wait while the database is away
BUSY_RETRY_AFTER = 5  # seconds, while every pooled connection is in use: a storm passes quickly

TITLES = {
    400: ("Something in that request wasn't right", "Check what you entered and try again."),
    403: ("You can't do that here", "Your role in this circle doesn't allow it."),
    # One text for every 404: a missing circle and a private one must look the same.
    404: ("Page not found", "There is nothing here, or nothing you can see."),
    405: ("That isn't allowed here", "This page doesn't accept that kind of request."),
    413: ("That was too large", "Send something smaller."),
    429: ("Too many attempts", "Wait a little, then try again."),
    500: ("Something went wrong on our side", "It has been logged. Please try again shortly."),
}
# A missing or wrong CSRF token: most often a page left open across a sign-out or restart.
CSRF_HINT = ("This form has expired, or it didn't come from one of our pages. "
             "Go back, reload the page and try again.")


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    accepted = request.accept_mimetypes
    return best == "application/json" and accepted[best] > accepted["text/html"]


def render_error(status: int, detail: str | None = None):
    title, hint = TITLES.get(status, TITLES[500] if status >= 500 else TITLES[400])
    if _wants_json():
        return jsonify(error=title, message=detail or hint), status
    try:
        return render_template("errors/error.html", status=status, title=title,
                               hint=detail or hint), status
    except SQLAlchemyError as err:  # the layout needs the database, and it has gone (or is full)
        return database_unavailable(busy=isinstance(err, PoolTimeout))


def database_unavailable(busy: bool = False):
    """503, "we'll be back shortly" (or, busy, "try again in a moment"), drawn
    without the database."""
    try:
        db.session.rollback()
    except SQLAlchemyError:
        pass  # the connection is gone already; the pool replaces it when it can
    # no-store also spares the security headers' look at current_user (the database).
    headers = {"Retry-After": str(BUSY_RETRY_AFTER if busy else RETRY_AFTER),
               "Cache-Control": "no-store"}
    if _wants_json():
        if busy:
            return jsonify(error="busy", message="The site is busy just now. "
                           "Try again in a moment."), 503, headers
        return jsonify(error="unavailable", message="The site can't reach its database just now. "
                       "Try again in a minute."), 503, headers
    # Not render_template: its context processors (Flask-Login's current_user
    # among them) would ask the database again.
    page = current_app.jinja_env.get_template("errors/unavailable.html").render(busy=busy)
    return page, 503, headers


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        # Only 429 and our own ActionErrors show a specific text; werkzeug's
        # default descriptions could echo request details.
        detail = None
        if err.code == 403 and err.description != Forbidden.description:
            detail = err.description  # a rule's own words (policy.require)
        elif err.code == 429:
            detail = "Too many attempts from your connection. Wait a minute, then try again."
        return render_error(err.code or 500, detail)

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError):
        return render_error(400, CSRF_HINT)

    @app.errorhandler(ActionError)
    def action_error(err: ActionError):
        return render_error(err.status, err.message)

    @app.errorhandler(InternalServerError)
    def server_error(err):
        return render_error(500)

    @app.errorhandler(PoolTimeout)
    def pool_exhausted(err):
        # Every pooled connection stayed in use for DB_POOL_TIMEOUT seconds (a
        # reconnect storm, a burst): refuse at once rather than queue, and ask
        # the database nothing more while refusing.
        log.warning("database pool exhausted: %s", err)
        return database_unavailable(busy=True)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_down(err):
        if _may_read_again(err):
            return _read_again()
        # The driver's own words go to the log only: they can name hosts and users.
        log.warning("database unavailable: %s", type(err.orig).__name__ if err.orig else err)
        return database_unavailable()


def _may_read_again(err) -> bool:
    """A page load whose pooled connection turned out dead (the server had
    just ended it, and the check at checkout came too soon to see it close:
    community.postgres.alive) may run once more on a new connection. A page
    load only reads; what it was in the middle of writing, if anything, the
    server rolled back with the connection."""
    return (getattr(err, "connection_invalidated", False)
            and request.method in ("GET", "HEAD")
            and getattr(request, "sid", None) is None  # a socket event: its handler decides
            and not g.get("read_again"))


def _read_again():
    g.read_again = True
    log.info("database connection lost at %s; reading again on a new one", request.path)
    # The invalidated connection goes; what was loaded is expired, so the
    # signed-in user and the rest are read again on the new connection.
    page_load.drop_connection()
    db.session.rollback()
    app = current_app._get_current_object()
    try:
        return app.dispatch_request()
    except Exception as err:  # noqa: BLE001 - handled as the first try's would have been
        return app.handle_user_exception(err)
