"""Agenda routes: every change to a date's agenda and run sheet as a plain
form POST, so all of it works without JavaScript (the page's script sends
the run sheet's steps over Socket.IO instead, to the same action: events.py).

Each returns to the meeting page's Agenda card; a refusal shows the meeting
page again with the message and a 4xx. The card itself is drawn by the
meeting page (meetings.views, with present.agenda_card).
"""
from functools import wraps

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..challenges.forms import ChallengeForm
from ..chat.events import register
from ..errors import ActionError
from ..extensions import db, socketio
from ..forms import apply_error
from ..meetings.queries import circle_members
from ..meetings.views import page_again
from ..policy import access_run_sheet, can_facilitate, facilitator_id, require
from ..timeutil import utcnow
from . import actions, events  # noqa: F401  (events: the Socket.IO handlers, on /chat)
from .present import items_of, open_challenges
from .steps import PARTS

bp = Blueprint("agenda", __name__)

ID = "int(max=2147483647)"
PREFIX = f"/c/<slug>/m/<{ID}:meeting_id>/dates/<{ID}:occurrence_id>/agenda"
DONE = {"start": "The session has started.", "next": "On to the next step.",
        "back": "Back one step.", "pause": "The clock is paused.",
        "resume": "The clock is running again.", "add_minute": "A minute added to this step."}


@bp.record_once
def _wire_events(setup_state):
    register(socketio)  # chat's, with the run sheet's handlers (events.py) among them


def date_page(view):
    """Load the date (policy.access_run_sheet: 404 for anyone who may not read
    the circle) and call view(circle, membership, occurrence, sheet, **rest)."""
    @wraps(view)
    def wrapper(slug, meeting_id, occurrence_id, **kwargs):
        circle, membership, occurrence, sheet = access_run_sheet(current_user, slug, meeting_id,
                                                                 occurrence_id)
        return view(circle, membership, occurrence, sheet, **kwargs)
    return wrapper


def _card_url(circle, occurrence) -> str:
    values = {} if not occurrence.meeting.is_series else {"date": occurrence.id}
    return url_for("meetings.meeting", slug=circle.slug, meeting_id=occurrence.meeting_id,
                   **values) + "#agenda"


def _done(circle, occurrence, message: str):
    flash(message, "success")
    return redirect(_card_url(circle, occurrence), code=303)


def _refused(circle, membership, occurrence, err: ActionError):
    """The meeting page again, with why (and the status the action gave)."""
    db.session.rollback()
    return page_again(circle, membership, occurrence.meeting_id, occurrence.id, err.message, err.status)


