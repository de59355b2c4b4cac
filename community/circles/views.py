"""Circle pages: list, create, home, members, pledge, second factor, join, leave, invites, profiles."""
from typing import NamedTuple

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import and_, bindparam, case, func, or_, select

from ..accounts.models import SECTORS, User
from ..errors import ActionError
from ..extensions import db
from ..fast.fragments import Frozen, cleaned, kept_row
from ..fast.prepared import prepared
from ..forms import apply_error
from ..messages.actions import has_blocked
from ..pagination import paginate
from ..panels import CIRCLE_HOME, kept_panels, shown_panels
from ..policy import (
    access_listed_circle,
    access_profile,
    active_count,
    active_members,
    can_edit_circle,
    can_invite,
    can_leave,
    circle_rows_of,
    field_visible,
    is_active_member,
    is_staff,
    may_read_circle,
    member_list,
    owner_count,
    read_gate,
    shown_to_circle,
)
from ..templating import kept_in_layout
from ..timeutil import utcnow
from ..urls import safe_next
from . import actions
from .forms import LEAVE_CHOICES, CircleForm, JoinRequestForm, LeaveForm
from .models import ROLE_LABELS, Circle, JoinRequest, Membership
from .pages import CircleHead, circle_head, circle_page

bp = Blueprint("circles", __name__)

MEMBERS_PER_PAGE = 50
LISTED_PER_PAGE = 20
ROLE_ORDER = case({"owner": 0, "moderator": 1}, value=Membership.role, else_=2)


@bp.route("/circles/")
@login_required
def index():
    """My circles, and the circles anyone may ask to join."""
    mine = actions.my_circles(current_user)
    my_ids = [c.id for c, _ in mine]
    listed = paginate(select(Circle).where(Circle.join_policy == "request",
                                           Circle.id.not_in(my_ids)).order_by(Circle.name),
                      LISTED_PER_PAGE)
    requests = {r.circle_id: r for r in db.session.scalars(select(JoinRequest).where(
        JoinRequest.user_id == current_user.id,
        JoinRequest.circle_id.in_([c.id for c in listed.items])))}
    return render_template("circles/index.html", mine=mine, listed=listed, requests=requests)


@bp.route("/circles/new", methods=["GET", "POST"])
@login_required
def new():
    form = CircleForm()
    if form.validate_on_submit():
        try:
            circle = actions.create_circle(current_user, **_circle_fields(form))
        except ActionError as err:
            apply_error(form, err)
        else:
            flash(f"{circle.name} is ready. Invite your cohort from the Manage tab.", "success")
            return redirect(url_for("circles.home", slug=circle.slug))
    return render_template("circles/new.html", form=form), 400 if form.errors else 200


def _circle_fields(form) -> dict:
    return {name: form[name].data for name in ("name", "cohort", "description", "join_policy")}


@bp.route("/circles/<slug>/request", methods=["GET", "POST"])
@login_required
def request_to_join(slug):
    """Ask to join a circle that takes requests (404 for any other)."""
    circle = access_listed_circle(slug)
    if is_active_member(circle.id, current_user.id):
        return redirect(url_for("circles.home", slug=circle.slug))
    form = JoinRequestForm()
    if form.validate_on_submit():
        try:
            actions.request_to_join(current_user, slug, form.message.data)
        except ActionError as err:
            flash(err.message, "info" if err.code in ("member", "pending") else "error")
            return redirect(url_for("circles.index"))
        flash(f"Your request to join {circle.name} has been sent to its moderators.", "success")
        return redirect(url_for("circles.index"))
    return render_template("circles/request.html", circle=circle, form=form)


@bp.post("/circles/<slug>/request/withdraw")
@login_required
def withdraw_request(slug):
    """Take back one's pending request (404 if there is none)."""
    join_request = actions.withdraw_request(current_user, slug)
    flash(f"Your request to join {join_request.circle.name} is withdrawn.", "info")
    return redirect(safe_next(request.form.get("next"), url_for("circles.index")))


@bp.route("/c/<slug>/")
@login_required
@circle_page(rows=True)
def home(circle, membership):
    """Kept whole per what it shows (fast.fragments.kept_page), as the dashboard is."""
    members, pending = _members_card(circle, membership)
    frame = HomeFrame(circle_head(circle, membership), circle.description, can_edit_circle(membership),
                      membership.role, membership.role_label, pending if is_staff(membership) else 0,
                      members, kept_panels(CIRCLE_HOME, circle, membership))
    return kept_in_layout("circles/home.html", frame, lambda: _home_context(frame))


