"""A field shown to "nobody" is hidden on a circle's own pages too (members,
circle home, requests to join, the people to message), where circle-mates
see the rest as before."""
import pytest

from tests.conftest import AuthActions
from tests.directory.conftest import set_profile
from tests.factories import make_circle, make_user


@pytest.mark.parametrize("audience, shown", [("circles", True), ("alumni", True), ("nobody", False)])
def test_circle_pages_honour_nobody(app, client, people, audience, shown):
    from community.circles.models import Circle
    from community.extensions import db

    set_profile(people.subject, visibility={"organisation": audience, "job_title": audience,
                                            "location": audience, "sector": audience})
    circle = db.session.scalar(db.select(Circle).where(Circle.name == "Same Circle"))
    AuthActions(client).login(people.same)
    for path in (f"/c/{circle.slug}/", f"/c/{circle.slug}/members", "/messages/new"):
        html = client.get(path).get_data(as_text=True)
        assert ("Orgmarker Trust" in html) is shown, path
    members = client.get(f"/c/{circle.slug}/members").get_data(as_text=True)
    assert ("Jobmarker Lead" in members) is shown and ("Placemarker" in members) is shown
    assert ('<span class="meta">Non-profit' in members) is shown  # (the filter's own list names every sector)


@pytest.mark.parametrize("audience, shown", [("circles", True), ("nobody", False)])
def test_a_request_to_join_shows_what_its_asker_lets_circles_see(app, client, audience, shown):
    from community.circles import actions as circles

    owner = make_user()
    circle = make_circle(owner, join_policy="request")
    asker = make_user(organisation="Askermarker Ltd")
    set_profile(asker, visibility={"organisation": audience})
    circles.request_to_join(asker, circle.slug, "Hello")
    AuthActions(client).login(owner)
    html = client.get(f"/c/{circle.slug}/manage/requests").get_data(as_text=True)
    assert "Hello" in html or asker.display_name in html
    assert ("Askermarker Ltd" in html) is shown


@pytest.mark.parametrize("audience, found", [("circles", True), ("nobody", False)])
def test_the_members_page_finds_no_one_by_a_field_they_hide(app, client, people, audience, found):
    from community.circles.models import Circle
    from community.extensions import db

    set_profile(people.subject, visibility={"organisation": audience, "sector": audience})
    circle = db.session.scalar(db.select(Circle).where(Circle.name == "Same Circle"))
    AuthActions(client).login(people.same)
    for args in ({"q": "orgmarker"}, {"sector": "non_profit"}):
        html = client.get(f"/c/{circle.slug}/members", query_string=args).get_data(as_text=True)
        assert ("Sam Subject" in html) is found, args
