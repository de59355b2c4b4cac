"""Sign up, sign in and out, and one's own settings."""
import json

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user, user_loaded_from_cookie

from ..errors import ActionError
from ..extensions import limiter
from ..forms import apply_error
from ..timefmt import clock_for_language
from ..timeutil import utcnow
from ..urls import safe_next
from . import actions, export, passkey_views, sessions
from .forms import (
    DeleteAccountForm,
    LoginForm,
    PasswordForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
    ResetRequestForm,
)

bp = Blueprint("accounts", __name__)
# Passkeys' pages and sign-in routes: accounts.passkeys.* (accounts/passkey_views.py).
bp.register_blueprint(passkey_views.bp)


@bp.before_app_request
def _give_the_browser_a_sign_in_id():
    # Flask-Login's key, not current_user: loading the user here would cost every
    # request (static files, feeds) a query.
    if "_user_id" in session:
        sessions.ensure_id()


@user_loaded_from_cookie.connect
def _restored_from_the_remember_cookie(sender, user=None, **_):
    sessions.ensure_id()


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _register_limit():
    return current_app.config["REGISTER_RATE_LIMIT"]


@bp.route("/auth/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"])
def register():
    next_url = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            # The clock the browser's language reads, until they choose one in settings.
            clock = clock_for_language(request.accept_languages.best)
            user = actions.register_user(form.email.data, form.password.data, clock=clock,
                                         **form.profile_data())
        except ActionError as err:
            apply_error(form, err)
        else:
            sessions.start(user)
            flash(f"Welcome, {user.display_name}. Your account is ready.", "success")
            return redirect(next_url)
    status = 400 if form.errors else 200
    return render_template("accounts/register.html", form=form, next=next_url), status


@bp.route("/auth/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url)
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = actions.authenticate(form.email.data, form.password.data)
        except ActionError as err:
            form.form_errors.append(err.message)
            status = err.status
        else:
            sessions.start(user, remember=form.remember.data)
            return redirect(next_url)
    elif form.errors:
        status = 400
    return render_template("accounts/login.html", form=form, next=next_url), status


@bp.post("/auth/logout")
@login_required
def logout():
    """Sign this browser out, and end its live connections (other browsers keep theirs)."""
    actions.record_sign_out(current_user._get_current_object(), sessions.current_id())
    session.clear()
    logout_user()
    flash("You have signed out.", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/settings/", methods=["GET"])
@login_required
def settings():
    return redirect(url_for("accounts.profile"))


@bp.route("/settings/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        try:
            actions.update_profile(current_user, **form.profile_data())
        except ActionError as err:
            apply_error(form, err)
        else:
            flash("Your profile is saved.", "success")
            return redirect(url_for("accounts.profile"))
    status = 400 if form.errors else 200
    return render_template("accounts/profile.html", form=form), status


@bp.post("/settings/sessions/end")
@login_required
def end_other_sessions():
    """Sign out every other browser and device (and their live connections)."""
    user = current_user._get_current_object()
    actions.sign_out_everywhere(user)
    login_user(user)  # this browser carries on with the new session token
    flash("Every other device has been signed out.", "success")
    return redirect(url_for("accounts.password"))


@bp.route("/settings/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            actions.change_password(current_user, form.current_password.data, form.new_password.data)
        except ActionError as err:
            apply_error(form, err)
        else:
            # The token changed, so this session must be issued again to survive.
            login_user(current_user._get_current_object())
            flash("Your password is changed. Other devices have been signed out.", "success")
            return redirect(url_for("accounts.profile"))
    status = 400 if form.errors else 200
    return render_template("accounts/password.html", form=form), status


@bp.route("/settings/data")
@login_required
def data():
    """Your data: everything the member wrote or set, on one page."""
    from ..files.base import describe_size
    from ..meetings.models import ANSWERS, VOTES

    return render_template("accounts/data.html", data=export.collect(current_user),
                           size=describe_size, active=_active_slugs(), vote_labels=VOTES,
                           rsvp_labels={**ANSWERS, "waitlisted": "On the waiting list"})


def _active_slugs() -> set[str]:
    """Circles the member is in now: only their threads and meetings are linked."""
    from ..circles.actions import my_circles

    return {circle.slug for circle, _ in my_circles(current_user)}


@bp.route("/settings/data.json")
@login_required
def data_json():
    """The same, as a JSON file to keep."""
    now = utcnow()
    body = _data_json(now, export.collect(current_user))
    name = f"alumni-circles-data-{now.date().isoformat()}.json"
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _data_json(now, data: dict) -> str:
    return json.dumps({"exported_at": now, **export.public(data)},
                      default=export.as_json, ensure_ascii=False, indent=2)


@bp.route("/settings/data.zip")
@login_required
def data_zip():
    """The same JSON and every file the member shared, as a zip streamed as it is made."""
    from ..files.storage import storage_for

    now = utcnow()
    data = export.collect(current_user)
    chunks = export.zip_chunks(_data_json(now, data).encode(), data["files"],
                               storage_for(current_app))
    name = f"alumni-circles-data-{now.date().isoformat()}.zip"
    return Response(chunks, mimetype="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/settings/delete", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@login_required
def delete_account():
    """Delete one's account, with one's password. Refused while the member is the
    only owner of a circle others are in, or the last site admin."""
    user = current_user._get_current_object()
    form = DeleteAccountForm()
    status = 200
    if form.validate_on_submit():
        try:
            actions.delete_account(user, form.password.data)
        except ActionError as err:
            apply_error(form, err)
            status = err.status
        else:
            session.clear()
            logout_user()
            return render_template("accounts/deleted.html")
    elif form.errors:
        status = 400
    blocking, alone = actions.circles_in_the_way(user)
    return render_template("accounts/delete.html", form=form, blocking=blocking, alone=alone,
                           last_admin=actions.is_last_site_admin(user)), status


def _reset_limit():
    return current_app.config["RESET_RATE_LIMIT"]


@bp.route("/auth/reset", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def reset_request():
    """Ask for a reset link. The answer is the same whether or not the address exists."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        actions.request_password_reset(form.email.data)
        return render_template("accounts/reset_sent.html", email=form.email.data)
    return render_template("accounts/reset_request.html", form=form), 400 if form.errors else 200


@bp.route("/auth/reset/<token>", methods=["GET", "POST"])
def reset_password(token):
    if actions.user_for_reset_token(token) is None:
        return render_template("accounts/reset_invalid.html"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = actions.reset_password(token, form.new_password.data)
        except ActionError as err:
            apply_error(form, err)
        else:
            sessions.start(user)
            flash("Your password is changed, and you are signed in. Other devices were signed out.",
                  "success")
            return redirect(url_for("main.dashboard"))
    return render_template("accounts/reset_password.html", form=form, token=token), \
        400 if form.errors else 200
