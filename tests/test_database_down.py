"""While the database can't be reached: the site's own page, 503, "back shortly",
never a bare "Internal Server Error" (the error page itself used to reload the
signed-in user from the database); and back to normal without a restart."""
import sqlite3
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from community.extensions import db
from community.threads.models import Post
from tests.factories import make_circle, make_thread, make_user


@contextmanager
def database_down(app):
    """Every new connection refused, as when the server has stopped."""
    def refuse(*_args, **_kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    db.session.remove()
    db.engine.dispose()  # pooled connections would outlive the outage
    event.listen(db.engine, "do_connect", refuse)
    try:
        yield
    finally:
        event.remove(db.engine, "do_connect", refuse)


def looks_like_our_page(response):
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert response.headers["Retry-After"] == "30"
    assert "We'll be back shortly" in page and "Nothing you saved is lost" in page
    assert "Internal Server Error" not in page and "Traceback" not in page


@pytest.fixture
def member(app):
    """(the owner's email, the circle's slug, a thread's id): plain values, which
    outlive the session the outage throws away."""
    owner = make_user()
    circle = make_circle(owner)
    thread = make_thread(circle, owner)
    db.session.commit()
    return owner.email, circle.slug, thread.id


def test_pages_say_back_shortly_and_recover_without_a_restart(app, client, auth, member):
    email, slug, thread_id = member
    auth.login(email)
    with database_down(app):
        for path in ("/", f"/c/{slug}/", f"/c/{slug}/t/{thread_id}", "/notifications"):
            looks_like_our_page(client.get(path))
        api = client.get("/notifications/unread", headers={"Accept": "application/json"})
        assert api.status_code == 503 and api.get_json()["error"] == "unavailable"
        looks_like_our_page(client.post("/auth/login", data={"email": email, "password": "x"}))
    assert client.get("/").status_code == 200
    assert client.get(f"/c/{slug}/t/{thread_id}").status_code == 200


def test_a_post_while_down_is_refused_whole_and_can_be_sent_again(app, client, auth, member):
    email, slug, thread_id = member
    auth.login(email)
    before = db.session.scalar(select(func.count(Post.id)))
    with database_down(app):
        looks_like_our_page(client.post(f"/c/{slug}/t/{thread_id}/reply",
                                        data={"body": "Said while it was down"}))
    assert db.session.scalar(select(func.count(Post.id))) == before
    assert client.post(f"/c/{slug}/t/{thread_id}/reply",
                       data={"body": "Said again"}).status_code == 302
    assert db.session.scalar(select(func.count(Post.id))) == before + 1


def test_another_error_while_the_database_is_down_still_gets_our_page(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)  # as in production: a bug gets the 500 page

    @app.route("/boom")
    def boom():
        raise RuntimeError("a bug, while the database is away too")

    with app.app_context():
        email = make_user().email
        db.session.commit()
        client = app.test_client()
        client.post("/auth/login", data={"email": email, "password": "correct horse battery"})
        with database_down(app):
            looks_like_our_page(client.get("/boom"))


@pytest.mark.postgres
def test_a_connection_lost_mid_request_still_gets_its_answer(postgres_url):
    """The database connection dies after the answer is made (the server
    restarted): the visitor still gets the answer, not a 500, and the next
    request works, whether the pool's look at checkout sees the connection
    closed or the page finds out at its first read (and is read again)."""
    import psycopg
    from sqlalchemy import make_url, text

    from community import create_app
    from tests.conftest import AuthActions, app_config

    app = create_app(app_config(postgres_url))
    with app.app_context():
        db.create_all()
        owner = make_user()
        circle = make_circle(owner)
        db.session.commit()
        email, slug = owner.email, circle.slug
    admin_url = make_url(postgres_url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    cut = []

    @app.after_request
    def cut_this_connection(response):
        if cut:  # the request's own connection, ended by the server
            pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return response

    client = app.test_client()
    AuthActions(client).login(email)
    cut.append(True)
    assert client.get(f"/c/{slug}/").status_code == 200
    cut.clear()
    assert client.get(f"/c/{slug}/").status_code == 200
    with app.app_context():
        db.engine.dispose()


def _pooled_backend(app, postgres_url):
    """(the app's test client signed in, the circle's slug, a function that
    ends the server process behind the pooled connection and waits until it
    has gone)."""
    import time

    import psycopg
    from sqlalchemy import make_url, text

    from tests.conftest import AuthActions

    with app.app_context():
        db.create_all()
        owner = make_user()
        circle = make_circle(owner)
        db.session.commit()
        email, slug = owner.email, circle.slug
    pids = []

    @app.after_request
    def remember_backend(response):
        pids.append(db.session.execute(text("SELECT pg_backend_pid()")).scalar())
        return response

    admin_url = make_url(postgres_url).set(drivername="postgresql").render_as_string(
        hide_password=False)

    def end_it():
        pid = pids[-1]
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            for _ in range(200):
                if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                     (pid,)).fetchone():
                    return
                time.sleep(0.01)
        raise AssertionError("the backend did not end")

    client = app.test_client()
    AuthActions(client).login(email)
    return client, slug, end_it


@pytest.mark.postgres
def test_a_page_whose_connection_died_unseen_is_read_again(postgres_url):
    """The window the checkout's look can't cover: the server has ended the
    connection but its close hasn't reached our socket yet (here the look is
    switched off, so the window stays open). The page load fails at its first
    read, and runs once more on a new connection: the visitor sees the page,
    not "back shortly"."""
    from community import create_app, postgres
    from tests.conftest import app_config

    app = create_app(app_config(postgres_url))
    client, slug, end_it = _pooled_backend(app, postgres_url)
    with app.app_context():
        engine = db.engine

    def unseen(request):
        """`request` on a connection whose end the checkout can't see yet."""
        end_it()
        event.remove(engine, "checkout", postgres.alive)
        try:
            return request()
        finally:
            event.listen(engine, "checkout", postgres.alive)

    assert client.get(f"/c/{slug}/").status_code == 200
    page = unseen(lambda: client.get(f"/c/{slug}/"))
    assert page.status_code == 200, page.status_code
    assert b"back shortly" not in page.data
    # A form post on such a connection is not sent twice: it fails, and says so.
    posted = unseen(lambda: client.post(f"/c/{slug}/threads/new",
                                        data={"title": "Twice?", "body": "Once only."}))
    assert posted.status_code == 503
    assert client.get(f"/c/{slug}/").status_code == 200
    engine.dispose()
