"""A page load reads before the ORM Session (community/fast/page_load.py): no
Session is made for a page that reads through prepared statements, the viewer
read before one joins it when it is made, and a request holds one connection
at a time, given back at its end."""
from contextlib import contextmanager

import pytest
from flask import g
from sqlalchemy import bindparam, select, update

from community.accounts.actions import load_session_user
from community.accounts.models import PROFILE_FIELDS, User
from community.extensions import db
from community.fast import page_load
from community.fast.prepared import Prepared
from community.threads.models import Thread
from tests.directory.conftest import set_profile
from tests.factories import make_circle, make_thread, make_user
from tests.test_built_once import main_pages, main_pages_world

_title = Prepared(lambda: select(Thread.title).where(Thread.id == bindparam("thread_id")))


@contextmanager
def sessions_made():
    made = []
    init = page_load.PageSession.__init__

    def counting(self, *args, **kwargs):
        made.append(self)
        init(self, *args, **kwargs)

    page_load.PageSession.__init__ = counting
    try:
        yield made
    finally:
        page_load.PageSession.__init__ = init


@pytest.fixture
def world(app):
    owner = make_user("Rachel Stone")
    circle = make_circle(owner)
    thread = make_thread(circle, owner, title="Winter rotas", body="The rota for winter")
    db.session.commit()
    return owner.email, owner.get_id(), owner.id, circle.slug, thread.id


def test_the_main_pages_make_no_orm_session(app, client, auth):
    circle, thread, meeting, helen, conversation = main_pages_world()
    # Listed, and in no circle of Helen's: her profile offers an introduction.
    stranger = make_user("Sam Okafor")
    make_circle(stranger)
    set_profile(stranger, listed_in_directory=True, open_to_contact=True,
                visibility={field: "alumni" for field in PROFILE_FIELDS})
    auth.login(helen)
    pages = [*main_pages(circle, thread, meeting), f"/messages/{conversation.id}", "/notifications/unread",
             f"/people/{thread.author_id}", f"/people/{helen.id}", f"/people/{stranger.id}"]
    assert "introduc" in client.get(f"/people/{stranger.id}").get_data(as_text=True).lower()
    made_by = {}
    for page in pages:
        db.session.remove()  # what the test loaded; production starts each request without
        with sessions_made() as made:
            assert client.get(page).status_code == 200, page
        made_by[page] = len(made)
    assert made_by == {page: 0 for page in pages}


def test_a_page_load_reads_without_an_orm_session(client, auth, world):
    email, _, _, slug, thread_id = world
    auth.login(email)
    db.session.remove()  # what the test itself loaded; production starts each request without
    with sessions_made() as made:
        page = client.get(f"/c/{slug}/t/{thread_id}")
        bell = client.get("/notifications/unread")
    assert page.status_code == 200 and "Winter rotas" in page.get_data(as_text=True)
    assert bell.get_json() == {"unread": 0}
    assert made == []
    assert db.engine.pool.checkedout() == 0  # the page load's connection is back in the pool


def test_the_viewer_read_before_the_session_joins_it(app, world):
    _, session_id, user_id, _, _ = world
    db.session.remove()
    with app.test_request_context("/"):
        viewer = load_session_user(session_id)
        assert not db.session.registry.has()
        assert db.session.get(User, user_id) is viewer  # the ORM hands out the same object
        viewer.display_name = "Rachel Stone-Hart"
        db.session.commit()
    db.session.remove()
    assert db.session.get(User, user_id).display_name == "Rachel Stone-Hart"


def test_once_the_session_begins_reads_go_through_it_on_one_connection(app, world):
    *_, thread_id = world
    db.session.remove()
    with app.test_request_context("/"):
        assert _title.scalar({"thread_id": thread_id}) == "Winter rotas"
        assert db.engine.pool.checkedout() == 1  # the page load's own
        db.session.execute(update(Thread).where(Thread.id == thread_id).values(title="Spring rotas"))
        assert db.engine.pool.checkedout() == 1  # handed over: the Session's alone
        assert _title.scalar({"thread_id": thread_id}) == "Spring rotas"  # sees what it wrote
        db.session.rollback()
    db.session.remove()
    assert db.engine.pool.checkedout() == 0


