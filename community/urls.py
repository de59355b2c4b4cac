"""Helpers for URLs taken from users."""
from urllib.parse import urlsplit


def safe_next(target: str | None, default: str = "/") -> str:
    """Return target if it is a path on this site, else default.

    Refuses absolute URLs, scheme-relative '//host' and the '/\\host' trick that
    browsers read as another host: an open redirect is a phishing tool.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(c in target for c in "\r\n\t\\"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def path_for(endpoint: str, **values) -> str:
    """The site-relative path of an endpoint, with or without a request.

    Actions run from views, socket handlers and CLI workers alike; links they
    store (in notifications) are paths, so they hold on any host.
    """
    from flask import current_app

    return current_app.url_map.bind("localhost").build(endpoint, values)
