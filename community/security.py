"""Who may reach which path before any view runs, and the security headers."""
from functools import lru_cache

from flask import Flask, Response, current_app, g, redirect, request, session, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from itsdangerous import URLSafeTimedSerializer

# Endpoints a signed-out visitor may reach. Everything else, including paths
# that match no route, sends them to sign in: a 404 would tell a stranger
# which circles exist.
PUBLIC_ENDPOINTS = {
    "static",
    "main.healthz",
    "accounts.login",
    "accounts.register",
    "accounts.reset_request",
    "accounts.reset_password",
    "accounts.second_step_page",  # a code after the password; the browser isn't signed in yet
    # Signing in with a passkey (password-less, or as the second step after the password).
    "accounts.passkeys.sign_in_options",
    "accounts.passkeys.sign_in",
    "accounts.passkeys.second_step_options",
    "accounts.passkeys.second_step",
    "circles.invite",  # shows the circle's name to whoever holds a valid link
    "notifications.unsubscribe",  # the signed token in the email is the key
    "meetings.calendar_feed",  # calendar apps fetch it without a session; the token is the key
}

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


# Every answer's; a view's own value of these is replaced.
ALWAYS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
          ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"))
# Every answer's unless its view set its own.
UNLESS_SET = (("Content-Security-Policy", CONTENT_SECURITY_POLICY), ("Referrer-Policy", "same-origin"))


def public_endpoint(endpoint: str | None) -> bool:
    return endpoint in PUBLIC_ENDPOINTS


def csrf_token() -> str:
    """Flask-WTF's generate_csrf, with each session token's signed form remembered.

    Signing anew was a noticeable part of a page (bench/findings.md, 17). Our
    tokens don't expire by time (WTF_CSRF_TIME_LIMIT is None: they last as long as the session), so
    the signature's timestamp checks nothing and one signed form per session
    token serves every page. With a time limit configured, each page signs anew.
    """
    # Each object read through its proxy once (bench/findings.md, 46).
    app, kept = current_app._get_current_object(), g._get_current_object()
    if "csrf_token" in kept or app.config.get("WTF_CSRF_TIME_LIMIT") is not None:
        return generate_csrf()
    data = session._get_current_object()
    if not isinstance(data.get("csrf_token"), str):
        generate_csrf()  # puts a new session token in the session
    kept.csrf_token = _signed(app.config.get("WTF_CSRF_SECRET_KEY") or app.secret_key, data["csrf_token"])
    return kept.csrf_token


@lru_cache(maxsize=4096)
def _signed(secret: str | bytes, raw: str) -> str:
    return URLSafeTimedSerializer(secret, salt="wtf-csrf-token").dumps(raw)


def init_app(app: Flask) -> None:
    @app.before_request
    def require_sign_in():
        # Public endpoints first: static files and feeds need no user loaded.
        if public_endpoint(request.endpoint) or current_user.is_authenticated:
            return None
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))

    app.response_class = SecureResponse

    @app.after_request
    def security_headers(response):
        # What turns on the request and the settings; the rest: SecureResponse.
        # One look at the names present: asking Headers for a missing one
        # raises (and builds) a werkzeug exception.
        headers = response.headers
        if (request.endpoint != "static" and "cache-control" not in set(headers.keys(lower=True))
                and current_user.is_authenticated):
            # Private pages must not sit in a shared or back-button cache.
            headers.add("Cache-Control", "private, no-store")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.set("Strict-Transport-Security", "max-age=31536000")
        return response


_ALWAYS_NAMES = frozenset(name.lower() for name, _ in ALWAYS)


class SecureResponse(Response):
    """Flask's response, with the headers every answer carries (ALWAYS,
    UNLESS_SET) put in the list the server sends, as it is sent. Added to the
    response's Headers, each was checked and copied again on the way out, for
    every answer alike: about 3% of a page (bench/findings.md, 47)."""

    def get_wsgi_response(self, environ):
        app_iter, status, headers = super().get_wsgi_response(environ)
        present = {name.lower() for name, _ in headers}
        if not present.isdisjoint(_ALWAYS_NAMES):  # a view's own value is replaced
            headers = [header for header in headers if header[0].lower() not in _ALWAYS_NAMES]
        headers.extend(ALWAYS)
        # A file's answer says no-referrer (files/safety.py): kept.
        headers.extend(header for header in UNLESS_SET if header[0].lower() not in present)
        return app_iter, status, headers
