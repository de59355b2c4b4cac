"""challenges: a kind of thread with phases, commitments, follow-ups, held ideas

threads.kind and posts.kind are plain op.add_column (both tables have
children: no batch copy on SQLite). The rest are new tables.

Revision ID: c7a2e9f41b06
Revises: e5a7c3d91b02
Create Date: 2026-12-03 12:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c7a2e9f41b06'
down_revision = 'e5a7c3d91b02'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('threads', sa.Column('kind', sa.String(length=12), nullable=False,
                                       server_default='discussion'))
    op.add_column('posts', sa.Column('kind', sa.String(length=12), nullable=True))
    op.create_table('challenges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('circle_id', sa.Integer(), nullable=False),
    sa.Column('presenter_id', sa.Integer(), nullable=True),
    sa.Column('phase', sa.String(length=12), nullable=False),
    sa.Column('phase_started_at', sa.DateTime(), nullable=False),
    sa.Column('questions_minutes', sa.Integer(), nullable=True),
    sa.Column('ideas_minutes', sa.Integer(), nullable=True),
    sa.Column('follow_up_days', sa.Integer(), nullable=False),
    sa.Column('reflected_at', sa.DateTime(), nullable=True),
    sa.Column('awaiting_update_since', sa.DateTime(), nullable=True),
    sa.Column('last_update_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['circle_id'], ['circles.id'], name=op.f('fk_challenges_circle_id_circles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['presenter_id'], ['users.id'], name=op.f('fk_challenges_presenter_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['thread_id'], ['threads.id'], name=op.f('fk_challenges_thread_id_threads'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenges')),
    sa.UniqueConstraint('thread_id', name=op.f('uq_challenges_thread_id'))
    )
    op.create_index('ix_challenges_circle_phase', 'challenges', ['circle_id', 'phase'], unique=False)
    op.create_index(op.f('ix_challenges_presenter_id'), 'challenges', ['presenter_id'], unique=False)
    op.create_table('challenge_commitments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('challenge_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'], name=op.f('fk_challenge_commitments_challenge_id_challenges'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_commitments'))
    )
    op.create_index(op.f('ix_challenge_commitments_challenge_id'), 'challenge_commitments', ['challenge_id'], unique=False)
    op.create_table('challenge_follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('challenge_id', sa.Integer(), nullable=False),
    sa.Column('commitment_id', sa.Integer(), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'], name=op.f('fk_challenge_follow_ups_challenge_id_challenges'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['commitment_id'], ['challenge_commitments.id'], name=op.f('fk_challenge_follow_ups_commitment_id_challenge_commitments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_follow_ups'))
    )
    op.create_index(op.f('ix_challenge_follow_ups_challenge_id'), 'challenge_follow_ups', ['challenge_id'], unique=False)
    op.create_index('ix_challenge_follow_ups_due', 'challenge_follow_ups', ['sent_at', 'due_at'], unique=False)
    op.create_table('challenge_idea_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('challenge_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_challenge_idea_drafts_author_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['challenge_id'], ['challenges.id'], name=op.f('fk_challenge_idea_drafts_challenge_id_challenges'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_idea_drafts'))
    )
    op.create_index('ix_challenge_idea_drafts_author', 'challenge_idea_drafts', ['challenge_id', 'author_id'], unique=False)
    op.create_index(op.f('ix_challenge_idea_drafts_author_id'), 'challenge_idea_drafts', ['author_id'], unique=False)


def downgrade():
    op.drop_table('challenge_idea_drafts')
    op.drop_table('challenge_follow_ups')
    op.drop_table('challenge_commitments')
    op.drop_table('challenges')
    op.drop_column('posts', 'kind')
    op.drop_column('threads', 'kind')
