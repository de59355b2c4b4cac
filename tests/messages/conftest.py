"""Direct-message fixtures: people who share circles, and some who don't."""
import pytest

from community.extensions import db
from community.moderation import actions as moderation
from tests.chat.conftest import connect, no_rate_limit  # noqa: F401  (fixtures, for live tests)
from tests.chat.live_servers import app_servers, pg_world, redis_url  # noqa: F401  (fixtures)
from tests.conftest import AuthActions
from tests.factories import add_member, make_circle, make_user


@pytest.fixture
def people(app):
    """Berkshire Leaders: Rachel (owner), Amara (moderator), Gareth, Priya, Tom.
    Nina is in another circle with Rachel only; Olu is in no circle; Sam is a
    site admin in no circle."""
    owner = make_user("Rachel Stone")
    circle = make_circle(owner, name="Berkshire Leaders")
    world = {
        "circle": circle,
        "owner": owner,
        "moderator": add_member(circle, make_user("Amara Okafor"), role="moderator"),
        "member": add_member(circle, make_user("Gareth Lloyd")),
        "other": add_member(circle, make_user("Priya Raman")),
        "third": add_member(circle, make_user("Tom Hale")),
        "outsider": make_user("Olu Outsider"),
        "admin": make_user("Sam Admin"),
    }
    elsewhere = make_circle(owner, name="Reading Alumni")
    world["elsewhere"] = elsewhere
    world["nina"] = add_member(elsewhere, make_user("Nina Park"))
    world["admin"].is_site_admin = True
    db.session.commit()
    return world


def remove(world, user):
    """The owner removes someone from Berkshire Leaders."""
    moderation.remove_member(world["owner"], world["circle"].slug, user.id)


def login(app, user):
    client = app.test_client()
    assert AuthActions(client).login(user).status_code == 302
    return client


def text(response) -> str:
    return response.get_data(as_text=True)
