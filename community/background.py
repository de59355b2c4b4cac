"""Work a serving process repeats for as long as it runs (meeting reminders, the
orphan file sweep): one loop, so each keeps going after errors the same way."""
from collections.abc import Callable
from logging import Logger

from sqlalchemy.exc import SQLAlchemyError

from .extensions import db, socketio


def repeat(app, job: Callable[[], int], *, first_delay: float, interval: Callable[[], float],
           log: Logger, done: str, failed: str) -> None:
    """Run job() in an app context every interval() seconds, after first_delay.

    `done` is logged (with the count job returned) when it did something, and
    `failed` when it raised. Errors are logged and the loop carries on: a
    database briefly away, or not yet migrated, must not stop the work for good.
    """
    socketio.sleep(first_delay)
    while True:
        with app.app_context():
            try:
                count = job()
                if count:
                    log.info(done, count)
            except SQLAlchemyError as exc:
                db.session.rollback()
                # One line: a database not yet migrated would repeat a traceback each pass.
                log.error("%s: %s", failed, str(exc).splitlines()[0])
            except Exception:  # noqa: BLE001 - logged, and the loop must survive
                db.session.rollback()
                log.exception(failed)
            finally:
                db.session.remove()
        socketio.sleep(interval())
