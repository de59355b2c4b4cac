"""Programmes: the programme staff role, programmes, cohort circles, and who sees what."""
import pytest
from sqlalchemy import select

from community.accounts.security_log import SecurityEvent
from community.circles.models import Membership
from community.errors import ActionError
from community.extensions import db
from community.moderation import actions as moderation
from community.programmes import actions
from community.programmes.models import ProgrammeCohort
from tests.factories import add_member, give_second_factor, make_circle, make_thread, make_user


def make_admin(name="Site Admin"):
    admin = make_user(name)
    admin.is_site_admin = True
    db.session.commit()
    return give_second_factor(admin)


def make_staff(admin, name="Lena Staff", programme=None):
    user = make_user(name)
    return actions.grant_programme_staff(admin, user.email,
                                         programme.id if programme else None)


@pytest.fixture
def world(app):
    admin = make_admin()
    lena = make_staff(admin, "Lena Staff")
    programme = actions.create_programme(lena, "Berkshire Leadership", "Reading", "2020", "")
    omar = make_staff(admin, "Omar Other")
    other = actions.create_programme(omar, "Oxford Fellows", "Oxford", 2019, 2030)
    return {"admin": admin, "lena": lena, "programme": programme, "omar": omar, "other": other}


def test_granting_and_revoking_the_role_is_recorded(app, world):
    admin, lena = world["admin"], world["lena"]
    kinds = db.session.scalars(select(SecurityEvent.kind).where(SecurityEvent.user_id == lena.id)).all()
    assert "programme_staff_granted" in kinds
    actions.revoke_programme_staff(admin, lena.id)
    assert not lena.is_programme_staff
    event = db.session.scalar(select(SecurityEvent).where(
        SecurityEvent.user_id == lena.id, SecurityEvent.kind == "programme_staff_revoked"))
    assert event is not None and admin.display_name in event.detail


def test_only_site_admins_grant_the_role(app, world):
    plain = make_user()
    with pytest.raises(Exception) as err:
        actions.grant_programme_staff(world["lena"], plain.email)
    assert getattr(err.value, "code", None) == 403
    with pytest.raises(ActionError):
        actions.grant_programme_staff(world["admin"], "nobody@example.org")


def test_a_plain_member_cannot_start_a_programme(app):
    with pytest.raises(Exception) as err:
        actions.create_programme(make_user(), "Mine", "", 2024)
    assert getattr(err.value, "code", None) == 403


@pytest.mark.parametrize("fields, field", [
    ({"name": "", "start_year": "2020"}, "name"),
    ({"name": "P", "start_year": "twenty"}, "start_year"),
    ({"name": "P", "start_year": "1066"}, "start_year"),
    ({"name": "P", "start_year": "٢٠٢٠"}, "start_year"),
    ({"name": "P", "start_year": "2020", "end_year": "2019"}, "end_year"),
])
def test_programme_fields_are_checked(app, world, fields, field):
    with pytest.raises(ActionError) as err:
        actions.create_programme(world["lena"], **fields)
    assert err.value.field == field


def test_staff_start_a_cohort_circle_and_own_it(app, world):
    lena, programme = world["lena"], world["programme"]
    circle = actions.create_cohort(lena, programme.id, "2025", name="Berkshire 2025",
                                   description="", join_policy="invite_only")
    owner = db.session.scalar(select(Membership).where(Membership.circle_id == circle.id))
    assert (owner.user_id, owner.role) == (lena.id, "owner")
    cohort = db.session.scalar(select(ProgrammeCohort).where(ProgrammeCohort.circle_id == circle.id))
    assert (cohort.programme_id, cohort.year) == (programme.id, 2025)
    assert circle.cohort == "Berkshire Leadership 2025"
    with pytest.raises(ActionError) as err:
        actions.create_cohort(lena, programme.id, 2019, name="Too early")
    assert err.value.field == "year"


def test_staff_of_another_programme_and_members_get_404(app, world, client, auth):
    programme = world["programme"]
    with pytest.raises(Exception) as err:
        actions.create_cohort(world["omar"], programme.id, 2025, name="Not mine")
    assert getattr(err.value, "code", None) == 404
    auth.login(world["omar"])
    assert client.get(f"/programmes/{programme.id}").status_code == 404
    assert client.get(f"/programmes/{programme.id}/cohorts/new").status_code == 404
    assert b"Berkshire Leadership" not in client.get("/programmes/").data
    auth.logout()
    auth.login(make_user())
    assert client.get("/programmes/").status_code == 404
    assert client.get(f"/programmes/{programme.id}").status_code == 404
    assert b'href="/programmes/"' not in client.get("/").data


