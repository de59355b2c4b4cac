"""users: the clock each person reads times on ("24" or "12")

Revision ID: 3f6a2d8c1e57
Revises: a7d3e5f1c920
Create Date: 2026-12-02 19:20:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '3f6a2d8c1e57'
down_revision = 'a7d3e5f1c920'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.add_column(sa.Column('clock', sa.String(length=2), server_default='24', nullable=False))


def downgrade():
    with op.batch_alter_table('users') as batch_op:
        batch_op.drop_column('clock')
