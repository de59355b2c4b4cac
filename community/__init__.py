"""Alumni Circles: private circles for alumni of leadership programmes."""
import logging
import os

from flask import Flask
from werkzeug.routing import IntegerConverter

from . import config as config_module
from . import http
from .extensions import csrf, db, limiter, login_manager, migrate, socketio
from .http_limits import limit_socketio_posts


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints, pages, commands."""
    app = Flask(__name__, instance_relative_config=True,
                template_folder="../templates", static_folder="../static")
    http.init_app(app)
    configure_settings(app, test_config)
    configure_logging(app)
    configure_extensions(app)
    configure_blueprints(app)
    configure_pages(app)
    configure_commands(app)
    return app


def configure_settings(app: Flask, test_config: dict | None) -> None:
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(config_module.DEFAULTS)
    if test_config is None:
        app.config.update(config_module.from_environment(app.instance_path))
    else:
        app.config.update(test_config)


def configure_logging(app: Flask) -> None:
    level = app.config.get("LOG_LEVEL", "INFO")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_extensions(app: Flask) -> None:
    from . import database, models, postgres  # noqa: F401  (engine events; every table on the metadata)
    from .fast import page_load, request_hooks

    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        with app.app_context():
            postgres.install(db.engine)
    database.end_sessions_quietly(app)
    page_load.install(app)
    migrate.init_app(app, db, render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    request_hooks.install(app, limiter)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    from .accounts.actions import load_session_user
    login_manager.user_loader(load_session_user)

    from .chat.live import NAMESPACE as CHAT
    from .chat.queue import manager_for

    queue_url = app.config.get("SOCKETIO_MESSAGE_QUEUE")
    channel = app.config.get("SOCKETIO_CHANNEL", "flask-socketio")
    manager = manager_for(queue_url, channel, resync_namespaces=(CHAT,))
    socketio.init_app(
        app,
        async_mode=app.config.get("SOCKETIO_ASYNC_MODE"),
        message_queue=queue_url,
        channel=channel,
        # Redis's, with short timeouts and resync after an outage (chat/queue.py);
        # always passed (None: no queue), or an earlier app's would be kept.
        **({"client_manager": manager} if manager or not queue_url else {}),
        # None means same origin only: no cross-site WebSocket hijacking.
        cors_allowed_origins=app.config.get("CORS_ALLOWED_ORIGINS"),
        # Always passed: init_app keeps options from an earlier app otherwise.
        transports=app.config.get("SOCKETIO_TRANSPORTS"),
        # One limit for a long-polling POST and a WebSocket message (config.py).
        max_http_buffer_size=app.config["SOCKETIO_MAX_HTTP_BUFFER_SIZE"],
        manage_session=False,
    )
    # In front of Engine.IO (which init_app just put in front of Flask), so
    # every server of the app, `python app.py` or another, gets it.
    app.wsgi_app = limit_socketio_posts(app.wsgi_app, app.config["SOCKETIO_MAX_HTTP_BUFFER_SIZE"])


# One blueprint per area; each area's views.py defines `bp`.
AREAS = ("main", "accounts", "circles", "threads", "meetings", "chat", "moderation",
         "notifications", "admin", "files", "messages", "programmes", "directory",
         "challenges", "agenda")


class BoundedInt(IntegerConverter):
    """<int:...> in URLs, capped at the database's integer range: an id too big
    for PostgreSQL is a plain 404, not an overflow error."""

    def __init__(self, map, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, **kwargs)


def configure_blueprints(app: Flask) -> None:
    from importlib import import_module

    app.url_map.converters["int"] = BoundedInt
    for area in AREAS:
        app.register_blueprint(import_module(f".{area}.views", __name__).bp)


def configure_pages(app: Flask) -> None:
    from . import error_pages, security, templating

    security.init_app(app)
    error_pages.init_app(app)
    templating.init_app(app)


def configure_commands(app: Flask) -> None:
    from . import commands

    commands.init_app(app)
