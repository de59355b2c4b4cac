"""files: a circle's files searched by name and kind from the index that lists them

The Files page counts the files a name search or a kind finds among all the
circle's files. With only the places and sizes in the index, the count read
each attachment's row for its name: 1,053 rows, two thirds of the statement
(bench/findings.md, 45). With the name and kind at the end of the index the
count reads the index alone, and the list reads the rows of the files found.
It replaces ix_attachments_circle_files, which it begins with. Plain
create_index: no batch copy.

Revision ID: f1a9c4e7d2b8
Revises: 9e4c1d7b2a60
Create Date: 2026-12-05 19:10:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f1a9c4e7d2b8'
down_revision = '9e4c1d7b2a60'
branch_labels = None
depends_on = None

FILES = ["circle_id", "created_at", "post_id", "meeting_id", "chat_message_id", "size"]


def upgrade():
    op.create_index("ix_attachments_circle_searched", "attachments", [*FILES, "kind", "name"])
    op.drop_index("ix_attachments_circle_files", table_name="attachments")


def downgrade():
    op.create_index("ix_attachments_circle_files", "attachments", FILES)
    op.drop_index("ix_attachments_circle_searched", table_name="attachments")
