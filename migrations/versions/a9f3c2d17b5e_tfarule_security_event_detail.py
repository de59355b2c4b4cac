"""tfarule: security events carry a detail (a site admin's reason for resetting a second factor)

Revision ID: a9f3c2d17b5e
Revises: d7e2b5a9c410
Create Date: 2026-12-03 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a9f3c2d17b5e'
down_revision = 'd7e2b5a9c410'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('security_events') as batch:
        batch.add_column(sa.Column('detail', sa.String(length=500), nullable=False,
                                   server_default=''))


def downgrade():
    with op.batch_alter_table('security_events') as batch:
        batch.drop_column('detail')
