"""files: a circle's files listed and counted from one index

The Files page counts a circle's files still shown somewhere: each one's post,
meeting or chat message is checked. With the places in the index beside the
circle and the date, the count reads the index alone, not each attachment's
row as well (0.67 → 0.29 ms for 1,137 files; bench/findings.md, 34). It
replaces (circle_id, created_at), which it begins with. Plain create_index:
no batch copy.

Revision ID: b7e3d1a5c902
Revises: 9d2f6b1e3a47
Create Date: 2026-12-04 06:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7e3d1a5c902'
down_revision = '9d2f6b1e3a47'
branch_labels = None
depends_on = None

LISTED = ["circle_id", "created_at", "post_id", "meeting_id", "chat_message_id"]


def upgrade():
    op.create_index("ix_attachments_circle_listed", "attachments", LISTED)
    op.drop_index("ix_attachments_circle_created", table_name="attachments")


def downgrade():
    op.create_index("ix_attachments_circle_created", "attachments", ["circle_id", "created_at"])
    op.drop_index("ix_attachments_circle_listed", table_name="attachments")
