"""messages: reports of a direct message to the site's admins; who added a member

A new table (plain create_table) and one nullable column on
conversation_members. SQLite can't add a column with a foreign key by ALTER
in Alembic's plain mode, so that one column goes through a batch copy of
conversation_members, which no other table points at (nothing is lost by
copying it).

Revision ID: e5a1c7d93b20
Revises: e5a1c7d3b9f2
Create Date: 2026-12-03 10:50:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e5a1c7d93b20'
down_revision = 'e5a1c7d3b9f2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('direct_message_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=120), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('written_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('resolution_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_direct_message_reports_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['direct_messages.id'], name=op.f('fk_direct_message_reports_message_id_direct_messages'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_direct_message_reports_reporter_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_direct_message_reports_resolved_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_direct_message_reports'))
    )
    op.create_index('ix_direct_message_reports_reporter_created', 'direct_message_reports', ['reporter_id', 'created_at'], unique=False)
    op.create_index('ix_direct_message_reports_status', 'direct_message_reports', ['status', 'id'], unique=False)
    op.create_index('uq_direct_message_reports_open', 'direct_message_reports', ['reporter_id', 'message_id'], unique=True,
                    sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    with op.batch_alter_table('conversation_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('added_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_conversation_members_added_by_id_users'), 'users', ['added_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('conversation_members', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_conversation_members_added_by_id_users'), type_='foreignkey')
        batch_op.drop_column('added_by_id')

    op.drop_index('uq_direct_message_reports_open', table_name='direct_message_reports',
                  sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
    op.drop_index('ix_direct_message_reports_status', table_name='direct_message_reports')
    op.drop_index('ix_direct_message_reports_reporter_created', table_name='direct_message_reports')
    op.drop_table('direct_message_reports')
