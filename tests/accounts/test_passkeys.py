"""Passkeys through HTTP, with real signatures from tests/accounts/soft_authenticator.py:
adding, renaming and removing them, signing in with one, and the hostile cases
(another account's passkey, a replayed assertion or challenge, another site's
origin or RP id, a copied authenticator, removing the last factor)."""
import html
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from community.accounts import passkeys
from community.accounts.factor_models import Passkey, RecoveryCode, TotpFactor
from community.accounts.models import User
from community.accounts.security_log import SecurityEvent
from community.extensions import db
from community.notifications.models import OutboxMail
from community.timeutil import utcnow
from tests.accounts.soft_authenticator import SoftAuthenticator
from tests.factories import PASSWORD, make_user

ORIGIN = "http://localhost:5000"
PAGE = "/settings/security/passkeys"


@pytest.fixture
def app(make_app):
    app = make_app(SITE_URL=ORIGIN)
    with app.app_context():
        yield app


@pytest.fixture
def helen(app):
    return make_user("Helen Marsh", email="helen@example.org")


def sign_in(client, user):
    assert client.post("/auth/login", data={"email": user.email,
                                            "password": PASSWORD}).status_code == 302


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def add_passkey(client, name="Work laptop", key=None, origin=ORIGIN):
    """Add a passkey through the settings page; returns the authenticator."""
    key = key or SoftAuthenticator()
    options = client.post(f"{PAGE}/options", data={"name": name, "password": PASSWORD})
    assert options.status_code == 200, options.get_data(as_text=True)
    answer = client.post(PAGE, data={"credential": key.create(options.get_data(as_text=True),
                                                              origin)})
    # The first second factor shows its recovery codes, this once; later ones go back to the list.
    assert answer.status_code == 302 or "Your recovery codes" in text(answer), text(answer)
    key.answer = answer
    return key


def sign_in_options(client) -> str:
    answer = client.post("/auth/passkey/options")
    assert answer.status_code == 200
    return text(answer)


def passkey_sign_in(client, credential: str):
    return client.post("/auth/passkey/sign-in", data={"credential": credential})


def text(answer) -> str:
    """The page's text with HTML's escapes undone (an apostrophe is &#39;)."""
    return html.unescape(answer.get_data(as_text=True))


def events(kind: str) -> int:
    return db.session.scalar(select(func.count(SecurityEvent.id)).where(SecurityEvent.kind == kind))


def refreshed(user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


# --- Adding, naming, removing -------------------------------------------------------------

def test_a_named_passkey_is_added_listed_logged_and_told_by_email(client, helen):
    sign_in(client, helen)
    assert not helen.has_second_factor
    first = add_passkey(client, "Work laptop").answer
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    assert len(re.findall(r"<li><code>[a-z0-9]{4}(?:-[a-z0-9]{4}){3}</code></li>", text(first))) == 10
    assert db.session.scalar(select(func.count(RecoveryCode.id))) == 10
    assert add_passkey(client, "My phone").answer.status_code == 302  # no new codes
    page = client.get(PAGE).get_data(as_text=True)
    assert "Work laptop" in page and "My phone" in page
    assert refreshed(helen).has_second_factor
    assert events("passkey_added") == 2
    mails = db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == helen.email)).all()
    told = 'A passkey was added to your account: "Work laptop".'
    assert [told in m.text_body for m in mails] == [True, False]


def test_adding_a_passkey_needs_the_password_again(client, helen):
    sign_in(client, helen)
    answer = client.post(f"{PAGE}/options", data={"name": "Laptop", "password": "not my password"})
    assert answer.status_code == 400
    assert answer.get_json()["message"] == "That password isn't right."
    # Without options asked for, a credential is refused and nothing is stored.
    answer = client.post(PAGE, data={"credential": SoftAuthenticator().create(
        json.dumps({"rp": {"id": "localhost"}, "user": {"id": "AA"}, "challenge": "AAAA"}), ORIGIN)})
    assert answer.status_code == 400
    assert "expired" in text(answer)
    assert db.session.scalar(select(func.count(Passkey.id))) == 0


def test_a_passkey_needs_a_name(client, helen):
    sign_in(client, helen)
    answer = client.post(f"{PAGE}/options", data={"name": "  ", "password": PASSWORD})
    assert answer.status_code == 400 and "name" in answer.get_json()["message"]


def test_a_registration_made_for_another_site_is_refused(client, helen):
    sign_in(client, helen)
    options = client.post(f"{PAGE}/options", data={"name": "Laptop", "password": PASSWORD})
    forged = SoftAuthenticator().create(options.get_data(as_text=True), "https://evil.example")
    answer = client.post(PAGE, data={"credential": forged})
    assert answer.status_code == 400
    assert "didn't check out" in text(answer)
    assert not refreshed(helen).has_second_factor


