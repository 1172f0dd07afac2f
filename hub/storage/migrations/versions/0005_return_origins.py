"""tenants.return_origins: the origins a tenant's return_url may use

Revision ID: 0005_return_origins
Revises: 0004_webhooks
Create Date: 2026-12-05 02:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_return_origins'
down_revision = '0004_webhooks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenants') as batch:
        batch.add_column(sa.Column('return_origins', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tenants') as batch:
        batch.drop_column('return_origins')
