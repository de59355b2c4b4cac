"""The migrations build exactly the schema the models describe, on every engine."""
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

from community import create_app
from community.database import elsewhere_than
from community.extensions import db
from tests.conftest import app_config

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def include_name(name, type_, parent_names):
    """As migrations/env.py: SQLite's FTS5 tables are the migrations' own, not the models'."""
    return not (type_ == "table" and name and name.startswith("search_fts"))


def index_filter(dialect: str):
    """As migrations/env.py: what exists on PostgreSQL only is no difference elsewhere."""
    def include_object(obj, name, type_, reflected, compare_to):
        return not elsewhere_than(dialect, obj)
    return include_object


def migrate_and_compare(db_uri: str) -> list:
    app = create_app(app_config(db_uri))
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True, "include_name": include_name,
                "include_object": index_filter(conn.dialect.name)})
            diff = compare_metadata(context, db.metadata)
            tables = set(inspect(conn).get_table_names())
        db.engine.dispose()
    assert set(db.metadata.tables) <= tables
    return diff


def test_migrations_match_the_models_on_sqlite(tmp_path):
    assert migrate_and_compare(f"sqlite:///{tmp_path}/fresh.sqlite3") == []


def test_migrations_downgrade_to_empty_and_back(tmp_path):
    app = create_app(app_config(f"sqlite:///{tmp_path}/fresh.sqlite3"))
    with app.app_context():
        upgrade(directory=MIGRATIONS)
        downgrade(directory=MIGRATIONS, revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade(directory=MIGRATIONS)
        db.engine.dispose()


@pytest.mark.postgres
def test_migrations_match_the_models_on_postgresql(postgres_url):
    assert migrate_and_compare(postgres_url) == []
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        names = {i["name"] for i in inspect(conn).get_indexes("search_entries")}
        migrated, modelled = _search_document_expressions(conn)
    engine.dispose()
    assert "ix_search_entries_fts" in names
    # Alembic doesn't compare what a generated column is made of: PostgreSQL's
    # own rendering of the migrated one and of the model's (made beside it)
    # must be the same.
    assert "to_tsvector" in migrated and migrated == modelled


def _search_document_expressions(conn) -> tuple[str, str]:
    from sqlalchemy.schema import CreateTable

    from community.threads.models import SearchEntry

    def expression(table: str) -> str:
        return conn.execute(text(
            "SELECT generation_expression FROM information_schema.columns "
            "WHERE table_name = :table AND column_name = 'document'"), {"table": table}).scalar()

    ddl = str(CreateTable(SearchEntry.__table__).compile(dialect=conn.dialect))
    conn.execute(text(ddl.replace("search_entries", "model_entries")))
    try:
        return expression("search_entries"), expression("model_entries")
    finally:
        conn.execute(text("DROP TABLE model_entries"))


def raw_sqlite(path: Path, **functions):
    """(sql, found) on a SQLite file through the driver's own connection (no
    foreign keys to satisfy), with these SQL functions of three arguments:
    sql runs a statement, found gives the rowids search_fts matches for a query."""
    import sqlite3

    def sql(statement: str, params=()) -> list:
        with sqlite3.connect(path) as conn:
            for name, function in functions.items():
                conn.create_function(name, 3, function, deterministic=True)
            return conn.execute(statement, params).fetchall()

    def found(query: str) -> list[int]:
        return [row[0] for row in sql("SELECT rowid FROM search_fts WHERE search_fts MATCH ? ORDER BY rowid",
                                      (query,))]

    return sql, found


def test_the_search_index_gains_each_posts_circle_and_keeps_what_it_held(tmp_path):
    """5b2e9c71d0a4 rebuilds SQLite's FTS5 index with circle_id: posts indexed
    before it are found after it, in their circle only; and back down again."""
    path = tmp_path / "fresh.sqlite3"
    app = create_app(app_config(f"sqlite:///{path}"))
    sql, found = raw_sqlite(path)

    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="8cf1fee30ae7")
        db.engine.dispose()
        for circle in (7, 8):  # indexed by the old triggers
            sql("INSERT INTO search_entries (post_id, circle_id, thread_id, title, body) "
                "VALUES (?, ?, ?, 'T', 'burnout coaching')", (circle, circle, circle))
        upgrade(directory=MIGRATIONS, revision="5b2e9c71d0a4")
        db.engine.dispose()
        assert found('{title body} : ("burnout") AND circle_id : ("8")') == [8]
        assert found('"coaching"') == [7, 8]
        sql("UPDATE search_entries SET body = 'rota' WHERE post_id = 7")  # the new triggers
        assert found('{title body} : ("rota") AND circle_id : ("7")') == [7]
        downgrade(directory=MIGRATIONS, revision="8cf1fee30ae7")
        db.engine.dispose()
        assert found('"coaching"') == [8] and found('"rota"') == [7]


