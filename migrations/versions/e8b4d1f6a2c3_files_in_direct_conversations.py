"""files: attachments belong to a circle or to a direct conversation

circle_id becomes nullable; conversation_id (ON DELETE CASCADE, as circle_id)
and direct_message_id (ON DELETE SET NULL, as the circle's places: the sweep
takes the row) are added, with a CHECK that exactly one of circle_id and
conversation_id is set.

On SQLite changing a column's nullability and adding a CHECK needs the batch
copy (new table, copy, drop the old one). That is safe here, and only here,
because no table points at attachments: nothing cascades from dropping the old
table (env.py also turns foreign keys off while migrating). A table given a
foreign key to attachments later must not be copied this way again.
On PostgreSQL the batch is plain ALTER TABLE statements.

Revision ID: e8b4d1f6a2c3
Revises: e5a1c7d93b20
Create Date: 2026-12-03 10:50:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e8b4d1f6a2c3'
down_revision = 'e5a1c7d93b20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conversation_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('direct_message_id', sa.Integer(), nullable=True))
        batch_op.alter_column('circle_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_attachments_conversation_id_conversations'),
                                    'conversations', ['conversation_id'], ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key(batch_op.f('fk_attachments_direct_message_id_direct_messages'),
                                    'direct_messages', ['direct_message_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_check_constraint(batch_op.f('ck_attachments_one_owner'),
                                         '(circle_id IS NULL) <> (conversation_id IS NULL)')
        batch_op.create_index('ix_attachments_conversation_created',
                              ['conversation_id', 'created_at'], unique=False)
        batch_op.create_index('ix_attachments_direct_message_id', ['direct_message_id'], unique=False)
        batch_op.create_index('ix_attachments_uploader_id', ['uploader_id'], unique=False)


def downgrade():
    # A conversation's files have no circle to go back to: their rows go (their
    # bytes stay in storage, unreferenced).
    op.execute("DELETE FROM attachments WHERE circle_id IS NULL")
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index('ix_attachments_uploader_id')
        batch_op.drop_index('ix_attachments_direct_message_id')
        batch_op.drop_index('ix_attachments_conversation_created')
        batch_op.drop_constraint(batch_op.f('ck_attachments_one_owner'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_attachments_direct_message_id_direct_messages'),
                                 type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_attachments_conversation_id_conversations'),
                                 type_='foreignkey')
        batch_op.alter_column('circle_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('direct_message_id')
        batch_op.drop_column('conversation_id')
