"""attendance: watches, deadline checks (the timers) and sent notices

Revision ID: 0005_attendance
Revises: 0002_zoom
Create Date: 2026-12-05 02:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_attendance'
down_revision = '0002_zoom'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attendance_enabled', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('zoom_webhook_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('participant_key', sa.String(length=64), nullable=True))
    op.create_table('attendance_watches',
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('grace_minutes', sa.Integer(), nullable=False),
    sa.Column('late_after_minutes', sa.Integer(), nullable=False),
    sa.Column('candidate_email', sa.String(length=320), nullable=False),
    sa.Column('candidate_name', sa.String(length=256), nullable=True),
    sa.Column('interviewers', sa.JSON(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('connection_id', sa.String(length=40), nullable=True),
    sa.Column('participants', sa.JSON(), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('attendance_watches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendance_watches_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('attendance_checks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'kind')
    )
    with op.batch_alter_table('attendance_checks', schema=None) as batch_op:
        batch_op.create_index('ix_attendance_checks_due', ['status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_attendance_checks_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('attendance_notices',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=320), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id', 'type', 'subject')
    )
    with op.batch_alter_table('attendance_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attendance_notices_event_id'), ['event_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('attendance_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendance_notices_event_id'))
    op.drop_table('attendance_notices')
    with op.batch_alter_table('attendance_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendance_checks_tenant_id'))
        batch_op.drop_index('ix_attendance_checks_due')
    op.drop_table('attendance_checks')
    with op.batch_alter_table('attendance_watches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attendance_watches_tenant_id'))
    op.drop_table('attendance_watches')
    with op.batch_alter_table('zoom_webhook_events', schema=None) as batch_op:
        batch_op.drop_column('participant_key')
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('attendance_enabled')
