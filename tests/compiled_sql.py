"""SQLAlchemy's compiled statements, shared by every engine of the test run.

Each test builds its own app, so its own engine, and each engine keeps its own
cache of compiled statements: a test started cold and compiled again every
select and insert the test before it had (in the directory and policy matrices,
a third of a test's time). Every connection here is given one shared cache
instead (the documented `compiled_cache` execution option). SQLAlchemy keys a
compiled statement by the dialect object it was compiled for; that object is
new with each engine, so the key here holds the dialect's class and settings
instead: a statement compiled for SQLite by one test is reused by the next, and
never for PostgreSQL, nor for a dialect configured otherwise.
tests/test_compiled_once.py runs the same statements with and without it.
Tests only: production's engines live as long as the process.
"""
import threading
import weakref

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.util import LRUCache

_SIMPLE = (str, int, float, bool, bytes, type(None))


def _plain(value) -> bool:
    return isinstance(value, _SIMPLE) or (
        isinstance(value, tuple) and all(isinstance(v, _SIMPLE) for v in value))


class SharedCompiledCache:
    """A compiled-statement cache whose keys name a dialect by its class and settings."""

    def __init__(self, capacity: int = 5000):
        self.compiled = LRUCache(capacity)
        self._dialects: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def dialect_key(self, dialect) -> tuple:
        key = self._dialects.get(dialect)
        if key is None:
            settings = tuple(sorted((name, value) for name, value in vars(dialect).items()
                                    if _plain(value)))
            serializers = (getattr(dialect, "_json_serializer", None),
                           getattr(dialect, "_json_deserializer", None))
            key = (type(dialect), settings, serializers)
            with self._lock:
                self._dialects[dialect] = key
        return key

    def _key(self, key: tuple) -> tuple:
        return (self.dialect_key(key[0]), *key[1:])

    def get(self, key, default=None):
        return self.compiled.get(self._key(key), default)

    def __setitem__(self, key, compiled) -> None:
        self.compiled[self._key(key)] = compiled


SHARED = SharedCompiledCache()


def _share(connection) -> None:
    connection.execution_options(compiled_cache=SHARED)


def install() -> None:
    event.listen(Engine, "engine_connect", _share)


def uninstall() -> None:
    event.remove(Engine, "engine_connect", _share)
