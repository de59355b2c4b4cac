"""The outbox: queue email inside a transaction, send it later from a worker.

Requests only add rows. The worker claims due rows (FOR UPDATE SKIP LOCKED on
PostgreSQL, BEGIN IMMEDIATE on SQLite) so that with several processes each
mail goes once, sends over SMTP, and on failure keeps the mail queued and
tries again later, waiting longer each time. With no MAIL_SERVER configured,
mail goes to the log instead (and stays in the outbox table), so a machine
with no mail server still works.
"""
import logging
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import current_app, render_template
from sqlalchemy import or_, select, update

from ..database import begin_write
from ..extensions import db
from .models import OutboxMail

log = logging.getLogger(__name__)
CLAIM_FOR = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)


def site_url(path: str) -> str:
    """An absolute link for email, from SITE_URL and a site path."""
    return current_app.config["SITE_URL"].rstrip("/") + path


def queue_mail(to: str, subject: str, template: str, unsubscribe_url: str | None = None,
               **context) -> OutboxMail:
    """Render templates/email/<template>.txt and .html and queue them (the caller commits)."""
    context = {"subject": subject, "unsubscribe_url": unsubscribe_url, **context}
    mail = OutboxMail(to_address=to, subject=subject[:300],
                      text_body=render_template(f"email/{template}.txt", **context),
                      html_body=render_template(f"email/{template}.html", **context),
                      unsubscribe_url=unsubscribe_url)
    db.session.add(mail)
    return mail


def send_due(now: datetime, limit: int = 50) -> int:
    """Send what is due. Returns how many were delivered (or logged)."""
    claimed = _claim(now, limit)
    if not claimed:
        return 0
    sent = 0
    try:
        transport = _Transport()
    except (OSError, smtplib.SMTPException) as err:
        _failed(claimed, now, f"can't reach the mail server: {err}")
        return 0
    with transport:
        for mail in claimed:
            message = _message(mail, now)
            try:
                transport.send(message)
            except (OSError, smtplib.SMTPException) as err:
                _bounced(mail, err)
                _failed([mail], now, str(err))
            else:
                begin_write()
                db.session.execute(update(OutboxMail).where(OutboxMail.id == mail.id).values(
                    sent_at=now, claimed_until=None, last_error=None))
                db.session.commit()
                sent += 1
    return sent


def _claim(now: datetime, limit: int) -> list[OutboxMail]:
    begin_write()
    query = (select(OutboxMail.id)
             .where(OutboxMail.sent_at.is_(None), OutboxMail.next_attempt_at <= now,
                    or_(OutboxMail.claimed_until.is_(None), OutboxMail.claimed_until < now))
             .order_by(OutboxMail.id).limit(limit))
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(query))
    if ids:
        db.session.execute(update(OutboxMail).where(OutboxMail.id.in_(ids))
                           .values(claimed_until=now + CLAIM_FOR))
    db.session.commit()
    return list(db.session.scalars(select(OutboxMail).where(OutboxMail.id.in_(ids))
                                   .order_by(OutboxMail.id))) if ids else []


def _failed(mails: list[OutboxMail], now: datetime, error: str) -> None:
    """Keep the mail; try again after 1, 2, 4... minutes (at most an hour)."""
    attempts = {mail.id: mail.attempts + 1 for mail in mails}
    begin_write()
    for mail_id, tries in attempts.items():
        db.session.execute(update(OutboxMail).where(OutboxMail.id == mail_id).values(
            attempts=tries, claimed_until=None, last_error=error[:500],
            next_attempt_at=now + min(timedelta(minutes=2 ** (tries - 1)), MAX_BACKOFF)))
    db.session.commit()
    log.warning("mail not sent, will retry: %s", error)


def _bounced(mail: OutboxMail, err: Exception) -> None:
    """Note an address the server refused for good (5xx), for bulk invitations to
    know (notifications/bounces.py). The mail itself is retried as any other."""
    if not isinstance(err, smtplib.SMTPRecipientsRefused):
        return
    answers = list(err.recipients.values())
    if answers and all(500 <= code < 600 for code, _text in answers):
        from .bounces import record_bounce

        code, text = answers[0]
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        begin_write()
        record_bounce(mail.to_address, f"{code} {text}")
        db.session.commit()


def _message(mail: OutboxMail, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(idstring=f"outbox{mail.id}")
    if mail.unsubscribe_url:
        # RFC 2369 and RFC 8058: mail clients offer a one-click unsubscribe.
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.text_body)
    message.add_alternative(mail.html_body, subtype="html")
    return message


class _Transport:
    """One SMTP connection for a batch, or the log when no server is configured."""

    def __init__(self):
        cfg = current_app.config
        self.smtp = None
        if cfg.get("MAIL_SERVER"):
            self.smtp = smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=10)
            if cfg.get("MAIL_USE_TLS"):
                self.smtp.starttls(context=ssl.create_default_context())
            if cfg.get("MAIL_USERNAME"):
                self.smtp.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")

    def send(self, message: EmailMessage) -> None:
        if self.smtp is None:
            # Addresses and subjects only: bodies stay out of logs.
            log.info("mail (no MAIL_SERVER set, logged only) to %s: %s",
                     message["To"], message["Subject"])
            return
        self.smtp.send_message(message)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
