"""search: SQLite's index holds each post's words keyed by its circle

FTS5 found the viewer's circles' matches by walking each word's site-wide
list of posts against each circle's: at 1,000,000 posts, 323 µs of the 508 a
search's match and ranking took (bench/findings.md, 41). The index now holds
each word once more, joined to the post's circle ("c12xburnout", by the SQL
function circle_words, community/threads/circle_words.py), whose list holds
that circle's posts only; the circle_id column goes. The index reads title and
body through the view search_fts_content. PostgreSQL is unchanged.

Revision ID: 9e4c1d7b2a60
Revises: d8f3b6a2c417
Create Date: 2026-12-05 05:00:00

"""
import re

from alembic import op

# revision identifiers, used by Alembic.
revision = '9e4c1d7b2a60'
down_revision = 'd8f3b6a2c417'
branch_labels = None
depends_on = None

TRIGGERS = ("search_entries_ai", "search_entries_ad", "search_entries_au")
WORD = re.compile(r"[^\W_]+")


def circle_words(circle_id, *texts):
    """A copy, as of this revision, of community/threads/circle_words.py's: the
    index built here must hold what the app's triggers will add and delete."""
    prefix = f"c{int(circle_id)}x"
    return " ".join(prefix + word for text in texts for word in WORD.findall(text or ""))


def _index(columns: str, new: str, old: str, content: str) -> list[str]:
    """The FTS5 table and the triggers keeping it in step: its columns, and the
    values of a new and an old row of search_entries for them."""
    return [
        f"CREATE VIRTUAL TABLE search_fts USING fts5({columns}, content='{content}', "
        "content_rowid='post_id', tokenize='porter unicode61')",
        "CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN "
        f"INSERT INTO search_fts(rowid, {columns}) VALUES (new.post_id, {new}); END",
        "CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN "
        f"INSERT INTO search_fts(search_fts, rowid, {columns}) VALUES ('delete', old.post_id, {old}); END",
        "CREATE TRIGGER search_entries_au AFTER UPDATE ON search_entries BEGIN "
        f"INSERT INTO search_fts(search_fts, rowid, {columns}) VALUES ('delete', old.post_id, {old}); "
        f"INSERT INTO search_fts(rowid, {columns}) VALUES (new.post_id, {new}); END",
    ]


def _drop_index() -> None:
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS search_fts")
    op.execute("DROP VIEW IF EXISTS search_fts_content")


def upgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    op.get_bind().connection.driver_connection.create_function(
        "circle_words", 3, circle_words, deterministic=True)
    _drop_index()
    op.execute("CREATE VIEW search_fts_content AS "
               "SELECT post_id, title, body, '' AS circle_words FROM search_entries")
    keyed = "circle_words({0}.circle_id, {0}.title, {0}.body)"
    for statement in _index("title, body, circle_words", f"new.title, new.body, {keyed.format('new')}",
                            f"old.title, old.body, {keyed.format('old')}", "search_fts_content"):
        op.execute(statement)
    op.execute("INSERT INTO search_fts(rowid, title, body, circle_words) "
               "SELECT post_id, title, body, circle_words(circle_id, title, body) FROM search_entries")


def downgrade():
    if op.get_bind().dialect.name != "sqlite":
        return
    _drop_index()
    for statement in _index("title, body, circle_id", "new.title, new.body, new.circle_id",
                            "old.title, old.body, old.circle_id", "search_entries"):
        op.execute(statement)
    op.execute("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")
