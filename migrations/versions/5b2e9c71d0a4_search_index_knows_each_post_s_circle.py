"""search: the SQLite full-text index knows each post's circle

A search matched across the whole site before the membership join kept the
viewer's circles: at 1,000,000 posts, 4,209 site-wide matches were ranked for
43 the member could see (bench/findings.md, 25). With the circle in the
index, the match itself keeps to the viewer's circles. PostgreSQL is
unchanged: its planner already combines the GIN index with the circle index.

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


def _replace_index(columns: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS search_fts")
    for statement in _index(columns):
        op.execute(statement)


def upgrade():
    _replace_index("title, body, circle_id")


def downgrade():
    _replace_index("title, body")