def test_a_form_post_reads_in_the_session_as_before(app, world):
    """Not a page load: what a post reads is in the transaction that writes."""
    _, session_id, user_id, _, thread_id = world
    db.session.remove()
    with app.test_request_context("/", method="POST"):
        viewer = load_session_user(session_id)
        assert db.session.registry.has() and viewer in db.session
        _title.scalar({"thread_id": thread_id})
        assert db.engine.pool.checkedout() == 1
        db.session.remove()


def test_the_circle_read_with_the_viewer_is_read_again_in_the_session(app, world):
    """Read on the page load's connection, which ends as the Session begins."""
    _, session_id, _, slug, thread_id = world
    db.session.remove()
    with app.test_request_context(f"/c/{slug}/t/{thread_id}"):
        load_session_user(session_id)
        assert "circle_rows" in g
        db.session.execute(select(1))
        assert "circle_rows" not in g


@contextmanager
def connections_made():
    """SQLAlchemy Connections made while inside (engine_connect fires for each)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    made = []
    record = made.append
    event.listen(Engine, "engine_connect", record)
    try:
        yield made
    finally:
        event.remove(Engine, "engine_connect", record)


def test_a_page_load_reads_on_the_pools_connection_and_ends_its_transaction(client, auth, world):
    """No SQLAlchemy Connection is made around it (a tenth of the bell's poll,
    bench/findings.md 47); its transaction is rolled back and it goes back to
    the pool."""
    email, _, _, slug, thread_id = world
    auth.login(email)
    db.session.remove()
    with connections_made() as made:
        page = client.get(f"/c/{slug}/t/{thread_id}")
        bell = client.get("/notifications/unread")
    assert page.status_code == 200 and bell.status_code == 200
    assert made == []
    assert db.engine.pool.checkedout() == 0
    with db.engine.connect() as conn:  # the pooled connection, back with no transaction open
        assert conn.connection.driver_connection.in_transaction is False


def test_a_page_loads_failed_read_is_raised_as_sqlalchemy_raises_it(app, world):
    """The driver's error, wrapped as a Connection would wrap it, and the
    connection given back all the same."""
    from sqlalchemy import column, table
    from sqlalchemy.exc import OperationalError

    missing = Prepared(lambda: select(column("x")).select_from(table("no_such_table")))
    db.session.remove()
    with app.test_request_context("/"):
        assert _title.scalar({"thread_id": world[4]}) == "Winter rotas"
        connection = page_load.connection()
        assert isinstance(connection, page_load.PageConnection)
        with pytest.raises(OperationalError) as raised:
            missing.rows({})
        assert "no_such_table" in str(raised.value) and raised.value.connection_invalidated is False
        assert _title.scalar({"thread_id": world[4]}) == "Winter rotas"  # the connection still reads
        page_load.end()
    assert db.engine.pool.checkedout() == 0


def test_a_page_load_on_a_dead_connection_drops_it_from_the_pool(app, world):
    """A read that finds its connection gone (here: closed under it) says so
    (`connection_invalidated`: error_pages reads the page again on a new one),
    and the pool makes a new connection rather than hand out the dead one."""
    from sqlalchemy.exc import DBAPIError

    db.session.remove()
    with app.test_request_context("/"):
        connection = page_load.connection()
        dead = connection.connection.driver_connection
        dead.close()
        with pytest.raises(DBAPIError) as raised:
            _title.scalar({"thread_id": world[4]})
        assert raised.value.connection_invalidated is True
        page_load.end()
    assert db.engine.pool.checkedout() == 0
    with app.test_request_context("/"):
        assert page_load.connection().connection.driver_connection is not dead
        assert _title.scalar({"thread_id": world[4]}) == "Winter rotas"
        page_load.end()


def test_a_page_load_whose_begin_fails_gives_its_connection_back(app, world):
    """A BEGIN the database refuses is raised as SQLAlchemy raises it, and the
    pooled connection goes back at once, not when the garbage collector finds it."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    def refuse(conn):
        raise sqlite3.OperationalError("disk I/O error")

    db.session.remove()
    event.listen(db.engine, "begin", refuse)
    try:
        with app.test_request_context("/"):
            with pytest.raises(OperationalError, match="disk I/O error") as raised:
                page_load.connection()
            # While the error is still held (an error page is being made from it).
            assert db.engine.pool.checkedout() == 0 and raised.value.connection_invalidated is False
    finally:
        event.remove(db.engine, "begin", refuse)
    with app.test_request_context("/"):
        assert _title.scalar({"thread_id": world[4]}) == "Winter rotas"
        page_load.end()
