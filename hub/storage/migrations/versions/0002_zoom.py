"""zoom webhook events (meeting activity against hub events, deauthorizations)

Revision ID: 0002_zoom
Revises: 0001
Create Date: 2026-11-20 23:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_zoom'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('zoom_webhook_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dedupe_key', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('zoom_account_id', sa.String(length=64), nullable=True),
    sa.Column('zoom_user_id', sa.String(length=64), nullable=True),
    sa.Column('meeting_id', sa.String(length=32), nullable=True),
    sa.Column('meeting_uuid', sa.String(length=64), nullable=True),
    sa.Column('tenant_id', sa.String(length=40), nullable=True),
    sa.Column('event_id', sa.String(length=40), nullable=True),
    sa.Column('participant_id', sa.String(length=128), nullable=True),
    sa.Column('participant_name', sa.String(length=256), nullable=True),
    sa.Column('participant_email', sa.String(length=320), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key')
    )
    with op.batch_alter_table('zoom_webhook_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_zoom_webhook_events_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_zoom_webhook_events_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_zoom_webhook_events_tenant_id'), ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('zoom_webhook_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_zoom_webhook_events_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_zoom_webhook_events_meeting_id'))
        batch_op.drop_index(batch_op.f('ix_zoom_webhook_events_event_id'))
    op.drop_table('zoom_webhook_events')
