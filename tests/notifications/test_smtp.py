"""The outbox against a real SMTP server (aiosmtpd) on loopback."""
import socket
import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from community.extensions import db
from community.notifications.mailer import queue_mail, send_due
from community.notifications.models import OutboxMail
from community.timeutil import utcnow


class Inbox:
    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real SMTP server on one loopback port that can be stopped and started again."""

    def __init__(self, inbox: Inbox):
        self.inbox, self.port, self.controller = inbox, free_port(), None

    def start(self):
        # A fresh controller each time: an aiosmtpd controller can't be restarted.
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(make_app):
    """The server, and the app pointed at it."""
    inbox = Inbox()
    server = Server(inbox)
    server.start()
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port, MAIL_USE_TLS=False,
                   MAIL_FROM="Alumni Circles <circles@example.org>")
    with app.app_context():
        yield app, server, inbox
    server.stop()


def queue(n: int = 1) -> None:
    for i in range(n):
        queue_mail(f"person{i}@example.org", f"Hello {i}", "password_reset",
                   user=type("U", (), {"display_name": "Helen"})(), link="http://x/reset",
                   settings_link="http://x/settings", unsubscribe_url="http://x/unsub")
    db.session.commit()


def test_mail_is_delivered_over_smtp(smtp):
    app, server, inbox = smtp
    queue()
    assert send_due(utcnow()) == 1
    [envelope] = inbox.messages
    assert envelope.rcpt_tos == ["person0@example.org"]
    raw = envelope.content.decode()
    assert "Subject: Hello 0" in raw and "List-Unsubscribe: <http://x/unsub>" in raw
    assert "multipart/alternative" in raw
    assert db.session.scalar(select(OutboxMail.sent_at)) is not None


def test_nothing_is_lost_while_the_server_is_down_and_it_arrives_once(smtp):
    app, server, inbox = smtp
    server.stop()
    queue()
    now = utcnow()
    assert send_due(now) == 0
    mail = db.session.scalar(select(OutboxMail))
    assert mail.sent_at is None and mail.attempts == 1 and mail.next_attempt_at > now
    assert "can't reach the mail server" in mail.last_error
    assert send_due(now) == 0  # not due again yet: it waits, it doesn't hammer
    server.start()
    later = now + timedelta(minutes=2)
    assert send_due(later) == 1
    assert send_due(later + timedelta(hours=2)) == 0
    assert len(inbox.messages) == 1


def test_backoff_grows_and_is_capped(smtp):
    app, server, inbox = smtp
    server.stop()
    queue()
    now = utcnow()
    waits = []
    for _ in range(9):
        mail = db.session.scalar(select(OutboxMail))
        now = mail.next_attempt_at
        send_due(now)
        db.session.refresh(mail)
        waits.append(mail.next_attempt_at - now)
    assert waits[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert waits[-1] == timedelta(hours=1)


def test_two_workers_send_each_mail_once(smtp):
    app, server, inbox = smtp
    queue(20)
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        with app.app_context():
            try:
                barrier.wait(5)
                send_due(utcnow(), limit=20)
            except Exception as exc:  # noqa: BLE001 - reported to the test
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(e.rcpt_tos[0] for e in inbox.messages) == sorted(
        f"person{i}@example.org" for i in range(20))


def test_without_a_mail_server_mail_goes_to_the_log(make_app, caplog):
    app = make_app(MAIL_SERVER=None)
    with app.app_context():
        queue()
        with caplog.at_level("INFO"):
            assert send_due(utcnow()) == 1
        assert "person0@example.org: Hello 0" in caplog.text
        assert "reset" not in caplog.text.split("Hello 0")[1]  # bodies stay out of the log
