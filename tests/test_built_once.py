"""Statements built once (community/fast/README.md): a main page, loaded again,
builds no new select. Building one, above all with aliases and subqueries,
cost more than running it (bench/findings.md, 12 and 29); a statement built
per request on a page is the thing this catches."""
from contextlib import contextmanager

import pytest
from sqlalchemy.sql.selectable import Select

from community.accounts.models import PROFILE_FIELDS
from community.messages import actions as dm
from community.threads import actions as threads
from tests.directory.conftest import set_profile
from tests.factories import add_member, make_circle, make_thread, make_user
from tests.meetings.conftest import schedule


@contextmanager
def selects_built():
    built = []
    init = Select.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        init(self, *args, **kwargs)

    Select.__init__ = counting
    try:
        yield built
    finally:
        Select.__init__ = init


def main_pages_world():
    """(circle, thread, meeting, helen, conversation): something on every main page."""
    owner = make_user("Rachel Stone")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh"))
    thread = make_thread(circle, owner, title="Rotas", body="The rota for winter")
    threads.post_reply(helen, circle.slug, thread.id, "Our rota works like this")
    meeting = schedule(owner, circle)
    set_profile(owner, listed_in_directory=True, tags="Rotas, budgets",
                visibility={field: "alumni" for field in PROFILE_FIELDS})
    conversation = dm.start_conversation(owner, [str(helen.id)])
    dm.send_message(owner, conversation.id, "Can we talk rotas?", "c1")
    return circle, thread, meeting, helen, conversation


def main_pages(circle, thread, meeting) -> list[str]:
    """Every main page, a search of each kind, the directory and the Messages page."""
    c = circle.slug
    return ["/", f"/c/{c}/", f"/c/{c}/threads", f"/c/{c}/t/{thread.id}?page=1",
            f"/c/{c}/meetings/", f"/c/{c}/m/{meeting.id}", "/search?q=rota", f"/c/{c}/search?q=rota",
            "/messages", f"/c/{c}/files", f"/c/{c}/files?kind=images", f"/c/{c}/files?q=budget",
            "/people", "/people?q=rachel+stone&place=reading"]


@pytest.fixture
def world(app):
    return main_pages_world()


def test_the_main_pages_build_no_statement_per_request(client, auth, world):
    circle, thread, meeting, helen, conversation = world
    auth.login(helen)
    pages = [*main_pages(circle, thread, meeting), f"/messages/{conversation.id}",
             f"/people/{thread.author_id}"]
    for page in pages:
        assert client.get(page).status_code == 200, page  # the first load builds them
        with selects_built() as built:
            assert client.get(page).status_code == 200, page
        assert built == [], page
