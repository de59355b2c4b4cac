"""Two-step sign-in: the authenticator app, recovery codes, the step after the password.

Hostile cases first-class: a replayed code, another account's code, guessing the
code, a recovery code used twice, the half-signed-in browser trying every other
route and the sockets, a reset link used to skip the code, a remembered browser
after "sign out everywhere" and a password change, a half sign-in left too long.
"""
import html
import re
import time
from datetime import timedelta
from unittest import mock

import pyotp
import pytest
from sqlalchemy import select

from community.accounts import actions as accounts
from community.accounts import factors, second_step
from community.accounts.factor_models import RecoveryCode, TotpFactor
from community.accounts.models import User
from community.accounts.security_log import SecurityEvent
from community.extensions import db, socketio
from community.notifications.models import OutboxMail
from community.security import public_endpoint
from tests.conftest import AuthActions
from tests.factories import PASSWORD, make_user


def turn_on_totp(user) -> tuple[str, list[str]]:
    """Set up and confirm an app with a code of the step before now, so that the code
    of this step is still fresh for the sign-in the test makes next."""
    factor = factors.start_totp(user)
    earlier = time.time() - 30
    codes = factors.confirm_totp(user, PASSWORD, pyotp.TOTP(factor.secret).at(earlier), now=earlier)
    return factor.secret, codes


def code_now(secret: str, offset: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + offset)


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def session_of(client) -> dict:
    with client.session_transaction() as sess:
        return dict(sess)


def kinds(user) -> list[str]:
    return list(db.session.scalars(select(SecurityEvent.kind).where(SecurityEvent.user_id == user.id)
                                   .order_by(SecurityEvent.id)))


def mails_to(user) -> list[OutboxMail]:
    return list(db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == user.email)
                                   .order_by(OutboxMail.id)))


def enter_code(client, code: str, remember_browser: bool = False):
    data = {"code": code}
    if remember_browser:
        data["remember_browser"] = "y"
    return client.post("/auth/second-step", data=data)


def signed_in(client) -> bool:
    return client.get("/settings/profile").status_code == 200


@pytest.fixture
def helen(app):
    user = make_user("Helen Marsh", email="helen@example.org")
    secret, codes = turn_on_totp(user)
    return user, secret, codes


# --- Setting up the authenticator app ------------------------------------------------------

def test_set_up_shows_a_local_qr_code_and_the_secret_and_needs_a_code_to_turn_on(client, auth):
    user = make_user()
    auth.login(user)
    page = text(client.get("/settings/security"))
    assert "Off." in page and "Set up an authenticator app" in page
    assert client.get("/settings/security/authenticator").status_code == 302  # nothing started
    assert client.post("/settings/security/authenticator/new").headers["Location"] == \
        "/settings/security/authenticator"
    page = text(client.get("/settings/security/authenticator"))
    secret = db.session.get(TotpFactor, user.id).secret
    assert secret in page and "<svg" in page and "http" not in page.split("<svg")[1].split("</svg>")[0]
    # A wrong code, or the right code without the password: still off.
    wrong = client.post("/settings/security/authenticator", data={"code": "000000", "password": PASSWORD})
    assert wrong.status_code == 400 and "isn't right" in text(wrong)
    no_password = client.post("/settings/security/authenticator",
                              data={"code": code_now(secret), "password": "wrong password!"})
    assert no_password.status_code == 400
    db.session.expire_all()
    assert not db.session.get(User, user.id).has_second_factor
    on = client.post("/settings/security/authenticator",
                     data={"code": code_now(secret), "password": PASSWORD})
    assert on.status_code == 200 and on.headers["Cache-Control"] == "no-store"
    shown = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", text(on))
    assert len(shown) == 10 and len(set(shown)) == 10
    db.session.expire_all()
    assert db.session.get(User, user.id).has_second_factor
    assert "totp_enabled" in kinds(user)
    assert [m.subject for m in mails_to(user)] == ["An authenticator app was turned on for your account"]
    # Stored hashed: no code is in the table.
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not {c.replace("-", "") for c in shown} & set(stored)
    # Now on: the page says so, and a second app can't be started over it.
    assert "On." in text(client.get("/settings/security"))
    client.post("/settings/security/authenticator/new")
    assert db.session.get(TotpFactor, user.id).secret == secret


