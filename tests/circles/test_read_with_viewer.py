"""A page in a circle reads the circle and the viewer's membership of it in the
statement that loads the viewer (circles.pages.circle_read_with_user): one
statement, on PostgreSQL one round trip, fewer. Who may see the page is
decided as before, by policy.access_circle_rows."""
import re

import pytest

from community.circles import actions as circles
from tests.factories import add_member, make_circle, make_thread, make_user


@pytest.fixture
def world():
    owner = make_user("Rachel Stone")
    circle = make_circle(owner)
    member = make_user("Helen Ward")
    add_member(circle, member)
    thread = make_thread(circle, owner, "Welcome", "Say hello here.")
    return circle, owner, member, thread


def pages_of(circle, thread) -> list[str]:
    """The pages that read their circle with the viewer: those only showing it."""
    return [f"/c/{circle.slug}/", f"/c/{circle.slug}/threads", f"/c/{circle.slug}/t/{thread.id}",
            f"/c/{circle.slug}/meetings/", f"/c/{circle.slug}/files"]


def circle_reads(statements: list[str]) -> list[str]:
    """The statements that read a circle by its slug."""
    return [s for s in statements if re.search(r"circles\.slug = (\?|%\(slug\)s)", s)]


def test_each_page_reads_its_circle_in_the_statement_that_loads_the_viewer(
        client, auth, world, count_queries):
    circle, _, member, thread = world
    auth.login(member)
    for page in pages_of(circle, thread):
        client.get(page)
        with count_queries() as sent:
            assert client.get(page).status_code == 200, page
        reads = circle_reads(sent.statements)
        assert len(reads) == 1, (page, reads)
        assert re.search(r"FROM users LEFT OUTER JOIN circles", reads[0]), (page, reads[0])


@pytest.mark.parametrize("who", ["outsider", "former member", "signed out"])
def test_anyone_not_in_the_circle_still_gets_the_404_of_a_missing_circle(client, auth, world, who):
    circle, _, member, thread = world
    missing = [client.get(page.replace(circle.slug, "no-such-circle")) for page in pages_of(circle, thread)]
    if who == "outsider":
        auth.login(make_user())
    elif who == "former member":
        circles.leave_circle(member, circle.slug)
        auth.login(member)
    for page in pages_of(circle, thread):
        answer = client.get(page)
        if who == "signed out":
            assert answer.status_code == 302 and "/auth/login" in answer.location
        else:
            assert answer.status_code == 404, page
            assert circle.name not in answer.get_data(as_text=True)
    if who != "signed out":
        assert all(client.get(page.replace(circle.slug, "no-such-circle")).status_code == 404
                   for page in pages_of(circle, thread))
    assert {answer.status_code for answer in missing} == {302}


def test_a_slug_that_could_not_be_one_is_a_404_not_asked_of_the_database(client, auth, world,
                                                                            count_queries):
    circle, _, member, _ = world
    auth.login(member)
    for slug in ("bad%00slug", "x" * 81):
        with count_queries() as sent:
            assert client.get(f"/c/{slug}/threads").status_code == 404
        assert not circle_reads(sent.statements)


def test_the_circle_read_with_the_viewer_is_the_viewers_own(client, auth, world):
    """Another member's page load in between shows each their own membership:
    the moderator sees the Manage tab, the member does not."""
    circle, owner, member, thread = world
    for who, manages in ((owner, True), (member, False), (owner, True)):
        auth.logout()
        auth.login(who)
        page = client.get(f"/c/{circle.slug}/threads").get_data(as_text=True)
        assert (f"/c/{circle.slug}/manage" in page) is manages, who.display_name
