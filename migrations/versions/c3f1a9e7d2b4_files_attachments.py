"""files: attachments, one row per shared file

Revision ID: c3f1a9e7d2b4
Revises: b4c8e1d2f6a9
Create Date: 2026-12-03 01:35:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c3f1a9e7d2b4'
down_revision = 'b4c8e1d2f6a9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'attachments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=22), nullable=False),
        sa.Column('circle_id', sa.Integer(), nullable=False),
        sa.Column('uploader_id', sa.Integer(), nullable=True),
        sa.Column('storage_key', sa.String(length=64), nullable=False),
        sa.Column('thumbnail_key', sa.String(length=64), nullable=True),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('post_id', sa.Integer(), nullable=True),
        sa.Column('chat_message_id', sa.Integer(), nullable=True),
        sa.Column('meeting_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['circle_id'], ['circles.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['uploader_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['post_id'], ['posts.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['chat_message_id'], ['chat_messages.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('public_id'),
    )
    op.create_index('ix_attachments_circle_created', 'attachments', ['circle_id', 'created_at'])
    op.create_index('ix_attachments_storage_key', 'attachments', ['storage_key'])
    op.create_index('ix_attachments_thumbnail_key', 'attachments', ['thumbnail_key'])


def downgrade():
    op.drop_index('ix_attachments_thumbnail_key', table_name='attachments')
    op.drop_index('ix_attachments_storage_key', table_name='attachments')
    op.drop_index('ix_attachments_circle_created', table_name='attachments')
    op.drop_table('attachments')
