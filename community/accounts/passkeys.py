"""Passkeys (WebAuthn, with py_webauthn): add and name them, rename, remove, and
sign in with one.

The relying party is the site itself: its id is SITE_URL's host name and the
only origin accepted is SITE_URL's scheme://host[:port], so an assertion made
for another site (a phishing look-alike) never verifies here. Browsers refuse
an IP address as the id: serve on a name (`localhost` counts) to use passkeys.

Each ceremony's challenge is kept in the Flask session with its purpose, the
account it is for and when it was issued; it is taken out when used and
refused after CHALLENGE_SECONDS. The session is a signed cookie, so a copy of
an old cookie would bring its challenge back: an assertion is therefore also
refused when its passkey was used after the challenge was issued (one
conditional UPDATE, so two requests racing with the same assertion cannot
both win). Together with the signature counter, an assertion counts once.

Password-less sign-in (a first factor) is offered, and judged sound, because
the passkey must be discoverable (the authenticator names the account) and the
authenticator must verify the person (PIN or biometric, the UV flag, required
here): the private key never leaves the device (something you have) and the
device unlocked it only for its owner (something you know or are). That is a
multi-factor authenticator in NIST SP 800-63B's terms (AAL2 and up), so it
stands for the password and the second step together, and a circle that
requires two-factor sign-in is satisfied. As the second step after a password,
user verification is only preferred: the password was the first factor.

Adding a passkey asks for the account's password again: a passkey signs in on
its own, so a hijacked session must not be able to plant one.
"""
import json
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app, session
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..errors import ActionError, NotFound
from ..extensions import db
from ..text import clean_text
from ..timeutil import utcnow
from . import security_log
from .factor_models import Passkey, TotpFactor
from .factors import new_recovery_codes, require_password, sync_second_factor
from .models import User

CHALLENGE_KEY = "passkey_challenge"
CHALLENGE_SECONDS = 300  # the browser's own timeout below is shorter
BROWSER_TIMEOUT_MS = 120_000
MAX_PASSKEYS = 20
MAX_CREDENTIAL_JSON = 20_000  # characters: a real assertion is well under 2,000
NAME_MAX = 60
RP_NAME = "Alumni Circles"

# One message for every refusal of an assertion (unknown passkey, another
# account's, bad signature, wrong site), so a refusal tells an attacker nothing.
NOT_ACCEPTED = "That passkey wasn't accepted. Try again, or use another way to sign in."
EXPIRED = "That passkey request has expired or was already used. Try again."
CLONED = ("This passkey's use counter went backwards, which can mean the passkey was copied. "
          "It was not accepted. If you trust the device, remove the passkey and add it again.")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- The relying party, challenges --------------------------------------------------------

def relying_party() -> tuple[str, str]:
    """(RP id, origin) from SITE_URL: its host name, and scheme://host[:port]."""
    from urllib.parse import urlsplit

    url = urlsplit(current_app.config["SITE_URL"])
    return url.hostname or "localhost", f"{url.scheme}://{url.netloc}"


def user_handle(user: User) -> bytes:
    """The opaque id the authenticator keeps for the account (WebAuthn's user.id):
    random, made with the first passkey (the caller commits), so neither the email
    nor the row id, which an authenticator may show or sync, nor a secret of ours
    that may change."""
    if user.passkey_handle is None:
        user.passkey_handle = bytes_to_base64url(secrets.token_bytes(32))
    return base64url_to_bytes(user.passkey_handle)


def _micros(moment: datetime) -> int:
    """A time as whole microseconds since 1970: exact, unlike a float, and JSON-safe."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _remember(purpose: str, challenge: bytes, user: User | None, **extra) -> None:
    """Keep this ceremony's challenge in the session (one at a time: a new one replaces it)."""
    session[CHALLENGE_KEY] = {"purpose": purpose, "challenge": bytes_to_base64url(challenge),
                              "user": user.id if user else None, "issued": _micros(utcnow()),
                              **extra}


