"""HTTP side of the chat area: the chat page and the unread-count panels.

Importing this module also wires the live side: each app gets its ChatState
and its Socket.IO server gets the /chat handlers (community/chat/events.py).
"""
from flask import Blueprint, render_template, url_for
from flask_login import login_required

from ..circles.pages import circle_page
from ..extensions import socketio
from ..panels import circle_home_panel, dashboard_panel
from ..policy import can_moderate_content
from . import actions, events
from .live import ChatState

bp = Blueprint("chat", __name__)


@bp.record_once
def _wire_live_chat(setup_state):
    app = setup_state.app
    app.extensions["chat"] = ChatState(app)
    events.register(socketio)


@bp.route("/c/<slug>/chat")
@login_required
@circle_page
def page(circle, membership):
    """The live chat. Its messages come over Socket.IO (static/js/chat.js)."""
    return render_template("chat/page.html", circle=circle, membership=membership,
                           threads_url=url_for("threads.index", slug=circle.slug),
                           can_moderate=can_moderate_content(membership))


@circle_home_panel("chat/_home_panel.html", order=30)
def home_panel(circle, membership) -> dict:
    """Unread chat messages in this circle (one query)."""
    unread = actions.unread_counts(membership.user_id, [circle.id]).get(circle.id, 0)
    return {"unread": unread}


@dashboard_panel("chat/_dashboard_panel.html", order=30)
def dashboard(user, circles) -> dict:
    """Unread chat messages in each of the user's circles (one query for all)."""
    counts = actions.unread_counts(user.id, [circle.id for circle, _ in circles])
    rows = [(circle, counts[circle.id]) for circle, _ in circles if counts.get(circle.id)]
    return {"rows": rows, "total": sum(n for _, n in rows)}
