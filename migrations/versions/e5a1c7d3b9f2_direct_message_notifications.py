"""direct-message notifications: a notification's conversation and the time it is
due (emailed once a burst has waited), and each person's choice to have direct
messages quoted in email (off)

notifications has no children: a batch copy is safe there; users gets a plain
added column.

Revision ID: e5a1c7d3b9f2
Revises: 3cdc640f1f16
Create Date: 2026-12-04 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e5a1c7d3b9f2'
down_revision = '3cdc640f1f16'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('conversation_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_notifications_conversation_id_conversations'),
                                    'conversations', ['conversation_id'], ['id'], ondelete='CASCADE')
    op.add_column('users', sa.Column('dm_email_excerpts', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))


def downgrade():
    op.drop_column('users', 'dm_email_excerpts')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_notifications_conversation_id_conversations'),
                                 type_='foreignkey')
        batch_op.drop_column('conversation_id')
        batch_op.drop_column('due_at')
