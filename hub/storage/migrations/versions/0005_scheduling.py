"""scheduling requests: interview templates, requests, slots, candidates and calendar holds

Revision ID: 0005_scheduling
Revises: 0004_webhooks
Create Date: 2026-12-05 02:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_scheduling'
down_revision = '0004_webhooks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('interview_templates',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('template_id', sa.String(length=128), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'template_id')
    )
    op.create_index(op.f('ix_interview_templates_tenant_id'), 'interview_templates', ['tenant_id'], unique=False)
    op.create_table('scheduling_requests',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('organizer_id', sa.String(length=40), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('windows', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organizer_id'], ['users.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_scheduling_requests_due', 'scheduling_requests', ['status', 'expires_at'], unique=False)
    op.create_index(op.f('ix_scheduling_requests_organizer_id'), 'scheduling_requests', ['organizer_id'], unique=False)
    op.create_index('ix_scheduling_requests_tenant', 'scheduling_requests', ['tenant_id', 'created_at'], unique=False)
    op.create_table('scheduling_candidates',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('request_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('token_enc', sa.Text(), nullable=False),
    sa.Column('slot_id', sa.String(length=40), nullable=True),
    sa.Column('event_id', sa.String(length=40), nullable=True),
    sa.Column('decline_reason', sa.Text(), nullable=True),
    sa.Column('odd_hour', sa.Boolean(), nullable=True),
    sa.Column('bookings', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['scheduling_requests.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_scheduling_candidates_email'), 'scheduling_candidates', ['email'], unique=False)
    op.create_index(op.f('ix_scheduling_candidates_request_id'), 'scheduling_candidates', ['request_id'], unique=False)
    op.create_table('scheduling_holds',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('request_id', sa.String(length=40), nullable=False),
    sa.Column('slot_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('connection_id', sa.String(length=40), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('provider_event_id', sa.String(length=1024), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['scheduling_requests.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_scheduling_holds_due', 'scheduling_holds', ['status', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_scheduling_holds_request_id'), 'scheduling_holds', ['request_id'], unique=False)
    op.create_index(op.f('ix_scheduling_holds_slot_id'), 'scheduling_holds', ['slot_id'], unique=False)
    op.create_table('scheduling_slots',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('request_id', sa.String(length=40), nullable=False),
    sa.Column('start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('candidate_id', sa.String(length=40), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('from_window', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['scheduling_requests.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_scheduling_slots_request_id'), 'scheduling_slots', ['request_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_scheduling_slots_request_id'), table_name='scheduling_slots')
    op.drop_table('scheduling_slots')
    op.drop_index(op.f('ix_scheduling_holds_slot_id'), table_name='scheduling_holds')
    op.drop_index(op.f('ix_scheduling_holds_request_id'), table_name='scheduling_holds')
    op.drop_index('ix_scheduling_holds_due', table_name='scheduling_holds')
    op.drop_table('scheduling_holds')
    op.drop_index(op.f('ix_scheduling_candidates_request_id'), table_name='scheduling_candidates')
    op.drop_index(op.f('ix_scheduling_candidates_email'), table_name='scheduling_candidates')
    op.drop_table('scheduling_candidates')
    op.drop_index('ix_scheduling_requests_tenant', table_name='scheduling_requests')
    op.drop_index(op.f('ix_scheduling_requests_organizer_id'), table_name='scheduling_requests')
    op.drop_index('ix_scheduling_requests_due', table_name='scheduling_requests')
    op.drop_table('scheduling_requests')
    op.drop_index(op.f('ix_interview_templates_tenant_id'), table_name='interview_templates')
    op.drop_table('interview_templates')
