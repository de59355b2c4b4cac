"""Site administration: every circle's name and size, account suspension,
resetting a member's second factor, direct messages reported to the admins,
and who is programme staff.

Site admins never read a circle's content through these pages: they see only
names, sizes and dates, and enter a circle only as its members do. Of
conversations they see only the copy of a message someone reported to them
(messages/reports.py), never the conversation. They use
these pages only with a second factor of their own: an admin's password alone
could suspend accounts and strip others' second factors.
"""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from ..accounts.actions import set_suspended
from ..accounts.factor_reset import reset_second_factor, target_of_reset
from ..accounts.models import User
from ..accounts.security_log import SecurityEvent
from ..circles.models import Circle
from ..errors import ActionError, NotFound
from ..extensions import db
from ..forms import apply_error, choices
from ..messages import reports as message_reports
from ..pagination import paginate
from ..policy import can_administer_site, is_site_admin, member_counts
from ..programmes import actions as programmes
from ..programmes.forms import ProgrammeStaffForm
from ..programmes.models import Programme
from .forms import ResetSecondFactorForm

bp = Blueprint("admin", __name__, url_prefix="/admin")

PER_PAGE = 50


@bp.before_request
def only_site_admins():
    # A plain 404 (signed-out visitors never get here: the sign-in gate runs first).
    if not is_site_admin(current_user):
        raise NotFound()
    if not can_administer_site(current_user):
        # Every admin page and action, GET or POST: set up a second factor first.
        return render_template("admin/second_factor.html",
                               security_url=url_for("accounts.security")), 403


@bp.route("/")
def circles():
    page = paginate(select(Circle).order_by(Circle.created_at.desc()), PER_PAGE)
    return render_template("admin/circles.html", page=page,
                           counts=member_counts([c.id for c in page.items]))


@bp.route("/users")
def users():
    q = (request.args.get("q") or "").strip()[:100]
    query = select(User).order_by(User.created_at.desc())
    if q:
        like = f"%{q}%"
        query = query.where(or_(User.display_name.ilike(like), User.email.ilike(like)))
    return render_template("admin/users.html", page=paginate(query, PER_PAGE), q=q)


@bp.route("/security")
def security():
    """Sign-ins, failures, lockouts and account changes — never any content."""
    page = paginate(select(SecurityEvent).order_by(SecurityEvent.id.desc()), 100)
    return render_template("admin/security.html", page=page)


@bp.post("/users/<int:user_id>/<any(suspend, restore):verb>")
def suspend(user_id, verb):
    user = set_suspended(current_user, user_id, verb == "suspend")
    flash(f"{user.display_name} is {'suspended' if verb == 'suspend' else 'restored'}.", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/second-factor", methods=["GET", "POST"])
def reset_factor(user_id):
    """Reset a member's second factor, with a reason (recorded, and told to them)."""
    user = target_of_reset(current_user, user_id)
    form = ResetSecondFactorForm()
    if form.validate_on_submit():
        try:
            reset_second_factor(current_user, user.id, form.reason.data)
        except ActionError as err:
            db.session.rollback()
            apply_error(form, err)
        else:
            flash(f"{user.display_name}'s second factor is reset; they have been told by email.",
                  "success")
            return redirect(url_for("admin.users", q=user.email))
    return render_template("admin/reset_factor.html", person=user, form=form), \
        400 if form.errors or form.form_errors else 200


@bp.route("/message-reports")
def message_reports_page():
    """Reported direct messages: the copy of each message and the reason, open or resolved."""
    status = "resolved" if request.args.get("status") == "resolved" else "open"
    page = paginate(message_reports.reports_query(status), PER_PAGE)
    return render_template("admin/message_reports.html", page=page, status=status,
                           note_max=message_reports.NOTE_MAX, error=None, failed=None)


@bp.post("/message-reports/<int:report_id>/resolve")
def resolve_message_report(report_id):
    """Resolve a report with a note of what was done."""
    try:
        message_reports.resolve_report(current_user, report_id, request.form.get("note", ""))
    except ActionError as err:
        db.session.rollback()
        page = paginate(message_reports.reports_query("open"), PER_PAGE)
        return render_template("admin/message_reports.html", page=page, status="open",
                               note_max=message_reports.NOTE_MAX, error=err.message,
                               failed=report_id), err.status
    flash("Report resolved.", "success")
    return redirect(url_for("admin.message_reports_page"))


@bp.route("/programme-staff", methods=["GET", "POST"])
def programme_staff():
    """Grant the programme staff role (recorded in the security log), optionally with
    a programme to manage."""
    form = ProgrammeStaffForm()
    form.programme.choices = choices([("", "None yet")] + [
        (str(p.id), f"{p.name} ({p.years})") for p in db.session.scalars(
            select(Programme).order_by(Programme.name).limit(500))])
    if form.validate_on_submit():
        choice = form.programme.data or ""
        try:
            if choice and not (choice.isascii() and choice.isdigit() and len(choice) <= 9):
                raise ActionError("Choose a programme from the list.", field="programme")
            user = programmes.grant_programme_staff(current_user, form.email.data or "",
                                                    int(choice) if choice else None)
        except ActionError as err:
            db.session.rollback()
            apply_error(form, err)
        else:
            flash(f"{user.display_name} is programme staff.", "success")
            return redirect(url_for("admin.programme_staff"))
    return render_template("admin/programme_staff.html", form=form,
                           people=programmes.programme_staff_people()), \
        400 if form.errors or form.form_errors else 200


@bp.post("/programme-staff/<int:user_id>/revoke")
def revoke_programme_staff(user_id):
    user = programmes.revoke_programme_staff(current_user, user_id)
    flash(f"{user.display_name} is no longer programme staff.", "success")
    return redirect(url_for("admin.programme_staff"))
