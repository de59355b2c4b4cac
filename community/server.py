"""The production server: gevent's WSGI server on a listening socket of our own.

Flask-SocketIO's `socketio.run` does the same for gevent, but binds the port
itself, and so leaves Nagle's algorithm on. gevent writes a response's headers
and its body in separate sends; with Nagle on, the body waits for the client to
acknowledge the headers, and clients delay that acknowledgement by 40 ms
(delayed ACK). Every response then took at least 40 ms, and one process served
about 180 requests a second however light the page (bench/: a hello-world app
went from 183 to 2,300 requests/s with TCP_NODELAY). Linux hands the listener's
TCP_NODELAY to every accepted connection.

With WORKERS > 1, `serve_workers` forks worker processes, restarting any that
die: a small pre-fork supervisor, like gunicorn's arbiter, so one port uses
every core. Each worker accepts from a listening socket of its own on the
port (SO_REUSEPORT), and the kernel spreads new connections across them. One
socket shared by all was tried first: gevent accepts every waiting connection
when the socket turns readable, so the first worker awake took a whole burst
while the others idled (two workers served no more than one); accepting one
at a time spread them, but left connections waiting to be accepted for up to
a second (p99) while the worker served the ones it had.
"""
import gc
import logging
import os
import signal
import socket
import sys
import time
import traceback

log = logging.getLogger(__name__)


def listener(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=1024, reuse_port=reuse_port)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def fair_handler(access_log: bool = True):
    """gevent's request handler, taking turns between connections.

    A greenlet serving a keep-alive connection reads the next request without
    yielding if it has already arrived, so one busy connection could be served
    again and again while the others wait (bench/findings.md, 2). Yielding
    once before each request puts it behind the others.
    Without an access log, no log line is formatted: gevent formats one for
    every request even when it has nowhere to write it (~2% of a page).
    """
    import gevent
    from gevent import pywsgi

    class FairHandler(pywsgi.WSGIHandler):
        def handle_one_request(self):
            gevent.sleep(0)
            return super().handle_one_request()

        if not access_log:
            def log_request(self):
                pass

    return FairHandler


def freeze_what_exists() -> None:
    """Move what exists now (modules, the app, templates, the ORM's mappings) out
    of the collector's sight: it lives as long as the process, so a full
    collection then scans only what requests made (gc.freeze, as Instagram's
    servers do). Before a fork it also keeps the collector from writing to those
    objects, so the workers go on sharing their memory pages with the parent."""
    gc.collect()
    gc.freeze()


def _server(sock: socket.socket, wsgi_app, access_log: bool):
    from gevent import pywsgi

    return pywsgi.WSGIServer(sock, wsgi_app, handler_class=fair_handler(access_log),
                             log="default" if access_log else None)


def serve(wsgi_app, sock: socket.socket, access_log: bool = True) -> None:
    """Serve HTTP and WebSockets (simple-websocket) on a `listener()` until
    stopped; needs gevent's monkey patch."""
    freeze_what_exists()
    _server(sock, wsgi_app, access_log).serve_forever()


def serve_workers(wsgi_app, host: str, port: int, workers: int, start_worker,
                  access_log: bool = True) -> None:
    """Serve from `workers` forked processes, each on its own listening socket on
    the port, until SIGTERM or SIGINT; a worker that dies is replaced.

    start_worker(number) runs in each new worker before it serves: whatever
    holds connections or runs in the background must begin there, never in the
    parent, or every worker would share the parent's (one socket, N readers).
    """
    socks = _worker_sockets(host, port, workers)
    freeze_what_exists()
    children: dict[int, tuple[int, float]] = {}  # pid -> (worker number, started at)
    due: dict[int, float] = dict.fromkeys(range(workers), 0.0)  # worker number -> start after
    backoff = dict.fromkeys(range(workers), 0.0)
    stopping = []

    def stop(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping:
        for number, after in list(due.items()):
            if after <= time.monotonic():
                del due[number]
                pid = os.fork()
                if pid == 0:
                    for other in socks[:number] + socks[number + 1:]:
                        other.close()
                    _worker(socks[number], wsgi_app, access_log, number, start_worker)
                children[pid] = (number, time.monotonic())
        for pid, (number, started) in list(children.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if not done:
                continue
            del children[pid]
            # One that dies soon after starting will likely die again: wait
            # before the next try, twice as long each time (at most 30 s).
            young = time.monotonic() - started < 30
            backoff[number] = min(max(backoff[number] * 2, 1), 30) if young else 0
            due[number] = time.monotonic() + backoff[number]
            log.error("worker %d (pid %d) ended (%s); starting another in %.0f s", number, pid,
                      _how_it_ended(status), backoff[number])
        time.sleep(0.2)  # gevent's sleep, under the monkey patch: its loop reaps children
    for pid in children:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while children and time.monotonic() < deadline:
        for pid in list(children):
            if os.waitpid(pid, os.WNOHANG)[0]:
                del children[pid]
        time.sleep(0.05)
    for pid in children:  # still there after 10 s
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    for sock in socks:
        sock.close()


def _worker_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """One listening socket per worker on the port, made (and kept) here: a
    replacement takes over its predecessor's, with the connections queued meanwhile.

    SO_REUSEPORT would also let them join sockets another server holds on the
    port (say, a second copy started by mistake), so the port is first bound
    plainly: that fails, as a single process would, if anything holds it.
    """
    with listener(host, port) as probe:
        port = probe.getsockname()[1]  # PORT=0: the one port the kernel picked, for all
    return [listener(host, port, reuse_port=True) for _ in range(count)]


def _worker(sock, wsgi_app, access_log: bool, number: int, start_worker) -> None:
    """A forked worker's whole life; it never returns into the parent's loop."""
    parent = os.getppid()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Ctrl-C reaches the whole process group; the parent stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    status = 1
    try:
        import gevent

        start_worker(number)
        gevent.spawn(_exit_with, parent)
        log.info("worker %d (pid %d) serving", number, os.getpid())
        _server(sock, wsgi_app, access_log).serve_forever()
        status = 0
    except BaseException:  # whatever it was, the parent will start another
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)  # not SystemExit: the parent's code up the stack must not run here


def _exit_with(parent: int) -> None:
    """End this worker when its parent is gone (say, kill -9): nothing would
    restart it or stop it, and it would keep the port."""
    import gevent

    while os.getppid() == parent:
        gevent.sleep(1)
    os._exit(0)


def _how_it_ended(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
