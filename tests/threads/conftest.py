"""Thread fixtures shared by the kept-page and kept-row tests."""
import pytest

from tests.factories import add_member, make_circle, make_thread, make_user


@pytest.fixture
def world(app):
    """(circle, owner, Helen a member, a thread the owner started)."""
    owner = make_user("Olive Owner")
    circle = make_circle(owner, name="Berkshire Leaders")
    helen = add_member(circle, make_user("Helen Marsh"))
    thread = make_thread(circle, owner, title="Winter pressures", body="Opening thoughts")
    return circle, owner, helen, thread
