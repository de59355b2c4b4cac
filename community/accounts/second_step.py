"""The second sign-in step: after the password, before the person is signed in.

A correct password for an account with a second factor puts only a note in
the Flask session ("this account passed its password at this time"), nothing
Flask-Login reads: the browser is still signed out, so every private page,
POST and socket turns it away exactly as before (security.require_sign_in,
the sockets' is_authenticated). The note:

- expires after five minutes (MAX_AGE), and dies with the account's session
  token (password changed or reset, signed out everywhere, suspended);
- allows the same number of wrong codes as wrong passwords, counted in the
  sign-in throttle under a key of the account's id (not the address typed:
  signing in again with the password must not reset the count); while that
  count is locked, the password step answers with its own lockout message,
  word for word, so the lock says nothing about whether the password was right.

"Remember this browser for 30 days" is a signed cookie naming the account and a
fingerprint of its session token and of when its second factor came on:
signing out everywhere, changing or resetting the password, and a reset of the
factor all change one of them, which revokes every such cookie at once.
"""
import hashlib
import time

from flask import after_this_request, current_app, request, session
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..errors import ActionError, TooManyAttempts
from ..extensions import db
from ..timeutil import utcnow
from . import factors, security_log, sessions
from .actions import _record_failure, _throttle_for
from .models import User

KEY = "second_step"
MAX_AGE = 5 * 60  # seconds from the password to the code
REMEMBER_COOKIE = "remembered_browser"
REMEMBER_DAYS = 30
WRONG_CODE = "That code didn't work. Check it and try again, or use a recovery code."


def throttle_key(user: User) -> str:
    """The throttle's row for this account's second step: no address, nothing to reveal."""
    return f"second-step:{user.id}"


def _locked_message(user: User) -> str | None:
    """The password lockout's own words when the second step is locked, else None."""
    throttle = _throttle_for(throttle_key(user))
    now = utcnow()
    if throttle is None or not throttle.locked_until or throttle.locked_until <= now:
        return None
    minutes = max(1, int((throttle.locked_until - now).total_seconds() // 60) + 1)
    return f"Too many failed sign-ins for this account. Try again in {minutes} minutes."


def refuse_if_locked(user: User) -> None:
    """:raise TooManyAttempts: too many wrong codes lately (said as for passwords)."""
    message = _locked_message(user)
    if message:
        security_log.record("second_step_locked", user=user)
        db.session.commit()
        raise TooManyAttempts(message, code="locked")


# --- The half-signed-in note --------------------------------------------------------------

def begin(user: User, remember: bool = False, next_url: str = "/") -> None:
    """Note that the password was right, in a renewed session (nothing from before it
    survives), and that the person is not signed in yet."""
    session.clear()
    session[KEY] = {"u": user.id, "t": user.session_token, "at": int(time.time()),
                    "r": bool(remember), "n": next_url}


def pending_user() -> User | None:
    """The account half signed in on this browser, if the note is fresh and still good."""
    note = session.get(KEY)
    if not isinstance(note, dict) or not isinstance(note.get("u"), int):
        return None
    if not isinstance(note.get("at"), int) or time.time() - note["at"] > MAX_AGE:
        return None
    user = db.session.get(User, note["u"])
    if user is None or not user.is_active or user.session_token != note.get("t"):
        return None
    return user


def next_url() -> str:
    note = session.get(KEY)
    return (note.get("n") or "/") if isinstance(note, dict) else "/"


def abandon() -> None:
    session.pop(KEY, None)


def verify(user: User, code: str, remember_browser: bool = False) -> str:
    """Check the second step's code; on success sign the person in on this browser.
    Returns where to go next.

    :raise TooManyAttempts: too many wrong codes lately.
    :raise ActionError: the code is wrong (one message for every kind of wrong).
    """
    refuse_if_locked(user)
    if factors.check_second_factor(user, code) is None:
        record_failure(user)
        raise ActionError(WRONG_CODE, field="code", code="bad_code")
    goto = next_url()
    finish(user, remember_browser=remember_browser)
    return goto


def record_failure(user: User) -> None:
    """A wrong code (or passkey assertion): logged and counted towards the lockout."""
    db.session.rollback()
    security_log.record("second_step_failed", user=user)
    _record_failure(throttle_key(user), utcnow())  # commits


def finish(user: User, remember_browser: bool = False) -> None:
    """Sign the person in (their second step passed, or this browser is remembered):
    the sign-in is logged, the wrong-code count forgotten."""
    note = session.get(KEY)
    keep_signed_in = bool(note.get("r")) if isinstance(note, dict) else False
    throttle = _throttle_for(throttle_key(user))
    if throttle is not None:
        db.session.delete(throttle)
    security_log.record("sign_in", user=user)
    db.session.commit()
    sessions.start(user, remember=keep_signed_in)
    if remember_browser:
        remember_this_browser(user)


def needed(user: User) -> bool:
    """Whether signing in takes a second step on this browser."""
    return user.has_second_factor and not browser_remembered(user)


# --- Remember this browser ----------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="second-step-remember")


def _fingerprint(user: User) -> str:
    since = user.second_factor_at.isoformat() if user.second_factor_at else ""
    return hashlib.sha256(f"{user.session_token}|{since}".encode()).hexdigest()[:24]


def browser_remembered(user: User) -> bool:
    """Whether this browser carries a good "remember this browser" cookie for the user."""
    raw = request.cookies.get(REMEMBER_COOKIE)
    if not raw:
        return False
    try:
        data = _serializer().loads(raw, max_age=REMEMBER_DAYS * 86400)
    except (BadSignature, SignatureExpired):
        return False
    return isinstance(data, dict) and data.get("u") == user.id and data.get("f") == _fingerprint(user)


def remember_this_browser(user: User) -> None:
    """Set the cookie on this request's response."""
    value = _serializer().dumps({"u": user.id, "f": _fingerprint(user)})
    config = current_app.config

    @after_this_request
    def _set(response):
        response.set_cookie(REMEMBER_COOKIE, value, max_age=REMEMBER_DAYS * 86400,
                            httponly=True, secure=bool(config.get("SESSION_COOKIE_SECURE")),
                            samesite="Lax", path="/")
        return response
