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
from . import actions, export, factors, passkey_views, second_step, security_log, sessions
from .forms import (
    ConfirmPasswordForm,
    DeleteAccountForm,
    LoginForm,
    PasswordForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
    ResetRequestForm,
    SecondStepForm,
    TotpConfirmForm,
)
from .recovery_page import recovery_codes_page

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
            if user.has_second_factor:
                second_step.refuse_if_locked(user)
        except ActionError as err:
            form.form_errors.append(err.message)
            status = err.status
        else:
            if not user.has_second_factor:
                sessions.start(user, remember=form.remember.data)
                return redirect(next_url)
            second_step.begin(user, remember=form.remember.data, next_url=next_url)
            if second_step.needed(user):
                return redirect(url_for("accounts.second_step_page"))
            second_step.finish(user)  # this browser is remembered
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
    from ..directory.actions import tags_of

    form = ProfileForm(obj=current_user)
    if request.method == "GET":
        form.tags.data = ", ".join(tags_of(current_user.id))
    if form.validate_on_submit():
        try:
            actions.update_profile(current_user, **form.profile_data())
        except ActionError as err:
            apply_error(form, err)
        else:
            flash("Your profile is saved.", "success")
            return redirect(url_for("accounts.profile"))
    status = 400 if form.errors else 200
    return render_template("accounts/profile.html", form=form, photo_error=None), status


@bp.post("/settings/sessions/end")
@login_required
def end_other_sessions():
    """Sign out every other browser and device (and their live connections)."""
    user = current_user._get_current_object()
    actions.sign_out_everywhere(user)
    login_user(user)  # this browser carries on with the new session token
    flash("Every other device has been signed out.", "success")
    return redirect(url_for("accounts.security"))


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
    chunks = export.zip_chunks(_data_json(now, data).encode(), data["files"] + data["profile_photo"],
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
            if user.has_second_factor:
                # A reset link proves the mailbox, not the second factor: it is still asked.
                second_step.begin(user, next_url=url_for("main.dashboard"))
                flash("Your password is changed. Other devices were signed out. To sign in, "
                      "enter a code.", "success")
                return redirect(url_for("accounts.second_step_page"))
            sessions.start(user)
            flash("Your password is changed, and you are signed in. Other devices were signed out.",
                  "success")
            return redirect(url_for("main.dashboard"))
    return render_template("accounts/reset_password.html", form=form, token=token), \
        400 if form.errors else 200


# --- The second sign-in step --------------------------------------------------------------

@bp.route("/auth/second-step", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def second_step_page():
    """The code after the password (accounts/second_step.py). Public: the browser isn't
    signed in yet, and this page is all the half-signed-in note opens."""
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    user = second_step.pending_user()
    if user is None:
        second_step.abandon()
        flash("That sign-in took too long, or was ended. Sign in again.", "info")
        return redirect(url_for("accounts.login"))
    form = SecondStepForm()
    status = 200
    if form.validate_on_submit():
        try:
            goto = second_step.verify(user, form.code.data, form.remember_browser.data)
        except ActionError as err:
            apply_error(form, err)
            status = err.status
        else:
            return redirect(goto)
    elif form.errors:
        status = 400
    response = current_app.make_response((render_template(
        "accounts/second_step.html", form=form, has_totp=factors.totp_of(user) is not None,
        has_passkey=factors.passkey_count(user) > 0), status))
    response.headers["Cache-Control"] = "no-store"
    return response


# --- Account security ----------------------------------------------------------------------

def _security_page(off_form=None, codes_form=None, status: int = 200):
    user = current_user._get_current_object()
    totp = factors.totp_of(user)
    passkeys = factors.passkey_count(user)
    return render_template(
        "accounts/security.html", totp=totp if totp and totp.confirmed_at else None,
        passkeys=passkeys, passkeys_url=url_for("accounts.passkeys.index"),
        codes_left=factors.recovery_codes_left(user) if user.has_second_factor else 0,
        sign_ins=security_log.recent_sign_ins(user), browser_of=security_log.browser_of,
        off_form=off_form or ConfirmPasswordForm(prefix="off"),
        codes_form=codes_form or ConfirmPasswordForm(prefix="codes")), status


@bp.route("/settings/security")
@login_required
def security():
    """Second factors, recovery codes, recent sign-ins, signing out other devices."""
    return _security_page()


@bp.post("/settings/security/authenticator/new")
@login_required
def totp_new():
    """Make a secret to set up (a GET writes nothing, so this is a POST)."""
    try:
        factors.start_totp(current_user._get_current_object())
    except ActionError as err:
        flash(err.message, "error")
        return redirect(url_for("accounts.security"))
    return redirect(url_for("accounts.totp_setup"))


@bp.route("/settings/security/authenticator", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@login_required
def totp_setup():
    """The QR code and the secret as text; a code from the app turns it on."""
    user = current_user._get_current_object()
    factor = factors.pending_totp(user)
    if factor is None:
        flash("Start the set-up from here.", "info")
        return redirect(url_for("accounts.security"))
    form = TotpConfirmForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = factors.confirm_totp(user, form.password.data, form.code.data)
        except ActionError as err:
            apply_error(form, err)
            status = err.status
        else:
            flash("Your authenticator app is on. Keep these recovery codes somewhere safe.",
                  "success")
            return recovery_codes_page(codes)
    elif form.errors:
        status = 400
    return render_template("accounts/security_totp.html", form=form, secret=factor.secret,
                           qr=factors.setup_qr(user, factor)), status


@bp.post("/settings/security/authenticator/off")
@limiter.limit(_login_limit)
@login_required
def totp_off():
    form = ConfirmPasswordForm(prefix="off")
    if form.validate_on_submit():
        try:
            factors.disable_totp(current_user._get_current_object(), form.password.data)
        except ActionError as err:
            apply_error(form, err)
            return _security_page(off_form=form, status=err.status)
        flash("Your authenticator app is off.", "success")
        return redirect(url_for("accounts.security"))
    return _security_page(off_form=form, status=400)


@bp.post("/settings/security/recovery-codes")
@limiter.limit(_login_limit)
@login_required
def recovery_codes():
    """A new set of ten, shown once; the old set stops working."""
    form = ConfirmPasswordForm(prefix="codes")
    if form.validate_on_submit():
        try:
            codes = factors.regenerate_recovery_codes(current_user._get_current_object(),
                                                      form.password.data)
        except ActionError as err:
            apply_error(form, err)
            return _security_page(codes_form=form, status=err.status)
        flash("Here are your new recovery codes. The old ones no longer work.", "success")
        return recovery_codes_page(codes)
    return _security_page(codes_form=form, status=400)