def test_a_site_admin_manages_every_programme(app, world, client, auth):
    auth.login_past_second_step(world["admin"])
    page = client.get("/programmes/").get_data(as_text=True)
    assert "Berkshire Leadership" in page and "Oxford Fellows" in page
    assert client.get(f"/programmes/{world['programme'].id}").status_code == 200


def test_revoking_the_role_ends_the_hand_on_the_programme(app, world, client, auth):
    actions.revoke_programme_staff(world["admin"], world["lena"].id)
    auth.login(world["lena"])
    assert client.get(f"/programmes/{world['programme'].id}").status_code == 404


def test_pages_start_a_programme_and_a_cohort(app, world, client, auth):
    auth.login(world["lena"])
    assert b"No programmes yet" not in client.get("/programmes/").data
    answer = client.post("/programmes/new", data={"name": "Reading Changemakers",
                                                  "place": "Reading", "start_year": "2024"})
    assert answer.status_code == 302
    programme_path = answer.location
    bad = client.post("/programmes/new", data={"name": "X", "start_year": "soon"})
    assert bad.status_code == 400 and "as a year" in bad.get_data(as_text=True)
    page = client.get(programme_path).get_data(as_text=True)
    assert "No cohorts yet" in page
    answer = client.post(programme_path + "/cohorts/new", data={
        "year": "2025", "name": "Changemakers 2025", "join_policy": "invite_only"})
    assert answer.status_code == 302 and "/manage/invitations/bulk" in answer.location
    page = client.get(programme_path).get_data(as_text=True)
    assert "Changemakers 2025" in page and "2025" in page


def test_programme_staff_do_not_read_cohort_circles(app, world, client, auth):
    """Confidentiality: handing a cohort over and leaving it ends the lead's reading,
    and a colleague on the same programme never had it."""
    lena, programme = world["lena"], world["programme"]
    colleague = make_staff(world["admin"], "Colleague", programme)
    circle = actions.create_cohort(lena, programme.id, 2025, name="Berkshire 2025")
    member = add_member(circle, make_user("Helen Marsh"))
    thread = make_thread(circle, member, "Funding cliff", "Our trust loses 2m")
    moderation.transfer_ownership(lena, circle.slug, member.id)
    from community.circles.actions import leave_circle
    leave_circle(lena, circle.slug)
    for person in (lena, colleague):
        auth.login(person)
        assert client.get(f"/c/{circle.slug}/").status_code == 404
        assert client.get(f"/c/{circle.slug}/t/{thread.id}").status_code == 404
        page = client.get(f"/programmes/{programme.id}").get_data(as_text=True)
        assert "Berkshire 2025" in page  # the name and size, no more
        assert "Funding cliff" not in page and "Helen Marsh" not in page
        auth.logout()


def test_admin_page_grants_and_revokes(app, world, client, auth):
    auth.login_past_second_step(world["admin"])
    person = make_user("New Lead")
    answer = client.post("/admin/programme-staff", data={
        "email": person.email.upper(), "programme": str(world["programme"].id)})
    assert answer.status_code == 302
    page = client.get("/admin/programme-staff").get_data(as_text=True)
    assert "New Lead" in page and "Berkshire Leadership" in page
    missing = client.post("/admin/programme-staff", data={"email": "ghost@example.org"})
    assert missing.status_code == 400 and "No account uses" in missing.get_data(as_text=True)
    odd = client.post("/admin/programme-staff", data={"email": person.email, "programme": "x"})
    assert odd.status_code == 400
    client.post(f"/admin/programme-staff/{person.id}/revoke")
    db.session.refresh(person)
    assert not person.is_programme_staff


def test_a_moderator_of_another_circle_cannot_reach_the_admin_page(app, world, client, auth):
    other = make_circle(make_user())
    moderator = add_member(other, make_user(), role="moderator")
    auth.login(moderator)
    assert client.get("/admin/programme-staff").status_code == 404
    assert client.post("/admin/programme-staff", data={"email": moderator.email}).status_code == 404
