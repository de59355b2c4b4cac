"""Programme pages (/programmes: programme staff and site admins, a 404 to anyone
else) and a circle's bulk invitations (/c/<slug>/manage/invitations/...)."""
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..circles.pages import circle_page
from ..errors import ActionError, NotFound
from ..extensions import db
from ..forms import apply_error
from ..moderation.actions import STAFF_ONLY
from ..pagination import paginate
from ..policy import (
    access_programme,
    can_bulk_invite,
    can_create_programme,
    managed_programmes,
    require,
)
from . import actions
from .forms import BulkInviteForm, CohortForm, ProgrammeForm
from .people_list import MAX_BYTES

bp = Blueprint("programmes", __name__)


@bp.before_request
def programme_staff_only():
    # The /programmes pages are a 404 to anyone who can't start a programme (the
    # sign-in gate runs first); a circle's bulk invitations are checked per circle.
    if request.path.startswith("/programmes") and not can_create_programme(current_user):
        raise NotFound()


@bp.route("/programmes/")
@login_required
def index():
    page = paginate(managed_programmes(current_user), 50)
    return render_template("programmes/index.html", page=page)


@bp.route("/programmes/new", methods=["GET", "POST"])
@login_required
def new():
    form = ProgrammeForm()
    if form.validate_on_submit():
        try:
            programme = actions.create_programme(
                current_user, form.name.data, form.place.data, form.start_year.data,
                form.end_year.data)
        except ActionError as err:
            db.session.rollback()
            apply_error(form, err)
        else:
            flash(f"{programme.name} is ready. Start its first cohort's circle.", "success")
            return redirect(url_for("programmes.show", programme_id=programme.id))
    return render_template("programmes/new.html", form=form), \
        400 if form.errors or form.form_errors else 200


@bp.route("/programmes/<int:programme_id>")
@login_required
def show(programme_id):
    programme = access_programme(current_user, programme_id)
    return render_template("programmes/show.html", programme=programme,
                           cohorts=actions.programme_cohorts(programme),
                           staff=actions.programme_staff_of(programme))


@bp.route("/programmes/<int:programme_id>/cohorts/new", methods=["GET", "POST"])
@login_required
def new_cohort(programme_id):
    programme = access_programme(current_user, programme_id)
    form = CohortForm()
    if form.validate_on_submit():
        try:
            circle = actions.create_cohort(
                current_user, programme.id, form.year.data,
                **{name: form[name].data for name in ("name", "cohort", "description",
                                                      "join_policy")})
        except ActionError as err:
            db.session.rollback()
            apply_error(form, err)
        else:
            flash(f"{circle.name} is ready and you are its owner. Invite the cohort, then hand "
                  "the circle over from its Members page.", "success")
            return redirect(url_for("programmes.bulk", slug=circle.slug))
    return render_template("programmes/new_cohort.html", programme=programme, form=form), \
        400 if form.errors or form.form_errors else 200


# --- Bulk invitations ---------------------------------------------------------------------

@bp.route("/c/<slug>/manage/invitations/bulk", methods=["GET", "POST"])
@login_required
@circle_page
def bulk(circle, membership):
    require(can_bulk_invite(membership), STAFF_ONLY)
    form = BulkInviteForm()
    if form.validate_on_submit():
        upload = request.files.get("csv_file")
        data = None
        if upload and upload.filename:
            data = upload.stream.read(MAX_BYTES + 1)  # one byte over says "too large"
            upload.close()
        try:
            batch = actions.preview_invitations(current_user, circle.slug, data=data,
                                                text=form.lines.data or "", days=form.days.data)
        except ActionError as err:
            db.session.rollback()
            apply_error(form, err)
        else:
            return redirect(url_for("programmes.preview", slug=circle.slug, key=batch.key))
    return render_template("programmes/bulk.html", circle=circle, membership=membership,
                           form=form), 400 if form.errors or form.form_errors else 200


@bp.route("/c/<slug>/manage/invitations/bulk/<key>")
@login_required
@circle_page
def preview(circle, membership, key):
    circle, batch = actions.access_batch(current_user, circle.slug, key)
    verdicts = actions.judge_batch(circle, batch)
    counts = {kind: 0 for kind in actions.VERDICTS}
    for verdict in verdicts:
        counts[verdict.verdict] += 1
    return render_template("programmes/preview.html", circle=circle, membership=membership,
                           batch=batch, verdicts=verdicts, counts=counts,
                           labels=actions.VERDICTS)


@bp.post("/c/<slug>/manage/invitations/bulk/<key>/send")
@login_required
@circle_page
def send(circle, membership, key):
    batch, sent_now = actions.send_batch(current_user, circle.slug, key)
    n = batch.sent_count
    people = f"{n} {'invitation' if n == 1 else 'invitations'}"
    if sent_now:
        flash(f"{people} are on their way." if n != 1 else "1 invitation is on its way.",
              "success")
    else:
        flash(f"This list was already sent ({people}); nothing was sent twice.", "info")
    return redirect(url_for("programmes.people", slug=circle.slug))


@bp.route("/c/<slug>/manage/invitations/people", methods=["GET", "POST"])
@login_required
@circle_page
def people(circle, membership):
    """The people invited by email, with counts; resend or withdraw the ticked ones."""
    if request.method == "POST":
        verb = request.form.get("verb")
        if verb not in ("resend", "revoke"):
            raise ActionError("Choose whether to send the ticked invitations again or "
                              "withdraw them.")
        ids = request.form.getlist("invitation")
        if verb == "resend":
            n = actions.resend_invitations(current_user, circle.slug, ids)
            flash(f"Sent again to {n} {'person' if n == 1 else 'people'}, each with a new link "
                  "(the old links no longer work)." if n else
                  "None of the ticked invitations could be sent again (used, withdrawn or "
                  "bounced).", "success" if n else "info")
        else:
            n = actions.revoke_invitations(current_user, circle.slug, ids)
            flash(f"Withdrew {n} {'invitation' if n == 1 else 'invitations'}." if n else
                  "None of the ticked invitations was still open.", "success" if n else "info")
        return redirect(url_for("programmes.people", slug=circle.slug))
    circle, membership, rows, counts = actions.invited_people(current_user, circle.slug)
    return render_template("programmes/people.html", circle=circle, membership=membership,
                           rows=rows, counts=counts)


@bp.route("/c/<slug>/manage/invitations/people.csv")
@login_required
@circle_page
def people_csv(circle, membership):
    circle, body = actions.invited_people_csv(current_user, circle.slug)
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{circle.slug}-invitations.csv"',
        "Cache-Control": "no-store"})
