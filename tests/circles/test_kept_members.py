"""The circle home's Members card comes from the memo (circles.views.MembersCard):
after any change to what it shows, the home served is the home rendered
afresh, and each viewer sees each member's organisation as they may."""
import pytest

from community.accounts.models import User
from community.circles.models import Membership
from community.extensions import db
from community.fast.fragments import MEMO
from tests.conftest import AuthActions
from tests.factories import add_member, make_circle, make_user
from tests.kept import assert_shown_afresh, update


@pytest.fixture
def world(app):
    owner = make_user("Olive Owner", organisation="Berkshire Healthcare")
    circle = make_circle(owner, name="Berkshire Leaders")
    helen = add_member(circle, make_user("Helen Marsh", organisation="Thames Valley Radio"))
    gareth = add_member(circle, make_user("Gareth Jones", organisation="Royal County Bank"))
    return circle, owner, helen, gareth


def _membership_id(circle, user) -> int:
    return db.session.scalar(db.select(Membership.id).where(Membership.circle_id == circle.id,
                                                            Membership.user_id == user.id))


CHANGES = {
    "a member renames themselves": lambda c, o, h, g: update(User, h.id, display_name="Helen Okafor"),
    "a member hides their organisation": lambda c, o, h, g: update(User, h.id,
                                                                   organisation_visibility="nobody"),
    "a member is made a moderator": lambda c, o, h, g: update(Membership, _membership_id(c, h),
                                                              role="moderator"),
    "someone joins": lambda c, o, h, g: add_member(c, make_user("Kenji Mori", organisation="Reading Coll")),
}


@pytest.mark.parametrize("change", CHANGES)
def test_after_a_change_the_home_served_is_the_home_rendered_afresh(client, auth, world, change):
    circle, owner, helen, gareth = world
    auth.login(gareth)
    url = f"/c/{circle.slug}/"
    assert_shown_afresh(client, url, lambda: CHANGES[change](circle, owner, helen, gareth))


def test_an_organisation_shown_to_nobody_is_shown_to_its_owner_alone(make_app, world):
    app = make_app()
    circle, owner, helen, gareth = world
    update(User, helen.id, organisation_visibility="nobody")
    MEMO.clear()
    homes = {}
    for person in (helen, gareth, helen):  # Helen's own view, after Gareth's
        client = app.test_client()
        AuthActions(client).login(person)
        homes[person.display_name] = client.get(f"/c/{circle.slug}/").get_data(as_text=True)
    assert "Thames Valley Radio" in homes["Helen Marsh"]
    assert "Thames Valley Radio" not in homes["Gareth Jones"] and "Royal County Bank" in homes["Gareth Jones"]


def test_the_owner_alone_is_asked_to_invite_their_cohort(client, auth, app):
    owner = make_user("Olive Owner")
    circle = make_circle(owner, name="Berkshire Leaders")
    auth.login(owner)
    assert "Make an invite link" in client.get(f"/c/{circle.slug}/").get_data(as_text=True)
    add_member(circle, make_user("Helen Marsh"))
    assert "Make an invite link" not in client.get(f"/c/{circle.slug}/").get_data(as_text=True)
