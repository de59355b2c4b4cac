"""agenda and run sheets: challenges on a meeting date's agenda, and its live state

Two new tables, no change to existing ones (plain create_index: no batch copy).

Revision ID: 4ca3e3cabffc
Revises: c7a2e9f41b06
Create Date: 2026-12-03 13:58:44.700920

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '4ca3e3cabffc'
down_revision = 'c7a2e9f41b06'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('run_sheets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('circle_id', sa.Integer(), nullable=False),
    sa.Column('check_in_minutes', sa.Integer(), nullable=False),
    sa.Column('check_out_minutes', sa.Integer(), nullable=False),
    sa.Column('facilitator_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('step_kind', sa.String(length=12), nullable=True),
    sa.Column('step_item_id', sa.Integer(), nullable=True),
    sa.Column('step_started_at', sa.DateTime(), nullable=True),
    sa.Column('paused_at', sa.DateTime(), nullable=True),
    sa.Column('extra_minutes', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['circle_id'], ['circles.id'], name=op.f('fk_run_sheets_circle_id_circles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['facilitator_id'], ['users.id'], name=op.f('fk_run_sheets_facilitator_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['occurrence_id'], ['meeting_occurrences.id'], name=op.f('fk_run_sheets_occurrence_id_meeting_occurrences'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_run_sheets')),
    sa.UniqueConstraint('occurrence_id', name=op.f('uq_run_sheets_occurrence_id'))
    )
    op.create_index(op.f('ix_run_sheets_circle_id'), 'run_sheets', ['circle_id'], unique=False)
    op.create_table('agenda_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_sheet_id', sa.Integer(), nullable=False),
    sa.Column('circle_id', sa.Integer(), nullable=False),
    sa.Column('challenge_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('questions_minutes', sa.Integer(), nullable=False),
    sa.Column('ideas_minutes', sa.Integer(), nullable=False),
    sa.Column('reflection_minutes', sa.Integer(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_agenda_items_added_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'], name=op.f('fk_agenda_items_challenge_id_challenges'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['circle_id'], ['circles.id'], name=op.f('fk_agenda_items_circle_id_circles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_sheet_id'], ['run_sheets.id'], name=op.f('fk_agenda_items_run_sheet_id_run_sheets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agenda_items')),
    sa.UniqueConstraint('run_sheet_id', 'challenge_id', name=op.f('uq_agenda_items_run_sheet_id'))
    )
    op.create_index(op.f('ix_agenda_items_challenge_id'), 'agenda_items', ['challenge_id'], unique=False)
    op.create_index('ix_agenda_items_sheet_position', 'agenda_items', ['run_sheet_id', 'position'], unique=False)


def downgrade():
    op.drop_index('ix_agenda_items_sheet_position', table_name='agenda_items')
    op.drop_index(op.f('ix_agenda_items_challenge_id'), table_name='agenda_items')
    op.drop_table('agenda_items')
    op.drop_index(op.f('ix_run_sheets_circle_id'), table_name='run_sheets')
    op.drop_table('run_sheets')
