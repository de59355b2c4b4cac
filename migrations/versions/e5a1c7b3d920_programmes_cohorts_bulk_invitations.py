"""programmes, programme staff, cohort circles, invitation batches, mail bounces

New tables, and a plain op.add_column on users (it has children: no batch copy
on SQLite). Which programme a circle is a cohort of is a table of its own
(programme_cohorts), not a column on circles: on SQLite a foreign key can be
added to an existing table only inline, and SQLite's reflection can't read its
ON DELETE back, so the schema would differ from the models.

Revision ID: e5a1c7b3d920
Revises: e8b4d1f6a2c3
Create Date: 2026-12-05 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e5a1c7b3d920'
down_revision = 'e8b4d1f6a2c3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('programmes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('place', sa.String(length=120), nullable=False),
    sa.Column('start_year', sa.Integer(), nullable=False),
    sa.Column('end_year', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_programmes_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programmes'))
    )
    op.create_table('programme_staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_programme_staff_added_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_programme_staff_programme_id_programmes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_programme_staff_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_staff')),
    sa.UniqueConstraint('programme_id', 'user_id', name=op.f('uq_programme_staff_programme_id'))
    )
    op.create_index(op.f('ix_programme_staff_user_id'), 'programme_staff', ['user_id'], unique=False)
    op.create_table('invitation_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=43), nullable=False),
    sa.Column('circle_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('rows', sa.Text(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('sent_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['circle_id'], ['circles.id'], name=op.f('fk_invitation_batches_circle_id_circles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_invitation_batches_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation_batches')),
    sa.UniqueConstraint('key', name=op.f('uq_invitation_batches_key'))
    )
    op.create_index(op.f('ix_invitation_batches_circle_id'), 'invitation_batches', ['circle_id'], unique=False)
    op.create_table('mail_bounces',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('bounced_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_bounces')),
    sa.UniqueConstraint('address', name=op.f('uq_mail_bounces_address'))
    )

    op.add_column('users', sa.Column('is_programme_staff', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.create_table('programme_cohorts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('circle_id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['circle_id'], ['circles.id'], name=op.f('fk_programme_cohorts_circle_id_circles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['programme_id'], ['programmes.id'], name=op.f('fk_programme_cohorts_programme_id_programmes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_cohorts')),
    sa.UniqueConstraint('circle_id', name=op.f('uq_programme_cohorts_circle_id'))
    )
    op.create_index(op.f('ix_programme_cohorts_programme_id'), 'programme_cohorts', ['programme_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_programme_cohorts_programme_id'), table_name='programme_cohorts')
    op.drop_table('programme_cohorts')
    op.drop_column('users', 'is_programme_staff')
    op.drop_table('mail_bounces')
    op.drop_index(op.f('ix_invitation_batches_circle_id'), table_name='invitation_batches')
    op.drop_table('invitation_batches')
    op.drop_index(op.f('ix_programme_staff_user_id'), table_name='programme_staff')
    op.drop_table('programme_staff')
    op.drop_table('programmes')
