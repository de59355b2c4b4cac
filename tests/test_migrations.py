"""The migrations build exactly the schema the models describe, on every engine."""
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect

from community import create_app
from community.extensions import db
from tests.conftest import app_config

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def include_name(name, type_, parent_names):
    """As migrations/env.py: SQLite's FTS5 tables are the migrations' own, not the models'."""
    return not (type_ == "table" and name and name.startswith("search_fts"))


def index_filter(dialect: str):
    """The GIN index over search text is PostgreSQL's alone, and an expression
    index: Alembic can't compare its reflected text with the model's, so it is
    checked by name instead (test below)."""
    def include_object(obj, name, type_, reflected, compare_to):
        return not (type_ == "index" and name == "ix_search_entries_fts")
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


# The GIN index is PostgreSQL's alone; on SQLite autogenerate says it can't compare it.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
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
    with engine.connect() as conn:
        names = {i["name"] for i in inspect(conn).get_indexes("search_entries")}
    engine.dispose()
    assert "ix_search_entries_fts" in names
