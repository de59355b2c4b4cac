"""The ceiling: a hello-world Flask app served as ours is (gevent monkey-patched,
Flask-SocketIO on gevent, no access log): by `python bench/hello.py` as by
`python app.py` (community.server.serve), or by gunicorn with deploy/'s settings,
as in production.

    PORT=5001 .venv/bin/python bench/hello.py
    PORT=5001 ACCESS_LOG=0 .venv/bin/gunicorn -c deploy/gunicorn.conf.py bench.hello:app
"""
import os
import sys
from pathlib import Path

from gevent import monkey

monkey.patch_all()
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402
from flask_socketio import SocketIO  # noqa: E402

from community.server import listener, serve  # noqa: E402

app = Flask("hello")
socketio = SocketIO(app, async_mode="gevent")


@app.route("/")
def hello():
    return "Hello, World!"


@app.route("/healthz")
def healthz():
    return {"status": "ok"}


if __name__ == "__main__":
    serve(app, listener("127.0.0.1", int(os.environ["PORT"])), access_log=False)
