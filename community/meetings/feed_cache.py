"""Personal calendar feeds, built once per version and answered with 304s after.

Calendar apps fetch a feed every hour or so, and building one (the icalendar
library) costs far more than reading the meetings it holds. The version is a
digest of everything that goes into the feed — every column of each meeting and
date listed, the circle's slug and host's name in the links and text, and the
site's address — so any change to any of them gives a new version, and a
version always stands for the same bytes. Each process keeps the newest
MAX_ENTRIES bodies.
"""
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

from .models import Meeting, MeetingOccurrence

MAX_ENTRIES = 512
Entries = list[tuple[Meeting, list[MeetingOccurrence]]]


def version(entries: Entries, site: str) -> str:
    digest = hashlib.sha256(site.encode())
    for meeting, dates in entries:
        host = meeting.host.display_name if meeting.host_user_id and meeting.host else ""
        digest.update(repr((_columns(meeting), meeting.circle.slug, host)).encode())
        for date in dates:
            digest.update(repr(_columns(date)).encode())
    return digest.hexdigest()[:32]


def _columns(row) -> tuple:
    return tuple(getattr(row, attr.key) for attr in row.__mapper__.column_attrs)


class FeedCache:
    def __init__(self, size: int = MAX_ENTRIES):
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def body(self, key: str, build: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._bodies:
                self._bodies.move_to_end(key)
                return self._bodies[key]
        body = build()
        with self._lock:
            self._bodies[key] = body
            while len(self._bodies) > self._size:
                self._bodies.popitem(last=False)
        return body


feeds = FeedCache()
