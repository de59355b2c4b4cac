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


# Stands in for an id while a URL is built once; an int, so int converters take it.
_MARKER = 1_987_654_321


def url_pattern(endpoint: str, key: str, **values):
    """`url_for` for many ids: build the URL once, then drop each id in.

    A page of twenty posts links each post six ways; building every link through
    the URL map cost more than the posts' own HTML. The URL still comes from the
    map, so a changed route changes it here too.
    """
    from flask import url_for

    head, marker, tail = url_for(endpoint, **values, **{key: _MARKER}).rpartition(str(_MARKER))
    if not marker:
        raise ValueError(f"{endpoint}: {key} does not appear in its URL")
    return lambda value: f"{head}{int(value)}{tail}"
