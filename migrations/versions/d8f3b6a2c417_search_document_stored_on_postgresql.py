"""search: PostgreSQL stores each entry's searched words in its row

PostgreSQL's GIN index was over an expression: its words and its circle
(5b2e9c71d0a4). It found the matches, but each match was read again from its
text to confirm it and to rank it, its words parsed anew on every search (0.9
of the 2.9 ms a search took at 1,000,000 posts; bench/findings.md, 37). Now
the tsvector is a stored generated column, `document`, made once as the row is
written, and the index is over it. SQLite's FTS5 index is unchanged.

Revision ID: d8f3b6a2c417
Revises: c4e8a2f7b913
Create Date: 2026-12-04 17:30:00

"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

# revision identifiers, used by Alembic.
revision = 'd8f3b6a2c417'
down_revision = 'c4e8a2f7b913'
branch_labels = None
depends_on = None

# Copies, as of this revision, of SEARCH_DOCUMENT in community/threads/models.py
# and of the expression the index was over before it.
DOCUMENT = "to_tsvector('english', title || ' ' || body) || ('_c' || circle_id::text)::tsvector"
WORDS_AND_CIRCLE = ("to_tsvector('english', search_entries.title || ' ' || search_entries.body)"
                    " || ('_c' || search_entries.circle_id::text)::tsvector")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_search_entries_fts")
    op.add_column("search_entries", sa.Column("document", TSVECTOR, sa.Computed(DOCUMENT, persisted=True)))
    op.create_index("ix_search_entries_fts", "search_entries", ["document"], postgresql_using="gin")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_search_entries_fts", table_name="search_entries")
    op.drop_column("search_entries", "document")
    op.execute(f"CREATE INDEX ix_search_entries_fts ON search_entries USING gin (({WORDS_AND_CIRCLE}))")
