"""Side effects that wait for the commit: socket events, the bell's nudge.

An action queues what it must announce while it writes; the callbacks run, in
the order queued, once the session's transaction has committed and ended, so
nobody hears of a change that was rolled back, or before others can read it.

    after_commit(lambda: broadcast("message_deleted", payload, circle.id))
    db.session.commit()          # the broadcast goes now, once

- Rollback (or close without commit): the queue is dropped, nothing runs.
- A savepoint (begin_nested) that rolls back drops what was queued inside it;
  one that is released runs nothing: its callbacks wait for the outer commit.
- Each callback runs once. The transaction has ended when they run, so a
  callback may use the session (that starts a new transaction, with a queue of
  its own). One that raises is logged and the rest still run: the change is
  committed, and the caller must not be told it failed.
- Queue after `begin_write()`: it commits a read-only transaction already open,
  which would run anything queued before it.
"""
import logging
from collections.abc import Callable, Hashable

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from .extensions import db

log = logging.getLogger(__name__)

_QUEUE = "after_commit"         # session.info key: [(savepoint or None, key, callback), ...]
_COMMITTED = "after_commit.ok"  # set when the outermost transaction commits


def after_commit(callback: Callable[[], object], *, key: Hashable | None = None,
                 session: Session | None = None) -> None:
    """Run callback once the current (or next) transaction of the session commits.

    :param key: if a callback with this key is queued already, this one is not
        (e.g. one bell nudge per person, however many notifications).
    :param session: the request's session (db.session) unless given.
    """
    session = session if session is not None else db.session()
    queue = session.info.setdefault(_QUEUE, [])
    if key is not None and any(k == key for _sp, k, _cb in queue):
        return
    queue.append((session.get_nested_transaction(), key, callback))


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_commit")
def _committed(session):
    # Fires for a released savepoint too; only the outermost commit counts.
    if not session.in_nested_transaction():
        session.info[_COMMITTED] = True


@event.listens_for(Session, "after_soft_rollback")
def _savepoint_rolled_back(session, previous_transaction):
    queue = session.info.get(_QUEUE)
    if queue and previous_transaction.nested:
        queue[:] = [entry for entry in queue if not _within(entry[0], previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _ended(session, transaction):
    if transaction.parent is not None:
        return  # a savepoint or subtransaction: the outermost one decides
    committed = session.info.pop(_COMMITTED, False)
    queue = session.info.pop(_QUEUE, None)
    if not committed or not queue:
        return
    for _savepoint, _key, callback in queue:
        try:
            callback()
        except Exception:  # noqa: BLE001 - committed already; the rest must still run
            log.exception("after-commit callback %r failed", callback)
