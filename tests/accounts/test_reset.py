"""Password reset by email: same answer for every address, signed, one hour, single use."""
import re
from unittest import mock

from sqlalchemy import select

from community.accounts import actions
from community.extensions import db
from community.notifications.models import OutboxMail
from tests.conftest import AuthActions
from tests.factories import PASSWORD, make_user


def reset_link() -> str:
    mail = db.session.scalars(select(OutboxMail).order_by(OutboxMail.id.desc())).first()
    return re.search(r"http://127.0.0.1:5000(/auth/reset/\S+)", mail.text_body).group(1)


def test_same_answer_whether_or_not_the_address_exists(client):
    make_user(email="helen@example.org")
    known = client.post("/auth/reset", data={"email": "helen@example.org"})
    unknown = client.post("/auth/reset", data={"email": "nobody@example.org"})
    strip = lambda r: r.get_data(as_text=True).replace("helen@example.org", "X").replace(  # noqa: E731
        "nobody@example.org", "X")
    assert known.status_code == unknown.status_code == 200
    assert strip(known) == strip(unknown)
    assert [m.to_address for m in db.session.scalars(select(OutboxMail))] == ["helen@example.org"]


def test_reset_sets_the_password_signs_in_and_ends_other_sessions(app, client):
    user = make_user(email="helen@example.org")
    elsewhere = app.test_client()
    AuthActions(elsewhere).login(user)
    client.post("/auth/reset", data={"email": "Helen@Example.org"})
    link = reset_link()
    assert client.get(link).status_code == 200
    response = client.post(link, data={"new_password": "a brand new password"})
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    assert actions.authenticate("helen@example.org", "a brand new password") == user
    # Single use: the same link no longer works.
    assert client.get(link).status_code == 404
    assert client.post(link, data={"new_password": "yet another password"}).status_code == 404


def test_links_expire_after_an_hour(client):
    make_user(email="helen@example.org")
    client.post("/auth/reset", data={"email": "helen@example.org"})
    link = reset_link()
    with mock.patch("itsdangerous.timed.time.time", return_value=__import__("time").time() + 3601):
        assert client.get(link).status_code == 404


def test_forged_links_are_refused(client):
    make_user(email="helen@example.org")
    client.post("/auth/reset", data={"email": "helen@example.org"})
    link = reset_link()
    assert client.get(link[:-3] + "abc").status_code == 404
    assert client.get("/auth/reset/not-a-token").status_code == 404


def test_short_new_password_is_refused(client):
    make_user(email="helen@example.org")
    client.post("/auth/reset", data={"email": "helen@example.org"})
    response = client.post(reset_link(), data={"new_password": "short"})
    assert response.status_code == 400
    assert actions.authenticate("helen@example.org", PASSWORD)


def test_invitation_bound_to_an_email_is_sent_through_the_outbox(app):
    from community.moderation.actions import create_invitation
    from tests.factories import make_circle

    owner = make_user("Olive Owner")
    circle = make_circle(owner, name="Thames Valley")
    _, token = create_invitation(owner, circle.slug, email="newcomer@example.org")
    [mail] = db.session.scalars(select(OutboxMail)).all()
    assert mail.to_address == "newcomer@example.org"
    assert mail.subject == "Olive Owner invites you to Thames Valley"
    assert f"http://127.0.0.1:5000/invite/{token}" in mail.text_body
