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

if __name__ == "__main__":
    from community.extensions import socketio

    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    access_log = os.environ.get("ACCESS_LOG", "1") not in {"0", "false", "no"}
    print(f"Alumni Circles serving on http://{host}:{port}  (Ctrl-C to stop)", flush=True)
    socketio.run(app, host=host, port=port, log_output=access_log)
