"""second factors: authenticator apps, recovery codes, passkeys; circles that require one

Revision ID: d7e2b5a9c410
Revises: c3f1a9e7d2b4
Create Date: 2026-12-03 08:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd7e2b5a9c410'
down_revision = 'c3f1a9e7d2b4'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE ... ADD COLUMN, never a batch: on SQLite a batch copies the
    # table and drops the old one, and dropping `circles` or `users` with foreign
    # keys on deletes every row that cascades from them (messages, posts...).
    op.add_column('users', sa.Column('second_factor_at', sa.DateTime(), nullable=True))
    op.add_column('users', sa.Column('passkey_handle', sa.String(length=43), nullable=True))
    op.create_index('ix_users_passkey_handle', 'users', ['passkey_handle'], unique=True)
    op.add_column('circles', sa.Column('require_two_factor', sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    op.create_table(
        'totp_factors',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('secret', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(), nullable=True),
        sa.Column('last_step', sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )
    op.create_table(
        'recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_recovery_codes_user_id', 'recovery_codes', ['user_id'])
    op.create_table(
        'passkeys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('credential_id', sa.String(length=1400), nullable=False),
        sa.Column('public_key', sa.LargeBinary(), nullable=False),
        sa.Column('sign_count', sa.BigInteger(), nullable=False),
        sa.Column('transports', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_used_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('credential_id'),
    )
    op.create_index('ix_passkeys_user_id', 'passkeys', ['user_id'])


def downgrade():
    op.drop_index('ix_passkeys_user_id', table_name='passkeys')
    op.drop_table('passkeys')
    op.drop_index('ix_recovery_codes_user_id', table_name='recovery_codes')
    op.drop_table('recovery_codes')
    op.drop_table('totp_factors')
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch copy: see upgrade().
    op.drop_column('circles', 'require_two_factor')
    op.drop_index('ix_users_passkey_handle', table_name='users')
    op.drop_column('users', 'passkey_handle')
    op.drop_column('users', 'second_factor_at')