def test_the_search_index_keys_each_posts_words_by_its_circle_and_keeps_what_it_held(tmp_path):
    """9e4c1d7b2a60 rebuilds SQLite's FTS5 index with the words keyed by circle:
    posts indexed before it are found after it, in their circle only; the app's
    triggers keep it in step; and back down again to the circle_id column."""
    from community.threads.circle_words import circle_words

    path = tmp_path / "fresh.sqlite3"
    app = create_app(app_config(f"sqlite:///{path}"))
    sql, found = raw_sqlite(path, circle_words=circle_words)

    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="d8f3b6a2c417")
        db.engine.dispose()
        for circle in (7, 8):  # indexed by the old triggers
            sql("INSERT INTO search_entries (post_id, circle_id, thread_id, title, body) "
                "VALUES (?, ?, ?, 'Rota', 'burnout coaching')", (circle, circle, circle))
        upgrade(directory=MIGRATIONS, revision="9e4c1d7b2a60")
        db.engine.dispose()
        assert found('{title body} : ("burnout") AND circle_words : ("c8xburnout")') == [8]
        assert found('circle_words : ("c7xcoaches")') == [7]  # stemmed as the plain words are
        assert found('circle_words : ("c7xrota")') == [7]  # the title's words too
        assert found('"coaching"') == [7, 8] and found('"c7xcoaching"') == [7]
        with db.engine.begin() as conn:  # the app's connection: its triggers call circle_words
            conn.execute(text("UPDATE search_entries SET body = 'mentoring' WHERE post_id = 7"))
        assert found('circle_words : ("c7xmentoring")') == [7]
        assert found('circle_words : ("c7xcoaching")') == [] and found('"coaching"') == [8]
        downgrade(directory=MIGRATIONS, revision="d8f3b6a2c417")
        db.engine.dispose()
        assert found('{title body} : ("mentoring") AND circle_id : ("7")') == [7]
        assert found('"coaching"') == [8] and found('"c8xcoaching"') == []


def insert_chat_world() -> tuple[int, int, int]:
    """A member, two circles and five chat messages (first, second, first, first,
    second), in raw SQL that any revision since a7d3e0c45f12 takes (today's models
    have columns older tables lack). Returns (owner id, first circle id, second's)."""
    owner_id = db.session.scalar(text(
        "INSERT INTO users (email, display_name, handle, password_hash, organisation, job_title,"
        " sector, location, bio, timezone, is_site_admin, session_token, created_at) VALUES"
        " ('rachel@example.org', 'Rachel Stone', 'rachel', 'x', '', '', 'public', '', '',"
        " 'Europe/London', false, 'token', CURRENT_TIMESTAMP) RETURNING id"))
    first_id, second_id = (db.session.scalar(text(
        "INSERT INTO circles (slug, name, description, cohort, join_policy, pledge_required,"
        " pledge_text, pledge_updated_at, audit_visible_to_members, email_excerpts, created_at)"
        " VALUES (:slug, :slug, '', '', 'invite_only', false, '', CURRENT_TIMESTAMP, false, false,"
        " CURRENT_TIMESTAMP) RETURNING id"), {"slug": slug}) for slug in ("first", "second"))
    for n, circle_id in enumerate([first_id, second_id, first_id, first_id, second_id]):
        db.session.execute(text(
            "INSERT INTO chat_messages (circle_id, author_id, client_id, source, html,"
            " created_at) VALUES (:c, :a, :k, 'x', '<p>x</p>', CURRENT_TIMESTAMP)"),
            {"c": circle_id, "a": owner_id, "k": f"k{n}"})
    db.session.commit()
    return owner_id, first_id, second_id


def test_the_latest_migrations_keep_every_row_both_ways(tmp_path):
    """On SQLite a batch migration of `circles` or `users` copies the table and drops
    the old one, and the drop deletes all that cascades from it (foreign keys are on):
    the second factors' migration did, and lost every chat message."""
    app = create_app(app_config(f"sqlite:///{tmp_path}/rows.sqlite3"))
    before = "a7d3e0c45f12"

    def count() -> int:
        n = db.session.scalar(text("SELECT count(*) FROM chat_messages"))
        db.session.remove()
        return n

    with app.app_context():
        upgrade(directory=MIGRATIONS, revision=before)
        insert_chat_world()
        assert count() == 5
        upgrade(directory=MIGRATIONS)
        assert count() == 5
        downgrade(directory=MIGRATIONS, revision=before)
        assert count() == 5
        db.engine.dispose()


def test_migrations_that_copy_a_circles_table_keep_its_members(tmp_path):
    """79438f7676c5 copies `circles` (a batch on SQLite): with foreign keys on while
    migrating, dropping the old table deleted every membership. env.py turns them
    off for the migration and checks them after."""
    app = create_app(app_config(f"sqlite:///{tmp_path}/members.sqlite3"))
    before = "c05984d84bf5"

    def members() -> int:
        n = db.session.scalar(text("SELECT count(*) FROM memberships"))
        db.session.remove()
        return n

    with app.app_context():
        upgrade(directory=MIGRATIONS, revision=before)
        user_id = db.session.scalar(text(
            "INSERT INTO users (email, display_name, handle, password_hash, organisation, job_title,"
            " sector, location, bio, timezone, is_site_admin, session_token, created_at) VALUES"
            " ('rachel@example.org', 'Rachel Stone', 'rachel', 'x', '', '', 'public', '', '',"
            " 'Europe/London', false, 'token', CURRENT_TIMESTAMP) RETURNING id"))
        circle_id = db.session.scalar(text(
            "INSERT INTO circles (slug, name, description, cohort, join_policy, pledge_required,"
            " pledge_text, pledge_updated_at, audit_visible_to_members, created_at) VALUES ('first',"
            " 'First', '', '', 'invite_only', false, '', CURRENT_TIMESTAMP, false, CURRENT_TIMESTAMP)"
            " RETURNING id"))
        db.session.execute(text(
            "INSERT INTO memberships (circle_id, user_id, role, status, joined_at)"
            " VALUES (:c, :u, 'owner', 'active', CURRENT_TIMESTAMP)"), {"c": circle_id, "u": user_id})
        db.session.commit()
        assert members() == 1
        upgrade(directory=MIGRATIONS)
        assert members() == 1
        assert db.session.scalar(text("PRAGMA foreign_keys")) == 1  # on again for the app
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision=before)
        assert members() == 1
        db.engine.dispose()
