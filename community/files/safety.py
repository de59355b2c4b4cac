"""Safe to open: what a file is, what it is called, and how it is served.

The one place routes and actions take these from; nothing here touches the
database, the request or the storage.
"""
from .images import CleanImage, clean_image
from .kinds import ALL_KINDS, KINDS, Kind, sniff, sniff_file
from .names import content_disposition, safe_filename

__all__ = ["ALL_KINDS", "KINDS", "CleanImage", "Kind", "clean_image", "content_disposition",
           "file_headers", "safe_filename", "sniff", "sniff_file"]

# No script, style, frame, form or plugin, and a sandbox: an HTML, SVG or PDF opened
# straight from its URL (our refusals missed one, or a browser guessed) runs nothing on
# our origin and can't be framed by another site.
FILE_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"


def file_headers(kind: Kind, name: str) -> dict[str, str]:
    """The headers of every response that serves a file's bytes (or its thumbnail).

    The type comes from the kind, never from what the browser said at upload; only a
    raster image is shown inline, everything else is a download.

    Caching: files are for current members only and membership is checked on every
    request, so no shared cache may keep one (`private`). Downloads are `no-store`: a
    document left in the cache of a shared computer outlives the member's access.
    Images shown in pages are `no-cache`: the browser may keep them but asks each time,
    so the check still runs (a route that sets an ETag from the content hash makes that
    a cheap 304 for members and a 404 for a member who left).
    """
    return {
        "Content-Type": kind.mime,
        "Content-Disposition": content_disposition(safe_filename(name, kind), inline=kind.inline),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": FILE_CSP,
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": "private, no-cache" if kind.inline else "private, no-store",
        "Referrer-Policy": "no-referrer",
    }
