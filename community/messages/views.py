"""HTTP side of direct messages: the list, starting one, a conversation
(read, and send with a plain form: no JavaScript needed), adding people,
reporting a message to the site's administrators, leaving, muting, blocking.

Parse, call an action, render; the rules are in community/policy.py and the
state changes in actions.py.
"""
import uuid
from datetime import datetime
from typing import NamedTuple

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import or_

from ..accounts.models import User
from ..errors import ActionError
from ..extensions import db
from ..fast.fragments import clean, cleaned, kept_row
from ..files.base import describe_size
from ..files.conversations import kept_uploads
from ..policy import circle_mates
from ..templating import kept_in_layout, time_writer
from ..urls import safe_next
from . import actions, events, reports  # noqa: F401  (events: the Socket.IO handlers, on /chat)

bp = Blueprint("messages", __name__)
PICKABLE = 200  # people shown to pick from; most people share circles with far fewer


class MessagesFrame(NamedTuple):
    """Everything the Messages page shows, bar its slots: its key in the memo."""

    rows: tuple[actions.ConversationRow, ...]
    older: str | None  # the link to the next page's "before"
    paged: bool  # an older page: it links back to the newest


@bp.route("/messages")
@login_required
def index():
    """The conversations, newest first, with unread counts; older ones a page at a
    time. Kept whole per what it shows (fast.fragments.kept_page), its times slots."""
    page = actions.conversation_list_page(current_user, _before(request.args.get("before")))
    older = page["older"]
    frame = MessagesFrame(tuple(page["rows"]), f"{older[0].isoformat()}_{older[1]}" if older else None,
                          "before" in request.args)
    return kept_in_layout("messages/index.html", frame, lambda: {"frame": frame, "lines": _lines(frame.rows)})


def _lines(rows: tuple[actions.ConversationRow, ...]) -> Markup:
    """The page's conversations, each line kept per look (fast.fragments.kept_row)."""
    write_time = time_writer()
    return Markup("").join(kept_row("messages/_conversation_row.html", _line_context, row,
                                    {"newest": write_time(row.newest)})
                           for row in rows)


def _line_context(row: actions.ConversationRow) -> dict:
    return {"row": row._replace(people=tuple((clean(name), left) for name, left in row.people))}


def _before(value: str | None) -> tuple[datetime, int] | None:
    """?before=<newest time>_<id> of the last conversation on the previous page.

    :raise ActionError: anything else (a 400 that says so).
    """
    if value is None:
        return None
    moment, _, ident = value.rpartition("_")
    try:
        when = datetime.fromisoformat(moment)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or not ident.isascii() or not ident.isdigit() \
            or not 0 < len(ident) <= 10 or not 1900 < when.year < 3000:
        raise ActionError("That link to older conversations is broken: start again from Messages.",
                          field="before")
    return when, int(ident)


@bp.route("/messages/unread")
@login_required
def unread():
    """The header badge's number, asked for when the page is nudged (bell.js)."""
    return jsonify(unread=actions.unread_total(current_user))


@bp.route("/messages/new", methods=["GET", "POST"])
@login_required
def new():
    """Pick people who share a circle with you; a conversation with exactly
    them already there is opened instead of a second one."""
    chosen = request.form.getlist("people") if request.method == "POST" else request.args.getlist("to")
    if request.method == "POST":
        try:
            conversation = actions.start_conversation(current_user, chosen)
        except ActionError as err:
            return _new_page(chosen, err.message), err.status
        return redirect(url_for("messages.conversation", conversation_id=conversation.id))
    return _new_page(chosen)


def _new_page(chosen, error: str | None = None):
    q = _name_filter()
    return render_template("messages/new.html", people=_pickable(chosen, q), chosen=set(chosen),
                           error=error, q=q)


def _name_filter() -> str:
    return " ".join((request.args.get("q") or "").split())[:100]


