"""A page of search results comes from the memo whole (threads.views.SearchFrame):
after any change to what it finds or shows, the page served is the page
rendered afresh, and each viewer is served the results from their own circles."""
import pytest
from sqlalchemy import select

from community.circles.actions import leave_circle
from community.circles.models import Circle
from community.extensions import db
from community.fast.fragments import MEMO
from community.threads.actions import delete_post, post_reply
from community.threads.models import Post
from tests.conftest import AuthActions
from tests.factories import add_member, make_circle, make_thread, make_user
from tests.kept import assert_shown_afresh, update


@pytest.fixture
def circles(app):
    owner = make_user("Olive Owner")
    here = make_circle(owner, name="Berkshire Leaders")
    there = make_circle(owner, name="Thames Valley Leaders")
    helen = add_member(here, make_user("Helen Marsh"))
    add_member(there, helen)
    gareth = add_member(here, make_user("Gareth Jones"))
    make_thread(here, owner, title="Rota trouble", body="The winter rota again")
    make_thread(there, owner, title="Night shifts", body="A rota for nights")
    return here, there, owner, helen, gareth


def _opening_post(title: str) -> int:
    return db.session.scalar(select(Post.id).join(Post.thread).where(Post.number == 1)
                             .filter_by(title=title))


CHANGES = {
    "a new post matches": lambda h, t, o, m: make_thread(h, o, title="Rota, rethought", body="Swaps"),
    "a reply matches": lambda h, t, o, m: post_reply(o, h.slug, make_thread(h, o, "Hello", "Hi").id,
                                                      "About the rota"),
    "a matching post is deleted": lambda h, t, o, m: delete_post(o, t.slug, _opening_post("Night shifts")),
    "a circle is renamed": lambda h, t, o, m: update(Circle, t.id, name="Thames Valley Cohort"),
    "the viewer leaves a circle": lambda h, t, o, m: leave_circle(m, t.slug),
}


@pytest.mark.parametrize("scope", ["all", "one circle"])
@pytest.mark.parametrize("change", CHANGES)
def test_after_a_change_the_results_served_are_the_results_found_afresh(client, auth, circles, change,
                                                                         scope):
    here, there, owner, helen, gareth = circles
    auth.login(helen)
    url = "/search?q=rota" if scope == "all" else f"/c/{there.slug}/search?q=rota"
    if scope == "one circle" and change == "the viewer leaves a circle":
        url = f"/c/{here.slug}/search?q=rota"  # the circle searched is still hers
        change = "a new post matches"
    assert_shown_afresh(client, url, lambda: CHANGES[change](here, there, owner, helen))


def test_each_viewer_is_served_the_results_of_their_own_circles(make_app, circles):
    app = make_app()
    here, there, owner, helen, gareth = circles
    MEMO.clear()
    pages = {}
    for person in (helen, gareth, helen):
        client = app.test_client()
        AuthActions(client).login(person)
        pages[person.display_name] = client.get("/search?q=rota").get_data(as_text=True)
    assert "2 results for" in pages["Helen Marsh"] and "Night shifts" in pages["Helen Marsh"]
    assert "1 result for" in pages["Gareth Jones"] and "Night shifts" not in pages["Gareth Jones"]
