"""Accounts through HTTP: forms, messages, cookies, redirects."""
import re

import pytest

from community.accounts.models import User
from community.extensions import db
from tests.conftest import csrf_token_from
from tests.factories import PASSWORD, make_user


def register_form(**overrides):
    data = {
        "email": "new@example.org", "password": "a long password", "display_name": "New Person",
        "organisation": "Kennet Valley GP Practice", "job_title": "Practice Manager",
        "sector": "public", "location": "Newbury", "timezone": "Europe/London",
    }
    data.update(overrides)
    return data


def test_register_signs_in_and_redirects(client):
    response = client.post("/auth/register", data=register_form())
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    user = db.session.query(User).one()
    assert (user.email, user.organisation, user.sector) == (
        "new@example.org", "Kennet Valley GP Practice", "public")


@pytest.mark.parametrize(("languages", "clock"), [("en-US,en;q=0.9", "12"), ("en-GB,en;q=0.9", "24"),
                                                  ("de-DE", "24"), (None, "24")])
def test_register_takes_the_clock_from_the_browsers_language(client, languages, clock):
    headers = {"Accept-Language": languages} if languages else {}
    assert client.post("/auth/register", data=register_form(), headers=headers).status_code == 302
    assert db.session.query(User).one().clock == clock


def test_register_page_offers_every_sector_and_iana_zones(client):
    page = client.get("/auth/register").get_data(as_text=True)
    for value in ("public", "private", "non_profit"):
        assert f'value="{value}"' in page
    assert 'value="America/New_York"' in page and 'value="Asia/Kolkata"' in page
    # The browser's zone is preselected on a fresh form (by static/js/site.js).
    assert 'data-detect-timezone="1"' in page


def test_register_duplicate_email_in_other_case_shows_message(client):
    make_user(email="helen@example.org")
    response = client.post("/auth/register", data=register_form(email="Helen@EXAMPLE.org"))
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert db.session.query(User).count() == 1


def test_register_short_password_shows_message(client):
    response = client.post("/auth/register", data=register_form(password="short"))
    assert response.status_code == 400
    assert "at least 10 characters" in response.get_data(as_text=True)


def test_register_bad_timezone_is_a_400_not_a_500(client):
    response = client.post("/auth/register", data=register_form(timezone="Nowhere/Land"))
    assert response.status_code == 400
    assert db.session.query(User).count() == 0


def test_login_failure_is_the_same_for_unknown_email_and_wrong_password(client):
    user = make_user()
    wrong = client.post("/auth/login", data={"email": user.email, "password": "wrong password"})
    unknown = client.post("/auth/login", data={"email": "no@example.org", "password": "wrong password"})
    assert wrong.status_code == unknown.status_code == 400
    strip = lambda r: re.sub(r'value="[^"]*"', "", r.get_data(as_text=True))  # noqa: E731
    assert strip(wrong) == strip(unknown)
    assert "match an account" in wrong.get_data(as_text=True)


def test_lockout_message_after_five_failures_and_survives_restart(client, make_app):
    user = make_user()
    for _ in range(5):
        client.post("/auth/login", data={"email": user.email, "password": "wrong password"})
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    # A new process on the same database still refuses: the lock is stored.
    restarted = make_app()
    with restarted.app_context():
        again = restarted.test_client().post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert again.status_code == 429


def test_per_ip_rate_limit_on_sign_in(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    with app.app_context():
        client = app.test_client()
        codes = [client.post("/auth/login", data={"email": f"x{i}@e.org",
                                                  "password": "nope nope nope"}).status_code
                 for i in range(4)]
        assert codes == [400, 400, 400, 429]
        assert "Too many attempts" in client.post("/auth/login", data={}).get_data(as_text=True)
        # Pages still load: the limit is on the POST.
        assert client.get("/auth/login").status_code == 200


def test_per_ip_rate_limit_on_register(make_app):
    app = make_app(RATELIMIT_ENABLED=True, REGISTER_RATE_LIMIT="2 per hour")
    with app.app_context():
        client = app.test_client()
        codes = [client.post("/auth/register", data=register_form(email=f"n{i}@e.org")).status_code
                 for i in range(3)]
        client.post("/auth/logout")
        assert codes[-1] == 429


def test_remember_me_sets_a_lasting_cookie_only_when_asked(client, auth):
    user = make_user()
    auth.login(user)
    assert client.get_cookie("remember_token") is None
    auth.logout()
    auth.login(user, remember=True)
    cookie = client.get_cookie("remember_token")
    assert cookie is not None and cookie.http_only and cookie.expires is not None


def test_logout_is_post_only(client, auth):
    auth.login(make_user())
    assert client.get("/auth/logout").status_code == 405
    assert client.get("/").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("target,expected", [
    ("/settings/profile", "/settings/profile"),
    ("https://evil.example/", "/"),
    ("//evil.example/x", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
def test_login_next_only_goes_to_this_site(client, target, expected):
    user = make_user()
    response = client.post("/auth/login", query_string={"next": target},
                           data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_edit_profile(client, auth):
    user = make_user()
    auth.login(user)
    assert "@" + user.handle in client.get("/settings/profile").get_data(as_text=True)
    response = client.post("/settings/profile", data={
        "display_name": "Gareth Lloyd", "organisation": "HMP Thameside", "job_title": "Governor",
        "sector": "public", "location": "Reading", "timezone": "Europe/London", "bio": "Prisons."})
    assert response.status_code == 302
    db.session.refresh(user)
    assert (user.display_name, user.organisation, user.bio) == ("Gareth Lloyd", "HMP Thameside", "Prisons.")
    assert user.clock == "24"  # not asked: kept


def test_the_clock_is_chosen_in_the_profile_and_a_bad_one_refused(client, auth):
    user = make_user()
    auth.login(user)
    page = client.get("/settings/profile").get_data(as_text=True)
    assert 'value="12"' in page and "12-hour" in page
    fields = {"display_name": user.display_name, "sector": "public", "timezone": "Europe/London"}
    assert client.post("/settings/profile", data={**fields, "clock": "12"}).status_code == 302
    db.session.refresh(user)
    assert user.clock == "12"
    refused = client.post("/settings/profile", data={**fields, "clock": "25"})
    assert refused.status_code == 400
    db.session.refresh(user)
    assert user.clock == "12"


def test_change_password_keeps_this_session_and_ends_others(app, client, auth):
    user = make_user()
    other = app.test_client()
    AuthOther = type(auth)
    AuthOther(other).login(user)
    auth.login(user)
    response = client.post("/settings/password", data={
        "current_password": PASSWORD, "new_password": "another long password"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # this browser stays signed in
    assert other.get("/").status_code == 302   # the other is sent to sign in


def test_change_password_with_wrong_current_password(client, auth):
    auth.login(make_user())
    response = client.post("/settings/password", data={
        "current_password": "not it at all", "new_password": "another long password"})
    assert response.status_code == 400
    assert "current password is not right" in response.get_data(as_text=True)


def test_csrf_is_refused_when_on(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        refused = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
        assert refused.status_code == 400
        token = csrf_token_from(client, "/auth/login")
        accepted = client.post("/auth/login", data={"email": user.email, "password": PASSWORD,
                                                    "csrf_token": token})
        assert accepted.status_code == 302
        # Signing out is a form too: without the token it is refused.
        assert client.post("/auth/logout").status_code == 400
