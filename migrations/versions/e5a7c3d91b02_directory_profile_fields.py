"""directory: listed, open to contact, photo, per-field audiences, "can help with" tags, introductions

Plain add_column on users (it has children: no batch copy on SQLite) and a new table.

Revision ID: e5a7c3d91b02
Revises: e5a1c7b3d920
Create Date: 2026-12-03 11:30:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e5a7c3d91b02'
down_revision = 'e5a1c7b3d920'
branch_labels = None
depends_on = None

FIELDS = ("organisation", "job_title", "sector", "location", "bio", "tags", "photo", "contact")


def upgrade():
    op.add_column('users', sa.Column('listed_in_directory', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column('users', sa.Column('open_to_contact', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column('users', sa.Column('introduction_excerpts', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column('users', sa.Column('photo_key', sa.String(length=64), nullable=True))
    op.add_column('users', sa.Column('photo_thumbnail_key', sa.String(length=64), nullable=True))
    op.add_column('users', sa.Column('photo_kind', sa.String(length=16), nullable=True))
    for field in FIELDS:
        op.add_column('users', sa.Column(f'{field}_visibility', sa.String(length=8), nullable=False,
                                         server_default='circles'))
    op.create_index(op.f('ix_users_display_name'), 'users', ['display_name'], unique=False)
    op.create_index(op.f('ix_users_photo_key'), 'users', ['photo_key'], unique=False)
    op.create_index(op.f('ix_users_photo_thumbnail_key'), 'users', ['photo_thumbnail_key'], unique=False)

    op.create_table('profile_tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_profile_tags_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_profile_tags')),
    sa.UniqueConstraint('user_id', 'key', name=op.f('uq_profile_tags_user_id'))
    )
    op.create_index('ix_profile_tags_key', 'profile_tags', ['key'], unique=False)

    op.create_table('introductions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint('requester_id <> recipient_id', name=op.f('ck_introductions_not_oneself')),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_introductions_recipient_id_users'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_introductions_requester_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_introductions')),
    sa.UniqueConstraint('requester_id', 'recipient_id', name=op.f('uq_introductions_requester_id'))
    )
    op.create_index('ix_introductions_recipient_status', 'introductions', ['recipient_id', 'status'],
                    unique=False)
    op.create_index('ix_introductions_requester_created', 'introductions', ['requester_id', 'created_at'],
                    unique=False)


def downgrade():
    op.drop_index('ix_introductions_requester_created', table_name='introductions')
    op.drop_index('ix_introductions_recipient_status', table_name='introductions')
    op.drop_table('introductions')
    op.drop_index('ix_profile_tags_key', table_name='profile_tags')
    op.drop_table('profile_tags')
    op.drop_index(op.f('ix_users_photo_thumbnail_key'), table_name='users')
    op.drop_index(op.f('ix_users_photo_key'), table_name='users')
    op.drop_index(op.f('ix_users_display_name'), table_name='users')
    for field in reversed(FIELDS):
        op.drop_column('users', f'{field}_visibility')
    for column in ('photo_kind', 'photo_thumbnail_key', 'photo_key', 'introduction_excerpts',
                   'open_to_contact', 'listed_in_directory'):
        op.drop_column('users', column)
