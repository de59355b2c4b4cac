"""The production server: gevent's WSGI server on a listening socket of our own.

Flask-SocketIO's `socketio.run` does the same for gevent, but binds the port
itself, and so leaves Nagle's algorithm on. gevent writes a response's headers
and its body in separate sends; with Nagle on, the body waits for the client to
acknowledge the headers, and clients delay that acknowledgement by 40 ms
(delayed ACK). Every response then took at least 40 ms, and one process served
about 180 requests a second however light the page (bench/: a hello-world app
went from 183 to 2,300 requests/s with TCP_NODELAY). Linux hands the listener's
TCP_NODELAY to every accepted connection.
"""
import gc
import socket


def listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=1024)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def fair_handler():
    """gevent's request handler, taking turns between connections.

    A greenlet serving a keep-alive connection reads the next request without
    yielding if it has already arrived, so one busy connection could be served
    again and again while the others wait (seen in the bench: p50 6 ms, p99
    1.5 s). Yielding once before each request puts it behind the others.
    """
    import gevent
    from gevent import pywsgi

    class FairHandler(pywsgi.WSGIHandler):
        def handle_one_request(self):
            gevent.sleep(0)
            return super().handle_one_request()

    return FairHandler


def serve(wsgi_app, host: str, port: int, access_log: bool = True) -> None:
    """Serve HTTP and WebSockets (simple-websocket) until stopped; needs gevent's monkey patch."""
    from gevent import pywsgi

    # What exists now (modules, the app, templates, the ORM's mappings) lives as
    # long as the process: move it out of the collector's sight, so a full
    # collection scans only what requests made (gc.freeze, as Instagram's servers do).
    gc.collect()
    gc.freeze()
    server = pywsgi.WSGIServer(listener(host, port), wsgi_app, handler_class=fair_handler(),
                               log="default" if access_log else None)
    server.serve_forever()
