"""search: the full-text index knows each post's circle

A search matched across the whole site before the membership join kept the
viewer's circles: at 1,000,000 posts, 4,209 site-wide matches were found (and
on SQLite ranked) for 43 the member could see (bench/findings.md, 25). With
the circle in the index, the match itself keeps to the viewer's circles:
SQLite's FTS5 table gains a circle_id column; PostgreSQL's GIN index is over
the words and a "_c<circle id>" lexeme (SEARCH_DOCUMENT in threads/models.py).

Revision ID: 5b2e9c71d0a4
Revises: 8cf1fee30ae7
Create Date: 2026-11-30 02:05:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5b2e9c71d0a4'
down_revision = '8cf1fee30ae7'
branch_labels = None
depends_on = None

TRIGGERS = ("search_entries_ai", "search_entries_ad", "search_entries_au")


def _index(columns: str) -> list[str]:
    """The FTS5 table over search_entries and the triggers keeping it in step, with these columns."""
    new = ", ".join(f"new.{c}" for c in columns.split(", "))
    old = ", ".join(f"old.{c}" for c in columns.split(", "))
    return [
        f"CREATE VIRTUAL TABLE search_fts USING fts5({columns}, content='search_entries', "
        "content_rowid='post_id', tokenize='porter unicode61')",
        "CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN "
        f"INSERT INTO search_fts(rowid, {columns}) VALUES (new.post_id, {new}); END",
        "CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN "
        f"INSERT INTO search_fts(search_fts, rowid, {columns}) VALUES ('delete', old.post_id, {old}); END",
        "CREATE TRIGGER search_entries_au AFTER UPDATE ON search_entries BEGIN "
        f"INSERT INTO search_fts(search_fts, rowid, {columns}) VALUES ('delete', old.post_id, {old}); "
        f"INSERT INTO search_fts(rowid, {columns}) VALUES (new.post_id, {new}); END",
        "INSERT INTO search_fts(search_fts) VALUES ('rebuild')",
    ]


# Copies, as of this revision, of SEARCH_DOCUMENT in community/threads/models.py
# and of the expression before it.
WORDS = "to_tsvector('english', title || ' ' || body)"
WORDS_AND_CIRCLE = ("to_tsvector('english', search_entries.title || ' ' || search_entries.body)"
                    " || ('_c' || search_entries.circle_id::text)::tsvector")


def _replace_gin_index(expression: str) -> None:
    op.execute("DROP INDEX IF EXISTS ix_search_entries_fts")
    op.execute(f"CREATE INDEX ix_search_entries_fts ON search_entries USING gin (({expression}))")


def _replace_fts_table(columns: str) -> None:
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS search_fts")
    for statement in _index(columns):
        op.execute(statement)


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        _replace_fts_table("title, body, circle_id")
    elif op.get_bind().dialect.name == "postgresql":
        _replace_gin_index(WORDS_AND_CIRCLE)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        _replace_fts_table("title, body")
    elif op.get_bind().dialect.name == "postgresql":
        _replace_gin_index(WORDS)
