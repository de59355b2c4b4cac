"""Every state change of accounts: register, sign in, profile, password."""
import hashlib
import re
import unicodedata
from datetime import timedelta
from functools import cache

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from ..circles.with_viewer import circle_read_with_user, keep_circle_rows
from ..database import begin_write
from ..errors import ActionError, Conflict, NotFound, TooManyAttempts
from ..extensions import db
from ..fast.prepared import Prepared, as_loaded, every_column_of, loaded_row
from ..header import header_count_columns, keep_header_counts, page_asked
from ..policy import access_account, with_circle_rows
from ..signals import browser_signed_out, sessions_ended
from ..text import clean_text
from ..timefmt import is_clock
from ..timeutil import DEFAULT_TIMEZONE, is_timezone, utcnow
from ..urls import path_for
from . import security_log
from .models import SECTORS, SignInThrottle, User, new_session_token

MIN_PASSWORD_LENGTH = 10
# One message for a wrong password and an unknown address, so neither is revealed.
BAD_CREDENTIALS = "That email and password don't match an account."


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def password_matches(password_hash: str, password) -> bool:
    """Whether `password` is the one hashed. Anything but text that UTF-8 can hold
    (None, half a surrogate pair from a hostile form) is simply not it, never a 500;
    it is still hashed, so a refusal takes as long either way."""
    if not isinstance(password, str):
        password = ""  # nosec B105  # nothing given: matches no hash
    try:
        password.encode()
    except UnicodeEncodeError:
        check_password_hash(password_hash, "")
        return False
    return check_password_hash(password_hash, password)


def _check_password_rules(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ActionError(
            f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )


def _clean_profile(fields: dict) -> dict:
    """Validate the profile fields shared by register and edit-profile."""
    clean = {
        "display_name": clean_text(fields.get("display_name"), field="display_name",
                                   label="The name people will see", max_len=80, required=True),
        "organisation": clean_text(fields.get("organisation"), field="organisation",
                                   label="Organisation", max_len=120),
        "job_title": clean_text(fields.get("job_title"), field="job_title", label="Job title",
                                max_len=120),
        "location": clean_text(fields.get("location"), field="location", label="Location",
                               max_len=120),
        "bio": clean_text(fields.get("bio"), field="bio", label="About you", max_len=2000,
                          multiline=True),
    }
    sector = fields.get("sector") or "public"
    if sector not in SECTORS:
        raise ActionError("Choose a sector from the list.", field="sector")
    zone = fields.get("timezone") or DEFAULT_TIMEZONE
    if not is_timezone(zone):
        raise ActionError("Choose a timezone from the list.", field="timezone")
    clean.update(sector=sector, timezone=zone)
    if fields.get("clock") is not None:  # kept as it is when not given
        if not is_clock(fields["clock"]):
            raise ActionError("Choose a 24-hour or a 12-hour clock.", field="clock")
        clean["clock"] = fields["clock"]
    return clean


def handle_base(display_name: str) -> str:
    """'Dr Aisha O'Neill' -> 'aisha_oneill' style handle stem (ASCII, <= 30 chars)."""
    ascii_name = unicodedata.normalize("NFKD", display_name).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_name.lower().replace("'", ""))
    return "_".join(words)[:30].strip("_") or "member"


def _unique_handle(display_name: str) -> str:
    base = handle_base(display_name)
    taken = set(db.session.scalars(
        select(User.handle).where(User.handle.like(f"{base}%"))
    ))
    if base not in taken:
        return base
    n = 2
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


def register_user(email: str, password: str, **profile) -> User:
    """Create an account.

    :raise ActionError: a field is invalid.
    :raise Conflict: the email address is already registered (in any case).
    """
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise ActionError("Enter a valid email address.", field="email")
    _check_password_rules(password)
    clean = _clean_profile(profile)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("An account with that email already exists. Sign in instead.", field="email")
    user = User(email=email, password_hash=hash_password(password),
                handle=_unique_handle(clean["display_name"]), **clean)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # Lost a race with another registration for the same address (or handle).
        db.session.rollback()
        raise Conflict("An account with that email already exists. Sign in instead.",
                       field="email") from None
    return user


def _throttle_for(email: str) -> SignInThrottle | None:
    return db.session.get(SignInThrottle, email)


