"""Prepared reads (community/fast/prepared.py): the driver's cursor, SQLAlchemy's values and events."""
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, event, inspect, select, text
from sqlalchemy.exc import CompileError, OperationalError, ProgrammingError

from community import create_app
from community.accounts.actions import _user_row
from community.extensions import db
from community.fast.prepared import Prepared, prepared
from community.header import _header_counts
from community.notifications.actions import _unread_count_statement
from community.policy import _circle_rows_by_slug
from community.threads import actions as threads
from community.threads.models import Post
from community.threads.reading import _page_of_posts, _thread_and_page
from community.threads.rows import _listing_statement
from tests.conftest import app_config
from tests.factories import add_member, make_circle, make_thread, make_user


def _a_thread_with_a_life():
    """A thread with an edited reply, a removed one and reactions; (circle, thread, reader, owner)."""
    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh"))
    thread = make_thread(circle, owner)
    edited = threads.post_reply(helen, circle.slug, thread.id, "First thoughts")
    threads.edit_post(helen, circle.slug, edited.id, "Second thoughts")
    removed = threads.post_reply(owner, circle.slug, thread.id, "Said in haste")
    threads.delete_post(owner, circle.slug, removed.id)
    threads.toggle_reaction(owner, circle.slug, edited.id, "heart")
    threads.toggle_reaction(helen, circle.slug, edited.id, "heart")
    threads.mark_read(helen, circle.slug, thread.id, 2)
    return circle, thread, helen, owner


def _reads_of(circle, thread, reader, owner) -> list[tuple[Prepared, dict]]:
    page = {"thread_id": thread.id, "first": 1, "last": 20, "me": reader.id}
    return [(_page_of_posts, page),  # with its reactions nested (fast/nested.py)
            (_circle_rows_by_slug, {"user_id": reader.id, "slug": circle.slug}),
            (_thread_and_page, {**page, "circle_id": circle.id}),  # the posts with their thread
            (_header_counts, {"user_id": owner.id}),  # the bell's and the messages' counts
            (_user_row(True, False), {"user_id": owner.id}),  # a page load's user, with them
            (_user_row(True, True), {"user_id": reader.id, "slug": circle.slug}),  # and its circle
            (_listing_statement, {"circle_ids": [circle.id, circle.id + 1], "user_id": reader.id,
                                  "limit": 20, "offset": 0})]  # an IN list


def _assert_same_as_sqlalchemy(*world):
    for read, params in _reads_of(*world):
        expected = db.session.execute(read.statement, params).all()
        got = read.rows(params)
        assert [tuple(row) for row in got] == [tuple(row) for row in expected], read.statement
        # The same types too: aware datetimes, booleans, not SQLite's text and integers.
        assert [[type(value) for value in row] for row in got] == \
            [[type(value) for value in row] for row in expected]
        assert got and expected, "each read should find something in this thread"


def test_prepared_reads_give_what_sqlalchemy_gives_on_sqlite(app):
    world = _a_thread_with_a_life()
    _assert_same_as_sqlalchemy(*world)
    thread = world[1]
    posts = _page_of_posts.rows({"thread_id": thread.id, "first": 1, "last": 20, "me": world[2].id})
    assert [post.number for post in posts] == [1, 2, 3]
    assert posts[1].edited_at.tzinfo is UTC and posts[2].deleted_at is not None
    assert posts[0].edited_at is None


@pytest.mark.postgres
def test_prepared_reads_give_what_sqlalchemy_gives_on_postgresql(postgres_url):
    app = create_app(app_config(postgres_url))
    with app.app_context():
        db.create_all()
        try:
            _assert_same_as_sqlalchemy(*_a_thread_with_a_life())
        finally:
            db.session.remove()
            db.engine.dispose()


def test_first_and_scalar_on_no_rows(app):
    nowhere = {"thread_id": 999, "circle_id": 999, "me": 1, "first": 1, "last": 20}
    assert _thread_and_page.first(nowhere) is None
    assert _unread_count_statement.scalar({"user_id": 999}) == 0


