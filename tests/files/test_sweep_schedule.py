"""The orphan sweep runs on a schedule in each serving process, like reminders and mail."""
import io
import logging
from datetime import timedelta

import pytest
from sqlalchemy import update

from community.extensions import db
from community.files import actions, sweep
from community.files.models import Attachment
from community.timeutil import utcnow
from tests.files.test_attachments import rows


class StopLoop(Exception):
    pass


def test_the_loop_sweeps_old_orphans_and_keeps_going_after_errors(app, world, monkeypatch, caplog):
    circle, owner, _ = world
    old = actions.upload(owner, circle.slug, io.BytesIO(b"old draft\n"), "old.txt")
    actions.upload(owner, circle.slug, io.BytesIO(b"new draft\n"), "new.txt")
    db.session.execute(update(Attachment).where(Attachment.id == old.id)
                       .values(created_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    app.config["FILE_SWEEP_INTERVAL"] = 1800
    real, calls, sleeps = actions.sweep_orphans, [], []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("storage went away")
        return real()

    def fake_sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) > 3:
            raise StopLoop

    monkeypatch.setattr(sweep, "sweep_orphans", flaky)
    monkeypatch.setattr(sweep.socketio, "sleep", fake_sleep)
    with caplog.at_level(logging.INFO, logger="community.files.sweep"), pytest.raises(StopLoop):
        sweep.run_forever(app)
    assert len(calls) == 3 and sleeps == [sweep.START_DELAY, 1800, 1800, 1800]
    assert "File sweep failed" in caplog.text and "Deleted 1 unattached file(s)" in caplog.text
    assert rows() == 1  # the new draft waits for its day


def test_the_loop_starts_with_the_servers_background_work(app, monkeypatch):
    import app as app_module

    started = []
    monkeypatch.setattr(sweep.socketio, "start_background_task",
                        lambda target, *args: started.append((target, args)))
    monkeypatch.setattr(app_module, "app", app)
    app_module.start_background_work()
    assert (sweep.run_forever, (app,)) in started and len(started) == 4


def test_the_interval_is_a_setting(monkeypatch, tmp_path):
    from community.config import DEFAULTS, from_environment

    assert DEFAULTS["FILE_SWEEP_INTERVAL"] == 3600
    monkeypatch.setenv("FILE_SWEEP_INTERVAL", "600")
    assert from_environment(str(tmp_path))["FILE_SWEEP_INTERVAL"] == 600