def test_a_code_of_the_step_before_or_after_is_accepted_two_steps_off_is_not(helen):
    user, secret, _ = helen
    assert not factors.verify_totp(user, code_now(secret, -60))
    assert not factors.verify_totp(user, code_now(secret, +60))
    assert factors.verify_totp(user, code_now(secret, +30))


def test_a_code_works_once_and_an_older_one_not_after_it(helen):
    user, secret, _ = helen
    code = code_now(secret)
    assert factors.verify_totp(user, code)
    assert not factors.verify_totp(user, code)  # replayed within its window
    assert factors.verify_totp(user, code_now(secret, +30))
    assert not factors.verify_totp(user, code)  # older than the last one accepted


def test_another_accounts_code_is_refused(helen):
    user, secret, _ = helen
    other = make_user()
    other_secret, _ = turn_on_totp(other)
    assert not factors.verify_totp(user, code_now(other_secret))
    assert factors.verify_totp(other, code_now(other_secret))


def test_turning_the_app_off_needs_the_password_and_takes_the_recovery_codes(client, auth, helen):
    user, secret, codes = helen
    client.set_cookie("remembered_browser", "")  # nothing remembered
    auth.login(user)
    enter_code(client, code_now(secret))
    refused = client.post("/settings/security/authenticator/off", data={"off-password": "not it at all"})
    assert refused.status_code == 400 and "isn't right" in text(refused)
    assert client.post("/settings/security/authenticator/off",
                       data={"off-password": PASSWORD}).status_code == 302
    db.session.expire_all()
    user = db.session.get(User, user.id)
    assert not user.has_second_factor and db.session.get(TotpFactor, user.id) is None
    assert db.session.scalars(select(RecoveryCode)).all() == []
    assert "totp_disabled" in kinds(user)
    assert mails_to(user)[-1].subject == "The authenticator app was turned off for your account"
    # Signing in is one step again.
    client.post("/auth/logout")
    assert auth.login(user).headers["Location"] == "/"


def test_half_a_surrogate_pair_as_a_password_is_a_wrong_password_not_a_500(client, auth, helen):
    """UTF-8 can't hold it, so hashing it raised (the fuzz found it on turning the app off)."""
    user, secret, _ = helen
    client.set_cookie("remembered_browser", "")
    auth.login(user)
    enter_code(client, code_now(secret))
    # Flask-WTF reads a JSON body as the form, and JSON's "\ud800" escape decodes to it.
    for path, field in (("/settings/security/authenticator/off", "off-password"),
                        ("/settings/password", "current_password")):
        body = '{"' + field + '": "\\ud800", "new_password": "a new one, long"}'
        answer = client.post(path, data=body, content_type="application/json")
        assert answer.status_code == 400, path
    assert db.session.get(TotpFactor, user.id).confirmed_at is not None


# --- Recovery codes -----------------------------------------------------------------------

def test_a_recovery_code_signs_in_once_and_the_person_is_told(client, auth, helen):
    user, _, codes = helen
    auth.login(user)
    assert enter_code(client, codes[3].upper().replace("-", " ")).headers["Location"] == "/"
    assert signed_in(client)
    mail = mails_to(user)[-1]
    assert mail.subject == "A recovery code was used to sign in to your account"
    assert "9 unused recovery codes left" in mail.text_body
    assert "recovery_code_used" in kinds(user)
    client.post("/auth/logout")
    auth.login(user)
    again = enter_code(client, codes[3])
    assert again.status_code == 400 and not signed_in(client)
    assert factors.recovery_codes_left(user) == 9


def test_new_recovery_codes_replace_the_old_set(client, auth, helen):
    user, secret, old = helen
    auth.login(user)
    enter_code(client, code_now(secret))
    refused = client.post("/settings/security/recovery-codes", data={"codes-password": "nope nope nope"})
    assert refused.status_code == 400
    page = client.post("/settings/security/recovery-codes", data={"codes-password": PASSWORD})
    new = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", text(page))
    assert len(new) == 10 and not set(new) & set(old)
    assert mails_to(user)[-1].subject == "New recovery codes were made for your account"
    assert not factors.use_recovery_code(user, old[0])
    assert factors.use_recovery_code(user, new[0])


