"""Fixtures of the files tests: an app storing files under the test's own directory."""
import pytest

from tests.factories import add_member, make_circle, make_user


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app(FILE_STORAGE_URL=f"file://{tmp_path}/files")
    with app.app_context():
        yield app


@pytest.fixture
def world(app):
    """(circle, owner, member)"""
    owner = make_user()
    circle = make_circle(owner)
    member = add_member(circle)
    return circle, owner, member
