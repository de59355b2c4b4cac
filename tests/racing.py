"""Actions racing each other, on both database engines.

Each racing call runs in its own thread with its own app context, so it has its
own session and connection, exactly as two requests on two workers would. A
barrier releases the threads together.
"""
import threading
import traceback

import pytest

from community import create_app
from community.accounts.models import User
from community.errors import ActionError, Forbidden, NotFound
from community.extensions import db
from tests.conftest import app_config

DOMAIN_ERRORS = (ActionError, Forbidden, NotFound)  # ActionError covers Conflict


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine_app(request, tmp_path):
    """The app on a fresh database of each engine, with an app context pushed;
    shared files under the test's own directory."""
    # A connection for every racing thread at once (the default pool holds 15).
    pool = {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False, "pool_size": 30,
                                          "max_overflow": 10},
            "FILE_STORAGE_URL": f"file://{tmp_path}/files"}
    if request.param == "sqlite":
        app = request.getfixturevalue("make_app")(**pool)
    else:
        app = create_app(app_config(request.getfixturevalue("postgres_url"), **pool))
    with app.app_context():
        if request.param == "postgresql":
            db.create_all()  # tests only: a fresh PostgreSQL database has no schema
        yield app
        db.session.remove()
        db.engine.dispose()


def race(app, *calls) -> list:
    """Run each (function, actor_id or None, *args) in its own thread and session, at once.

    Returns, per call, ("ok", an int result or None) or the domain error it raised;
    any other error (e.g. "database is locked") fails the test.
    """
    db.session.commit()  # end this thread's read transaction; see the others' writes after
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)
    crashes: list[str] = []

    def run(i, function, actor_id, *args):
        with app.app_context():
            try:
                actor = db.session.get(User, actor_id) if actor_id else None
                db.session.commit()  # as a request would: no transaction held while waiting
                barrier.wait(timeout=20)
                result = function(actor, *args) if actor_id else function(*args)
                # Only plain results: ORM rows die with the thread's session.
                outcomes[i] = ("ok", result if isinstance(result, int) else None)
            except DOMAIN_ERRORS as exc:
                outcomes[i] = exc
            except Exception:  # noqa: BLE001 - reported to the test
                crashes.append(traceback.format_exc())
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racing action hung"
    if crashes:
        pytest.fail("a racing action crashed:\n" + "\n".join(crashes))
    return outcomes


def succeeded(outcome) -> bool:
    return not isinstance(outcome, Exception)


def names(outcomes) -> list[str]:
    """The outcomes as sorted names: "ok" or the error's class name."""
    return sorted("ok" if succeeded(o) else type(o).__name__ for o in outcomes)
