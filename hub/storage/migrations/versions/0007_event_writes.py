"""event writes: mark an event while the hub changes it at its provider

Revision ID: 0007_event_writes
Revises: 0006_sync
Create Date: 2026-12-05 08:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007_event_writes'
down_revision = '0006_sync'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.add_column(sa.Column('write_started_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('events') as batch:
        batch.drop_column('write_started_at')
