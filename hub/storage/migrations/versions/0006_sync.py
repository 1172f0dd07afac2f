"""sync: push channels, incremental sync state and the busy cache (issue 12)

Revision ID: 0006_sync
Revises: 0001
Create Date: 2026-12-05 05:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006_sync'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sync_channels',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('connection_id', sa.String(length=40), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('resource_id', sa.String(length=255), nullable=True),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_notice_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sync_channels', schema=None) as batch_op:
        batch_op.create_index('ix_sync_channels_external', ['provider', 'external_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_channels_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_channels_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('sync_states',
    sa.Column('connection_id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('cursor', sa.Text(), nullable=True),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_synced_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_full_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dirty_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connection_id')
    )
    with op.batch_alter_table('sync_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_states_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('cached_events',
    sa.Column('connection_id', sa.String(length=40), nullable=False),
    sa.Column('event_id', sa.String(length=1024), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('show_as', sa.String(length=16), nullable=False),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('attendees', sa.JSON(), nullable=False),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connection_id', 'event_id')
    )
    with op.batch_alter_table('cached_events', schema=None) as batch_op:
        batch_op.create_index('ix_cached_events_span', ['connection_id', 'start', 'end'], unique=False)
        batch_op.create_index(batch_op.f('ix_cached_events_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    op.drop_table('cached_events')
    op.drop_table('sync_states')
    op.drop_table('sync_channels')
