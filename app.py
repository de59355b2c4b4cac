"""Entry point.

`python app.py` serves the app (pages and Socket.IO) with gevent on HOST:PORT,
from one process, or from WORKERS forked processes sharing that port.
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
    """Meeting reminders every minute; notifications to email, digests and the
    outbox every MAIL_WORKER_INTERVAL seconds. In every serving process, as in
    deploy/'s layout: each pass claims its rows in the database (FOR UPDATE SKIP
    LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite), so nothing goes twice."""
    from community.meetings.reminders import start_reminder_loop
    from community.notifications.worker import start_mail_loop

    start_reminder_loop(app)
    start_mail_loop(app)


def start_worker(number: int) -> None:
    """In a worker just forked by community.server.serve_workers, before it serves."""
    import uuid

    from community.extensions import db, socketio

    # Pooled database connections made before the fork would be shared with the
    # parent and the other workers (one socket, several readers): forget them
    # without closing them (closing would end them for the others too).
    with app.app_context():
        db.engine.dispose(close=False)
    # Socket.IO's queue manager ignores messages carrying its own host id, made
    # when the app was built, before the fork: the same in every worker, so each
    # would ignore the others' broadcasts. Each worker gets its own.
    socketio.server.manager.host_id = uuid.uuid4().hex
    # Nothing else holds a connection yet: Redis clients (chat, Socket.IO's
    # queue, rate limits) connect on first use, here, after the fork.
    start_background_work()


if __name__ == "__main__":
    from community.server import listener, serve, serve_workers

    app.wsgi_app = end_connection_after_websocket(app.wsgi_app)

    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    access_log = os.environ.get("ACCESS_LOG", "1") not in {"0", "false", "no"}
    workers = app.config["WORKERS"]
    try:
        if workers == 1:
            sock = listener(host, port)  # first: a port in use must stop the start
            start_background_work()
            print(f"Alumni Circles serving on http://{host}:{port}  (Ctrl-C to stop)", flush=True)
            serve(app, sock, access_log)
        else:
            print(f"Alumni Circles serving on http://{host}:{port} from {workers} worker processes"
                  "  (Ctrl-C to stop)", flush=True)
            serve_workers(app, host, port, workers, start_worker, access_log)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(f"Alumni Circles can't start: {host}:{port} is in use (another server?)", file=sys.stderr)
        sys.exit(2)