def test_statement_counters_see_prepared_reads(app, client, auth, count_queries):
    world = circle, thread, reader, _ = _a_thread_with_a_life()
    auth.login(reader)
    with count_queries() as sent:
        assert client.get(f"/c/{circle.slug}/t/{thread.id}?page=1").status_code == 200
    posts_sql = _thread_and_page._compiled_for(db.engine.dialect).sql
    assert sent.statements.count(posts_sql) == 1
    # Two prepared reads among the page's statements, counted as any other (the
    # header's counts and the circle come in the user's read: _header_counts and
    # _circle_rows_by_slug are not sent; the posts, with their reactions and
    # files, with the thread: _page_of_posts is not sent either).
    assert sum(read._compiled_for(db.engine.dialect).sql in sent.statements
               for read, _ in _reads_of(*world)) == 2


def test_parameters_go_through_their_types(app):
    """An aware datetime parameter is stored-format text for SQLite, as SQLAlchemy
    would send it: the driver's own conversion would compare '...+00:00' strings."""
    _a_thread_with_a_life()
    newest = db.session.scalar(select(Post.created_at).order_by(Post.id.desc()).limit(1))
    since = Prepared(lambda: select(Post.number).order_by(Post.number)
                     .where(Post.created_at >= bindparam("since", type_=Post.created_at.type)))
    assert [row.number for row in since.rows({"since": newest})] == [3]
    assert len(since.rows({"since": newest - timedelta(days=1)})) == 3
    assert since.rows({"since": newest + timedelta(microseconds=1)}) == []


def test_an_in_list_is_expanded_per_call_as_sqlalchemy_does(app, count_queries):
    """Lists of each length, empty too, and of values their type converts
    (SQLite's stored text for aware datetimes)."""
    _a_thread_with_a_life()
    times = db.session.scalars(select(Post.created_at).order_by(Post.id)).all()
    by_time = Prepared(lambda: select(Post.number).order_by(Post.number)
                       .where(Post.created_at.in_(bindparam("times", expanding=True)),
                              Post.number >= bindparam("least")))
    # Each length twice, other items the second time: the plan kept per length takes them.
    for chosen in ([], times[:1], times[1:], times, times[2:], times[:2], times[::-1]):
        params = {"times": chosen, "least": 1}
        expected = db.session.execute(by_time.statement, params).all()
        assert [tuple(row) for row in by_time.rows(params)] == [tuple(row) for row in expected]
    assert [row.number for row in by_time.rows({"times": times, "least": 2})] == [2, 3]
    with count_queries() as sent:
        by_time.rows({"times": times[:2], "least": 1})
    assert sent.statements[-1].count("?") == 3  # two list items and the least number


def test_a_driver_error_comes_as_sqlalchemys_and_the_session_recovers(app):
    circle, thread, reader, _ = _a_thread_with_a_life()

    @prepared
    def missing():
        return select(text("id")).select_from(text("no_such_table"))

    with pytest.raises((OperationalError, ProgrammingError)):
        missing.rows({})
    db.session.rollback()
    assert _thread_and_page.first({"thread_id": thread.id, "circle_id": circle.id, "me": reader.id,
                                   "first": 1, "last": 20}).title == thread.title


@pytest.mark.parametrize("stored, expected", [
    ("2026-11-30 01:08:10.552000", datetime(2026, 11, 30, 1, 8, 10, 552000, tzinfo=UTC)),
    ("2026-11-30 01:08:10", datetime(2026, 11, 30, 1, 8, 10, tzinfo=UTC)),
    (None, None),
])
def test_sqlite_times_are_read_as_aware_utc(app, stored, expected):
    from community.timeutil import UTCDateTime

    dialect = db.engine.dialect
    assert UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)(stored) == expected


def test_sqlite_times_written_and_read_back_are_equal(app):
    _a_thread_with_a_life()
    on_the_second = datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC)  # no microseconds: a shorter text
    post = db.session.scalar(select(Post).order_by(Post.id).limit(1))
    post.edited_at = on_the_second
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Post, post.id).edited_at == on_the_second


def test_a_signed_in_user_is_loaded_with_every_value_and_its_changes_are_saved(app):
    from community.accounts.actions import load_session_user
    from community.accounts.models import User

    made = make_user("Helen Marsh", organisation="Leeds Foundation Trust")
    expected = {attr.key: getattr(made, attr.key) for attr in inspect(User).column_attrs}
    db.session.expunge_all()  # as a fresh request's session
    user = load_session_user(made.get_id())
    assert {key: getattr(user, key) for key in expected} == expected
    assert user in db.session and not db.session.is_modified(user)
    assert load_session_user(made.get_id()) is user  # one object per session, as the ORM keeps
    user.timezone = "Asia/Tokyo"
    db.session.commit()
    db.session.expunge_all()
    assert db.session.get(User, made.id).timezone == "Asia/Tokyo"