def test_one_persons_recovery_code_is_nobody_elses(helen):
    user, _, codes = helen
    other = make_user()
    turn_on_totp(other)
    assert not factors.use_recovery_code(other, codes[0])
    assert factors.use_recovery_code(user, codes[0])


# --- The second step ----------------------------------------------------------------------

def test_the_password_alone_does_not_sign_in(client, auth, helen):
    user, secret, _ = helen
    answer = client.post("/auth/login?next=/settings/profile",
                         data={"email": user.email, "password": PASSWORD})
    assert answer.headers["Location"] == "/auth/second-step"
    assert "_user_id" not in session_of(client)
    assert not signed_in(client)
    page = client.get("/auth/second-step")
    assert page.status_code == 200 and "authenticator app" in text(page)
    wrong = enter_code(client, "123456")
    assert wrong.status_code == 400 and second_step.WRONG_CODE in text(wrong)
    assert enter_code(client, code_now(secret)).headers["Location"] == "/settings/profile"
    assert signed_in(client)
    # The log says the password passed, the code failed, then (only then) the sign-in.
    assert kinds(user)[-3:] == ["password_accepted", "second_step_failed", "sign_in"]


def made_up(rule, name: str):
    """A value the rule's converter takes: one of an any(...)'s words, a number for ids."""
    items = getattr(rule._converters[name], "items", None)
    return sorted(items)[0] if items else (1 if name.endswith("id") else "x")


def test_a_code_that_signed_in_once_does_not_sign_in_again(app, client, auth, helen):
    user, secret, _ = helen
    code = code_now(secret)
    auth.login(user)
    assert enter_code(client, code).status_code == 302
    thief = app.test_client()  # saw the code over the shoulder, and has the password
    AuthActions(thief).login(user)
    replayed = enter_code(thief, code)
    assert replayed.status_code == 400 and not signed_in(thief)


def every_route(app):
    """(method, url) for every route but static files, with made-up arguments."""
    urls = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = urls.build(rule.endpoint, {name: made_up(rule, name) for name in rule.arguments})
        for method in ("GET", "POST"):
            if method in rule.methods:
                yield rule.endpoint, method, url


def test_a_half_signed_in_browser_reaches_nothing_else(app, client, auth, helen):
    user, secret, _ = helen
    auth.login(user)
    reached, tried = [], 0
    for endpoint, method, url in every_route(app):
        if public_endpoint(endpoint):
            continue
        tried += 1
        response = client.open(url, method=method)
        if not (response.status_code == 302 and response.headers["Location"].startswith("/auth/login")):
            reached.append((method, url, response.status_code))
    assert reached == [] and tried > 100
    for namespace in ("/chat", "/notifications"):
        socket = socketio.test_client(app, namespace=namespace, flask_test_client=client)
        assert not socket.is_connected(namespace)
    # The note survived all that, and still only opens the second step.
    assert enter_code(client, code_now(secret)).status_code == 302 and signed_in(client)


def test_a_half_sign_in_expires_after_five_minutes(client, auth, helen):
    user, secret, _ = helen
    auth.login(user)
    later = time.time() + second_step.MAX_AGE + 1
    with mock.patch("community.accounts.second_step.time.time", return_value=later):
        answer = enter_code(client, code_now(secret))
    assert answer.headers["Location"] == "/auth/login"
    assert not signed_in(client)
    assert client.get("/auth/second-step").headers["Location"] == "/auth/login"


def test_a_half_sign_in_dies_when_the_password_changes_elsewhere(app, client, auth, helen):
    user, secret, _ = helen
    auth.login(user)
    accounts.change_password(db.session.get(User, user.id), PASSWORD, "a different password")
    assert enter_code(client, code_now(secret)).headers["Location"] == "/auth/login"
    assert not signed_in(client)


