"""Account rules, through the actions."""
from datetime import timedelta

import pytest

from community.accounts import actions
from community.accounts.models import SignInThrottle, User
from community.errors import ActionError, Conflict, TooManyAttempts
from community.extensions import db
from community.timeutil import utcnow
from tests.factories import PASSWORD, make_user


def test_email_is_stored_normalised(app):
    user = make_user(email="  Amara.Okafor@Example.ORG ")
    assert user.email == "amara.okafor@example.org"


def test_same_email_in_another_case_is_refused(app):
    make_user(email="helen@example.org")
    with pytest.raises(Conflict):
        make_user(email="HELEN@Example.org")
    assert db.session.query(User).count() == 1


@pytest.mark.parametrize("password", ["", "short", "123456789"])
def test_password_shorter_than_ten_is_refused(app, password):
    with pytest.raises(ActionError) as err:
        actions.register_user("a@example.org", password, display_name="A")
    assert err.value.field == "password"


@pytest.mark.parametrize("field,value", [
    ("timezone", "Mars/Olympus"), ("timezone", "../../etc/passwd"),
    ("sector", "government"), ("display_name", "   "),
])
def test_invalid_profile_fields_are_refused(app, field, value):
    profile = {"display_name": "A", "sector": "public", "timezone": "Europe/London", field: value}
    with pytest.raises(ActionError) as err:
        actions.register_user("a@example.org", "long enough password", **profile)
    assert err.value.field == field
    assert db.session.query(User).count() == 0


def test_password_hash_is_not_the_password(app):
    user = make_user()
    assert PASSWORD not in user.password_hash
    assert user.password_hash.startswith("pbkdf2:")  # the configured method


def test_production_default_hash_is_scrypt(make_app):
    app = make_app(PASSWORD_HASH_METHOD="scrypt")
    with app.app_context():
        assert actions.hash_password("x" * 10).startswith("scrypt:")


def test_handles_are_unique_across_the_site(app):
    a = make_user("Jo Smith")
    b = make_user("Jo Smith")
    c = make_user("Dr Zoë O'Brien-Ng")
    assert a.handle == "jo_smith"
    assert b.handle == "jo_smith2"
    assert c.handle == "dr_zoe_obrien_ng"


def test_wrong_password_and_unknown_email_raise_the_same_message(app):
    user = make_user()
    with pytest.raises(ActionError) as wrong:
        actions.authenticate(user.email, "wrong password!")
    with pytest.raises(ActionError) as unknown:
        actions.authenticate("nobody@example.org", "wrong password!")
    assert wrong.value.message == unknown.value.message == actions.BAD_CREDENTIALS


def test_five_failures_lock_the_account_for_fifteen_minutes(app):
    user = make_user()
    for _ in range(5):
        with pytest.raises(ActionError):
            actions.authenticate(user.email, "wrong password!")
    # Even the right password is refused while locked.
    with pytest.raises(TooManyAttempts) as err:
        actions.authenticate(user.email, PASSWORD)
    assert "15 minutes" in err.value.message
    throttle = db.session.get(SignInThrottle, user.email)
    assert throttle.locked_until - utcnow() > timedelta(minutes=14)
    # Once the lock has passed, the right password works and clears the count.
    throttle.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert actions.authenticate(user.email, PASSWORD) == user
    assert db.session.get(SignInThrottle, user.email) is None


def test_four_failures_do_not_lock(app):
    user = make_user()
    for _ in range(4):
        with pytest.raises(ActionError):
            actions.authenticate(user.email, "wrong password!")
    assert actions.authenticate(user.email, PASSWORD) == user


def test_failures_outside_the_window_start_a_new_count(app):
    user = make_user()
    for _ in range(4):
        with pytest.raises(ActionError):
            actions.authenticate(user.email, "wrong password!")
    throttle = db.session.get(SignInThrottle, user.email)
    throttle.window_started_at = utcnow() - timedelta(minutes=16)
    db.session.commit()
    with pytest.raises(ActionError) as err:
        actions.authenticate(user.email, "wrong password!")
    assert err.value.code == "bad_credentials"  # a fresh window: 1 failure, not locked
    assert db.session.get(SignInThrottle, user.email).failures == 1


def test_unknown_address_locks_like_a_real_one(app):
    for _ in range(5):
        with pytest.raises(ActionError):
            actions.authenticate("ghost@example.org", "wrong password!")
    with pytest.raises(TooManyAttempts):
        actions.authenticate("ghost@example.org", "wrong password!")


def test_suspended_account_cannot_sign_in(app):
    user = make_user()
    user.suspended_at = utcnow()
    db.session.commit()
    with pytest.raises(ActionError) as err:
        actions.authenticate(user.email, PASSWORD)
    assert err.value.message == actions.BAD_CREDENTIALS


def test_change_password_needs_the_current_one_and_rotates_sessions(app):
    user = make_user()
    old_id = user.get_id()
    with pytest.raises(ActionError):
        actions.change_password(user, "not my password", "a brand new password")
    with pytest.raises(ActionError):
        actions.change_password(user, PASSWORD, "short")
    assert user.get_id() == old_id
    actions.change_password(user, PASSWORD, "a brand new password")
    assert user.get_id() != old_id
    assert actions.load_session_user(old_id) is None
    assert actions.authenticate(user.email, "a brand new password") == user


def test_update_profile_changes_handle_with_name(app):
    user = make_user("Tom Whitaker")
    actions.update_profile(user, display_name="Thomas Whitaker", organisation="Food Network",
                           job_title="CEO", sector="non_profit", location="Bracknell",
                           timezone="Europe/Dublin", bio="Hello")
    assert (user.handle, user.sector, user.timezone) == ("thomas_whitaker", "non_profit", "Europe/Dublin")


def test_session_loader_refuses_garbage(app):
    user = make_user()
    for bad in ["", "abc", f"{user.id}", f"{user.id}:wrong", "999:x", ":"]:
        assert actions.load_session_user(bad) is None
    assert actions.load_session_user(user.get_id()) == user


def test_make_site_admin(app):
    user = make_user()
    actions.make_site_admin(user.email.upper())
    assert user.is_site_admin
    with pytest.raises(ActionError):
        actions.make_site_admin("nobody@example.org")