def test_an_object_read_from_a_row_is_as_the_orm_would_keep_it_detached(app, monkeypatch):
    """A row of every column, made an object (as_loaded) without the walk over
    its attributes make_transient_to_detached takes: the same state, and one
    with relationships still gets that walk (they load when asked)."""
    from community.accounts.models import User
    from community.circles.models import Membership
    from community.fast import prepared as module
    from community.fast.prepared import every_column_of, loaded_row

    owner = make_user("Olive Owner")
    circle = make_circle(owner)
    helen = add_member(circle, make_user("Helen Marsh"))
    membership_id = db.session.scalar(select(Membership.id).where(Membership.user_id == helen.id))
    db.session.expunge_all()
    walked = []
    real = module.make_transient_to_detached
    monkeypatch.setattr(module, "make_transient_to_detached", lambda obj: walked.append(obj) or real(obj))

    def state(obj):
        found = inspect(obj)
        return (found.key, found.detached, found.modified, dict(found.committed_state),
                set(found.expired_attributes), set(found.unloaded))

    for model, row_id in ((User, helen.id), (Membership, membership_id)):
        row = loaded_row(model)._make(db.session.execute(
            every_column_of(model).where(model.id == row_id)).one())
        walked.clear()
        fast = module._detached(model, row, (model, (row_id,), None))
        slow = model.__mapper__.class_manager.new_instance()
        slow.__dict__.update(row._asdict())
        real(slow)
        assert state(fast) == state(slow)
        assert walked == ([] if model is User else [fast])
    user = module._detached(User, loaded_row(User)._make(db.session.execute(
        every_column_of(User).where(User.id == helen.id)).one()), (User, (helen.id,), None))
    db.session.add(user)
    user.display_name = "Helen Marsh-Gray"
    db.session.commit()
    db.session.expunge_all()
    assert db.session.get(User, helen.id).display_name == "Helen Marsh-Gray"


def test_a_session_for_a_suspended_or_signed_out_user_loads_no_one(app):
    from community.accounts.actions import load_session_user

    user = make_user()
    session_id = user.get_id()
    assert load_session_user(session_id.split(":")[0] + ":wrong-token") is None
    user.suspended_at = datetime.now(UTC)
    db.session.commit()
    db.session.expunge_all()
    assert load_session_user(session_id) is None


def test_a_user_the_session_holds_expired_is_refreshed_from_the_same_read(app, count_queries):
    from community.accounts.actions import load_session_user

    made = make_user("Helen Marsh")
    session_id, zone = made.get_id(), made.timezone
    db.session.commit()  # expires it, as the end of a request does when the session lives on
    with count_queries() as sent:
        user = load_session_user(session_id)
        assert (user.display_name, user.timezone) == ("Helen Marsh", zone)
    assert user is made and sent.count == 1, sent.statements


def test_sqlalchemy_as_pinned_passes_the_check():
    from community.fast.prepared import check_sqlalchemy

    check_sqlalchemy()


@pytest.mark.parametrize("change", ["another minor version", "construct_params gone",
                                    "construct_params takes other arguments",
                                    "driver_connection gone", "cursor events take other arguments",
                                    "parameters in another order"])
def test_prepared_reads_refuse_a_sqlalchemy_whose_internals_changed(monkeypatch, change):
    """Loudly, naming the version: not statements sent with wrong parameters."""
    import sqlalchemy
    from sqlalchemy.events import ConnectionEvents
    from sqlalchemy.pool import ManagesConnection
    from sqlalchemy.sql.compiler import SQLCompiler

    from community.fast.prepared import check_sqlalchemy

    if change == "another minor version":
        monkeypatch.setattr(sqlalchemy, "__version__", "2.2.0")
    elif change == "construct_params gone":
        monkeypatch.delattr(SQLCompiler, "construct_params")
    elif change == "construct_params takes other arguments":
        real = SQLCompiler.construct_params
        monkeypatch.setattr(SQLCompiler, "construct_params", lambda self, params=None: real(self, params))
    elif change == "driver_connection gone":
        monkeypatch.delattr(ManagesConnection, "driver_connection", raising=False)
        declared = ManagesConnection.__annotations__
        monkeypatch.setattr(ManagesConnection, "__annotations__",
                            {k: v for k, v in declared.items() if k != "driver_connection"})
    elif change == "cursor events take other arguments":
        monkeypatch.setattr(ConnectionEvents, "before_cursor_execute",
                            lambda self, conn, cursor, statement, parameters, context: None)
    else:
        real = SQLCompiler.construct_params
        monkeypatch.setattr(SQLCompiler, "construct_params",
                            lambda self, *a, **k: {name: -1 for name in real(self, *a, **k)})
    with pytest.raises(RuntimeError, match=rf"SQLAlchemy {sqlalchemy.__version__}"):
        check_sqlalchemy()