def _home_context(frame: "HomeFrame") -> dict:
    shown = cleaned(frame)
    return {"frame": shown, "circle_head": shown.head,
            "members": kept_row("circles/_members_card.html", _members_context, frame.members, {}),
            "panels": shown_panels(shown.panels)}


class HomeMember(NamedTuple):
    """A person in the circle home's member list: what it shows (a plain row)."""

    id: int
    display_name: str
    organisation: str | None  # shown as policy.shown_to_circle says
    organisation_visibility: str
    role: str

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


class MembersCard(NamedTuple):
    """The circle home's Members card: everything it shows (its kept row's key)."""

    slug: str
    members: tuple[HomeMember, ...]  # each one's organisation as the viewer is shown it
    count: int
    invite: bool  # "just you so far": the viewer may make an invite link


class HomeFrame(NamedTuple):
    """Everything a circle's home shows, bar its slots: its key in the memo."""

    head: CircleHead
    description: str | None
    can_edit: bool  # the circle's settings (an empty description says "Add one")
    role: str  # the viewer's
    role_label: str
    pending: int  # join requests waiting, shown to staff
    members: MembersCard
    panels: tuple[tuple[str, Frozen], ...]  # each panel's template, and what it shows (frozen)


def _members_card(circle, membership) -> tuple[MembersCard, int]:
    """The first dozen members (drawn once per look and kept: fast.fragments.kept_row),
    and the join requests waiting."""
    rows = _home_members.values({"circle_id": circle.id})  # the viewer is one: not empty
    count, pending = rows[0][-2:] if rows else (0, 0)
    members = tuple(
        m if shown_to_circle(m, "organisation", membership.user_id) else m._replace(organisation="")
        for m in (HomeMember._make(row[:-2]) for row in rows))
    return MembersCard(circle.slug, members, count, count == 1 and can_invite(membership)), pending


def _members_context(card: MembersCard) -> dict:
    return {"card": cleaned(card)}


@prepared
def _home_members():
    """The Members card's people, each row with the circle's two counts (its
    members, the join requests waiting), subqueries asked once: the home page
    runs on a fixed, small budget, and on PostgreSQL each statement is a round
    trip (bench/findings.md, 39). Prepared, as every circle home runs it."""
    circle_id = bindparam("circle_id")
    pending = (select(func.count(JoinRequest.id))
               .where(JoinRequest.circle_id == circle_id, JoinRequest.status == "pending"))
    return (active_members(circle_id)
            .with_only_columns(User.id, User.display_name, User.organisation, User.organisation_visibility,
                               Membership.role, maintain_column_froms=True)
            .add_columns(active_count(circle_id).correlate(None), pending.correlate(None).scalar_subquery())
            .order_by(ROLE_ORDER, Membership.joined_at).limit(12))


@bp.route("/c/<slug>/members")
@login_required
@circle_page
def members(circle, membership):
    """The circle's directory, filtered by sector and searched by name or organisation."""
    sector = request.args.get("sector", "")
    q = (request.args.get("q") or "").strip()[:100]
    query = member_list(circle.id)
    # Never found by a field its owner hides from the viewer (policy.field_visible).
    if sector in SECTORS:
        query = query.where(User.sector == sector, field_visible("sector", current_user.id))
    if q:
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(User.display_name.ilike(like, escape="\\"),
                                and_(User.organisation.ilike(like, escape="\\"),
                                     field_visible("organisation", current_user.id))))
    page = paginate(query.order_by(ROLE_ORDER, User.display_name), MEMBERS_PER_PAGE)
    return render_template("circles/members.html", circle=circle, membership=membership,
                           page=page, sector=sector, q=q, sectors=SECTORS)


@bp.route("/c/<slug>/pledge", methods=["GET", "POST"])
@login_required
@circle_page(pledge=False)
def pledge(circle, membership):
    next_url = safe_next(request.values.get("next"), url_for("circles.home", slug=circle.slug))
    if request.method == "POST":
        actions.accept_pledge(current_user, circle.slug)
        return redirect(next_url)
    return render_template("circles/pledge.html", circle=circle, membership=membership,
                           next=next_url)


