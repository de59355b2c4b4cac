"""What gevent's WSGI server needs to serve this app well, under gunicorn
(production: deploy/gunicorn.conf.py) and under `python app.py`
(one process, `make run`).

- TCP_NODELAY on every connection. gevent writes a response's headers and its
  body in separate sends; with Nagle's algorithm on, the body waits for the
  client to acknowledge the headers, which clients delay by 40 ms (delayed
  ACK): one process served about 180 requests a second however light the page
  (bench/: a hello-world app went from 183 to 2,300 requests/s with it). Linux
  hands the listener's TCP_NODELAY to every accepted connection; gunicorn sets
  it on its listeners too (gunicorn/sock.py, TCPSocket.set_options).
- Connections take turns (FairHandler), and no access-log line is formatted
  when there is no access log.
- Draining (`start_draining`, `close_idle_connections`): on SIGTERM a worker
  finishes the requests in flight, answers each with `Connection: close`, gives
  kept-alive connections between requests a moment for their next request,
  then closes those still idle, and closes its Socket.IO sessions so their
  clients reconnect to another process (deploy/gunicorn.conf.py's Worker).
"""
import ctypes
import errno
import gc
import logging
import os
import select
import socket
import struct
import weakref
from pathlib import Path

log = logging.getLogger(__name__)

# Handlers blocked reading the next request of a kept-alive connection: on a
# drain they are closed after IDLE_GRACE rather than waited for (nginx keeps up
# to 32 such connections to each process, and would keep a draining worker
# alive until its grace period ends).
_between_requests: "weakref.WeakSet" = weakref.WeakSet()
_draining = False  # every answer says Connection: close
_closing_idle = False  # a connection between requests is closed, not waited on
# Why wait at all: closing a kept-alive connection races with the client
# sending its next request on it, which is then lost ("closed without
# response"; only idempotent ones are retried, by browsers and nginx). A client
# that sends within this second is answered, told to close, and reconnects
# elsewhere; only a connection idle all that while is closed under it.
IDLE_GRACE = 1.0
# A stopping worker turns new connections away, then waits this long for the
# handshakes already under way (one round trip, to nginx on this host) before
# it closes its listening socket (deploy/gunicorn.conf.py, stop_listening).
HANDSHAKE_GRACE = 0.1


def listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=1024)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def fair_handler(access_log: bool = True, base=None):
    """gevent's request handler (or `base`, a subclass of it: gunicorn's), taking
    turns between connections and closing kept-alive ones once draining.

    A greenlet serving a keep-alive connection reads the next request without
    yielding if it has already arrived, so one busy connection could be served
    again and again while the others wait (bench/findings.md, 2). Yielding
    once before each request puts it behind the others.
    Without an access log, no log line is formatted: gevent formats one for
    every request even when it has nowhere to write it (~2% of a page).
    """
    import gevent
    from gevent import pywsgi

    class FairHandler(base or pywsgi.WSGIHandler):
        served = 0  # requests answered on this connection so far

        def handle_one_request(self):
            gevent.sleep(0)
            result = super().handle_one_request()
            self.served += 1
            return result

        def run_application(self):
            try:
                super().run_application()
            except OSError as error:
                if error.args:
                    raise
                # engine.io's websocket driver raises a bare OSError() when the
                # client has gone (a tab closed during the upgrade's probe).
                # gevent reads an errno from args[0] to tell a goodbye from a
                # fault, and without one died of IndexError, logging a
                # traceback for an ordinary goodbye. Said as the reset it is,
                # gevent closes the connection quietly.
                raise ConnectionResetError(errno.ECONNRESET, "the client went away") from error

        def start_response(self, status, headers, exc_info=None):
            if _draining and not status.startswith("101") and not self.next_request_arrived():
                # The client learns from this answer that the connection ends,
                # rather than by sending its next request into a closed one.
                # (A next request already sent, pipelined, is answered first.)
                headers = [(name, value) for name, value in headers if name.lower() != "connection"]
                headers.append(("Connection", "close"))
            return super().start_response(status, headers, exc_info)

        def read_requestline(self):
            # A connection's first request is always waited for (the client
            # connected to be served); a later one, once idle connections are
            # being closed, only if it has arrived.
            if _closing_idle and self.served and not self.next_request_arrived():
                return ""
            _between_requests.add(self)
            try:
                return super().read_requestline()
            finally:
                _between_requests.discard(self)

        def next_request_arrived(self) -> bool:
            """Bytes of a next request already read into the connection's buffer
            (a client pipelining requests), or waiting in the socket.

            Never waits, so never yields to another greenlet: it runs inside
            start_response, where a form post may still hold SQLite's write
            lock, and a greenlet switched to that begins a write would stall
            the whole process in SQLite's busy wait."""
            before = self.socket.gettimeout()
            self.socket.settimeout(0.0)  # a read finding nothing returns at once
            try:
                # peek() returns what is buffered, or what one read gets.
                return bool(self.rfile.peek(1))
            except (OSError, ValueError):  # closed meanwhile
                return False
            finally:
                self.socket.settimeout(before)

        if not access_log:
            def log_request(self):
                pass

    return FairHandler


