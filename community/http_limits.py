"""Socket.IO long-polling POSTs: judged before Engine.IO reads them.

python-engineio answers a POST it can't take (too large, or carrying a packet a
client never sends) by closing the Engine.IO session, and that close waits for
a polling GET to take the session's last packet: a GET that never comes when
the POST was an attack. The request was never answered and its connection never
released (issue 19: twenty such POSTs, twenty descriptors gone for good). No
sign-in is needed to open a session, so this middleware, in front of Engine.IO,
refuses those POSTs itself: by Content-Length alone (413, without reading the
body), and by the packets' types (400).
"""
import io

SOCKETIO_PATH = "/socket.io/"
# Engine.IO packets a client sends in a POST: close, pong, message, upgrade, and
# "b" (a binary message, base64). Engine.IO 4 separates them with \x1e.
CLIENT_PACKETS = ("1", "3", "4", "5", "b")


def _refuse(environ, start_response, status: str, text: str):
    body = text.encode()
    # A body that was never going to be read must not be read after the answer
    # either: gevent's server reads what is left of a body before it takes the
    # connection's next request, which would hold the connection (and its
    # descriptor) for as long as the client chooses to trickle megabytes in.
    # Its input is told nothing is left, and "Connection: close" ends the
    # connection instead of reading the rest as a next request.
    stream = environ.get("wsgi.input")
    if hasattr(stream, "content_length") and hasattr(stream, "position"):  # gevent's Input
        stream.content_length = stream.position
        stream.chunked_input = False
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), ("Connection", "close")])
    return [body]


def _only_client_packets(body: bytes) -> bool:
    return not body or all(packet.startswith(CLIENT_PACKETS)
                           for packet in body.decode("utf-8", "replace").split("\x1e"))


def limit_socketio_posts(wsgi_app, max_bytes: int):
    """Answer a POST to /socket.io/ whose body is over max_bytes (by its
    Content-Length) with 413, one without a length (chunked) with 411, and one
    with a packet no client sends with 400.

    A body longer than its Content-Length is never read past it: the server
    reads exactly that many bytes, and the rest is read as the next request (and
    refused as one). Everything else goes to wsgi_app untouched.
    """
    too_large = f"A Socket.IO request body may be at most {max_bytes} bytes.\n"

    def app(environ, start_response):
        if (environ.get("REQUEST_METHOD") != "POST"
                or not environ.get("PATH_INFO", "").startswith(SOCKETIO_PATH)):
            return wsgi_app(environ, start_response)
        length = environ.get("CONTENT_LENGTH") or ""
        if not length:
            if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
                return _refuse(environ, start_response, "411 Length Required",
                               "Send a Content-Length with a Socket.IO request body.\n")
            return wsgi_app(environ, start_response)  # no body at all
        if not length.isdigit() or int(length) > max_bytes:
            return _refuse(environ, start_response, "413 Content Too Large", too_large)
        # Within the limit: read here (Engine.IO would read it all anyway) to look
        # at the packets, and hand Engine.IO the same bytes.
        body = environ["wsgi.input"].read(int(length))
        if not _only_client_packets(body):
            return _refuse(environ, start_response, "400 Bad Request",
                           "That is no Engine.IO packet a client sends.\n")
        environ["wsgi.input"] = io.BytesIO(body)
        return wsgi_app(environ, start_response)

    return app
