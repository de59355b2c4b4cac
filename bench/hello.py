"""The ceiling: a hello-world Flask app served exactly as `python app.py` serves ours
(gevent monkey-patched, Flask-SocketIO on gevent, community.server.serve, no access log;
WORKERS processes on one port, as for the app).

    PORT=5001 WORKERS=2 .venv/bin/python bench/hello.py
"""
import os
import sys
from pathlib import Path

from gevent import monkey

monkey.patch_all()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402
from flask_socketio import SocketIO  # noqa: E402

from community.server import listener, serve, serve_workers  # noqa: E402

app = Flask("hello")
socketio = SocketIO(app, async_mode="gevent")


@app.route("/")
def hello():
    return "Hello, World!"


@app.route("/healthz")
def healthz():
    return {"status": "ok"}


if __name__ == "__main__":
    port, workers = int(os.environ["PORT"]), int(os.environ.get("WORKERS") or 1)
    if workers > 1:
        serve_workers(app, "127.0.0.1", port, workers, start_worker=lambda number: None, access_log=False)
    else:
        serve(app, listener("127.0.0.1", port), access_log=False)
