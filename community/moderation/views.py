"""Managing a circle: settings, invite links, join requests, roles, bans, audit."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ..circles import actions as circle_actions
from ..circles.forms import CircleSettingsForm
from ..circles.pages import circle_page
from ..errors import ActionError
from ..extensions import db
from ..forms import apply_error
from ..pagination import paginate
from ..policy import (
    banned_members,
    can_edit_circle,
    can_moderate_content,
    can_read_audit,
    is_staff,
    members_without_second_factor,
    require,
)
from ..programmes.actions import invitation_counts
from ..timeutil import utcnow
from . import actions
from .audit import audit_lines
from .forms import InvitationForm, RoleForm
from .models import AuditEvent, Report
from .reports import REPORTABLE

bp = Blueprint("moderation", __name__)

AUDIT_PER_PAGE = 50
REPORTS_PER_PAGE = 20


@bp.route("/c/<slug>/manage/")
@login_required
@circle_page
def index(circle, membership):
    require(is_staff(membership), actions.STAFF_ONLY)
    target = "settings" if can_edit_circle(membership) else "invitations"
    return redirect(url_for(f"moderation.{target}", slug=circle.slug))


@bp.route("/c/<slug>/manage/settings", methods=["GET", "POST"])
@login_required
@circle_page
def settings(circle, membership):
    require(can_edit_circle(membership), "Only the circle's owners can change its settings.")
    form = CircleSettingsForm(obj=circle)
    if form.validate_on_submit():
        fields = {name: form[name].data for name in (
            "name", "cohort", "description", "join_policy", "pledge_required", "pledge_text",
            "require_two_factor", "audit_visible_to_members", "email_excerpts")}
        try:
            circle_actions.update_circle(current_user, circle.slug, **fields)
        except ActionError as err:
            db.session.rollback()
            apply_error(form, err)
        else:
            flash("The circle's settings are saved.", "success")
            return redirect(url_for("moderation.settings", slug=circle.slug))
    return render_template("moderation/settings.html", circle=circle, membership=membership,
                           form=form, without_factor=members_without_second_factor(circle.id)), \
        400 if form.errors else 200


@bp.route("/c/<slug>/manage/invitations", methods=["GET", "POST"])
@login_required
@circle_page
def invitations(circle, membership):
    form = InvitationForm()
    new_link = emailed_to = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                invitation, token = actions.create_invitation(
                    current_user, circle.slug, days=form.days.data, max_uses=form.max_uses.data,
                    email=form.email.data, note=form.note.data or "")
            except ActionError as err:
                apply_error(form, err)
            else:
                new_link = url_for("circles.invite", token=token, _external=True)
                emailed_to = invitation.email
                form = InvitationForm(formdata=None)
        status = 400 if form.errors else 201
    circle, links = actions.list_invitations(current_user, circle.slug)
    return render_template("moderation/invitations.html", circle=circle, membership=membership,
                           form=form, links=links, new_link=new_link, emailed_to=emailed_to,
                           now=utcnow(), counts=invitation_counts(circle.id)), status


@bp.post("/c/<slug>/manage/invitations/<int:invitation_id>/revoke")
@login_required
@circle_page
def revoke_invitation(circle, membership, invitation_id):
    actions.revoke_invitation(current_user, circle.slug, invitation_id)
    flash("The invite link has been withdrawn; it no longer works.", "success")
    return redirect(url_for("moderation.invitations", slug=circle.slug))


@bp.route("/c/<slug>/manage/requests")
@login_required
@circle_page
def requests(circle, membership):
    circle, pending = actions.pending_requests(current_user, circle.slug)
    return render_template("moderation/requests.html", circle=circle, membership=membership,
                           pending=pending)


@bp.post("/c/<slug>/manage/requests/<int:request_id>/<any(approve, decline):decision>")
@login_required
@circle_page
def decide_request(circle, membership, request_id, decision):
    try:
        if decision == "approve":
            join_request = actions.approve_request(current_user, circle.slug, request_id)
        else:
            join_request = actions.decline_request(current_user, circle.slug, request_id,
                                                   request.form.get("reason", ""))
    except ActionError as err:
        flash(err.message, "error")
    else:
        verb = "is now a member" if decision == "approve" else "has been told no"
        flash(f"{join_request.user.display_name} {verb}.", "success")
    return redirect(url_for("moderation.requests", slug=circle.slug))


MEMBER_ACTIONS = {
    "remove": (actions.remove_member, "{name} has been removed from the circle, and told."),
    "ban": (actions.ban_member, "{name} has been banned and can't rejoin; they have been told."),
    "unban": (actions.unban_member, "The ban on {name} is lifted; they may be invited again."),
    "transfer": (actions.transfer_ownership, "{name} now owns the circle; you are a moderator."),
}


@bp.post("/c/<slug>/manage/members/<int:user_id>/<any(remove, ban, unban, transfer):verb>")
@login_required
@circle_page
def member_action(circle, membership, user_id, verb):
    action, message = MEMBER_ACTIONS[verb]
    reason = {"reason": request.form.get("reason", "")} if verb in ("remove", "ban") else {}
    try:
        target = action(current_user, circle.slug, user_id, **reason)
    except ActionError as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(url_for("circles.members", slug=circle.slug)), 303
    flash(message.format(name=target.user.display_name), "success")
    back = "moderation.banned" if verb == "unban" else "circles.members"
    return redirect(url_for(back, slug=circle.slug))


@bp.post("/c/<slug>/manage/members/<int:user_id>/role")
@login_required
@circle_page
def change_role(circle, membership, user_id):
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose a role from the list.", "error")
        return redirect(url_for("circles.members", slug=circle.slug)), 303
    target = actions.change_role(current_user, circle.slug, user_id, form.role.data)
    flash(f"{target.user.display_name} is now {target.role_label.lower()}.", "success")
    return redirect(url_for("circles.members", slug=circle.slug))


@bp.route("/c/<slug>/manage/banned")
@login_required
@circle_page
def banned(circle, membership):
    require(is_staff(membership), actions.STAFF_ONLY)
    return render_template("moderation/banned.html", circle=circle, membership=membership,
                           banned=banned_members(circle.id))


@bp.route("/c/<slug>/manage/audit")
@login_required
@circle_page
def audit(circle, membership):
    require(can_read_audit(circle, membership),
            "Only the circle's owners and moderators can read its audit log.")
    page = paginate(select(AuditEvent).where(AuditEvent.circle_id == circle.id)
                    .order_by(AuditEvent.id.desc()), AUDIT_PER_PAGE)
    return render_template("moderation/audit.html", circle=circle, membership=membership,
                           page=page, lines=audit_lines(circle.id, page.items))


@bp.route("/c/<slug>/manage/reports")
@login_required
@circle_page
def reports(circle, membership):
    """The moderation queue: open reports, each with what it points at."""
    require(can_moderate_content(membership), actions.STAFF_ONLY)
    page = paginate(select(Report).where(Report.circle_id == circle.id, Report.status == "open")
                    .order_by(Report.id), REPORTS_PER_PAGE)
    items = []
    for report in page.items:
        reportable = REPORTABLE.get(report.kind)
        target = reportable.load(circle, report.target_id) if reportable else None
        items.append((report, reportable.summary(target) if target is not None else None))
    return render_template("moderation/reports.html", circle=circle, membership=membership,
                           page=page, items=items)


@bp.post("/c/<slug>/manage/reports/<int:report_id>/<any(dismiss, remove):decision>")
@login_required
@circle_page
def decide_report(circle, membership, report_id, decision):
    try:
        actions.decide_report(current_user, circle.slug, report_id,
                              "removed" if decision == "remove" else "dismissed")
    except ActionError as err:
        flash(err.message, "error")
    else:
        flash("Removed, and the reporter told." if decision == "remove"
              else "Report dismissed; the reporter has been told.", "success")
    return redirect(url_for("moderation.reports", slug=circle.slug))