def _whole(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None


def _ids(circle, membership, occurrence, call, *args):
    """Run an action with arguments parsed from the form; a refusal shows the page."""
    try:
        call(current_user, circle.slug, occurrence.meeting_id, occurrence.id, *args)
    except ActionError as err:
        return _refused(circle, membership, occurrence, err)
    return None


@bp.route(f"{PREFIX}/add", methods=["GET", "POST"])
@login_required
@date_page
def add(circle, membership, occurrence, sheet):
    """Put an open challenge (the facilitator's pick, or one's own) on the agenda:
    the choice is a page of its own, so the meeting page doesn't read every
    open challenge for a form most visits don't use."""
    if request.method == "GET":
        facilitates = can_facilitate(membership, occurrence.meeting, sheet)
        on_agenda = {item.challenge_id for item in items_of(sheet, utcnow())}
        pickable = open_challenges(circle.id, on_agenda, None if facilitates else current_user.id)
        return render_template("agenda/add.html", circle=circle, membership=membership,
                               meeting=occurrence.meeting, occurrence=occurrence, pickable=pickable,
                               facilitates=facilitates, back=_card_url(circle, occurrence))
    challenge_id = _whole("challenge_id")
    if challenge_id is None:
        return _refused(circle, membership, occurrence,
                        ActionError("Choose a challenge to put on the agenda.", field="challenge_id"))
    return _ids(circle, membership, occurrence, actions.put_on_agenda, challenge_id) \
        or _done(circle, occurrence, "The challenge is on the agenda.")


@bp.route(f"{PREFIX}/bring", methods=["GET", "POST"])
@login_required
@date_page
def bring(circle, membership, occurrence, sheet):
    """Bring a new challenge to this meeting: the challenge form, then the agenda."""
    form = ChallengeForm()
    if form.validate_on_submit():
        try:
            actions.bring_challenge(current_user, circle.slug, occurrence.meeting_id, occurrence.id,
                                    form.title.data, form.situation.data, form.ask.data,
                                    follow_up_days=int(form.follow_up_days.data))
        except ActionError as err:
            db.session.rollback()
            apply_error(form, err)
        else:
            return _done(circle, occurrence, "Your challenge is open in the circle and on this "
                                             "meeting's agenda.")
    return render_template("agenda/bring.html", circle=circle, membership=membership, form=form,
                           meeting=occurrence.meeting, occurrence=occurrence,
                           back=_card_url(circle, occurrence)), \
        400 if form.errors or form.form_errors else 200


@bp.post(f"{PREFIX}/<{ID}:item_id>/remove")
@login_required
@date_page
def remove(circle, membership, occurrence, sheet, item_id):
    return _ids(circle, membership, occurrence, actions.take_off_agenda, item_id) \
        or _done(circle, occurrence, "The challenge is off the agenda (it stays open in the circle).")


@bp.post(f"{PREFIX}/<{ID}:item_id>/move")
@login_required
@date_page
def move(circle, membership, occurrence, sheet, item_id):
    return _ids(circle, membership, occurrence, actions.move_on_agenda, item_id,
                request.form.get("direction", "")) \
        or _done(circle, occurrence, "The agenda's order is saved.")


@bp.post(f"{PREFIX}/minutes")
@login_required
@date_page
def minutes(circle, membership, occurrence, sheet):
    """Check-in, check-out, and each challenge's parts (fields `<part>-<item id>`)."""
    parts: dict[int, dict[str, str]] = {}
    for key, value in request.form.items():
        part, _, item = key.partition("-")
        if part in PARTS and item.isascii() and item.isdigit() and len(item) < 10:
            parts.setdefault(int(item), {})[part] = value
    return _ids(circle, membership, occurrence, actions.set_minutes,
                request.form.get("check_in", ""), request.form.get("check_out", ""), parts) \
        or _done(circle, occurrence, "The run sheet's times are saved.")


@bp.route(f"{PREFIX}/facilitator", methods=["GET", "POST"])
@login_required
@date_page
def facilitator(circle, membership, occurrence, sheet):
    """Hand facilitation to another member: a page of its own (it lists the circle's members)."""
    if request.method == "GET":
        require(can_facilitate(membership, occurrence.meeting, sheet),
                "Only the session's facilitator can hand it over.")
        return render_template("agenda/facilitator.html", circle=circle, membership=membership,
                               meeting=occurrence.meeting, occurrence=occurrence,
                               members=circle_members(circle),
                               facilitator_id=facilitator_id(occurrence.meeting, sheet),
                               back=_card_url(circle, occurrence))
    user_id = _whole("user_id")
    if user_id is None:
        return _refused(circle, membership, occurrence,
                        ActionError("Choose who facilitates.", field="user_id"))
    return _ids(circle, membership, occurrence, actions.hand_over, user_id) \
        or _done(circle, occurrence, "Facilitation is handed over.")


@bp.post(f"{PREFIX}/step")
@login_required
@date_page
def step(circle, membership, occurrence, sheet):
    """Start, next, back, pause, resume, +1 minute (the page's buttons without JavaScript)."""
    command = request.form.get("command", "")
    return _ids(circle, membership, occurrence, actions.step_run_sheet, command,
                request.form.get("version", "")) \
        or _done(circle, occurrence, DONE.get(command, "Done."))
