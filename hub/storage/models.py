"""The hub's tables. Every row below a tenant carries `tenant_id` so every query can be scoped.

Secrets are never stored in the clear: API keys as SHA-256 hashes (they are 256-bit random, so
a fast hash is enough), provider tokens and PKCE verifiers as vault ciphertexts bound to their
row and column.

No `from __future__ import annotations` here: with real annotation objects SQLAlchemy reads each
column's `Mapped[...]` as it is, instead of evaluating ~270 strings back into types whenever the
hub starts (a sixth of this module's import).
"""

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hub.storage.types import UTCDateTime, utcnow


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ten"))
    name: Mapped[str] = mapped_column(String(128), unique=True)
    # Attendance asks connect flows for more scopes (reading meeting participants): opt-in.
    attendance_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Origins (`https://ats.example.com`) a return_url may use; None: any well-formed URL.
    return_origins: Mapped[list[Any] | None] = mapped_column(default=None)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("key"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown to people to tell keys apart
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "external_id"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("usr"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(128))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(256), default=None)
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    working_hours: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    default_conferencing: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Connection(Base):
    __tablename__ = "connections"
    __table_args__ = (
        UniqueConstraint("user_id", "provider", "provider_account_id"),
        Index("ix_connections_account", "tenant_id", "provider", "provider_account_id"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("con"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_account_id: Mapped[str] = mapped_column(String(256))
    account_email: Mapped[str | None] = mapped_column(String(320), default=None)
    status: Mapped[str] = mapped_column(String(32), default="active")
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    capabilities: Mapped[list[Any]] = mapped_column(default=list)
    access_token_enc: Mapped[str | None] = mapped_column(Text, default=None)
    refresh_token_enc: Mapped[str | None] = mapped_column(Text, default=None)
    access_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    consented_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    # Health record (Nango-style): stored, so diagnostics and the settings page can read it.
    last_refresh_at: Mapped[datetime | None] = mapped_column(default=None)
    last_refresh_error_at: Mapped[datetime | None] = mapped_column(default=None)
    refresh_failures: Mapped[int] = mapped_column(Integer, default=0)
    reconnect_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    flags: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ConnectAttempt(Base):
    """One connect link and the OAuth round trip it starts. State and the PKCE verifier live
    here, server-side and single-use, never in a browser cookie."""

    __tablename__ = "connect_attempts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cat"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    link_hash: Mapped[str] = mapped_column(String(64), unique=True)
    state_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    code_verifier_enc: Mapped[str | None] = mapped_column(Text, default=None)
    nonce: Mapped[str | None] = mapped_column(String(64), default=None)
    # Hash of the secret in the cookie set on the browser that opened the link: only that
    # browser can finish the flow (a leaked authorize URL cannot attach someone else's account).
    browser_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    return_url: Mapped[str | None] = mapped_column(Text, default=None)
    login_hint: Mapped[str | None] = mapped_column(String(320), default=None)
    expires_at: Mapped[datetime] = mapped_column()
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    __tablename__ = "events"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("evt"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    organizer_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(String(40))
    conference_connection_id: Mapped[str | None] = mapped_column(String(40), default=None)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    location: Mapped[str | None] = mapped_column(Text, default=None)
    start: Mapped[datetime] = mapped_column()
    end: Mapped[datetime] = mapped_column()
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    attendees: Mapped[list[Any]] = mapped_column(default=list)
    calendar_provider: Mapped[str] = mapped_column(String(32))
    provider_event_id: Mapped[str] = mapped_column(String(1024))
    html_link: Mapped[str | None] = mapped_column(Text, default=None)
    conferencing: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16), default="confirmed")
    send_updates: Mapped[bool] = mapped_column(default=True)
    # Set while the hub changes the event at its provider, cleared once the row holds the
    # result: a sync reading the provider in between would otherwise take the hub's own move
    # or cancel for one made by a person (hub/services/sync/changes.py skips such rows).
    write_started_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="in_progress")
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SettingsLink(Base):
    """A signed, single-use link into one user's settings page (POST /v1/users/{id}/settings-links).

    Only a hash of the link's random part is kept, like API keys: a database read alone cannot
    rebuild a usable link."""

    __tablename__ = "settings_links"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sln"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    return_url: Mapped[str | None] = mapped_column(Text, default=None)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SettingsSession(Base):
    """A browser session on the settings page, started by opening a settings link. The cookie
    carries a random token; only its hash is stored, so the table leaks no usable session."""

    __tablename__ = "settings_sessions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ses"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    link_id: Mapped[str | None] = mapped_column(String(40), default=None)
    return_url: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class ZoomWebhookEvent(Base):
    """One Zoom webhook event the hub acted on, recorded once: `dedupe_key` names the event
    itself (not the delivery), so Zoom's retries and replays insert nothing a second time.
    Meeting events are kept only for meetings the hub made, against that hub event (who joined
    and when); app_deauthorized is kept so a repeat cannot act twice."""

    __tablename__ = "zoom_webhook_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    zoom_account_id: Mapped[str | None] = mapped_column(String(64), default=None)
    zoom_user_id: Mapped[str | None] = mapped_column(String(64), default=None)
    meeting_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    meeting_uuid: Mapped[str | None] = mapped_column(String(64), default=None)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), default=None,
                                                  index=True)
    event_id: Mapped[str | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), default=None,
                                                 index=True)
    participant_id: Mapped[str | None] = mapped_column(String(128), default=None)
    participant_name: Mapped[str | None] = mapped_column(String(256), default=None)
    participant_email: Mapped[str | None] = mapped_column(String(320), default=None)
    # Zoom's `customer_key`: the per-attendee key the hub set, when the join carried it.
    participant_key: Mapped[str | None] = mapped_column(String(64), default=None)