@bp.route("/c/<slug>/second-factor")
@login_required
@circle_page(pledge=False, second_factor=False)
def second_factor(circle, membership):
    """The circle requires two-factor sign-in and the member has no second factor:
    its name and where to set one up, nothing else. Once they have one, on to
    the page they asked for (or the pledge, if that is next)."""
    next_url = safe_next(request.args.get("next"), url_for("circles.home", slug=circle.slug))
    if read_gate(circle, membership, current_user) != "second_factor":
        return redirect(next_url)
    return render_template("circles/second_factor.html", circle=circle,
                           security_url=url_for("accounts.security"))


@bp.route("/c/<slug>/leave", methods=["GET", "POST"])
@login_required
@circle_page(pledge=False, second_factor=False)
def leave(circle, membership):
    """Confirm leaving, with a choice: keep one's name on what one wrote, or not.

    A POST without a choice keeps it attributed (the default on the page too).
    """
    form = LeaveForm()
    if request.method == "POST":
        choice = request.form.get("content") or "keep"
        if choice in LEAVE_CHOICES:
            actions.leave_circle(current_user, circle.slug, anonymise=choice == "anonymise")
            flash(f"You have left {circle.name}." + (
                " What you wrote there now shows as “Former member”."
                if choice == "anonymise" else ""), "info")
            return redirect(url_for("main.dashboard"))
        form.content.errors = ["Choose what happens to what you wrote."]
    return render_template("circles/leave.html", circle=circle, membership=membership, form=form,
                           can_leave=can_leave(membership, owner_count(circle.id))), \
        400 if form.content.errors else 200


@bp.route("/invite/<token>")
def invite(token):
    """What an invite link opens: the circle's name, and a way in."""
    invitation = actions.find_invitation(token)
    if invitation is None:
        return render_template("circles/invite.html", state="invalid"), 404
    state = invitation.state(utcnow())
    already = False
    if current_user.is_authenticated:
        already = is_active_member(invitation.circle_id, current_user.id)
    status = 200 if state == "usable" or already else 410
    return render_template("circles/invite.html", invitation=invitation, circle=invitation.circle,
                           state=state, already=already, token=token), status


@bp.post("/invite/<token>")
@login_required
def accept_invite(token):
    try:
        circle = actions.accept_invitation(current_user, token)
    except ActionError as err:
        invitation = actions.find_invitation(token)
        return render_template("circles/invite.html", invitation=invitation,
                               circle=invitation.circle, state="refused", message=err.message,
                               token=token, already=False), err.status
    flash(f"Welcome to {circle.name}.", "success")
    return redirect(url_for("circles.home", slug=circle.slug))


@bp.route("/people/<int:user_id>")
@login_required
def profile(user_id, introduction_error: str | None = None, status: int = 200):
    """A person's profile: for people in a circle the viewer may read, and for
    every alumnus once the person is listed in the directory; each field only
    to its audience (policy.access_profile)."""
    from ..directory.actions import introduction_facts
    from ..directory.queries import card, cohorts_of, profile_tags

    person, shown = access_profile(current_user, user_id)
    # As rows, as the dashboard reads them: the page only shows them.
    mine = {c.id for c, m, _ in circle_rows_of(current_user.id) if may_read_circle(c, m, current_user)}
    shared = [(c, m) for c, m, _ in circle_rows_of(person.id) if c.id in mine]
    blocked = person.id != current_user.id and has_blocked(current_user, person.id)
    tags = profile_tags([person.id]).get(person.id) if shown["tags"] else None
    # Someone listed whom the viewer shares no circle with: the way to reach them.
    introduce = None
    if not shared and person.id != current_user.id and shown["contact"] and person.open_to_contact:
        introduce = introduction_facts(current_user, person, shown) or "ok"
    # The programmes and cohorts the viewer was on too, as on the directory's cards.
    shown_card = card(person, shown, tags, cohorts_of(current_user.id, [person.id]).get(person.id, ()))
    return render_template("circles/profile.html", person=shown_card, shared=shared,
                           blocked=blocked, introduce=introduce,
                           introduction_error=introduction_error), status




@bp.app_template_global()
def sector_label(value: str) -> str:
    return SECTORS.get(value, value)

