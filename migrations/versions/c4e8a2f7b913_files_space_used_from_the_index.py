"""files: a circle's space used summed from the index that lists its files

The Files page shows how much of its quota the circle uses: the sum of its
files' sizes, which read each attachment's row (97 µs of a page's 1.2 ms for a
circle of 1,300 files; bench/findings.md, 35). With the size at the end of the
index the page lists and counts from, the sum reads the index alone too. It
replaces ix_attachments_circle_listed, which it begins with. Plain
create_index: no batch copy.

Revision ID: c4e8a2f7b913
Revises: b7e3d1a5c902
Create Date: 2026-12-04 11:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4e8a2f7b913'
down_revision = 'b7e3d1a5c902'
branch_labels = None
depends_on = None

LISTED = ["circle_id", "created_at", "post_id", "meeting_id", "chat_message_id"]


def upgrade():
    op.create_index("ix_attachments_circle_files", "attachments", [*LISTED, "size"])
    op.drop_index("ix_attachments_circle_listed", table_name="attachments")


def downgrade():
    op.create_index("ix_attachments_circle_listed", "attachments", LISTED)
    op.drop_index("ix_attachments_circle_files", table_name="attachments")
