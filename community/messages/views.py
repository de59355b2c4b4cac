"""HTTP side of direct messages: the list, starting one, a conversation
(read, and send with a plain form: no JavaScript needed), leaving, blocking.

Parse, call an action, render; the rules are in community/policy.py and the
state changes in actions.py.
"""
import uuid

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..accounts.models import User
from ..errors import ActionError
from ..extensions import db
from ..policy import circle_mates
from ..urls import safe_next
from . import actions

bp = Blueprint("messages", __name__)
PICKABLE = 200  # people shown to pick from; most people share circles with far fewer


@bp.route("/messages")
@login_required
def index():
    """The conversations, newest first, with unread counts."""
    return render_template("messages/index.html", rows=actions.conversation_list(current_user))


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
    people = db.session.scalars(circle_mates(current_user.id)
                                .order_by(User.display_name, User.id).limit(PICKABLE)).all()
    return render_template("messages/new.html", people=people, chosen=set(chosen), error=error)


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
    try:
        actions.send_message(current_user, conversation_id, body,
                             request.form.get("client_id") or uuid.uuid4().hex)
    except ActionError as err:
        return _conversation_page(conversation_id, err.message, body), err.status
    return redirect(url_for("messages.conversation", conversation_id=conversation_id) + "#composer")


def _conversation_page(conversation_id: int, error: str | None = None, body: str = ""):
    page = actions.conversation_page(current_user, conversation_id)
    return render_template("messages/conversation.html", **page, error=error, body=body,
                           client_id=uuid.uuid4().hex)


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
