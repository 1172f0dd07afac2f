"""security: tenants.return_origins (return_url allow-list), connect_attempts.browser_hash
(the OAuth flow is bound to the browser that opened the connect link)

Revision ID: 0005_security
Revises: 0004_webhooks
Create Date: 2026-12-05 02:15:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_security'
down_revision = '0004_webhooks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenants') as batch:
        batch.add_column(sa.Column('return_origins', sa.JSON(), nullable=True))
    with op.batch_alter_table('connect_attempts') as batch:
        batch.add_column(sa.Column('browser_hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('connect_attempts') as batch:
        batch.drop_column('browser_hash')
    with op.batch_alter_table('tenants') as batch:
        batch.drop_column('return_origins')
