"""Callbacks queued for the commit: after it, in order, once; never after a rollback."""
import logging

from sqlalchemy import select

from community.accounts.models import User
from community.after_commit import after_commit
from community.extensions import db, socketio
from community.notifications.actions import notify
from tests.conftest import AuthActions
from tests.factories import make_user


def test_callbacks_run_after_the_commit_in_order_and_once(app):
    user = make_user()
    ran = []
    user.display_name = "Renamed"
    after_commit(lambda: ran.append("first"))
    after_commit(lambda: ran.append("second"))
    db.session.flush()
    assert ran == []  # a flush is not a commit
    db.session.commit()
    assert ran == ["first", "second"]
    db.session.commit()  # the next transaction's commit doesn't run them again
    assert ran == ["first", "second"]


def test_a_callback_sees_the_change_committed(app):
    user = make_user()
    seen = []
    user.display_name = "Committed"
    after_commit(lambda: seen.append(db.session.scalar(
        select(User.display_name).where(User.id == user.id))))
    db.session.commit()
    assert seen == ["Committed"]


def test_nothing_runs_after_a_rollback_nor_at_the_next_commit(app):
    user = make_user()
    ran = []
    user.display_name = "Never"
    after_commit(lambda: ran.append("rolled back"))
    db.session.rollback()
    make_user()  # another transaction commits
    assert ran == []


def test_closing_the_session_drops_the_queue(app):
    ran = []
    db.session.scalar(select(User.id))  # a transaction is open
    after_commit(lambda: ran.append("closed"))
    db.session.close()
    make_user()
    assert ran == []


def test_a_savepoint_rolled_back_drops_only_what_was_queued_inside_it(app):
    ran = []
    make_user()
    db.session.scalar(select(User.id))
    after_commit(lambda: ran.append("outer"))
    savepoint = db.session.begin_nested()
    after_commit(lambda: ran.append("inner, rolled back"))
    savepoint.rollback()
    with db.session.begin_nested():
        after_commit(lambda: ran.append("inner, released"))
    assert ran == []  # releasing a savepoint is not the commit
    db.session.commit()
    assert ran == ["outer", "inner, released"]


def test_one_failing_callback_is_logged_and_the_rest_still_run(app, caplog):
    ran = []
    make_user()
    db.session.scalar(select(User.id))
    after_commit(lambda: 1 / 0)
    after_commit(lambda: ran.append("still"))
    with caplog.at_level(logging.ERROR, logger="community.after_commit"):
        db.session.commit()  # committed: the caller is not told otherwise
    assert ran == ["still"]
    assert "after-commit callback" in caplog.text


def test_a_key_queues_a_callback_once_per_transaction(app):
    ran = []
    db.session.scalar(select(User.id))
    for n in range(3):
        after_commit(lambda n=n: ran.append(n), key="same")
    db.session.commit()
    db.session.scalar(select(User.id))
    after_commit(lambda: ran.append("next"), key="same")
    db.session.commit()
    assert ran == [0, "next"]


def test_the_bell_is_nudged_once_after_the_commit_and_not_after_a_rollback(app, client):
    helen = make_user()
    AuthActions(client).login(helen)
    bell = socketio.test_client(app, namespace="/notifications", flask_test_client=client)
    bell.get_received("/notifications")
    notify(helen.id, "mention", "one")
    notify(helen.id, "mention", "two")
    assert bell.get_received("/notifications") == []  # not before the commit
    db.session.commit()
    assert [m["name"] for m in bell.get_received("/notifications")] == ["notification"]
    notify(helen.id, "mention", "three")
    db.session.rollback()
    db.session.commit()
    assert bell.get_received("/notifications") == []
    bell.disconnect(namespace="/notifications")
