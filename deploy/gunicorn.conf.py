"""gunicorn settings for the production server (deploy/, README "The production server"):

    gunicorn -c deploy/gunicorn.conf.py        # from the checkout, with HOST and PORT set

One master process (gunicorn's arbiter) and one gevent worker on HOST:PORT;
deploy/ runs one such instance per core, on ports 5001.., behind nginx with
ip_hash. The arbiter replaces a worker that dies or stops beating for
WORKER_TIMEOUT seconds; on SIGHUP (systemctl reload) it starts a new worker on
the same listening socket and then stops the old one, so no connection is
refused; on SIGTERM the worker finishes what is in flight for up to
GRACEFUL_TIMEOUT seconds (Worker, below).

The master imports nothing of the app (not even the `community` package): the
app is imported in each worker after the fork (preload_app off), so a reload
runs the new code throughout, and nothing that holds a connection (the
database pool, Redis clients) or runs in the background is made before the
fork and shared between processes. That is why this file is not a module of
the package, and why it loads community/limits.py by its path.
"""
import importlib.util
import os
from pathlib import Path

from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler, PyWSGIServer

ROOT = Path(__file__).resolve().parent.parent
chdir = str(ROOT)  # where app.py is, whatever the caller's directory


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"alumni_circles_{name}", ROOT / "community" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _seconds(name: str, default: int) -> int:
    value = os.environ.get(name) or str(default)
    try:
        seconds = int(value)
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise SystemExit(f"Alumni Circles can't start: {name} must be a whole number of seconds, "
                         f"1 or more, not {value!r}")
    return seconds


class Worker(GeventPyWSGIWorker):
    """gunicorn's gevent worker (gevent's own WSGI server, as `python app.py` uses)
    with the app's handler (community/server.py) and a drain that cuts nothing.

    On SIGTERM gunicorn's gevent worker stops accepting within a second and
    waits until no connection is left, up to graceful_timeout. Left alone, two
    kinds of connection would hold it to the end of that wait and then be cut:
    WebSockets (Socket.IO keeps one open as long as the page) and idle
    keep-alive connections (nginx keeps some to every process). So this one
    stops accepting at once (gunicorn's loop would take up to a second, and a
    client told to reconnect could land back here) without resetting the
    connections already queued (`stop_listening`), answers every request from
    then on with `Connection: close`, drops its Socket.IO sessions (their
    clients reconnect to another process, or to the new worker after a reload,
    and catch up), and a second later closes the keep-alive connections still
    idle, while the requests in flight finish.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        servers = self.servers = []

        class Server(PyWSGIServer):
            def start(self):
                servers.append(self)
                super().start()

        self.server_class = Server

    def patch(self):
        super().patch()  # gevent's monkey patch: before the app's modules are imported
        from community import server

        self.server_module = server
        # gunicorn's handler (its access log; gunicorn.socket for simple-websocket),
        # taking turns; no log line is formatted without an access log.
        self.wsgi_handler = server.fair_handler(access_log=bool(self.cfg.accesslog), base=PyWSGIHandler)

    def handle_exit(self, sig, frame):
        """SIGTERM: gunicorn's graceful stop, plus the drain."""
        if self.alive:
            import gevent

            gevent.spawn(self.drain)
        super().handle_exit(sig, frame)

    def drain(self):
        server = self.server_module
        server.start_draining()
        self.stop_listening()
        closed = server.close_live_sockets()
        self.log.info("Worker draining (pid:%s): %d live socket(s) told to reconnect", self.pid, closed)
        import gevent

        gevent.sleep(server.IDLE_GRACE)
        server.close_idle_connections()

    def stop_listening(self):
        """Close this worker's copy of each listening socket, dropping no connection.

        After a reload the master's and the new worker's copies keep the socket
        open: new connections go there, and those waiting in its queue stay
        there. On a stop the master has closed its own first, so this is the
        last copy, and closing it would reset the connections in its queue,
        whose clients have sent their requests. So new ones are turned away
        first (refused a second later, when they try again: nginx then tries
        the next process), handshakes under way get a moment to finish, and
        what is queued is served. gunicorn closes the sockets again later:
        harmless.
        """
        server, master = self.server_module, os.getppid()
        last = [listening for listening in self.servers if not server.held_by(master, listening.socket)]
        for listening in last:
            server.turn_away_new_connections(listening.socket)
        if last:
            import gevent

            gevent.sleep(server.HANDSHAKE_GRACE)  # still accepting meanwhile
        queued = 0
        for listening in self.servers:
            listening.stop_accepting()
            while accepted := listening.do_read():
                listening.do_handle(*accepted)
                queued += 1
            listening.close()
        self.log.info("Worker stops listening (pid:%s): %s; %d queued connection(s) taken", self.pid,
                      "the last copy, new connections turned away" if last else "copies remain elsewhere",
                      queued)


wsgi_app = "app:served()"
worker_class = Worker
# One per instance: a Socket.IO long-polling session must reach the process that
# holds it, and nginx's ip_hash picks a port, not a worker (deploy/README.md).
workers = 1
_host, _port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "5000")
bind = [f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}"]
graceful_timeout = _seconds("GRACEFUL_TIMEOUT", 20)
timeout = _seconds("WORKER_TIMEOUT", 30)
backlog = 1024
proc_name = "alumni-circles"
# gunicorn's control socket (gunicornc) is one path per user: several instances would share it.
control_socket_disable = True
loglevel = (os.environ.get("LOG_LEVEL") or "info").lower()
accesslog = "-" if os.environ.get("ACCESS_LOG", "1").lower() not in {"0", "false", "no"} else None
errorlog = "-"
# Flask-SocketIO would otherwise pick its async mode itself.
raw_env = [f"SOCKETIO_ASYNC_MODE={os.environ.get('SOCKETIO_ASYNC_MODE') or 'gevent'}"]

# The open-file limit bounds the connections a worker can hold (community/limits.py):
# raised here, in the master, so every worker inherits it; gevent's pool for the
# connections is sized from it rather than gunicorn's default of 1,000.
_capacity, _limit_line = _module("limits").raise_and_describe()
worker_connections = max(_capacity, 100)


def on_starting(server):
    server.log.info(_limit_line)


def post_worker_init(worker):
    """In each new worker, once it has loaded the app (app.served() started its
    background work) and before it serves."""
    worker.server_module.freeze_what_exists()
