"""Reporting a direct message to the site's administrators, and their side of it.

A conversation is read by its members and no one else, so a report carries
a copy of the one message reported — its text as it was (source and html),
who wrote it and when — and the reason, and only with the reporter's explicit
consent to share it. Administrators read that copy on their own page
(community/admin/views.py) and resolve it with a note; they never get into the
conversation (policy.access_conversation still answers them 404), and nothing
else of it is stored: not its id, not who else is in it, not the messages around.

Who may report what is policy.access_reportable_message and report_refusal.
report_message takes (actor, conversation_id, message_id, reason, consent),
so a Socket.IO handler can call it as the page does.
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..circles.actions import FORMER_MEMBER
from ..database import begin_write
from ..errors import ActionError, Conflict, NotFound, TooManyAttempts
from ..extensions import db
from ..policy import access_reportable_message, can_administer_site, report_refusal, require
from ..text import clean_text
from ..timeutil import utcnow
from .models import DirectMessageReport

REASON_MAX = 1000
NOTE_MAX = 1000
NO_CONSENT = ("Nothing was sent. To report this message, tick the box that lets us share it "
              "(and only it) with the site's administrators.")
ALREADY = ("You have already reported this message; the site's administrators will look at it. "
           "Thank you.")


def report_page(actor: User, conversation_id, message_id) -> dict:
    """What the report form shows: the message (its author, time and text).

    :raise NotFound: as report_message.
    :raise Forbidden: their own message, or a deleted one.
    """
    _, member, message = access_reportable_message(actor, conversation_id, message_id)
    refusal = report_refusal(member, message, actor.id)
    require(refusal is None, refusal or "")
    author = message.author
    return {"conversation_id": member.conversation_id, "message": message,
            "author_name": author.display_name if author else FORMER_MEMBER,
            "reason_max": REASON_MAX}


def report_message(actor: User, conversation_id, message_id, reason, consent) -> DirectMessageReport:
    """Report someone else's message to the site's administrators, with the
    actor's consent to share it: a copy of it alone and the reason are stored.

    :raise NotFound: the actor is not in the conversation, or the message is
        not one of it they may read (policy.access_reportable_message).
    :raise Forbidden: their own message, or a deleted one (policy.report_refusal).
    :raise ActionError: consent not given (code no_consent), or no reason, or too long.
    :raise Conflict: an open report of theirs on this message already (code duplicate).
    :raise TooManyAttempts: more than DM_REPORT_LIMIT reports in DM_REPORT_WINDOW seconds.
    """
    _, member, message = access_reportable_message(actor, conversation_id, message_id)
    refusal = report_refusal(member, message, actor.id)
    require(refusal is None, refusal or "")
    if consent is not True:
        raise ActionError(NO_CONSENT, code="no_consent", field="consent")
    if isinstance(reason, str) and len(reason) > REASON_MAX * 4:
        reason = reason[:REASON_MAX + 1]  # far too long: say so without normalising it all
    reason = clean_text(reason, field="reason", label="The reason", max_len=REASON_MAX,
                        required=True, multiline=True)
    actor_id = actor.id
    duplicate = db.session.scalar(select(DirectMessageReport.id).where(
        DirectMessageReport.reporter_id == actor_id, DirectMessageReport.message_id == message.id,
        DirectMessageReport.status == "open"))
    if duplicate is not None:
        raise Conflict(ALREADY, code="duplicate")
    _check_rate(actor_id)
    author = message.author
    report = DirectMessageReport(
        message_id=message.id, reporter_id=actor_id, reason=reason,
        author_id=message.author_id, author_name=author.display_name if author else FORMER_MEMBER,
        source=message.source, html=message.html, written_at=message.created_at,
        created_at=utcnow(), status="open", resolution_note="")
    db.session.add(report)
    try:
        db.session.commit()
    except IntegrityError:  # the same report from another tab at the same moment
        db.session.rollback()
        raise Conflict(ALREADY, code="duplicate") from None
    return report


def _check_rate(reporter_id: int) -> None:
    """Reports are counted in the database, as chat's messages are (chat/store.check_rate).

    :raise TooManyAttempts: over the limit (code rate_limited).
    """
    limit = current_app.config["DM_REPORT_LIMIT"]
    window = current_app.config["DM_REPORT_WINDOW"]
    recent = db.session.scalar(select(func.count(DirectMessageReport.id)).where(
        DirectMessageReport.reporter_id == reporter_id,
        DirectMessageReport.created_at > utcnow() - timedelta(seconds=window)))
    if recent >= limit:
        raise TooManyAttempts(f"You have sent {limit} reports recently, the most we take in "
                              f"{window // 60} minutes. Please try again later.",
                              code="rate_limited")


# --- The administrators' side ------------------------------------------------------------

def reports_query(status: str):
    """A select of the reports in one state (open, or resolved), oldest open
    first and newest resolved first: for the admins' paginated page."""
    query = select(DirectMessageReport).where(DirectMessageReport.status == status)
    if status == "open":
        return query.order_by(DirectMessageReport.id)
    return query.order_by(DirectMessageReport.resolved_at.desc(), DirectMessageReport.id.desc())


def resolve_report(admin: User, report_id, note) -> DirectMessageReport:
    """Close a report with a note of what was done (site admins).

    :raise Forbidden: not a site admin with a second factor.
    :raise NotFound: no such report.
    :raise ActionError: the note is too long.
    :raise Conflict: already resolved (by another admin, or in another tab).
    """
    require(can_administer_site(admin), "Only the site's administrators can do that.")
    if not isinstance(report_id, int) or not 0 < report_id < 2**31:
        raise NotFound()
    if isinstance(note, str) and len(note) > NOTE_MAX * 4:
        note = note[:NOTE_MAX + 1]
    note = clean_text(note, field="note", label="The note", max_len=NOTE_MAX, multiline=True)
    admin_id = admin.id
    begin_write()  # two admins resolving at once: one of them is told it's done
    report = db.session.get(DirectMessageReport, report_id, with_for_update=True,
                            populate_existing=True)
    if report is None:
        db.session.rollback()
        raise NotFound()
    if report.status != "open":
        db.session.rollback()
        raise Conflict("This report was already resolved.", code="resolved")
    report.status, report.resolved_at = "resolved", utcnow()
    report.resolved_by_id, report.resolution_note = admin_id, note
    db.session.commit()
    return report
