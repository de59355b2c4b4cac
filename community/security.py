"""Who may reach which path before any view runs, and the security headers."""
from flask import Flask, redirect, request, url_for
from flask_login import current_user

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


def public_endpoint(endpoint: str | None) -> bool:
    return endpoint in PUBLIC_ENDPOINTS


def init_app(app: Flask) -> None:
    @app.before_request
    def require_sign_in():
        # Public endpoints first: static files and feeds need no user loaded.
        if public_endpoint(request.endpoint) or current_user.is_authenticated:
            return None
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if (request.endpoint != "static" and "Cache-Control" not in response.headers
                and current_user.is_authenticated):
            # Private pages must not sit in a shared or back-button cache.
            response.headers["Cache-Control"] = "private, no-store"
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response
