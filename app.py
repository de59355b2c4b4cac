"""Entry point.

`python app.py` serves the app (pages and Socket.IO) with gevent on HOST:PORT
from one process: `make run`, development, trying it out.
In production gunicorn serves `served()` (deploy/gunicorn.conf.py, deploy/).
`flask --app app <command>` finds `app` here for the CLI (db upgrade, seed-demo...).
"""
import errno
import os
import sys

if __name__ == "__main__":
    # Before anything else imports socket or threading: gevent must patch them.
    from gevent import monkey

    monkey.patch_all()
    os.environ.setdefault("SOCKETIO_ASYNC_MODE", "gevent")

from community import create_app  # noqa: E402
from community.config import SettingError  # noqa: E402

try:
    app = create_app()
except SettingError as error:
    # The operator's to fix: one line saying what, not a traceback.
    print(f"Alumni Circles can't start: {error}", file=sys.stderr)
    sys.exit(2)

if app.config.get("PROXY_COUNT"):
    # Behind nginx (deploy/): trust that many proxies' X-Forwarded-For/-Proto/-Host,
    # so per-IP limits see the visitor, not the proxy, and links keep https.
    from werkzeug.middleware.proxy_fix import ProxyFix

    hops = app.config["PROXY_COUNT"]
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def end_connection_after_websocket(wsgi_app):
    """WSGI middleware for gevent's server: nothing after a WebSocket but the end.

    simple-websocket answers the handshake (101) and runs the WebSocket on its
    own copy of the socket. When the session ends, Engine.IO may still call
    start_response("200 OK") (a session upgraded from long-polling), and
    gevent's keep-alive loop would read the client's close frame as a new HTTP
    request and answer 400: either way, HTTP written into a WebSocket, which
    browsers report as "Invalid frame header" (and clients wait for a close
    that never comes). So for an upgrade request a success status is dropped,
    and the request's input is closed, which makes gevent end the connection.
    Refusals (a 4xx before any handshake) go through untouched.
    """
    def app(environ, start_response):
        if environ.get("HTTP_UPGRADE", "").lower() != "websocket":
            return wsgi_app(environ, start_response)
        dropped = []

        def start_response_unless_done(status, headers, exc_info=None):
            if status.startswith("2"):
                dropped.append(status)
                return lambda data: None
            return start_response(status, headers, exc_info)

        result = wsgi_app(environ, start_response_unless_done)
        # gevent gives the connection's reader itself, or an Input wrapping it.
        stream = environ.get("wsgi.input")
        rfile = getattr(stream, "rfile", stream)
        if hasattr(rfile, "close"):
            rfile.close()
        if dropped:
            if hasattr(result, "close"):
                result.close()
            return []
        return result
    return app


def start_background_work() -> None:
    """Meeting reminders and challenge follow-ups every minute; notifications to email, digests and the
    outbox every MAIL_WORKER_INTERVAL seconds; the sweep of files never
    attached every FILE_SWEEP_INTERVAL seconds. In every serving process (each
    gunicorn worker, through served()): each pass claims its rows in the
    database (FOR UPDATE SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite),
    so nothing goes twice."""
    from community.challenges.actions import start_follow_up_loop
    from community.files.sweep import start_sweep_loop
    from community.meetings.reminders import start_reminder_loop
    from community.notifications.worker import start_mail_loop

    start_reminder_loop(app)
    start_follow_up_loop(app)
    start_mail_loop(app)
    start_sweep_loop(app)


_served = []


def served():
    """The app as a server serves it (gunicorn: `app:served()`, in each worker
    after the fork; `python app.py`): with the WebSocket middleware above and
    the background work started, once however often it is asked for."""
    if not _served:
        app.wsgi_app = end_connection_after_websocket(app.wsgi_app)
        start_background_work()
        _served.append(app)
    return app


if __name__ == "__main__":
    from community.limits import raise_and_describe
    from community.server import listener, serve

    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    access_log = os.environ.get("ACCESS_LOG", "1") not in {"0", "false", "no"}
    try:
        sock = listener(host, port)  # first: a port in use must stop the start
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(f"Alumni Circles can't start: {host}:{port} is in use (another server?)", file=sys.stderr)
        sys.exit(2)
    print(raise_and_describe()[1], flush=True)
    print(f"Alumni Circles serving on http://{host}:{port}  (Ctrl-C to stop)", flush=True)
    serve(served(), sock, access_log)