def _pickable(chosen, q: str, leave_out=()) -> list[User]:
    """Up to PICKABLE circle-mates to pick from, by name; with ?q= those whose
    name contains it (taken literally), and the ones already chosen either way."""
    query = circle_mates(current_user.id)
    if leave_out:
        query = query.where(User.id.not_in(leave_out))
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        ids = [int(i) for i in chosen if isinstance(i, str) and i.isascii() and i.isdigit()
               and len(i) <= 10]
        query = query.where(or_(User.display_name.ilike(like, escape="\\"), User.id.in_(ids)))
    return db.session.scalars(query.order_by(User.display_name, User.id).limit(PICKABLE)).all()


@bp.route("/messages/<int:conversation_id>")
@login_required
def conversation(conversation_id):
    """A conversation: who is in it, the latest messages, and the form to write."""
    return _conversation_page(conversation_id)


@bp.post("/messages/<int:conversation_id>")
@login_required
def send(conversation_id):
    """Send a message from the plain form. Refused, the page comes back with
    the reason and the text, to send again."""
    body = request.form.get("body", "")
    files = request.form.getlist("attachments")
    try:
        actions.send_message(current_user, conversation_id, body,
                             request.form.get("client_id") or uuid.uuid4().hex, files or None)
    except ActionError as err:
        return _conversation_page(conversation_id, err.message, body, files), err.status
    return redirect(url_for("messages.conversation", conversation_id=conversation_id) + "#composer")


def _conversation_page(conversation_id: int, error: str | None = None, body: str = "", files=()):
    page = actions.conversation_page(current_user, conversation_id)
    # A refused form's uploads come back in its picker, so nothing added is lost.
    kept = kept_uploads(current_user, conversation_id, files) if files else []
    return render_template("messages/conversation.html", **page, error=error, body=body,
                           kept=kept, size=describe_size, client_id=uuid.uuid4().hex,
                           message_lines=_message_lines(page["messages"], current_user.id))


class FileLine(NamedTuple):
    name: str
    url: str
    thumbnail_url: str | None
    size: int


class MessageLine(NamedTuple):
    """One message as a conversation's page shows it (bar its time, a slot):
    its key in the memo. Drawn through Jinja, fifty of them were half the page."""

    id: int
    seq: int
    conversation: int
    author_id: int | None
    author_name: str
    mine: bool
    edited: bool
    deleted: bool
    html: str
    files: tuple[FileLine, ...]


def _message_lines(messages, me_id: int) -> Markup:
    """The page's messages ((payload, created_at) from conversation_page), each kept per look."""
    write_time = time_writer()
    return Markup("").join(kept_row("messages/_message_line.html", _message_context,
                                    _message_line(payload, me_id), {"created_at": write_time(created_at)})
                           for payload, created_at in messages)


def _message_line(payload: dict, me_id: int) -> MessageLine:
    author = payload["author"]
    return MessageLine(payload["id"], payload["seq"], payload["conversation"], author["id"], author["name"],
                       author["id"] == me_id, payload["edited_at"] is not None, payload["deleted"],
                       payload["html"], tuple(FileLine(f["name"], f["url"], f["thumbnail_url"], f["size"])
                                              for f in payload["attachments"]))


def _message_context(line: MessageLine) -> dict:
    """The macro's payload again, from the key alone (its strings cleaned of slot marks)."""
    line = cleaned(line)
    payload = {"id": line.id, "seq": line.seq, "conversation": line.conversation,
               "author": {"id": line.author_id, "name": line.author_name}, "edited_at": line.edited,
               "deleted": line.deleted, "html": line.html, "attachments": [f._asdict() for f in line.files]}
    return {"m": payload, "mine": line.mine, "size": describe_size}