def authenticate(email: str, password: str) -> User:
    """Check credentials, counting failures per address.

    :raise TooManyAttempts: too many recent failures for this address.
    :raise ActionError: wrong address or password (one message for both).
    """
    email = normalise_email(email)[:254]
    now = utcnow()
    throttle = _throttle_for(email)
    if throttle and throttle.locked_until and throttle.locked_until > now:
        minutes = max(1, int((throttle.locked_until - now).total_seconds() // 60) + 1)
        security_log.record("locked_out", email=email)
        db.session.commit()
        raise TooManyAttempts(
            f"Too many failed sign-ins for this account. Try again in {minutes} minutes.",
            code="locked",
        )
    user = db.session.scalar(select(User).where(User.email == email))
    password_hash = user.password_hash if user else _DUMMY_HASH.get()
    # Always hash, so an unknown address takes as long as a wrong password.
    ok = password_matches(password_hash, password)
    if not ok or user is None or not user.is_active:
        security_log.record("sign_in_failed", user=user, email=email)
        _record_failure(email, now)
        raise ActionError(BAD_CREDENTIALS, code="bad_credentials")
    if throttle:
        db.session.delete(throttle)
    # With a second factor the sign-in is whole only after it (accounts/second_step.py).
    security_log.record("password_accepted" if user.has_second_factor else "sign_in", user=user)
    db.session.commit()
    return user


def _record_failure(email: str, now) -> None:
    cfg = current_app.config
    window = timedelta(minutes=cfg["LOCKOUT_MINUTES"])
    throttle = _throttle_for(email)
    if throttle is None:
        throttle = SignInThrottle(email=email, failures=0, window_started_at=now)
        db.session.add(throttle)
    elif throttle.window_started_at < now - window:
        throttle.failures, throttle.window_started_at, throttle.locked_until = 0, now, None
    throttle.failures += 1
    if throttle.failures >= cfg["LOCKOUT_THRESHOLD"]:
        throttle.locked_until = now + window
    try:
        db.session.commit()
    except IntegrityError:
        # Two failures for a new address at once: the other one created the row.
        db.session.rollback()
        db.session.execute(
            SignInThrottle.__table__.update()
            .where(SignInThrottle.email == email)
            .values(failures=SignInThrottle.failures + 1)
        )
        db.session.commit()


class _DummyHash:
    """A hash of nothing, made lazily with the configured method."""

    def __init__(self):
        self._hash: dict[str, str] = {}

    def get(self) -> str:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        if method not in self._hash:
            self._hash[method] = generate_password_hash("not-a-password", method=method)
        return self._hash[method]


_DUMMY_HASH = _DummyHash()


def update_profile(user: User, **profile) -> User:
    """Edit one's own profile, and its directory settings when given (listed,
    open to contact, tags, each field's audience: directory/actions.py).

    :raise ActionError: a field is invalid; nothing is saved then.
    """
    from ..directory import actions as directory

    clean = _clean_profile(profile)
    settings = directory.clean_settings({k: v for k, v in profile.items() if k in directory.SETTINGS})
    begin_write()
    if clean["display_name"] != user.display_name:
        user.handle = _unique_handle(clean["display_name"])
    for key, value in clean.items():
        setattr(user, key, value)
    if settings:
        directory.apply_settings(user, settings)
    db.session.commit()
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Change one's password; every other session ends.

    :raise ActionError: the current password is wrong or the new one too short.
    """
    if not password_matches(user.password_hash, current):
        raise ActionError("Your current password is not right.", field="current_password")
    _check_password_rules(new)
    user.password_hash = hash_password(new)
    user.session_token = new_session_token()
    security_log.record_and_tell("password_changed", user)
    db.session.commit()
    sessions_ended.send(user)


def make_site_admin(email: str) -> User:
    """Grant site-admin rights to an existing account.

    :raise ActionError: no account has that address.
    """
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise ActionError(f"No account with the email {email!r}.")
    user.is_site_admin = True
    db.session.commit()
    return user


def load_session_user(session_id: str) -> User | None:
    """Flask-Login's loader: '<id>:<session token>' -> an active user, or None.

    On a page load it reads, in the same statement, the header's counts and,
    for a view in a circle that reads it as rows, the circle and the user's
    membership of it: each a statement fewer, each on PostgreSQL a round trip
    (bench/findings.md, 33 and 39)."""
    user_id, _, token = (session_id or "").partition(":")
    if not user_id.isdigit() or not token:
        return None
    with_counts, slug = page_asked(), circle_read_with_user()
    values = {"user_id": int(user_id)} if slug is None else {"user_id": int(user_id), "slug": slug}
    row = _user_row(with_counts, slug is not None).first(values)
    if row is None or not User.is_active.fget(row) or row.session_token != token:
        return None
    columns = len(loaded_row(User)._fields)
    if with_counts:
        keep_header_counts(*row[columns:columns + 2])
    if slug is not None:
        keep_circle_rows(row.id, slug, row[columns + 2 * with_counts:])
    return as_loaded(User, loaded_row(User)._make(row[:columns]))


@cache
def _user_row(with_counts: bool, with_circle: bool) -> Prepared:
    """A user by id (every signed-in request reads it), with the header's two
    counts and the circle a `slug` names (policy.with_circle_rows) if asked."""
    user_id = bindparam("user_id")
    query = every_column_of(User)
    if with_counts:
        query = query.add_columns(*header_count_columns(user_id))
    if with_circle:
        query = with_circle_rows(query)
    query = query.where(User.id == user_id)
    return Prepared(lambda: query)


def set_suspended(admin: User, user_id: int, suspended: bool) -> User:
    """Suspend or restore an account (site admins). Suspension ends its sessions.

    :raise Forbidden: the actor is not a site admin, or suspends themselves.
    :raise NotFound: no such account.
    """
    user = access_account(admin, user_id, "You can't suspend your own account.")
    ended = suspended and user.suspended_at is None
    if ended:
        user.suspended_at = utcnow()
        user.session_token = new_session_token()
        security_log.record("account_suspended", user=user)
    elif not suspended and user.suspended_at is not None:
        user.suspended_at = None
        security_log.record("account_restored", user=user)
    db.session.commit()
    if ended:
        sessions_ended.send(user)
    return user


# --- Password reset by email ---------------------------------------------------------

RESET_MAX_AGE = 3600  # seconds


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def _hash_tag(user: User) -> str:
    """A fingerprint of the current password hash: once the password changes,
    every reset link made before stops working (single use)."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def request_password_reset(email: str) -> None:
    """Email a reset link if an active account has this address; say nothing either way."""
    from ..notifications.mailer import queue_mail, site_url

    user = db.session.scalar(select(User).where(User.email == normalise_email(email)[:254]))
    if user is None or not user.is_active:
        return
    token = _reset_serializer().dumps({"u": user.id, "h": _hash_tag(user)})
    link = site_url(path_for("accounts.reset_password", token=token))
    queue_mail(user.email, "Reset your Alumni Circles password", "password_reset", user=user,
               link=link, settings_link=site_url(path_for("accounts.profile")))
    security_log.record("reset_requested", user=user)
    db.session.commit()


def user_for_reset_token(token: str) -> User | None:
    """The account a reset link is for, if the link is genuine, fresh and unused."""
    try:
        data = _reset_serializer().loads(token, max_age=RESET_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = db.session.get(User, data["u"])
    if user is None or not user.is_active or data.get("h") != _hash_tag(user):
        return None
    return user


def reset_password(token: str, new: str) -> User:
    """Set a new password from a reset link; every session of the account ends.

    :raise NotFound: the link is forged, expired or already used.
    :raise ActionError: the new password is too short.
    """
    user = user_for_reset_token(token)
    if user is None:
        raise NotFound()
    _check_password_rules(new)
    user.password_hash = hash_password(new)
    user.session_token = new_session_token()
    db.session.execute(SignInThrottle.__table__.delete().where(SignInThrottle.email == user.email))
    security_log.record("password_reset", user=user)
    db.session.commit()
    sessions_ended.send(user)
    return user


def sign_out_everywhere(user: User) -> None:
    """End every session of the account (the caller signs this browser in again)."""
    user.session_token = new_session_token()
    security_log.record_and_tell("signed_out_everywhere", user)
    db.session.commit()
    sessions_ended.send(user)


# --- Deleting one's account ------------------------------------------------------------

def circles_in_the_way(user: User, for_update: bool = False) -> tuple[list, list]:
    """(blocking, alone): circles the user is the only owner of while others are
    active members in them (they must hand over first), and circles the user is
    the only active member of (they go with the account)."""
    from ..circles.models import Circle
    from ..policy import active_circle_ids, active_count

    owned = active_circle_ids(user.id, role="owner")
    if for_update:
        # Memberships of these circles change one at a time (see access_circle).
        db.session.execute(select(Circle.id).where(Circle.id.in_(owned)).with_for_update())
    rows = db.session.execute(
        select(Circle, active_count(Circle.id, besides=user.id).label("others"),
               active_count(Circle.id, role="owner", besides=user.id).label("owners"))
        .where(Circle.id.in_(owned)).order_by(Circle.name)).all()
    blocking = [r.Circle for r in rows if r.others and not r.owners]
    alone = [r.Circle for r in rows if not r.others]
    return blocking, alone


def _names(circles) -> str:
    names = [c.name for c in circles]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def is_last_site_admin(user: User) -> bool:
    return user.is_site_admin and not db.session.scalar(select(func.count(User.id)).where(
        User.is_site_admin.is_(True), User.id != user.id, User.suspended_at.is_(None)))


def _refuse_if_in_the_way(user: User, for_update: bool = False) -> list:
    """The circles that go with the account, if nothing stops it from going.

    :raise Conflict: the only owner of a circle others are in, or the last site admin.
    """
    blocking, alone = circles_in_the_way(user, for_update=for_update)
    if blocking:
        db.session.rollback()
        raise Conflict(f"You are the only owner of {_names(blocking)}. Make another member an "
                       "owner there, or hand the circle over, then delete your account.",
                       code="sole_owner")
    if is_last_site_admin(user):
        db.session.rollback()
        raise Conflict("You are the site's only admin. Make someone else a site admin first "
                       "(flask create-admin <their email>).", code="last_admin")
    return alone


def delete_account(user: User, password: str) -> None:
    """Delete one's own account, after checking the password.

    What they wrote stays, shown as "Former member" (author columns are ON
    DELETE SET NULL); their memberships, RSVPs, votes, reactions, notifications
    and settings go by cascade; circles they were alone in go with them. Every
    session and socket of theirs ends. The security log keeps "account_deleted"
    with the address, and no link to the (gone) account.

    :raise ActionError: the password is wrong.
    :raise Conflict: the only owner of a circle others are in, or the last site admin.
    """
    from ..circles.actions import my_circles
    from ..circles.models import Circle
    from ..files.actions import discard as discard_files
    from ..files.actions import release_keys
    from ..files.conversations import discard_for_account as discard_message_files
    from ..files.models import Attachment
    from ..meetings.actions.rsvps import release_places
    from ..messages.actions import retire_people_keys
    from ..notifications.models import OutboxMail

    if not password_matches(user.password_hash, password):
        raise ActionError("That password isn't right. Your account has not been deleted.",
                          field="password", code="bad_password")
    # Every check that can refuse, under the lock, before anything is written: the
    # settings page's look may be stale (a co-owner left meanwhile), and a refusal
    # after the seats below were given away could not take them back.
    begin_write()
    alone = _refuse_if_in_the_way(user, for_update=True)
    # Their seats at coming meetings pass to the waiting list, as when someone
    # leaves (the cascade alone would free the seats but tell nobody); in this
    # transaction, so the promotions and their notifications stand or fall with it.
    for circle, _membership in my_circles(user):
        release_places(circle, user.id, commit=False)
    security_log.record("account_deleted", email=user.email)  # no user id: it is going
    if alone:
        # Their rows go with the circles (ON DELETE CASCADE); the bytes go after the commit.
        discard_files(Attachment.circle_id.in_([c.id for c in alone]))
        db.session.execute(delete(Circle).where(Circle.id.in_([c.id for c in alone])))
    # Their drafts in direct messages, and the files of conversations no one
    # else is in (bytes after the commit); files others still read stay.
    discard_message_files(user.id)
    # Mail not yet sent to the address would reach someone who is no longer here.
    db.session.execute(delete(OutboxMail).where(OutboxMail.to_address == user.email,
                                                OutboxMail.sent_at.is_(None)))
    # Their id may be given to the next account (SQLite): no conversation may be
    # found by it again (messages/actions.retire_people_keys).
    retire_people_keys(user.id)
    # Their profile photo's bytes, once no row uses them.
    release_keys((user.photo_key, user.photo_thumbnail_key))
    db.session.delete(user)
    db.session.commit()
    # The deleted object keeps its id, which is all the live side needs.
    sessions_ended.send(user)


def record_sign_out(user: User, session_id: str | None = None) -> None:
    """Log a sign-out; that browser's live connections end (its session id's only)."""
    security_log.record("signed_out", user=user)
    db.session.commit()
    if session_id:
        browser_signed_out.send(user, session_id=session_id)
