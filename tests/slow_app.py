"""The app as gunicorn serves it, for tests/test_graceful.py only: a request
carrying `X-Test-Delay: <seconds>` waits that long before the app handles it,
so a test can have requests in flight when it signals the server.

Only ever served by those tests (`gunicorn ... tests.slow_app:served()`); the
app itself has no such header, route or setting.
"""
import gevent

import app as served_app

_wrapped = []


def served():
    flask_app = served_app.served()
    if not _wrapped:
        inner = flask_app.wsgi_app

        def delayed(environ, start_response):
            delay = environ.get("HTTP_X_TEST_DELAY")
            if delay:
                gevent.sleep(float(delay))
            return inner(environ, start_response)

        flask_app.wsgi_app = delayed
        _wrapped.append(flask_app)
    return flask_app
