"""Second factors: an authenticator app (TOTP) and one-time recovery codes.

Turning one on or off asks for the password again: a session left open on a
shared computer must not be enough to lock its owner out (a factor they don't
hold) or to take the factor away. Every change is in the security log and the
person is told by email (security_log.record_and_tell).

Passkeys live in accounts/passkeys.py; both kinds call `sync_second_factor`,
the one place that keeps `User.second_factor_at` in step with the rows.
"""
import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from markupsafe import Markup
from sqlalchemy import delete, exists, func, or_, select, update

from ..after_commit import after_commit
from ..errors import ActionError, Conflict
from ..extensions import db
from ..signals import second_factor_removed
from ..timeutil import utcnow
from . import security_log
from .actions import password_matches
from .factor_models import Passkey, RecoveryCode, TotpFactor
from .models import User

ISSUER = "Alumni Circles"
DRIFT_STEPS = 1  # a code from the step before or after is accepted (a phone's clock drifts)
RECOVERY_CODES = 10
# 16 characters from 31 that can't be mistaken for one another (no 0/o, 1/l/i):
# about 79 bits, too many to guess even offline from a stolen hash, so a plain
# SHA-256 (fast to check, ten at a time) is enough.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_LENGTH = 16
WRONG_CODE = "That code isn't right, or it has been used already. Try the next one your app shows."


def require_password(user: User, password: str) -> None:
    """Ask for the password again before a change to how one signs in.

    :raise ActionError: the password is wrong."""
    if not password_matches(user.password_hash, password):
        raise ActionError("That password isn't right.", field="password", code="bad_password")


# --- Keeping users.second_factor_at in step --------------------------------------------

def sync_second_factor(user: User) -> None:
    """Set `second_factor_at` when the first factor comes on, clear it when the last goes
    (in the caller's transaction). Recovery codes go with the last factor: they stand
    in for a lost factor, and are no second factor by themselves."""
    has_totp = select(TotpFactor.user_id).where(TotpFactor.user_id == user.id,
                                                TotpFactor.confirmed_at.is_not(None))
    has_passkey = select(Passkey.id).where(Passkey.user_id == user.id)
    has_one = db.session.scalar(select(or_(exists(has_totp), exists(has_passkey))))
    if has_one and user.second_factor_at is None:
        user.second_factor_at = utcnow()
    elif not has_one and user.second_factor_at is not None:
        user.second_factor_at = None
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        # Once committed, live chat in circles that require a factor ends at once.
        after_commit(lambda: second_factor_removed.send(user))


def passkey_count(user: User) -> int:
    return db.session.scalar(select(func.count(Passkey.id)).where(Passkey.user_id == user.id))


# --- Authenticator app -------------------------------------------------------------------

def totp_of(user: User) -> TotpFactor | None:
    return db.session.get(TotpFactor, user.id)


def start_totp(user: User) -> TotpFactor:
    """Make a new secret to show for set-up (replacing one shown before and never confirmed).

    :raise Conflict: an authenticator app is already on.
    """
    factor = totp_of(user)
    if factor is not None and factor.confirmed_at is not None:
        raise Conflict("An authenticator app is already on. Turn it off first to use another.")
    if factor is None:
        factor = TotpFactor(user_id=user.id)
        db.session.add(factor)
    factor.secret = pyotp.random_base32()
    factor.created_at = utcnow()
    db.session.commit()
    return factor


def pending_totp(user: User) -> TotpFactor | None:
    """The secret being set up, shown and not yet confirmed."""
    factor = totp_of(user)
    return factor if factor is not None and factor.confirmed_at is None else None


