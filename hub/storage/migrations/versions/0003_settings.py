"""settings page: links and browser sessions

Revision ID: 0003_settings
Revises: 0001
Create Date: 2026-11-20 23:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_settings'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('settings_links',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('return_url', sa.Text(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('settings_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settings_links_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_settings_links_user_id'), ['user_id'], unique=False)

    op.create_table('settings_sessions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('link_id', sa.String(length=40), nullable=True),
    sa.Column('return_url', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('settings_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settings_sessions_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_settings_sessions_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('settings_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settings_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_settings_sessions_tenant_id'))
    op.drop_table('settings_sessions')
    with op.batch_alter_table('settings_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_settings_links_user_id'))
        batch_op.drop_index(batch_op.f('ix_settings_links_tenant_id'))
    op.drop_table('settings_links')
