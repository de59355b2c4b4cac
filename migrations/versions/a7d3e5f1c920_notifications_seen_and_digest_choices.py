"""notifications: seen (shown on the page) apart from read; each person's digest
frequency (daily | weekly | off) and hour

Revision ID: a7d3e5f1c920
Revises: 5b2e9c71d0a4
Create Date: 2026-12-02 19:10:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a7d3e5f1c920'
down_revision = '5b2e9c71d0a4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seen_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('digest_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('frequency', sa.String(length=10), server_default='daily',
                                      nullable=False))
        batch_op.add_column(sa.Column('hour', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('digest_states', schema=None) as batch_op:
        batch_op.drop_column('hour')
        batch_op.drop_column('frequency')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('seen_at')
