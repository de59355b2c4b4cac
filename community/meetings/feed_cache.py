"""Personal calendar feeds, built once per version and answered with 304s after.

Calendar apps fetch a feed every hour or so, and building one (the icalendar
library) costs far more than reading the meetings it holds. The version is a
digest of everything that goes into the feed — every column of each meeting and
date listed, the circle's slug and host's name in the links and text, and the
site's address — so any change to any of them gives a new version, and a
version always stands for the same bytes. It is worked out from plain rows
(queries.feed_version_rows); the meetings are loaded as objects only to build
a body not kept yet. Each process keeps the newest MAX_ENTRIES bodies.
"""
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

MAX_ENTRIES = 512
# Each meeting listed: (its columns, its circle's slug, its host's name or "",
# [its dates' columns]), as queries.feed_version_rows reads them.
Rows = list[tuple[tuple, str, str, list[tuple]]]


def version(rows: Rows, site: str) -> str:
    digest = hashlib.sha256(site.encode())
    for columns, slug, host, dates in rows:
        digest.update(repr((columns, slug, host)).encode())
        for date in dates:
            digest.update(repr(date).encode())
    return digest.hexdigest()[:32]


def rows_of(entries) -> Rows:
    """The Rows of meetings loaded as objects (queries.feed_meetings): a body
    built from them is kept under the version of what it was built from."""
    return [(_columns(meeting), meeting.circle.slug,
             meeting.host.display_name if meeting.host_user_id and meeting.host else "",
             [_columns(date) for date in dates]) for meeting, dates in entries]


def _columns(row) -> tuple:
    return tuple(getattr(row, attr.key) for attr in row.__mapper__.column_attrs)


class FeedCache:
    def __init__(self, size: int = MAX_ENTRIES):
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def kept(self, key: str) -> bytes | None:
        with self._lock:
            if key in self._bodies:
                self._bodies.move_to_end(key)
                return self._bodies[key]
        return None

    def body(self, key: str, build: Callable[[], bytes]) -> bytes:
        kept = self.kept(key)
        if kept is not None:
            return kept
        body = build()
        with self._lock:
            self._bodies[key] = body
            while len(self._bodies) > self._size:
                self._bodies.popitem(last=False)
        return body


feeds = FeedCache()
