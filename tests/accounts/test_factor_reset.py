"""Site administration asks a second factor of every admin (issue 22, point 5),
and a site admin resets a member's second factor only with a reason, logged and
told to the member (point 7)."""
import pytest
from sqlalchemy import func, select

from community.accounts.factor_models import Passkey, RecoveryCode, TotpFactor
from community.accounts.factor_reset import reset_second_factor
from community.accounts.models import User
from community.accounts.security_log import SecurityEvent
from community.circles import actions as circles
from community.errors import ActionError, Forbidden
from community.extensions import db
from community.notifications.models import OutboxMail
from tests.conftest import AuthActions
from tests.factories import add_member, give_second_factor, make_circle, make_user

REASON = "Lost her phone and codes; called from the number on file."


def give_factor(user, rows: bool = False):
    """A confirmed authenticator app; with rows, a passkey and recovery codes too."""
    give_second_factor(user)
    if rows:
        db.session.add(Passkey(user_id=user.id, name="Laptop", credential_id=f"cred-{user.id}",
                               public_key=b"\x01\x02"))
        db.session.add_all(RecoveryCode(user_id=user.id, code_hash=f"hash-{n}") for n in range(10))
    db.session.commit()


def make_admin(name="Site Admin"):
    admin = make_user(name)
    admin.is_site_admin = True
    db.session.commit()
    return admin


def factor_rows(user_id: int) -> int:
    return sum(db.session.scalar(select(func.count()).select_from(model).where(model.user_id == user_id))
               for model in (TotpFactor, Passkey, RecoveryCode))


def mails_to(user) -> list[OutboxMail]:
    return list(db.session.scalars(select(OutboxMail).where(OutboxMail.to_address == user.email)))


def resets() -> list[SecurityEvent]:
    return list(db.session.scalars(select(SecurityEvent).where(SecurityEvent.kind == "second_factor_reset")))


@pytest.fixture
def helen(app):
    user = make_user("Helen Marsh", email="helen@example.org")
    give_factor(user, rows=True)
    return user


# --- The admin pages need a second factor -------------------------------------------------

ADMIN_PAGES = ["/admin/", "/admin/users", "/admin/security"]


def test_an_admin_without_a_second_factor_is_refused_every_admin_page(app, client, auth, helen):
    admin = make_admin()
    auth.login(admin)
    for path in [*ADMIN_PAGES, f"/admin/users/{helen.id}/second-factor"]:
        got = client.get(path)
        text = got.get_data(as_text=True)
        assert got.status_code == 403, path
        assert "needs two-factor sign-in" in text and 'href="/settings/security"' in text
        assert "helen@example.org" not in text
    # Nor the actions behind them.
    assert client.post(f"/admin/users/{helen.id}/suspend").status_code == 403
    assert client.post(f"/admin/users/{helen.id}/second-factor", data={"reason": REASON}).status_code == 403
    db.session.expire_all()
    assert db.session.get(User, helen.id).suspended_at is None and factor_rows(helen.id) == 12
    # The action refuses too, whoever calls it.
    with pytest.raises(Forbidden):
        reset_second_factor(admin, helen.id, REASON)


def test_with_a_second_factor_the_admin_pages_open(app, client, auth):
    admin = make_admin()
    auth.login(admin)
    give_factor(admin)
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 200, path


def test_people_who_are_not_admins_still_get_a_404(app, client, auth):
    person = make_user()
    auth.login(person)
    give_factor(person)
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 404


# --- Resetting a member's second factor -----------------------------------------------------

@pytest.fixture
def admin_client(app, client, auth):
    admin = make_admin()
    auth.login(admin)
    give_factor(admin)
    return client, admin


@pytest.mark.parametrize("reason", [None, "", "   ", "Lost it"])
def test_a_reset_without_a_reason_is_refused_and_changes_nothing(admin_client, helen, reason):
    client, _ = admin_client
    data = {} if reason is None else {"reason": reason}
    got = client.post(f"/admin/users/{helen.id}/second-factor", data=data)
    assert got.status_code == 400
    assert "Say why you reset this person's second factor" in got.get_data(as_text=True).replace("&#39;", "'")
    db.session.expire_all()
    assert db.session.get(User, helen.id).second_factor_at is not None
    assert factor_rows(helen.id) == 12
    assert resets() == [] and mails_to(helen) == []


def test_the_action_refuses_a_missing_reason_too(app, helen):
    admin = make_admin()
    give_factor(admin)
    with pytest.raises(ActionError) as refused:
        reset_second_factor(admin, helen.id, None)
    assert refused.value.field == "reason"


def test_a_reset_with_a_reason_deletes_the_factors_logs_it_and_tells_the_member(admin_client, helen):
    client, admin = admin_client
    form = client.get(f"/admin/users/{helen.id}/second-factor")
    assert form.status_code == 200 and "Reset Helen Marsh" in form.get_data(as_text=True)
    got = client.post(f"/admin/users/{helen.id}/second-factor", data={"reason": REASON})
    assert got.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, helen.id).second_factor_at is None
    assert factor_rows(helen.id) == 0
    [event] = resets()
    assert event.user_id == helen.id and REASON in event.detail and admin.email in event.detail
    [mail] = mails_to(helen)
    assert "reset" in mail.subject and REASON in mail.text_body and "/settings/security" in mail.text_body
    # The log shows it, reason and all, to site admins.
    log = client.get("/admin/security").get_data(as_text=True)
    assert "Second factor reset by a site admin" in log and "called from the number on file" in log


def test_an_admin_cannot_reset_their_own_second_factor(admin_client):
    client, admin = admin_client
    got = client.post(f"/admin/users/{admin.id}/second-factor", data={"reason": REASON})
    assert got.status_code == 403
    db.session.expire_all()
    assert db.session.get(User, admin.id).second_factor_at is not None and resets() == []


def test_resetting_an_account_that_does_not_exist_is_a_404(admin_client):
    client, _ = admin_client
    assert client.post("/admin/users/999999/second-factor", data={"reason": REASON}).status_code == 404


def test_a_member_who_is_not_an_admin_cannot_reset_anyone(app, client, auth, helen):
    person = make_user()
    auth.login(person)
    give_factor(person)
    assert client.post(f"/admin/users/{helen.id}/second-factor", data={"reason": REASON}).status_code == 404
    db.session.expire_all()
    assert factor_rows(helen.id) == 12 and resets() == []


def test_the_member_keeps_their_session_and_reads_circles_that_do_not_require_it(app):
    """The reset isn't a sign-out: the person, perhaps at their desk with their
    phone lost, carries on, and sets up a new factor from there."""
    owner, member = make_user(), make_user("Helen Marsh")
    member_client = app.test_client()
    AuthActions(member_client).login(member)
    give_factor(owner)
    give_factor(member, rows=True)
    open_circle = make_circle(owner, name="Open Circle")
    strict = make_circle(owner, name="Strict Circle")
    circles.update_circle(owner, strict.slug, name=strict.name, join_policy="invite_only",
                          require_two_factor=True)
    add_member(open_circle, member)
    add_member(strict, member)
    assert member_client.get(f"/c/{strict.slug}/").status_code == 200
    admin = make_admin()
    give_factor(admin)
    reset_second_factor(admin, member.id, REASON)
    assert member_client.get(f"/c/{open_circle.slug}/").status_code == 200
    got = member_client.get(f"/c/{strict.slug}/")
    assert got.status_code == 302 and "/second-factor" in got.location
