"""Socket.IO long-polling POSTs: refused by size before anything reads them.

python-engineio refuses a POST larger than max_http_buffer_size by closing the
Engine.IO session, and that close waits for a polling GET to take the session's
last packet: a GET that never comes when the POST was an attack, so the request
was never answered and its connection never released (issue 19). Nothing in a
POST needs the session to judge its size, so this middleware, in front of
Engine.IO, answers 413 from Content-Length alone and ends the connection
without reading the body.
"""
SOCKETIO_PATH = "/socket.io/"


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


def limit_socketio_posts(wsgi_app, max_bytes: int):
    """Answer a POST to /socket.io/ whose body is over max_bytes (by its
    Content-Length) with 413, and one without a length (chunked) with 411.

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
        return wsgi_app(environ, start_response)

    return app
