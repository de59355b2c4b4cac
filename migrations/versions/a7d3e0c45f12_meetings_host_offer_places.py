"""meetings: an offer to host says how many places it has

A visit planned from an offer starts with the host's note and places, so they
are not typed again.

Revision ID: a7d3e0c45f12
Revises: 3f6a2d8c1e57
Create Date: 2026-12-02 19:30:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a7d3e0c45f12'
down_revision = '3f6a2d8c1e57'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('meeting_host_offers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('places', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('meeting_host_offers', schema=None) as batch_op:
        batch_op.drop_column('places')