def _take(purpose: str, user: User | None) -> dict:
    """The session's challenge for this purpose and account, taken out so it is used once.

    :raise ActionError: none, another purpose's, another account's, or too old.
    """
    state = session.pop(CHALLENGE_KEY, None)
    if (not isinstance(state, dict) or state.get("purpose") != purpose
            or state.get("user") != (user.id if user else None)
            or not isinstance(state.get("issued"), int)
            or _micros(utcnow()) - state["issued"] > CHALLENGE_SECONDS * 1_000_000):
        raise ActionError(EXPIRED, code="expired")
    return state


def _credential(raw) -> dict:
    """The browser's credential (PublicKeyCredential.toJSON() shape), parsed only as far
    as JSON; py_webauthn checks the rest.

    :raise ActionError: missing, too big, or not a JSON object with a string id.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise ActionError("Your browser sent no passkey. Passkeys need JavaScript and a browser "
                          "that supports them.", code="no_credential")
    if len(raw) > MAX_CREDENTIAL_JSON:
        raise ActionError(NOT_ACCEPTED, code="not_accepted")
    try:
        data = json.loads(raw)
    except ValueError:
        raise ActionError(NOT_ACCEPTED, code="not_accepted") from None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) \
            or not 0 < len(data["id"]) <= 1400:
        raise ActionError(NOT_ACCEPTED, code="not_accepted")
    return data


# py_webauthn raises its own errors for what it checks, and ValueError/TypeError
# (bad base64, CBOR of the wrong shape) for some hostile input before it.
_BAD_RESPONSE = (WebAuthnException, ValueError, TypeError, KeyError, IndexError)


def _transports(passkey: Passkey) -> list[AuthenticatorTransport]:
    known = {t.value for t in AuthenticatorTransport}
    return [AuthenticatorTransport(t) for t in passkey.transports.split(",") if t in known]


def _descriptors(passkeys) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id),
                                          transports=_transports(p) or None) for p in passkeys]


# --- Second factor bookkeeping --------------------------------------------------------------

# --- Adding, listing, renaming, removing --------------------------------------------------

def list_passkeys(user: User) -> list[Passkey]:
    return list(db.session.scalars(
        select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.created_at, Passkey.id)))


def _clean_name(name) -> str:
    return clean_text(name, field="name", label="A name for the passkey", max_len=NAME_MAX,
                      required=True)


def registration_options(user: User, name, password) -> str:
    """Start adding a passkey: check the password again, and return the options for
    navigator.credentials.create() as JSON.

    :raise ActionError: the name is missing or too long, the password is wrong, or the
        account has MAX_PASSKEYS already.
    """
    name = _clean_name(name)
    require_password(user, password)
    existing = list_passkeys(user)
    if len(existing) >= MAX_PASSKEYS:
        raise ActionError(f"You have {MAX_PASSKEYS} passkeys, the most an account can have. "
                          "Remove one you no longer use first.", code="too_many")
    rp_id, _ = relying_party()
    options = generate_registration_options(
        rp_id=rp_id, rp_name=RP_NAME, user_id=user_handle(user), user_name=user.email,
        user_display_name=user.display_name, timeout=BROWSER_TIMEOUT_MS,
        # Discoverable, so it can sign in without the email typed; verification preferred
        # here and required when it signs in on its own (authentication below).
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED),
        # The same authenticator twice would only replace its own copy of the key.
        exclude_credentials=_descriptors(existing))
    _remember("register", options.challenge, user, name=name)
    db.session.commit()  # the account's handle, if this made it
    return options_to_json(options)


def add_passkey(user: User, raw_credential) -> tuple[Passkey, list[str]]:
    """Finish adding a passkey with the browser's answer to the options above.
    Returns it, and the ten recovery codes made with it when it is the person's
    first second factor (to be shown once), else no codes.

    :raise ActionError: no options were asked for (or they expired), the answer is not
        valid for this site and challenge, or the passkey is already registered.
    """
    state = _take("register", user)
    data = _credential(raw_credential)
    rp_id, origin = relying_party()
    try:
        verified = verify_registration_response(
            credential=data, expected_challenge=base64url_to_bytes(state["challenge"]),
            expected_rp_id=rp_id, expected_origin=origin)
    except _BAD_RESPONSE:
        raise ActionError("The passkey couldn't be added: your browser's answer didn't check "
                          "out. Try again.", code="not_accepted") from None
    transports = (data.get("response") or {}).get("transports") or []
    known = {t.value for t in AuthenticatorTransport}
    passkey = Passkey(user_id=user.id, name=state["name"],
                      credential_id=bytes_to_base64url(verified.credential_id),
                      public_key=verified.credential_public_key, sign_count=verified.sign_count,
                      transports=",".join(t for t in transports if t in known)[:200])
    db.session.add(passkey)
    first = not user.has_second_factor
    sync_second_factor(user)
    codes = new_recovery_codes(user) if first else []
    security_log.record_and_tell("passkey_added", user, name=passkey.name)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ActionError("That passkey is already registered.", code="duplicate") from None
    return passkey, codes


def access_passkey(user: User, passkey_id: int) -> Passkey:
    """One of the person's own passkeys.

    :raise NotFound: no such passkey, or someone else's (the same answer for both).
    """
    passkey = db.session.get(Passkey, passkey_id)
    if passkey is None or passkey.user_id != user.id:
        raise NotFound()
    return passkey


def rename_passkey(user: User, passkey_id: int, name) -> Passkey:
    """Give one of one's passkeys a new name.

    :raise NotFound: not one of theirs.
    :raise ActionError: the name is missing or too long.
    """
    passkey = access_passkey(user, passkey_id)
    new_name = _clean_name(name)
    if new_name != passkey.name:
        security_log.record_and_tell("passkey_renamed", user, name=f"{passkey.name} → {new_name}")
        passkey.name = new_name
    db.session.commit()
    return passkey


def is_last_factor(user: User, passkey: Passkey) -> bool:
    """Whether removing this passkey leaves the person with no second factor."""
    others = db.session.scalar(select(func.count()).select_from(Passkey).where(
        Passkey.user_id == user.id, Passkey.id != passkey.id))
    totp = db.session.scalar(select(TotpFactor.user_id).where(
        TotpFactor.user_id == user.id, TotpFactor.confirmed_at.is_not(None)))
    return not others and totp is None


def remove_passkey(user: User, passkey_id: int) -> Passkey:
    """Remove one of one's passkeys. The last factor may go too: the person then has
    no second factor, and circles that require one close to them until they add one.

    :raise NotFound: not one of theirs.
    """
    passkey = access_passkey(user, passkey_id)
    db.session.delete(passkey)
    sync_second_factor(user)
    security_log.record_and_tell("passkey_removed", user, name=passkey.name)
    db.session.commit()
    return passkey


# --- Signing in -------------------------------------------------------------------------------

def sign_in_options() -> str:
    """Options for a password-less sign-in: any of the site's discoverable passkeys,
    with the person verified by the authenticator."""
    rp_id, _ = relying_party()
    options = generate_authentication_options(
        rp_id=rp_id, timeout=BROWSER_TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED)
    _remember("sign_in", options.challenge, None)
    return options_to_json(options)


def second_step_options(user: User) -> str:
    """Options for the second step after the password: one of this account's passkeys."""
    rp_id, _ = relying_party()
    options = generate_authentication_options(
        rp_id=rp_id, timeout=BROWSER_TIMEOUT_MS, allow_credentials=_descriptors(list_passkeys(user)),
        user_verification=UserVerificationRequirement.PREFERRED)
    _remember("second_step", options.challenge, user)
    return options_to_json(options)


