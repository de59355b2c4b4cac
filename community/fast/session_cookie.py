"""Flask's signed session cookie, verified and decoded once per distinct cookie.

A browser sends the same cookie with every request until the session changes.
Flask's interface builds a new signing serializer for each request and checks
the signature, decompresses and parses the cookie every time: about a tenth of
a thread page's time. At the end of a request it reads every cookie setting
before it finds the session has nothing to send (bench/findings.md, 47).

Here the serializer is built once per set of keys, and a cookie whose
signature has been checked is remembered with its contents and when it was
signed. The rule for its age is checked on every request, as
itsdangerous checks it; only signed cookies (made with the secret key) are
remembered, so nobody else can fill the memory.
"""
import copy
import time
from functools import lru_cache

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

SCALARS = (str, int, float, bool, type(None))


class KeptCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's, with the cookie verified once (above), and nothing more read
    at the end of a request whose session has nothing to send."""

    def get_signing_serializer(self, app):
        if not app.secret_key:
            return None
        return _serializer(self, app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))

    def open_session(self, app, request):
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        try:
            data, signed_at = _verified(serializer, cookie)
        except BadSignature:
            return self.session_class()
        age = int(time.time()) - signed_at
        if not 0 <= age <= app.permanent_session_lifetime.total_seconds():
            return self.session_class()  # expired (or from the future), as loads(max_age=) finds it
        # The request may change what it gets (flash() appends to a list in it):
        # the remembered contents must stay as they were signed.
        if all(type(value) in SCALARS for value in data.values()):
            return self.session_class(data)
        return self.session_class(copy.deepcopy(data))

    def save_session(self, app, session, response) -> None:
        # Most requests: a session unchanged, so no cookie to send, only the
        # Vary header. Flask's own reads seven cookie settings first.
        if session and not self.should_set_cookie(app, session):
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


@lru_cache(maxsize=8)
def _serializer(interface: SecureCookieSessionInterface, secret_key, fallbacks: tuple):
    return SecureCookieSessionInterface.get_signing_serializer(interface, _Keys(secret_key, fallbacks))


class _Keys:
    """What Flask's get_signing_serializer reads of an app."""

    def __init__(self, secret_key, fallbacks: tuple):
        self.secret_key = secret_key
        self.config = {"SECRET_KEY_FALLBACKS": list(fallbacks)}


@lru_cache(maxsize=4096)
def _verified(serializer, cookie: str) -> tuple[dict, int]:
    """The cookie's contents and when it was signed (seconds); raises BadSignature."""
    data, signed_at = serializer.loads(cookie, return_timestamp=True)
    return data, int(signed_at.timestamp())