def setup_uri(user: User, factor: TotpFactor) -> str:
    """The otpauth:// link the QR code carries."""
    return pyotp.TOTP(factor.secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def setup_qr(user: User, factor: TotpFactor) -> Markup:
    """The QR code as inline SVG, drawn here: the secret never goes to another service."""
    svg = segno.make(setup_uri(user, factor), error="m").svg_inline(
        scale=4, title="QR code for your authenticator app")
    return Markup(svg)  # nosec B704  # segno's own SVG of our own link, no user text but the email


def _clean_code(code: str) -> str:
    return "".join((code or "").split()).replace("-", "").lower()


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step (within the drift allowed) whose code this is, or None."""
    code = _clean_code(code)
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(int(now))
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _accept_step(user_id: int, step: int) -> bool:
    """Mark `step` used, if neither it nor a later one was: a code works once, even
    when two requests bring it at the same moment (one UPDATE decides)."""
    done = db.session.execute(
        update(TotpFactor)
        .where(TotpFactor.user_id == user_id,
               or_(TotpFactor.last_step.is_(None), TotpFactor.last_step < step))
        .values(last_step=step))
    return done.rowcount == 1


def confirm_totp(user: User, password: str, code: str, now: float | None = None) -> list[str]:
    """Turn the authenticator app on, once a code from it shows it was set up right.
    Returns the ten recovery codes made with it, to be shown once.

    :raise ActionError: the password or the code is wrong, or set-up was not started.
    """
    require_password(user, password)
    factor = pending_totp(user)
    if factor is None:
        raise ActionError("Start the set-up again: there is no authenticator app waiting to be "
                          "confirmed.", code="not_started")
    step = _matching_step(factor.secret, code, time.time() if now is None else now)
    if step is None:
        raise ActionError(WRONG_CODE, field="code", code="bad_code")
    factor.confirmed_at = utcnow()
    factor.last_step = step
    codes = new_recovery_codes(user)
    sync_second_factor(user)
    security_log.record_and_tell("totp_enabled", user)
    db.session.commit()
    return codes


def verify_totp(user: User, code: str, now: float | None = None) -> bool:
    """Whether `code` is a fresh code of the user's confirmed authenticator app; it is
    used up if so (in the caller's transaction)."""
    factor = totp_of(user)
    if factor is None or factor.confirmed_at is None:
        return False
    step = _matching_step(factor.secret, code, time.time() if now is None else now)
    return step is not None and _accept_step(user.id, step)


def disable_totp(user: User, password: str) -> None:
    """Turn the authenticator app off.

    :raise ActionError: the password is wrong, or no app is on.
    """
    require_password(user, password)
    factor = totp_of(user)
    if factor is None or factor.confirmed_at is None:
        raise ActionError("No authenticator app is on.", code="not_on")
    db.session.delete(factor)
    sync_second_factor(user)
    security_log.record_and_tell("totp_disabled", user)
    db.session.commit()


# --- Recovery codes ---------------------------------------------------------------------

def _hash_code(user_id: int, code: str) -> str:
    # The user's id is part of what is hashed: one person's code is nobody else's.
    return hashlib.sha256(f"{user_id}:{_clean_code(code)}".encode()).hexdigest()


def new_recovery_codes(user: User) -> list[str]:
    """Replace every recovery code with ten new ones (the caller commits); only
    their hashes are kept."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append("-".join(raw[i:i + 4] for i in range(0, RECOVERY_LENGTH, 4)))
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash_code(user.id, raw)))
    return codes


def regenerate_recovery_codes(user: User, password: str) -> list[str]:
    """A new set of ten; the old set stops working.

    :raise ActionError: the password is wrong, or the person has no second factor.
    """
    require_password(user, password)
    if not user.has_second_factor:
        raise ActionError("Turn on an authenticator app or add a passkey first: recovery codes "
                          "stand in for one of those.", code="no_factor")
    codes = new_recovery_codes(user)
    security_log.record_and_tell("recovery_codes_generated", user)
    db.session.commit()
    return codes


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(select(func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def use_recovery_code(user: User, code: str) -> bool:
    """Whether `code` is one of the user's unused recovery codes; it is used up if so,
    recorded, and the person told (in the caller's transaction)."""
    cleaned = _clean_code(code)
    if len(cleaned) != RECOVERY_LENGTH or not user.has_second_factor:
        return False
    # One UPDATE: a code brought twice at once is accepted once.
    done = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash_code(user.id, cleaned),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow()))
    if done.rowcount != 1:
        return False
    security_log.record_and_tell("recovery_code_used", user, left=recovery_codes_left(user))
    return True


def check_second_factor(user: User, code: str) -> str | None:
    """Which kind of code this is for the user ("totp" or "recovery"), used up, or None."""
    if verify_totp(user, code):
        return "totp"
    if use_recovery_code(user, code):
        return "recovery"
    return None