@bp.route("/messages/<int:conversation_id>/add", methods=["GET", "POST"])
@login_required
def add(conversation_id):
    """Add people to a conversation (policy.add_refusal says who): to a group
    they join it; to a conversation of two they start a new one with both."""
    chosen = request.form.getlist("people") if request.method == "POST" else []
    if request.method == "POST":
        try:
            conversation, elsewhere = actions.add_people(current_user, conversation_id, chosen)
        except ActionError as err:
            return _add_page(conversation_id, chosen, err.message,
                             getattr(err, "conversation_id", None)), err.status
        flash("A new conversation with everyone: the one of two stays as it was." if elsewhere
              else "Added. They read what is said from now on.", "success")
        return redirect(url_for("messages.conversation", conversation_id=conversation.id))
    return _add_page(conversation_id, chosen)


def _add_page(conversation_id: int, chosen, error: str | None = None, existing: int | None = None):
    page = actions.add_page(current_user, conversation_id)
    q = _name_filter()
    return render_template("messages/add.html", **page, error=error, existing=existing, q=q,
                           people=_pickable(chosen, q, leave_out=page["member_ids"]),
                           chosen=set(chosen))


@bp.route("/messages/<int:conversation_id>/<int:message_id>/report", methods=["GET", "POST"])
@login_required
def report(conversation_id, message_id):
    """Report a message to the site's administrators: a copy of it alone, with
    a reason, and only with the box ticked that says so."""
    page = reports.report_page(current_user, conversation_id, message_id)
    reason = request.form.get("reason", "") if request.method == "POST" else ""
    if request.method == "POST":
        try:
            reports.report_message(current_user, conversation_id, message_id, reason,
                                   request.form.get("consent") == "yes")
        except ActionError as err:
            return render_template("messages/report.html", **page, error=err.message,
                                   reason=reason, field=err.field), err.status
        flash("Thank you: the site's administrators have a copy of that message and your "
              "reason. No one else in the conversation is told.", "success")
        return redirect(url_for("messages.conversation", conversation_id=conversation_id)
                        + f"#message-{message_id}")
    return render_template("messages/report.html", **page, error=None, reason=reason, field=None)


@bp.post("/messages/<int:conversation_id>/read")
@login_required
def read(conversation_id):
    """Mark the conversation read up to a message (seq)."""
    seq = request.form.get("seq", "")
    if not seq.isascii() or not seq.isdigit() or len(seq) > 10:
        raise ActionError("Say which message you read up to.", field="seq")
    actions.mark_read(current_user, conversation_id, int(seq))
    return redirect(url_for("messages.conversation", conversation_id=conversation_id))


@bp.post("/messages/<int:conversation_id>/leave")
@login_required
def leave(conversation_id):
    """Leave a group conversation."""
    actions.leave_conversation(current_user, conversation_id)
    flash("You left the conversation. What was said until now stays readable to you.", "success")
    return redirect(url_for("messages.index"))


@bp.post("/messages/<int:conversation_id>/mute")
@login_required
def mute(conversation_id):
    """Mute a conversation: no notifications or emails of it."""
    actions.mute_conversation(current_user, conversation_id)
    flash("Muted: this conversation sends you no notifications or emails. Its unread messages "
          "still show on the Messages page.", "success")
    return redirect(url_for("messages.conversation", conversation_id=conversation_id))


@bp.post("/messages/<int:conversation_id>/unmute")
@login_required
def unmute(conversation_id):
    """Hear about a muted conversation again."""
    actions.unmute_conversation(current_user, conversation_id)
    flash("Unmuted: you'll be notified of new messages here again.", "success")
    return redirect(url_for("messages.conversation", conversation_id=conversation_id))


@bp.post("/people/<int:user_id>/block")
@login_required
def block(user_id):
    """Block someone (see actions.block)."""
    other = actions.block(current_user, user_id)
    flash(f"You blocked {other.display_name}. They can't message you; they aren't told why.",
          "success")
    return redirect(safe_next(request.form.get("next"), url_for("messages.index")))


@bp.post("/people/<int:user_id>/unblock")
@login_required
def unblock(user_id):
    """Lift a block."""
    actions.unblock(current_user, user_id)
    flash("Unblocked.", "success")
    return redirect(safe_next(request.form.get("next"), url_for("messages.index")))