def test_a_users_circles_as_rows_are_what_the_orm_loads(app):
    """The dashboard's circles (policy.circle_rows_of) against my_circles' ORM
    objects: every column, the same order, only active memberships; and each
    circle's count of active members."""
    from community.circles.actions import my_circles
    from community.moderation import actions as moderation
    from community.policy import circle_rows_of

    owner = make_user("Olive Owner")
    helen = make_user("Helen Marsh")
    for name in ("Zeta circle", "Alpha circle", "Left circle"):
        add_member(make_circle(owner, name=name), helen, role="moderator" if name[0] == "Z" else "member")
    left = make_circle(owner, name="Removed from")
    add_member(left, helen)
    moderation.remove_member(owner, left.slug, helen.id)
    add_member(make_circle(make_user(), name="Not hers"), make_user())
    from community.circles.models import Circle

    alpha = db.session.scalar(select(Circle).where(Circle.name == "Alpha circle"))
    moderation.remove_member(owner, alpha.slug, add_member(alpha, make_user()).id)  # counted no more
    rows, objects = circle_rows_of(helen.id), my_circles(helen)
    assert [(circle.name, members) for circle, _, members in rows] == [
        ("Alpha circle", 2), ("Left circle", 2), ("Zeta circle", 2)]
    for (circle, membership, _), (orm_circle, orm_membership) in zip(rows, objects, strict=True):
        assert circle == tuple(getattr(orm_circle, key) for key in circle._fields)
        assert membership == tuple(getattr(orm_membership, key) for key in membership._fields)
        assert membership.role_label == orm_membership.role_label and membership.is_active


def test_an_anonymous_literal_is_converted_by_its_type(app):
    """literal(True) is bound as "param_1" and SQLite's Boolean sends it as 1:
    the Files page's rows say each file is attached so."""
    from sqlalchemy import literal

    _a_thread_with_a_life()
    flagged = Prepared(lambda: select(Post.number, literal(True).label("shown"))
                       .where(literal(True)).order_by(Post.number))
    expected = db.session.execute(flagged.statement).all()
    assert [tuple(row) for row in flagged.rows({})] == [tuple(row) for row in expected] == [
        (1, True), (2, True), (3, True)]


def test_constants_and_limits_are_written_into_the_sql_and_values_sent_apart(app):
    """What the planner should plan for is in the SQL: a constant of the code
    (a status, a badge's limit) and an `inline` LIMIT or OFFSET, one SQL per
    value; what differs per viewer stays a parameter (bench/findings.md, 32)."""
    from community.fast.prepared import PLANS_KEPT, inline

    _a_thread_with_a_life()
    sent = []
    numbers = Prepared(lambda: select(Post.number)
                       .where(Post.source != "never said", Post.thread_id > bindparam("after"))
                       .order_by(Post.number).limit(inline("limit")).offset(inline("offset")))
    listen = lambda conn, cursor, statement, *args: sent.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        assert [row.number for row in numbers.rows({"after": 0, "limit": 1, "offset": 0})] == [1]
        assert [row.number for row in numbers.rows({"after": 0, "limit": 5, "offset": 1})] == [2, 3]
        assert numbers.rows({"after": 10**6, "limit": 5, "offset": 0}) == []
        with pytest.raises(CompileError):  # only ever a number: nothing else reaches the SQL
            numbers.rows({"after": 0, "limit": "1; DROP TABLE posts", "offset": 0})
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert "posts.source != 'never said'" in sent[0] and "LIMIT 1 OFFSET 0" in sent[0]
    assert "LIMIT 5 OFFSET 1" in sent[1] and "after" not in sent[1] and "?" in sent[1]
    for offset in range(PLANS_KEPT + 10):  # an OFFSET a visitor chose: the SQL kept per value stays bounded
        numbers.rows({"after": 0, "limit": 1, "offset": offset})
    assert len(numbers._by_dialect["sqlite"].plans) == PLANS_KEPT


