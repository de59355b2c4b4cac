"""direct messages: the header's unread count read from an index alone

Every signed-in page counts the viewer's unread direct messages (the header's
badge). For each conversation it walked the messages past the reader's place
through the (conversation_id, seq) index and read each message's row for
whether it was removed and who wrote it: two thirds of the count, 25 µs of
every page for a member with 100 unread (bench/findings.md, 46). This partial
index holds the messages not removed, with their authors, so the count reads
the index alone. Plain create_index: no batch copy.

Revision ID: a7c3e9f1b5d2
Revises: f1a9c4e7d2b8
Create Date: 2026-12-05 22:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7c3e9f1b5d2'
down_revision = 'f1a9c4e7d2b8'
branch_labels = None
depends_on = None

NOT_REMOVED = sa.text("deleted_at IS NULL")


def upgrade():
    op.create_index("ix_direct_messages_unread", "direct_messages",
                    ["conversation_id", "seq", "author_id", "deleted_at"],
                    sqlite_where=NOT_REMOVED, postgresql_where=NOT_REMOVED)


def downgrade():
    op.drop_index("ix_direct_messages_unread", table_name="direct_messages")