def sign_in_with_passkey(raw_credential) -> User:
    """Password-less sign-in: the account whose discoverable passkey answered, verified.

    :raise ActionError: expired or reused challenge, unknown passkey, bad signature,
        no user verification, wrong site, a suspended account, or a copied passkey.
    """
    state = _take("sign_in", None)
    data = _credential(raw_credential)
    passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == data["id"]))
    if passkey is None:
        security_log.record("sign_in_failed")
        db.session.commit()
        raise ActionError(NOT_ACCEPTED, code="not_accepted")
    user = db.session.get(User, passkey.user_id)
    handle = (data.get("response") or {}).get("userHandle")
    # The spec's check for a sign-in that named no account first: the handle the
    # authenticator keeps must be the owner's. (Not signed, so a check of our own rows.)
    if not isinstance(handle, str) or handle != user.passkey_handle \
            or not user.is_active:
        security_log.record("sign_in_failed", user=user)
        db.session.commit()
        raise ActionError(NOT_ACCEPTED, code="not_accepted")
    try:
        _verify_assertion(user, passkey, data, state, require_user_verification=True)
    except ActionError:
        security_log.record("sign_in_failed", user=user)  # in the person's recent sign-ins
        db.session.commit()
        raise
    security_log.record("sign_in", user=user)
    db.session.commit()
    return user