def test_a_constant_in_list_is_written_into_the_sql_beside_a_list_given_per_run(app):
    """`in_((1, 3))` in the code is a constant like any other (the directory's
    field_visible: `audience.in_(("circles", "alumni"))`); before, it was taken
    for a list given per run and the read failed asking for it by its anonymous name."""
    ids = [_a_thread_with_a_life()[1].id, 10**6]
    sent = []
    numbers = Prepared(lambda: select(Post.number).order_by(Post.number).where(
        Post.number.in_((1, 3)), Post.thread_id.in_(bindparam("threads", expanding=True))))
    listen = lambda conn, cursor, statement, *args: sent.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        got = [row.number for row in numbers.rows({"threads": ids})]
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    expected = db.session.scalars(numbers.statement, {"threads": ids}).all()
    assert got == expected == [1, 3]
    assert "IN (1, 3)" in sent[0] and "IN (?, ?)" in sent[0]


def test_no_main_page_sends_a_limit_as_a_parameter(app, client, auth):
    """The planner plans for a LIMIT's value only if it sees it: sent as a
    parameter, PostgreSQL planned the dashboard's threads anew on every load."""
    circle, thread, helen, owner = _a_thread_with_a_life()
    db.session.commit()
    sent = []
    listen = lambda conn, cursor, statement, *args: sent.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    auth.login(owner.email)
    try:
        for page in ["/", f"/c/{circle.slug}/", f"/c/{circle.slug}/threads", f"/c/{circle.slug}/files",
                     f"/c/{circle.slug}/meetings/", "/messages", "/search?q=thoughts", "/people"]:
            assert client.get(page).status_code == 200, page
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert sent
    sent_so = [sql for sql in sent if re.search(r"\bLIMIT (\?|%\(|\$)", sql)]
    assert not sent_so, "\n\n".join(sent_so)


def test_the_list_pages_read_plain_rows_without_the_orm(app, client, auth):
    """The pages that only show rows read them through prepared reads: an ORM
    execution (building objects, joined loads) was half the meetings list
    (bench/findings.md, 34), and a third of a meeting's page (35). Each page
    here is shown with something on it."""
    from sqlalchemy.orm import Session

    from community.meetings.actions import polls, rsvps, visits
    from tests.meetings.conftest import at, dates_of, day, schedule
    from tests.meetings.test_actions import poll_fields

    circle, thread, helen, owner = _a_thread_with_a_life()
    weekly = schedule(owner, circle, title="Weekly", repeat="weekly", count="6")
    schedule(owner, circle, title="One-off", start=at(day(3)))
    polls.create_poll(owner, circle.slug, **poll_fields())
    visits.offer_to_host(helen, circle.slug, organisation="Riverside Trust", places="8")
    rsvps.rsvp(helen, circle.slug, dates_of(weekly)[0].id, "going")
    db.session.commit()
    auth.login(owner.email)
    pages = {"/": b"Weekly", f"/c/{circle.slug}/": b"Weekly",
             f"/c/{circle.slug}/threads": b"Getting out of the silo",
             f"/c/{circle.slug}/t/{thread.id}": b"Second thoughts",
             f"/c/{circle.slug}/meetings/": b"Riverside Trust", f"/c/{circle.slug}/files": b"Files",
             "/messages": b"Messages", f"/c/{circle.slug}/m/{weekly.id}": helen.display_name.encode()}
    executed = {page: [] for page in pages}
    asking = []
    listen = lambda state: executed[asking[-1]].append(str(state.statement))  # noqa: E731
    event.listen(Session, "do_orm_execute", listen)
    try:
        for page, shown in pages.items():
            asking.append(page)
            response = client.get(page)
            assert response.status_code == 200 and shown in response.data, page
    finally:
        event.remove(Session, "do_orm_execute", listen)
    assert not any(executed.values()), {page: sql for page, sql in executed.items() if sql}


def test_a_type_that_reads_null_as_a_value_is_refused(app):
    """NULLs pass the column types' conversions by (most of a page's times are
    NULL); so a type whose NULL reads as something else can't be prepared."""
    from sqlalchemy import String, TypeDecorator, cast

    class NullAsBlank(TypeDecorator):
        impl = String
        cache_ok = True

        def process_result_value(self, value, dialect):
            return "" if value is None else value

    blank = Prepared(lambda: select(cast(Post.kind, NullAsBlank)))
    with pytest.raises(TypeError, match="reads NULL as ''"):
        blank.rows({})
