"""url_for for templates, remembering what it built (bench/findings.md, 14)."""
from functools import lru_cache

from flask import request, url_for


def kept_url_for(endpoint: str, **values) -> str:
    """url_for for templates, remembering what it built.

    A page builds 20-30 links that are the same on every request (stylesheets,
    the nav, a circle's tabs), each costing a walk of the URL map. The map is
    fixed once the app runs, so a URL depends only on what is asked; relative
    endpoints ('.x') and options ('_external', '_anchor', ...) depend on more
    and are built every time.
    """
    if endpoint.startswith(".") or any(key.startswith("_") for key in values):
        return url_for(endpoint, **values)
    try:
        return _built_url(endpoint, request.script_root, tuple(values.items()))
    except TypeError:  # a value that can't be a key (a list): build it
        return url_for(endpoint, **values)


@lru_cache(maxsize=4096)
def _built_url(endpoint: str, script_root: str, values: tuple) -> str:
    return url_for(endpoint, **dict(values))