def _has_data(sock) -> bool:
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):  # closed meanwhile
        return False


def held_by(pid: int, sock) -> bool:
    """Whether process `pid` holds a descriptor of the socket `sock` (Linux's
    /proc; elsewhere, and when that cannot be read, assumed so)."""
    target = f"socket:[{os.fstat(sock.fileno()).st_ino}]"
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return True
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor) == target:
                return True
        except OSError:  # closed meanwhile
            pass
    return False


class _BPFInstruction(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


# A classic BPF socket filter that drops a TCP segment with SYN set and ACK not
# (a client's first packet) and lets every other through. It sees the TCP
# header first: its flags are byte 13.
_NO_NEW_HANDSHAKES = [
    (0x30, 0, 0, 13),  # load the flags byte
    (0x54, 0, 0, 0x12),  # keep SYN and ACK
    (0x15, 0, 1, 0x02),  # SYN alone?
    (0x06, 0, 0, 0),  # then drop it
    (0x06, 0, 0, 0xFFFFFFFF),  # else let it through whole
]
_SO_ATTACH_FILTER = getattr(socket, "SO_ATTACH_FILTER", 26)  # Linux's value


def turn_away_new_connections(sock) -> bool:
    """Drop new connections' first packets on the listening socket `sock`: the
    queue grows no more, while handshakes under way finish. A client tries
    again a second later (TCP's first retransmission) and, the socket closed by
    then, is refused. Linux only; returns whether the filter is on."""
    program = (_BPFInstruction * len(_NO_NEW_HANDSHAKES))(*_NO_NEW_HANDSHAKES)
    fprog = struct.pack("HP", len(_NO_NEW_HANDSHAKES), ctypes.addressof(program))
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
    except OSError:
        return False
    return True


def start_draining() -> None:
    """From now on every answer closes its connection (`Connection: close`)."""
    global _draining
    _draining = True


def close_idle_connections() -> None:
    """Close the kept-alive connections idle between requests (unless their next
    request has just arrived: that one is served), now and from now on."""
    global _closing_idle
    _closing_idle = True
    for handler in list(_between_requests):
        if handler.served and not _has_data(handler.socket):  # blocked in its read: no whole request buffered
            try:
                handler.socket.shutdown(socket.SHUT_RDWR)  # its read returns: the handler ends
            except OSError:
                pass


def close_live_sockets() -> int:
    """Drop every Socket.IO session this process holds, as if its connection broke.

    Each session's disconnect handlers run here (chat presence and the like),
    then its transport is ended without Engine.IO's close packet: a client
    told "close" by the server takes it as final (python-socketio does not
    reconnect), while one whose connection drops reconnects by itself (both
    socket.io-client and python-socketio) — to another process through nginx,
    or to this port's new worker after a reload — and catches up on what it
    missed. Returns how many were dropped.
    """
    from community.extensions import socketio

    server = getattr(socketio, "server", None)
    if server is None:
        return 0
    eio = server.eio
    sessions = list(eio.sockets.items())
    for sid, session in sessions:
        try:
            session.close(wait=False, abort=True, reason=eio.reason.SERVER_DISCONNECT)
        except Exception:  # one broken session must not keep the others open
            log.exception("closing Socket.IO session %s", sid)
        eio.sockets.pop(sid, None)
    return len(sessions)


def freeze_what_exists() -> None:
    """Move what exists now (modules, the app, templates, the ORM's mappings) out
    of the collector's sight: it lives as long as the process, so a full
    collection then scans only what requests made (gc.freeze, as Instagram's
    servers do)."""
    gc.collect()
    gc.freeze()


def serve(wsgi_app, sock: socket.socket, access_log: bool = True) -> None:
    """Serve HTTP and WebSockets (simple-websocket) on a `listener()` until
    stopped, from this one process; needs gevent's monkey patch."""
    from gevent import pywsgi

    freeze_what_exists()
    pywsgi.WSGIServer(sock, wsgi_app, handler_class=fair_handler(access_log),
                      log="default" if access_log else None).serve_forever()