def test_guessing_the_code_locks_like_passwords_and_says_the_same(app, client, auth, helen):
    user, secret, _ = helen
    auth.login(user)
    for n in range(app.config["LOCKOUT_THRESHOLD"]):
        assert enter_code(client, f"{n:06d}").status_code == 400
    locked = enter_code(client, code_now(secret))  # even the right code now
    assert locked.status_code == 429 and not signed_in(client)
    # Signing in again with the password neither resets the count nor says more than a
    # locked password does: word for word the answer an unknown, locked address gets.
    again = auth.login(user)
    stranger = AuthActions(app.test_client())
    for _ in range(app.config["LOCKOUT_THRESHOLD"]):
        stranger.login("nobody@example.org", "whatever it is")
    unknown = stranger.login("nobody@example.org", "whatever it is")
    assert again.status_code == unknown.status_code == 429
    message = re.compile(r"Too many failed sign-ins for this account\. Try again in \d+ minutes\.")
    assert message.search(text(again)).group(0) == \
        message.search(text(unknown)).group(0)
    assert "second_step_locked" in kinds(user)
    # Once the lockout is over, the code works again.
    later = accounts.utcnow() + timedelta(minutes=app.config["LOCKOUT_MINUTES"] + 1)
    with mock.patch("community.accounts.second_step.utcnow", return_value=later):
        assert auth.login(user).headers["Location"] == "/auth/second-step"
        assert enter_code(client, code_now(secret)).status_code == 302
    assert signed_in(client)


def test_a_reset_link_does_not_skip_the_code(client, helen):
    user, secret, _ = helen
    token = accounts._reset_serializer().dumps({"u": user.id, "h": accounts._hash_tag(user)})
    answer = client.post(f"/auth/reset/{token}", data={"new_password": "a brand new password"})
    assert answer.headers["Location"] == "/auth/second-step"
    assert not signed_in(client)
    assert enter_code(client, code_now(secret)).headers["Location"] == "/"
    assert signed_in(client)


def test_remembering_this_browser_skips_the_code_until_revoked(app, client, auth, helen):
    user, secret, _ = helen
    auth.login(user)
    enter_code(client, code_now(secret), remember_browser=True)
    assert client.get_cookie("remembered_browser") is not None
    client.post("/auth/logout")
    assert auth.login(user).headers["Location"] == "/"  # no code asked
    assert signed_in(client)
    # Another account on this browser is still asked for its code.
    client.post("/auth/logout")
    other = make_user()
    turn_on_totp(other)
    assert auth.login(other).headers["Location"] == "/auth/second-step"
    # Signing out everywhere revokes it...
    accounts.sign_out_everywhere(db.session.get(User, user.id))
    assert auth.login(user).headers["Location"] == "/auth/second-step"
    enter_code(client, code_now(secret, +30), remember_browser=True)
    client.post("/auth/logout")
    assert auth.login(user).headers["Location"] == "/"
    client.post("/auth/logout")
    # ...and so does a password change.
    accounts.change_password(db.session.get(User, user.id), PASSWORD, "another long password")
    assert auth.login(user, "another long password").headers["Location"] == "/auth/second-step"


def test_a_forged_remember_cookie_is_ignored(client, auth, helen):
    user, _, _ = helen
    client.set_cookie("remembered_browser", "eyJ1IjoxfQ.forged.signature")
    assert auth.login(user).headers["Location"] == "/auth/second-step"


# --- The security page ---------------------------------------------------------------------

def test_the_security_page_lists_recent_sign_ins_and_signs_out_other_sessions(app, client, auth):
    user = make_user()
    elsewhere = app.test_client()
    AuthActions(elsewhere).login(user)
    client.get("/", headers={"User-Agent": "x"})
    auth_client = app.test_client()
    auth_client.post("/auth/login", data={"email": user.email, "password": PASSWORD}, headers={
        "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                      "(KHTML, like Gecko) Chrome/126.0 Safari/537.36"})
    page = text(auth_client.get("/settings/security"))
    assert "Recent sign-ins" in page and "Chrome on Windows" in page and "127.0.0.1" in page
    answer = auth_client.post("/settings/sessions/end")
    assert answer.headers["Location"] == "/settings/security"
    assert not signed_in(elsewhere) and signed_in(auth_client)
    assert mails_to(user)[-1].subject == "Your account was signed out on every other device"


def test_a_password_change_is_told_by_email(client, auth):
    user = make_user()
    auth.login(user)
    client.post("/settings/password", data={"current_password": PASSWORD,
                                            "new_password": "a longer new password"})
    assert mails_to(user)[-1].subject == "Your password was changed"


def test_the_security_page_keeps_its_query_budget(client, auth, helen, count_queries):
    user, secret, _ = helen
    auth.login(user)
    enter_code(client, code_now(secret))
    with count_queries() as q:
        assert client.get("/settings/security").status_code == 200
    assert q.count <= 8, q.statements