class WebhookEndpoint(Base):
    """Where a tenant's backend receives outbound webhooks (Standard Webhooks). The signing
    secret is shown once, when the endpoint is created; here it is only a vault ciphertext
    bound to this row, so a database dump alone cannot forge deliveries."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("whe"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[Any]] = mapped_column(default=list)  # event types, or ["*"]
    secret_enc: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="enabled")  # enabled | disabled
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """The outbox: one row per (event, endpoint), inserted in the same transaction as the state
    change it reports, so neither exists without the other. `message_id` is the `webhook-id`
    header, shared by every endpoint and every retry of one event, so receivers can dedupe.
    `payload` is the exact body sent (and signed) on every attempt. A worker claims a due row
    by setting `locked_until` (a lease): a worker that dies mid-attempt leaves a row that
    becomes due again when the lease runs out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("whd"))
    message_id: Mapped[str] = mapped_column(String(40), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    # pending → delivered | failed (gave up, or 410) | cancelled (endpoint disabled)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InterviewTemplate(Base):
    """Defaults a scheduling request can start from. `settings` holds the validated fields
    (duration, conferencing, grid, buffers, title and description with placeholders …)."""

    __tablename__ = "interview_templates"
    __table_args__ = (UniqueConstraint("tenant_id", "template_id"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("itp"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    template_id: Mapped[str] = mapped_column(String(128))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SchedulingRequest(Base):
    """Interview times offered to candidates. `settings` is the request resolved against its
    template (title, duration, grid, buffers, conferencing, interviewers' external ids …), so a
    later template edit never changes an offer already sent. The row is the lock of the
    one-winner rule: every claim of a slot locks it first."""

    __tablename__ = "scheduling_requests"
    __table_args__ = (Index("ix_scheduling_requests_due", "status", "expires_at"),
                      Index("ix_scheduling_requests_tenant", "tenant_id", "created_at"))
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("srq"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    organizer_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    windows: Mapped[list[Any] | None] = mapped_column(default=None)  # [[start, end]] in RFC 3339, or None
    # pending → completed (everyone answered) | cancelled | expired; completed may go back to
    # pending when a candidate changes their mind before expiry.
    status: Mapped[str] = mapped_column(String(16), default="pending")
    expires_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SchedulingSlot(Base):
    """One offered time. Explicit slots exist from the start; with windows a row is made when a
    candidate claims a time. `booking` is a short lease (`claimed_until`) held while the live
    re-check and the event creation run outside any transaction."""

    __tablename__ = "scheduling_slots"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("slt"))
    request_id: Mapped[str] = mapped_column(ForeignKey("scheduling_requests.id", ondelete="CASCADE"), index=True)
    start: Mapped[datetime] = mapped_column()
    end: Mapped[datetime] = mapped_column()
    # open | held | booking | booked | unavailable | removed
    status: Mapped[str] = mapped_column(String(16), default="open")
    candidate_id: Mapped[str | None] = mapped_column(String(40), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    from_window: Mapped[bool] = mapped_column(default=False)


class SchedulingCandidate(Base):
    """A person invited to pick a time. The booking token is unguessable; it is found by its
    hash and kept only as a vault ciphertext bound to this row, so the link can be shown again
    without a database dump being enough to use it."""

    __tablename__ = "scheduling_candidates"
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("cnd"))
    request_id: Mapped[str] = mapped_column(ForeignKey("scheduling_requests.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str | None] = mapped_column(String(256), default=None)
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    # invited | booked | declined | cancelled
    status: Mapped[str] = mapped_column(String(16), default="invited")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_enc: Mapped[str] = mapped_column(Text)
    slot_id: Mapped[str | None] = mapped_column(String(40), default=None)
    event_id: Mapped[str | None] = mapped_column(String(40), default=None)
    decline_reason: Mapped[str | None] = mapped_column(Text, default=None)
    odd_hour: Mapped[bool | None] = mapped_column(default=None)
    bookings: Mapped[int] = mapped_column(Integer, default=0)  # makes each booking's idempotency handle
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SchedulingHold(Base):
    """A tentative hold on one interviewer's calendar for one explicit slot. A hold is never
    forgotten: `releasing` rows are retried (`next_attempt_at`) until the provider confirms the
    event is gone, and only then become `released`."""

    __tablename__ = "scheduling_holds"
    __table_args__ = (Index("ix_scheduling_holds_due", "status", "next_attempt_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("hld"))
    request_id: Mapped[str] = mapped_column(ForeignKey("scheduling_requests.id", ondelete="CASCADE"), index=True)
    slot_id: Mapped[str] = mapped_column(String(40), index=True)
    user_id: Mapped[str] = mapped_column(String(128))  # the interviewer's external id
    connection_id: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str] = mapped_column(String(32))
    provider_event_id: Mapped[str | None] = mapped_column(String(1024), default=None)
    # placing → active → releasing → released
    status: Mapped[str] = mapped_column(String(16), default="placing")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AttendanceWatch(Base):
    """Attendance tracking of one event: who is watched (the candidate), who is expected
    (interviewers, with every address and account id they may join as), the thresholds, and
    the last participant list read from the provider."""

    __tablename__ = "attendance_watches"
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    grace_minutes: Mapped[int] = mapped_column(Integer)
    late_after_minutes: Mapped[int] = mapped_column(Integer)
    candidate_email: Mapped[str] = mapped_column(String(320))
    candidate_name: Mapped[str | None] = mapped_column(String(256), default=None)
    # [{"email","name","aliases":[…],"account_ids":[…]}]
    interviewers: Mapped[list[Any]] = mapped_column(default=list)
    provider: Mapped[str] = mapped_column(String(32))  # whose reader: zoom | google | microsoft
    connection_id: Mapped[str | None] = mapped_column(String(40), default=None)
    participants: Mapped[list[Any] | None] = mapped_column(default=None)  # last provider read
    source: Mapped[str | None] = mapped_column(String(32), default=None)
    read_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AttendanceCheck(Base):
    """A deadline of one event (`late` at start + late_after, `deadline` at start + grace).
    The row is the timer: a job runner picks pending rows whose `due_at` has passed; moving an
    event moves `due_at`, cancelling it cancels the row."""

    __tablename__ = "attendance_checks"
    __table_args__ = (UniqueConstraint("event_id", "kind"), Index("ix_attendance_checks_due", "status", "due_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # late | deadline
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | cancelled | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[dict[str, Any] | None] = mapped_column(default=None)


class AttendanceNotice(Base):
    """An attendance webhook that was queued: the unique key makes each one go out once, however
    many timers, webhooks and polls reach the same conclusion."""

    __tablename__ = "attendance_notices"
    __table_args__ = (UniqueConstraint("event_id", "type", "subject"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(320), default="")  # the interviewer, for interviewer_no_show
    sent_at: Mapped[datetime] = mapped_column()


class Job(Base):
    """The record of one background job (hub/jobs): what to run, when, and how it went. The
    broker only carries a pointer to this row, so a lost broker loses nothing: a periodic sweep
    re-enqueues every due job that is not done. `key` dedupes (one renewal per channel, one
    release per hold); `locked_until` is the lease of the worker running it."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_due", "status", "run_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("job"))
    name: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    key: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    # pending (due at run_at; running while locked_until is ahead) → done | failed (gave up)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    run_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncChannel(Base):
    """A push channel the hub opened on one calendar connection (Google `events.watch`, a Graph
    subscription). A connection has at most one `active` channel; during a Google renewal the
    old one is `stopping` until `channels.stop` went through. Only a hash of the channel's
    secret (Google's token, Graph's clientState) is kept: a notification is trusted when its
    secret hashes to it."""

    __tablename__ = "sync_channels"
    __table_args__ = (Index("ix_sync_channels_external", "provider", "external_id"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("chn"))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    # What notifications carry: Google's channel id (= the hub's), Graph's subscription id.
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    resource_id: Mapped[str | None] = mapped_column(String(255), default=None)  # Google's resourceId
    secret_hash: Mapped[str] = mapped_column(String(64))
    # opening | active | stopping | stopped | expired | failed
    status: Mapped[str] = mapped_column(String(16), default="opening")
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    last_notice_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SyncState(Base):
    """Incremental sync of one calendar connection: the provider's cursor (Google syncToken,
    Graph deltaLink), the rolling window it covers, and how the last runs went. The busy cache
    of the connection is fresh when its channel is active and `last_synced_at` is recent."""

    __tablename__ = "sync_states"
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    cursor: Mapped[str | None] = mapped_column(Text, default=None)
    window_start: Mapped[datetime | None] = mapped_column(default=None)
    window_end: Mapped[datetime | None] = mapped_column(default=None)
    last_synced_at: Mapped[datetime | None] = mapped_column(default=None)
    last_full_sync_at: Mapped[datetime | None] = mapped_column(default=None)
    # A notification arrived after `last_synced_at` and its sync has not finished yet: the
    # cache is known to be behind (answered live until it catches up).
    dirty_since: Mapped[datetime | None] = mapped_column(default=None)
    # The last few failures, newest last: [{"at","cause","message"}].
    errors: Mapped[list[Any]] = mapped_column(default=list)


class CachedEvent(Base):
    """The busy cache: every event of a synced connection inside its window, as the provider
    last reported it. Cancelled events are deleted, not kept."""

    __tablename__ = "cached_events"
    __table_args__ = (Index("ix_cached_events_span", "connection_id", "start", "end"),)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(1024), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    start: Mapped[datetime] = mapped_column()
    end: Mapped[datetime] = mapped_column()
    show_as: Mapped[str] = mapped_column(String(16), default="busy")  # busy | tentative | oof | free
    title: Mapped[str | None] = mapped_column(Text, default=None)
    # [{"email","response_status"}]
    attendees: Mapped[list[Any]] = mapped_column(default=list)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)