def test_a_registration_answer_counts_once(client, helen):
    sign_in(client, helen)
    options = client.post(f"{PAGE}/options", data={"name": "Laptop", "password": PASSWORD})
    answer = SoftAuthenticator().create(options.get_data(as_text=True), ORIGIN)
    assert client.post(PAGE, data={"credential": answer}).status_code == 200  # its recovery codes
    assert client.post(PAGE, data={"credential": answer}).status_code == 400
    assert db.session.scalar(select(func.count(Passkey.id))) == 1


def test_rename(client, helen):
    sign_in(client, helen)
    add_passkey(client, "Laptop")
    passkey = db.session.scalar(select(Passkey))
    assert client.post(f"{PAGE}/{passkey.id}/rename", data={"name": "Old laptop"}).status_code == 302
    assert "Old laptop" in client.get(PAGE).get_data(as_text=True)
    # A change to how one signs in: logged, and the owner told.
    assert events("passkey_renamed") == 1
    told = 'A passkey on your account was renamed: "Laptop → Old laptop".'
    assert any(told in m.text_body for m in db.session.scalars(select(OutboxMail)))
    answer = client.post(f"{PAGE}/{passkey.id}/rename", data={"name": ""})
    assert answer.status_code == 400
    assert "Enter a name for the passkey." in text(answer)
    db.session.expire_all()
    assert db.session.get(Passkey, passkey.id).name == "Old laptop"


def test_removing_asks_first_and_the_last_factor_says_what_it_costs(client, helen):
    sign_in(client, helen)
    add_passkey(client, "Laptop")
    page = client.get(PAGE).get_data(as_text=True)
    assert 'data-confirm="Remove “Laptop”? It is your only second factor' in page
    add_passkey(client, "Phone")
    page = client.get(PAGE).get_data(as_text=True)
    assert 'data-confirm="Remove the passkey “Laptop”? It will no longer sign you in."' in page


def test_removing_the_last_factor_clears_the_second_factor(client, helen):
    sign_in(client, helen)
    add_passkey(client, "Laptop")
    add_passkey(client, "Phone")
    first, second = db.session.scalars(select(Passkey).order_by(Passkey.id)).all()
    client.post(f"{PAGE}/{first.id}/remove")
    assert refreshed(helen).has_second_factor  # the phone is still a factor
    answer = client.post(f"{PAGE}/{second.id}/remove", follow_redirects=True)
    assert "You have no second factor now" in text(answer)
    assert not refreshed(helen).has_second_factor
    assert events("passkey_removed") == 2
    assert db.session.scalar(select(func.count(OutboxMail.id)).where(
        OutboxMail.text_body.contains("A passkey was removed from your account"))) == 2


def test_an_authenticator_app_keeps_the_second_factor_when_the_last_passkey_goes(client, helen):
    sign_in(client, helen)
    add_passkey(client)
    db.session.add(TotpFactor(user_id=helen.id, secret="JBSWY3DPEHPK3PXP", confirmed_at=utcnow()))
    db.session.commit()
    client.post(f"{PAGE}/{db.session.scalar(select(Passkey.id))}/remove")
    assert refreshed(helen).has_second_factor


def test_no_one_renames_or_removes_another_persons_passkey(client, helen):
    sign_in(client, helen)
    add_passkey(client, "Helen's laptop")
    passkey_id = db.session.scalar(select(Passkey.id))
    client.post("/auth/logout")
    sign_in(client, make_user("Tom Reed"))
    assert client.post(f"{PAGE}/{passkey_id}/remove").status_code == 404
    assert client.post(f"{PAGE}/{passkey_id}/rename", data={"name": "Mine"}).status_code == 404
    assert "Helen's laptop" not in client.get(PAGE).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Passkey, passkey_id).name == "Helen's laptop"


def test_the_settings_page_needs_a_signed_in_person(client):
    assert client.get(PAGE).status_code == 302
    assert client.post(f"{PAGE}/options").status_code == 302


# --- Signing in with a passkey alone ----------------------------------------------------------

def test_a_passkey_signs_in_without_the_password(client, helen):
    sign_in(client, helen)
    key = add_passkey(client)
    client.post("/auth/logout")
    assert not signed_in(client)
    answer = passkey_sign_in(client, key.get(sign_in_options(client), ORIGIN))
    assert answer.status_code == 302
    assert signed_in(client)
    assert db.session.scalar(select(Passkey.last_used_at)) is not None
    assert events("sign_in") == 2


def test_password_less_sign_in_needs_user_verification(client, helen):
    sign_in(client, helen)
    key = add_passkey(client)
    client.post("/auth/logout")
    answer = passkey_sign_in(client, key.get(sign_in_options(client), ORIGIN, uv=False))
    assert answer.status_code == 400
    assert passkeys.NOT_ACCEPTED in text(answer)
    assert not signed_in(client)
    assert events("sign_in_failed") == 1  # the person sees it among their recent sign-ins