def verify_second_factor(user: User, raw_credential) -> Passkey:
    """The second step after the password: one of this account's passkeys answered the
    challenge given to this account. The caller (the second step) counts a refusal as a
    failed attempt.

    :raise ActionError: expired or reused challenge, another account's or an unknown
        passkey, a bad signature, the wrong site, or a copied passkey.
    """
    state = _take("second_step", user)
    data = _credential(raw_credential)
    passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == data["id"],
                                                      Passkey.user_id == user.id))
    if passkey is None:
        raise ActionError(NOT_ACCEPTED, code="not_accepted")
    _verify_assertion(user, passkey, data, state, require_user_verification=False)
    db.session.commit()
    return passkey


def _verify_assertion(user: User, passkey: Passkey, data: dict, state: dict,
                      require_user_verification: bool) -> None:
    """Check the signature, site, challenge and counter, then mark the passkey used,
    once only (see the module's docstring).

    :raise ActionError: any of those fails; a counter that went backwards on a good
        signature is logged as a possible copy.
    """
    rp_id, origin = relying_party()
    check = dict(credential=data, expected_challenge=base64url_to_bytes(state["challenge"]),
                 expected_rp_id=rp_id, expected_origin=origin,
                 credential_public_key=passkey.public_key,
                 require_user_verification=require_user_verification)
    try:
        verified = verify_authentication_response(
            **check, credential_current_sign_count=passkey.sign_count)
    except _BAD_RESPONSE as err:
        if passkey.sign_count and "sign count" in str(err) and _genuine(check):
            security_log.record("passkey_clone_suspected", user=user)
            db.session.commit()
            raise ActionError(CLONED, code="cloned") from None
        raise ActionError(NOT_ACCEPTED, code="not_accepted") from None
    used = db.session.execute(
        update(Passkey)
        .where(Passkey.id == passkey.id,
               or_(Passkey.last_used_at.is_(None),
                   Passkey.last_used_at < _from_micros(state["issued"])))
        .values(sign_count=verified.new_sign_count, last_used_at=utcnow())
        .execution_options(synchronize_session=False))
    if used.rowcount != 1:
        db.session.rollback()
        raise ActionError(EXPIRED, code="expired")
    db.session.expire(passkey)


def _genuine(check: dict) -> bool:
    """Whether the assertion is signed by the passkey, leaving the counter aside: only
    then is a counter gone backwards a sign of a copy rather than of a forgery."""
    try:
        verify_authentication_response(**check, credential_current_sign_count=0)
    except _BAD_RESPONSE:
        return False
    return True


def _from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)
