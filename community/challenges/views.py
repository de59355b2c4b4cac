"""Challenge routes: bring one, post in its phases, hold ideas, move it on, reflect.

The challenge itself is shown on its thread's page (threads.views.show), which
asks challenges.present what to show; these routes change it.
"""
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..circles.pages import circle_page
from ..errors import ActionError
from ..extensions import db
from ..files.places import kept_uploads
from ..forms import apply_error
from ..pagination import page_number
from ..policy import access_challenge, can_hold_idea
from ..threads.actions import post_url
from ..threads.models import Thread
from ..timeutil import utcnow
from . import actions
from .forms import ChallengeForm
from .listing import challenge_lists
from .phases import effective_phase
from .present import COMPOSER

bp = Blueprint("challenges", __name__)


def _thread_url(circle, challenge_id: int, anchor: str = "") -> str:
    _, _, challenge, _ = access_challenge(current_user, circle.slug, challenge_id)
    return url_for("threads.show", slug=circle.slug, thread_id=challenge.thread_id, page=1) + anchor


@bp.get("/c/<slug>/challenges")
@login_required
@circle_page
def index(circle, membership):
    """The circle's challenges: open ones, those waiting for an update, closed ones (paged)."""
    lists = challenge_lists(circle.id, membership.user_id, page_number(), utcnow())
    return render_template("challenges/index.html", circle=circle, membership=membership,
                           lists=lists)


@bp.route("/c/<slug>/challenges/new", methods=["GET", "POST"])
@login_required
@circle_page(keep="situation")
def new(circle, membership):
    form = ChallengeForm()
    attachments = request.form.getlist("attachments")
    if form.validate_on_submit():
        try:
            challenge = actions.open_challenge(
                current_user, circle.slug, form.title.data, form.situation.data, form.ask.data,
                questions_minutes=actions.duration_minutes(form.questions_amount.data,
                                                           form.questions_unit.data),
                ideas_minutes=actions.duration_minutes(form.ideas_amount.data, form.ideas_unit.data),
                follow_up_days=int(form.follow_up_days.data), attachments=attachments)
        except ActionError as err:
            apply_error(form, err)
        else:
            return redirect(url_for("threads.show", slug=circle.slug, thread_id=challenge.thread_id))
    return render_template("challenges/new.html", circle=circle, membership=membership, form=form,
                           kept=kept_uploads(current_user, circle.id, attachments, circle.slug)), \
        400 if form.errors or form.form_errors else 200


@bp.get("/c/<slug>/ch/<int:challenge_id>")
@login_required
@circle_page
def show(circle, membership, challenge_id):
    """A challenge by its own id (what a meeting's agenda will link to): its thread's page."""
    return redirect(_thread_url(circle, challenge_id))


def _refused(circle, membership, challenge_id: int, err: ActionError, body: str, kind: str,
             commitments=()):
    """A refused post comes back on a page of its own with the message, the text
    and the files. Refused for what it says (a 400: empty, too long, a bad date
    or file), it comes back as its form, to mend and send again; refused
    because it can't be posted now (a 403), as text to copy."""
    _, _, challenge, thread = access_challenge(current_user, circle.slug, challenge_id)
    attachments = request.form.getlist("attachments")
    return render_template("challenges/refused.html", circle=circle, membership=membership,
                           thread=thread, challenge=challenge, message=err.message, body=body,
                           kind=kind, resend=err.status == 400 and kind in RESENDABLE,
                           composer=COMPOSER, commitments=[(text, _iso_or_empty(when))
                                                           for text, when in commitments],
                           may_hold=can_hold_idea(membership, thread.locked, challenge.presenter_id,
                                                  effective_phase(challenge, utcnow()).name),
                           kept=kept_uploads(current_user, circle.id, attachments, circle.slug)), \
        err.status


def _iso_or_empty(when: str) -> str:
    """A date input's value shown back: a browser sends YYYY-MM-DD or nothing."""
    try:
        return date.fromisoformat(when).isoformat()
    except (TypeError, ValueError):
        return ""


# Kinds whose refused form comes back to be sent again.
RESENDABLE = (*COMPOSER, "reflection")


@bp.post("/c/<slug>/ch/<int:challenge_id>/post")
@login_required
@circle_page(keep="body")
def post(circle, membership, challenge_id):
    """A question, answer, idea, comment or update, with files; or, with `hold`,
    an idea kept for later (its words only)."""
    body, kind = request.form.get("body", ""), request.form.get("kind", "")
    attachments = [public_id for public_id in request.form.getlist("attachments") if public_id]
    try:
        if request.form.get("hold"):
            if attachments:
                raise ActionError("An idea kept for later keeps its words only: remove the files "
                                  "to keep it, or post it now as a question.", field="attachments")
            actions.hold_idea(current_user, circle.slug, challenge_id, body)
            flash("Your idea is kept for you alone: post it when Ideas opens.", "success")
            return redirect(_thread_url(circle, challenge_id, "#reply"))
        made = actions.post_to_challenge(current_user, circle.slug, challenge_id, kind, body,
                                         attachments=attachments)
    except ActionError as err:
        return _refused(circle, membership, challenge_id, err, body, kind)
    thread = db.session.get(Thread, made.thread_id)
    return redirect(post_url(circle, thread, made.number))


@bp.post("/c/<slug>/ch/<int:challenge_id>/held/<int:draft_id>/post")
@login_required
@circle_page
def post_held(circle, membership, challenge_id, draft_id):
    made = actions.post_held_idea(current_user, circle.slug, challenge_id, draft_id)
    thread = db.session.get(Thread, made.thread_id)
    return redirect(post_url(circle, thread, made.number))


@bp.post("/c/<slug>/ch/<int:challenge_id>/held/<int:draft_id>/discard")
@login_required
@circle_page
def discard_held(circle, membership, challenge_id, draft_id):
    actions.discard_held_idea(current_user, circle.slug, challenge_id, draft_id)
    flash("The idea is thrown away.", "success")
    return redirect(_thread_url(circle, challenge_id))


@bp.post("/c/<slug>/ch/<int:challenge_id>/move")
@login_required
@circle_page
def move(circle, membership, challenge_id):
    seen = request.form.get("seen_phase", "")
    phase = actions.move_phase(current_user, circle.slug, challenge_id, seen)
    if phase.name == seen:
        flash("The challenge had already moved on.", "info")
    else:
        flash(f"The challenge is now in its {actions.PHASE_LABELS[phase.name]} phase.", "success")
    return redirect(_thread_url(circle, challenge_id))


@bp.post("/c/<slug>/ch/<int:challenge_id>/reflect")
@login_required
@circle_page(keep="takeaways")
def reflect(circle, membership, challenge_id):
    takeaways = request.form.get("takeaways", "")
    lines = list(zip(request.form.getlist("commitment"), request.form.getlist("commitment_date"),
                     strict=False))
    try:
        made = actions.reflect(current_user, circle.slug, challenge_id, takeaways, lines,
                               attachments=request.form.getlist("attachments"))
    except ActionError as err:
        return _refused(circle, membership, challenge_id, err, takeaways, "reflection", lines)
    thread = db.session.get(Thread, made.thread_id)
    return redirect(post_url(circle, thread, made.number))
