"""files: attachments indexed by the post, chat message and meeting they are shown on

Every thread page, chat history and meeting page reads its files by those
columns, and without an index each read scanned every attachment on the site
(bench/findings.md, 29). Plain create_index: no batch copy.

Revision ID: 9d2f6b1e3a47
Revises: 4ca3e3cabffc
Create Date: 2026-12-03 17:15:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '9d2f6b1e3a47'
down_revision = '4ca3e3cabffc'
branch_labels = None
depends_on = None

COLUMNS = ("post_id", "chat_message_id", "meeting_id")


def upgrade():
    for column in COLUMNS:
        op.create_index(f"ix_attachments_{column}", "attachments", [column])


def downgrade():
    for column in COLUMNS:
        op.drop_index(f"ix_attachments_{column}", table_name="attachments")
