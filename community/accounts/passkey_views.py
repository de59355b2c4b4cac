"""Passkeys: the settings page (/settings/security/passkeys) and signing in with one
(/auth/passkey/...). A blueprint inside accounts' (endpoints `accounts.passkeys.*`).

The browser's part is static/js/passkeys.js: it asks an `options` route for the
ceremony's options (JSON), runs navigator.credentials.create() or .get(), puts
the answer in the form's hidden `credential` field and submits the form, so the
answer is an ordinary page. Without JavaScript the form arrives with no
credential and the page says passkeys need it.
"""
from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from ..errors import ActionError
from ..extensions import db, limiter
from ..urls import safe_next
from . import second_step, sessions
from .recovery_page import recovery_codes_page


def _passkeys():
    """accounts/passkeys.py, imported on a passkey route's first use: the
    WebAuthn library and the pydantic it brings are 20 MB of a worker's memory
    (bench: its budget is 150 MB), and most workers never see a passkey."""
    from . import passkeys

    return passkeys

bp = Blueprint("passkeys", __name__)


def _login_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _refused(err: ActionError):
    """An options route's refusal, as JSON the script shows."""
    return jsonify(ok=False, error=err.code, message=err.message), err.status


def _options(make):
    try:
        body = make()
    except ActionError as err:
        return _refused(err)
    return current_app.response_class(body, mimetype="application/json")


# --- Settings ---------------------------------------------------------------------------------

def _page(status: int = 200, error: ActionError | None = None, rename_error=None):
    user = current_user._get_current_object()
    passkeys = _passkeys()
    keys = passkeys.list_passkeys(user)
    rp_id, _ = passkeys.relying_party()
    last = {key.id for key in keys if passkeys.is_last_factor(user, key)} if len(keys) == 1 else set()
    return render_template("accounts/passkeys.html", passkeys=keys, last=last, error=error,
                           rename_error=rename_error, ip_host=_is_ip(rp_id),
                           max_passkeys=passkeys.MAX_PASSKEYS, name_max=passkeys.NAME_MAX), status


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@bp.get("/settings/security/passkeys")
def index():
    """The person's passkeys: add one with a name, rename, remove."""
    return _page()


@bp.post("/settings/security/passkeys/options")
@limiter.limit(_login_limit)
def registration_options():
    """Check the name and password, and answer with navigator.credentials.create()'s options."""
    user = current_user._get_current_object()
    return _options(lambda: _passkeys().registration_options(user, request.form.get("name"),
                                                          request.form.get("password")))


@bp.post("/settings/security/passkeys")
def add():
    """Keep the passkey the browser made for the options above."""
    try:
        passkey, codes = _passkeys().add_passkey(current_user._get_current_object(),
                                              request.form.get("credential"))
    except ActionError as err:
        return _page(err.status, error=err)
    flash(f"Your passkey “{passkey.name}” is added. You can sign in with it.", "success")
    if codes:  # the first second factor: its recovery codes, shown this once
        return recovery_codes_page(codes)
    return redirect(url_for(".index"))


@bp.post("/settings/security/passkeys/<int:passkey_id>/rename")
def rename(passkey_id):
    try:
        _passkeys().rename_passkey(current_user._get_current_object(), passkey_id,
                                request.form.get("name"))
    except ActionError as err:
        db.session.rollback()
        return _page(err.status, rename_error=(passkey_id, err))
    flash("The passkey is renamed.", "success")
    return redirect(url_for(".index"))


@bp.post("/settings/security/passkeys/<int:passkey_id>/remove")
def remove(passkey_id):
    """Remove a passkey (the page asked first; the last factor's question says what it costs)."""
    user = current_user._get_current_object()
    passkey = _passkeys().remove_passkey(user, passkey_id)
    if user.has_second_factor:
        flash(f"The passkey “{passkey.name}” is removed.", "success")
    else:
        flash(f"The passkey “{passkey.name}” is removed. You have no second factor now: circles "
              "that require one are closed to you until you add one.", "info")
    return redirect(url_for(".index"))


# --- Signing in -------------------------------------------------------------------------------

@bp.post("/auth/passkey/options")
@limiter.limit(_login_limit)
def sign_in_options():
    """navigator.credentials.get()'s options for a password-less sign-in."""
    return _options(_passkeys().sign_in_options)


@bp.post("/auth/passkey/sign-in")
@limiter.limit(_login_limit)
def sign_in():
    """Sign in with a discoverable passkey and user verification: both factors at once
    (community/accounts/passkeys.py says why that is sound)."""
    next_url = safe_next(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url)
    try:
        user = _passkeys().sign_in_with_passkey(request.form.get("credential"))
    except ActionError as err:
        return _login_page(err, next_url)
    sessions.start(user)
    return redirect(next_url)


def _login_page(err: ActionError, next_url: str):
    from .forms import LoginForm

    form = LoginForm(formdata=None)
    form.form_errors.append(err.message)
    return render_template("accounts/login.html", form=form, next=next_url), err.status


def _no_second_step():
    second_step.abandon()
    flash("That sign-in took too long, or was ended. Sign in again.", "info")
    return redirect(url_for("accounts.login"))


@bp.post("/auth/passkey/second-step/options")
@limiter.limit(_login_limit)
def second_step_options():
    """navigator.credentials.get()'s options for the half-signed-in account's passkeys."""
    user = second_step.pending_user()
    if user is None:
        return _refused(ActionError("Sign in with your email and password first.", code="signed_out"))
    return _options(lambda: _passkeys().second_step_options(user))


@bp.post("/auth/passkey/second-step", endpoint="second_step")
@limiter.limit(_login_limit)
def finish_second_step():
    """The second step with a passkey: on success the account is signed in."""
    user = second_step.pending_user()
    if user is None:
        return _no_second_step()
    try:
        second_step.refuse_if_locked(user)
        _passkeys().verify_second_factor(user, request.form.get("credential"))
    except ActionError as err:
        if err.code != "locked":
            second_step.record_failure(user)  # counted with wrong codes, towards the same lockout
        flash(err.message, "error")
        return redirect(url_for("accounts.second_step_page"), code=303)
    goto = second_step.next_url()
    second_step.finish(user)
    return redirect(goto)
