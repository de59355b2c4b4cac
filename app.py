"""Entry point.

`python app.py` serves the app (pages and Socket.IO) with gevent on HOST:PORT.
`flask --app app <command>` finds `app` here for the CLI (db upgrade, seed-demo...).
"""
import os

if __name__ == "__main__":
    # Before anything else imports socket or threading: gevent must patch them.
    from gevent import monkey

    monkey.patch_all()
    os.environ.setdefault("SOCKETIO_ASYNC_MODE", "gevent")

from community import create_app  # noqa: E402

app = create_app()

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


if __name__ == "__main__":
    from community.server import serve

    app.wsgi_app = end_connection_after_websocket(app.wsgi_app)

    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    access_log = os.environ.get("ACCESS_LOG", "1") not in {"0", "false", "no"}
    from community.meetings.reminders import start_reminder_loop
    from community.notifications.worker import start_mail_loop

    start_reminder_loop(app)  # meeting reminders, every minute, in this process
    start_mail_loop(app)  # notifications to email, digests, the outbox
    print(f"Alumni Circles serving on http://{host}:{port}  (Ctrl-C to stop)", flush=True)
    serve(app, host, port, access_log)