def test_an_assertion_for_another_origin_or_rp_id_is_refused(client, helen):
    sign_in(client, helen)
    key = add_passkey(client)
    client.post("/auth/logout")
    for forged in (key.get(sign_in_options(client), "https://evil.example"),
                   key.get(sign_in_options(client), ORIGIN, rp_id="evil.example"),
                   key.get(sign_in_options(client), "http://localhost:5001")):
        assert passkey_sign_in(client, forged).status_code == 400
        assert not signed_in(client)


def test_an_unknown_passkey_is_refused(client, helen):
    answer = passkey_sign_in(client, SoftAuthenticator().get(sign_in_options(client), ORIGIN,
                                                             user_handle=b"x" * 32))
    assert answer.status_code == 400
    assert not signed_in(client)


def test_a_passkey_claiming_another_account_is_refused(client, helen):
    """The authenticator's user handle must be the passkey owner's."""
    sign_in(client, helen)
    key = add_passkey(client)
    client.post("/auth/logout")
    tom = make_user("Tom Reed")
    forged = key.get(sign_in_options(client), ORIGIN, user_handle=passkeys.user_handle(tom))
    assert passkey_sign_in(client, forged).status_code == 400
    assert not signed_in(client)


def test_an_assertion_counts_once(client, helen):
    """The same answer again, with the challenge gone from the session, is refused."""
    sign_in(client, helen)
    key = add_passkey(client, key=SoftAuthenticator(counter=False))  # a synced passkey: count 0
    client.post("/auth/logout")
    answer = key.get(sign_in_options(client), ORIGIN)
    assert passkey_sign_in(client, answer).status_code == 302
    client.post("/auth/logout")
    again = passkey_sign_in(client, answer)
    assert again.status_code == 400
    assert passkeys.EXPIRED in text(again)
    assert not signed_in(client)


def test_a_replayed_session_cookie_does_not_bring_the_challenge_back(client, helen):
    """The session is a signed cookie: an old copy of it still holds the challenge. The
    passkey's use after the challenge was issued refuses the replay (counter or not)."""
    sign_in(client, helen)
    key = add_passkey(client, key=SoftAuthenticator(counter=False))
    client.post("/auth/logout")
    answer = key.get(sign_in_options(client), ORIGIN)
    old_cookie = client.get_cookie("session").value
    assert passkey_sign_in(client, answer).status_code == 302
    client.post("/auth/logout")
    client.set_cookie("session", old_cookie)
    again = passkey_sign_in(client, answer)
    assert again.status_code == 400
    assert not signed_in(client)


def test_a_challenge_expires(client, helen, monkeypatch):
    sign_in(client, helen)
    key = add_passkey(client)
    client.post("/auth/logout")
    options = sign_in_options(client)
    later = utcnow() + timedelta(seconds=passkeys.CHALLENGE_SECONDS + 1)
    monkeypatch.setattr(passkeys, "utcnow", lambda: later)
    answer = passkey_sign_in(client, key.get(options, ORIGIN))
    assert answer.status_code == 400 and passkeys.EXPIRED in text(answer)


def test_a_copied_authenticator_is_refused_and_logged(client, helen):
    """A counter that goes backwards on a genuine signature: two devices share the key."""
    sign_in(client, helen)
    key = add_passkey(client)
    client.post("/auth/logout")
    for _ in range(3):
        assert passkey_sign_in(client, key.get(sign_in_options(client), ORIGIN)).status_code == 302
        client.post("/auth/logout")
    copy = key.get(sign_in_options(client), ORIGIN, sign_count=2)
    answer = passkey_sign_in(client, copy)
    assert answer.status_code == 400
    assert "counter went backwards" in text(answer)
    assert events("passkey_clone_suspected") == 1
    assert not signed_in(client)


def test_a_forged_low_counter_is_not_taken_for_a_copy(client, helen):
    """Without a genuine signature, a low counter is an ordinary refusal, not logged as a copy."""
    sign_in(client, helen)
    key = add_passkey(client)
    client.post("/auth/logout")
    passkey_sign_in(client, key.get(sign_in_options(client), ORIGIN))
    client.post("/auth/logout")
    stranger = SoftAuthenticator()
    stranger.credential_id, stranger.user_handle = key.credential_id, key.user_handle
    assert passkey_sign_in(client, stranger.get(sign_in_options(client), ORIGIN,
                                                sign_count=0)).status_code == 400
    assert events("passkey_clone_suspected") == 0


def test_a_suspended_account_cannot_sign_in_with_a_passkey(client, helen):
    sign_in(client, helen)
    key = add_passkey(client)
    client.post("/auth/logout")
    helen.suspended_at = utcnow()
    db.session.commit()
    assert passkey_sign_in(client, key.get(sign_in_options(client), ORIGIN)).status_code == 400
    assert not signed_in(client)


