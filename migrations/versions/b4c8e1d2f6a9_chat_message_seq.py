"""chat: a sequence number per circle on each message

`seq` numbers a circle's messages 1, 2, 3... with no gap, so a client can see
exactly which messages it is missing and ask for them. Existing messages are
numbered in id order (the order they were committed in within their circle).

Revision ID: b4c8e1d2f6a9
Revises: a7d3e0c45f12
Create Date: 2026-12-02 23:45:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b4c8e1d2f6a9'
down_revision = 'a7d3e0c45f12'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('chat_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
    # UPDATE ... FROM works on PostgreSQL and on SQLite from 3.33.
    op.execute(
        "UPDATE chat_messages SET seq = numbered.n FROM ("
        " SELECT id, row_number() OVER (PARTITION BY circle_id ORDER BY id) AS n"
        " FROM chat_messages) AS numbered"
        " WHERE chat_messages.id = numbered.id")
    with op.batch_alter_table('chat_messages', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint('uq_chat_messages_circle_seq', ['circle_id', 'seq'])


def downgrade():
    with op.batch_alter_table('chat_messages', schema=None) as batch_op:
        batch_op.drop_constraint('uq_chat_messages_circle_seq', type_='unique')
        batch_op.drop_column('seq')