@pytest.mark.parametrize("credential", ["", "not json", "[]", '{"id": 5}', "{" * 30_000,
                                        '{"id": "AAAA", "rawId": "AAAA", "type": "public-key", '
                                        '"response": {"clientDataJSON": "!!", '
                                        '"authenticatorData": "%%", "signature": ""}}'])
def test_malformed_answers_are_a_clear_400(client, helen, credential):
    sign_in_options(client)
    answer = passkey_sign_in(client, credential)
    assert answer.status_code == 400
    assert 'role="alert"' in text(answer)


def test_the_sign_in_page_offers_a_passkey(client):
    page = client.get("/auth/login").get_data(as_text=True)
    assert "Sign in with a passkey" in page
    assert 'src="/static/js/passkeys.js"' in page


# --- The second step after the password --------------------------------------------------------

def half_signed_in(client, user):
    """The password typed for an account with a passkey: the second step is asked."""
    answer = client.post("/auth/login", data={"email": user.email, "password": PASSWORD})
    assert answer.status_code == 302 and answer.location.endswith("/auth/second-step")
    assert not signed_in(client)
    page = text(client.get("/auth/second-step"))
    assert "Use a passkey" in page and 'data-passkey="second_step"' in page


def second_step_options(client) -> str:
    answer = client.post("/auth/passkey/second-step/options")
    assert answer.status_code == 200, text(answer)
    return text(answer)


def test_the_second_step_with_a_passkey_signs_in(client, helen):
    sign_in(client, helen)
    key = add_passkey(client)
    client.post("/auth/logout")
    half_signed_in(client, helen)
    options = second_step_options(client)
    assert json.loads(options)["allowCredentials"][0]["id"] == key.id
    # After a password, user verification is preferred, not required.
    answer = client.post("/auth/passkey/second-step",
                         data={"credential": key.get(options, ORIGIN, uv=False)})
    assert answer.status_code == 302
    assert signed_in(client)


def test_the_second_step_refuses_another_accounts_passkey(client, helen):
    sign_in(client, helen)
    helens_key = add_passkey(client)
    client.post("/auth/logout")
    tom = make_user("Tom Reed")
    sign_in(client, tom)
    add_passkey(client, "Tom's phone")
    client.post("/auth/logout")
    half_signed_in(client, tom)
    answer = client.post("/auth/passkey/second-step", data={
        "credential": helens_key.get(second_step_options(client), ORIGIN)})
    assert answer.status_code == 303
    assert not signed_in(client)


def test_wrong_passkeys_at_the_second_step_lock_it_as_wrong_codes_do(app, client, helen):
    sign_in(client, helen)
    key = add_passkey(client)
    client.post("/auth/logout")
    stranger = SoftAuthenticator()  # never registered: each answer is refused
    half_signed_in(client, helen)
    for _ in range(app.config["LOCKOUT_THRESHOLD"]):
        answer = client.post("/auth/passkey/second-step", data={
            "credential": stranger.get(second_step_options(client), ORIGIN)})
        assert answer.status_code == 303 and answer.location.endswith("/auth/second-step")
    assert events("second_step_failed") == app.config["LOCKOUT_THRESHOLD"]
    # Locked now: even the right passkey is refused, in the password lockout's words.
    answer = client.post("/auth/passkey/second-step", follow_redirects=True, data={
        "credential": key.get(second_step_options(client), ORIGIN)})
    assert "Too many failed sign-ins" in text(answer)
    assert not signed_in(client)


def test_the_second_step_needs_the_password_first(client, helen):
    assert client.post("/auth/passkey/second-step/options").status_code == 400
    assert client.post("/auth/passkey/second-step", data={"credential": "{}"}).status_code == 302
    assert not signed_in(client)


def test_a_sign_in_challenge_does_not_serve_the_second_step(client, helen):
    sign_in(client, helen)
    key = add_passkey(client)
    client.post("/auth/logout")
    options = sign_in_options(client)  # the password-less challenge, then the second step
    half_signed_in(client, helen)
    answer = client.post("/auth/passkey/second-step", data={"credential": key.get(options, ORIGIN)})
    assert answer.status_code == 303
    assert not signed_in(client)


def test_the_page_costs_the_same_few_queries_for_one_passkey_or_many(client, helen, count_queries):
    sign_in(client, helen)
    add_passkey(client, "Laptop")
    counts = []
    for n in range(2):
        with count_queries() as q:
            assert client.get(PAGE).status_code == 200
        counts.append(q.count)
        for i in range(3):
            add_passkey(client, f"Key {n}-{i}")
    assert counts[0] <= 8 and counts[1] <= counts[0], counts
