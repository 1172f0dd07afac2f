"""The ports every provider adapter implements, and the one error type adapters raise.

Nothing here knows about an SDK or HTTP: adapters translate their wire formats into these
types, so the hub's services never see a provider detail.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover - only for annotations; nothing here imports at runtime
    from flask import Blueprint

    from oauth.credential_form import CredentialForm
    from oauth.flows import OAuthFlow
    from providers.emulator_kit.emulator import ProviderEmulator
    from providers.probes import ProviderDiagnostics


class Capability(str, enum.Enum):
    """What a connection can do. Capabilities are data, not optional methods."""

    CALENDAR = "calendar"
    GOOGLE_MEET = "google_meet"
    TEAMS = "teams"
    ZOOM = "zoom"


class ErrorKind(str, enum.Enum):
    """Coarse class of a provider failure: drives retries and HTTP status."""

    AUTH_EXPIRED = "auth_expired"  # access token stale: a refresh fixes it
    AUTH_REVOKED = "auth_revoked"  # the grant is dead: only the user reconnecting fixes it
    SCOPE_MISSING = "scope_missing"
    MAILBOX_UNAVAILABLE = "mailbox_unavailable"
    ACCESS_DENIED = "access_denied"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    PROVIDER_DOWN = "provider_down"
    INVALID_REQUEST = "invalid_request"
    CONFLICT = "conflict"  # e.g. a client-chosen id exists already: success on a retry
    UNKNOWN = "unknown"

    @property
    def retryable(self) -> bool:
        return self in (ErrorKind.RATE_LIMITED, ErrorKind.PROVIDER_DOWN)


class ProviderError(Exception):
    """The only exception an adapter lets out.

    `kind` is coarse (what to do mechanically), `cause` is fine (what a person is told, one of
    the stable cause codes of API.md or None when nothing more specific is known).
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        provider: str,
        cause: str | None = None,
        provider_code: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.provider = provider
        self.cause = cause
        self.provider_code = provider_code
        self.http_status = http_status
        self.retry_after = retry_after

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "cause": self.cause, "message": self.message}

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"ProviderError({self.provider}:{self.kind.value}:{self.cause}:{self.provider_code})"


@dataclass(frozen=True)
class BusyBlock:
    start: datetime
    end: datetime
    status: str = "busy"  # busy | tentative | oof
    # Set by `busy_events` only: lets a caller leave its own events (holds) out of a check.
    event_id: str | None = None


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str | None = None
    optional: bool = False


@dataclass(frozen=True)
class ConferenceLink:
    provider: str  # google_meet | teams | zoom
    join_url: str
    meeting_id: str | None = None
    passcode: str | None = None
    dial_in: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"provider": self.provider, "join_url": self.join_url}
        if self.meeting_id:
            out["meeting_id"] = self.meeting_id
        if self.passcode:
            out["passcode"] = self.passcode
        if self.dial_in:
            out["dial_in"] = list(self.dial_in)
        return out


@dataclass(frozen=True)
class EventDraft:
    """What the hub asks a calendar to hold. `idempotency_handle` is derived from the hub's
    Idempotency-Key so a retried create cannot make a second provider event."""

    title: str
    start: datetime
    end: datetime
    attendees: tuple[Attendee, ...] = ()
    description: str | None = None
    location: str | None = None
    timezone: str | None = None
    native_conferencing: bool = False  # ask the calendar for Meet / Teams
    send_updates: bool = True
    idempotency_handle: str | None = None
    # "tentative" marks a hold: shown as tentative, still blocking time for everyone else
    # (Google: status tentative + opaque; Graph: showAs tentative).
    show_as: str = "busy"  # busy | tentative


@dataclass(frozen=True)
class EventChanges:
    title: str | None = None
    description: str | None = None
    location: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    attendees: tuple[Attendee, ...] | None = None
    send_updates: bool = True


@dataclass(frozen=True)
class CalendarEvent:
    event_id: str
    html_link: str | None
    conference: ConferenceLink | None


@dataclass(frozen=True)
class MeetingDraft:
    topic: str
    start: datetime
    duration_minutes: int
    timezone: str | None = None
    agenda: str | None = None


@dataclass(frozen=True)
class Meeting:
    meeting_id: str
    join_url: str
    passcode: str | None = None


@runtime_checkable
class CalendarProvider(Protocol):
    """A calendar reached with one user's access token."""

    name: str

    def free_busy(self, token: str, emails: list[str], start: datetime, end: datetime
                  ) -> dict[str, list[BusyBlock] | ProviderError]:
        """Busy blocks per calendar; a calendar the provider cannot read maps to its error."""

    def busy_events(self, token: str, start: datetime, end: datetime) -> list[BusyBlock]:
        """The events on the user's own calendar that block time in [start, end), each with its
        `event_id`, so a check can leave the caller's own events (holds) out — free/busy
        merges them away."""

    def create_event(self, token: str, draft: EventDraft) -> CalendarEvent: ...

    def update_event(self, token: str, event_id: str, changes: EventChanges) -> CalendarEvent: ...

    def cancel_event(self, token: str, event_id: str, send_updates: bool = True) -> None:
        """Cancel; an event already gone counts as cancelled."""

    def conferencing_allowed(self, token: str) -> bool:
        """Whether the calendar's native conferencing (Meet / Teams) is available."""

    def verify_mailbox(self, token: str) -> None:
        """Raise ProviderError (cause `shared_mailbox`, `mailbox_unlicensed` …) when the signed-in
        identity has no calendar of its own that the hub may use; return None otherwise."""


@runtime_checkable
class FreeBusyBatch(Protocol):
    """Optional on a CalendarProvider: many people's free/busy, each read with their own token,
    in one round trip (Google's batch endpoint). The hub groups a request's participants of such
    a provider and falls back to `free_busy` per person for every other provider."""

    # The most reads one call takes (the provider's batch limit).
    batch_limit: int

    def free_busy_batch(self, reads: Sequence[tuple[str, str]], start: datetime, end: datetime
                        ) -> list[list[BusyBlock] | ProviderError]:
        """For each (token, email) in order: what `free_busy(token, [email], start, end)[email]`
        gives, or the ProviderError that call would have raised (a refused token is
        AUTH_EXPIRED for that read alone). At most `batch_limit` reads."""


@runtime_checkable
class ConferencingProvider(Protocol):
    """Meetings in a conferencing service (Zoom) reached with one user's access token."""

    name: str

    def can_host(self, token: str) -> bool:
        """Whether the signed-in account may host meetings at all (plan, role, product); asked
        at connect so a person learns it then, not when an interview is booked."""

    def create_meeting(self, token: str, draft: MeetingDraft) -> Meeting: ...

    def update_meeting(self, token: str, meeting_id: str, draft: MeetingDraft) -> None: ...

    def delete_meeting(self, token: str, meeting_id: str) -> None:
        """Delete; a meeting already gone counts as deleted."""


@dataclass(frozen=True)
class MeetingParticipant:
    """Someone the conferencing provider saw in a meeting. Providers name people differently:
    Zoom gives an email (often empty for guests) and a name, Meet a Google account id and a
    display name, Teams an email; `key` is a per-attendee key the hub set where the provider
    carries one back (Zoom's `customer_key`)."""

    name: str
    joined_at: datetime
    email: str | None = None
    left_at: datetime | None = None
    key: str | None = None
    account_id: str | None = None  # the provider's account id (Meet `users/{id}` = OIDC `sub`)


@dataclass(frozen=True)
class AttendanceRead:
    """One read of a meeting's participant list. `participants` is None when the provider has
    no record yet (a Teams attendance report before the meeting ends)."""

    source: str  # zoom_api | meet_api | teams_report
    participants: tuple[MeetingParticipant, ...] | None


@runtime_checkable
class AttendanceReader(Protocol):
    """Who joined a meeting, read from the provider that hosts it."""

    name: str
    # What attendance.* webhooks and GET …/attendance call this source.
    source: str
    # False when the provider reports only after the meeting ends (Teams): deadlines then wait
    # for the end and the answer says so.
    live: bool
    # What the provider's own participant notifications are called as a source, when it sends
    # any (Zoom's webhooks: "zoom_webhooks"); None when it must be read.
    push_source: str | None
    # The cause `participants` raises while a running meeting's list cannot be read at all (Zoom
    # without its Dashboard); None when that cannot happen. Lateness is then told from the
    # provider's own notifications (push_source), absences still only from a read.
    live_unreadable_cause: str | None

    def participants(self, token: str, conference: Mapping[str, Any]) -> AttendanceRead:
        """Everyone who joined the meeting of `conference` (the event's conferencing: provider,
        join_url, meeting_id). A meeting nobody started reads as no participants."""


# --- push channels and incremental sync (issue 12) ------------------------------------------

RESPONSE_STATUSES = ("accepted", "declined", "tentative", "needs_action")
# The cause an adapter's `sync` raises (ProviderError, kind CONFLICT) when the provider no longer
# accepts the cursor (Google 410 fullSyncRequired, a Graph delta token that expired): the
# caller drops what it synced and starts a full sync.
FULL_SYNC_REQUIRED = "full_sync_required"


@dataclass(frozen=True)
class ChannelRequest:
    """What the hub asks for when it opens a push channel on one calendar."""

    channel_id: str  # the hub's id for it (Google's channel id; Graph chooses its own)
    address: str  # where notifications go: <public url>/webhooks/<provider>
    secret: str  # Google's channel token / Graph's clientState, echoed in every notification
    expires_at: datetime  # the lifetime wanted; the provider may shorten it
    lifecycle_address: str | None = None  # Graph's lifecycleNotificationUrl


@dataclass(frozen=True)
class PushChannel:
    """An open channel as the provider describes it."""

    channel_id: str  # what notifications carry: Google's channel id, Graph's subscription id
    expires_at: datetime
    resource_id: str | None = None  # Google's resourceId, needed to stop the channel


@dataclass(frozen=True)
class PushNotice:
    """One notification, read from the provider's wire format but not yet trusted: the hub
    checks `channel_id` + `secret` (and `resource_id` where given) against the channel it
    opened before it acts on anything else."""

    channel_id: str
    secret: str | None
    # changed: something in the calendar changed (sync); opened: the channel's first message
    # (Google `sync`); lifecycle kinds from Graph: removed (subscriptionRemoved), missed,
    # reauthorize (reauthorizationRequired).
    kind: str
    # Identifies one delivery so a repeat is acknowledged and ignored (Google's message
    # number; Graph's subscription + change + resource); None when the provider gives nothing.
    dedupe_key: str | None = None
    resource_id: str | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class AttendeeResponse:
    email: str
    response_status: str  # one of RESPONSE_STATUSES


@dataclass(frozen=True)
class SyncedEvent:
    """One event as an incremental sync reports it; `cancelled` means deleted at the provider."""

    event_id: str
    cancelled: bool = False
    start: datetime | None = None
    end: datetime | None = None
    title: str | None = None
    show_as: str = "busy"  # busy | tentative | oof | free (free: does not block time)
    attendees: tuple[AttendeeResponse, ...] = ()


@dataclass(frozen=True)
class SyncBatch:
    """Everything that changed since `cursor` (all pages read), and the cursor for next time.
    `full`: the sync started without a cursor, so `events` is the whole window and anything
    the caller holds that is not in it is gone."""

    events: tuple[SyncedEvent, ...]
    cursor: str
    full: bool


@runtime_checkable
class CalendarSync(Protocol):
    """Push channels and incremental sync on one user's calendar."""

    name: str
    # Graph renews a subscription in place (PATCH); Google cannot: open a new channel, then
    # stop the old one.
    renewable: bool
    # The longest lifetime the provider grants a channel on a calendar.
    max_channel_lifetime: timedelta

    def open_channel(self, token: str, request: ChannelRequest) -> PushChannel: ...

    def renew_channel(self, token: str, channel: PushChannel, expires_at: datetime) -> PushChannel:
        """Extend in place (renewable providers only); ProviderError NOT_FOUND when the
        provider no longer has it (open a new one)."""

    def close_channel(self, token: str, channel: PushChannel) -> None:
        """Stop it; a channel already gone counts as stopped."""

    def sync(self, token: str, cursor: str | None, start: datetime, end: datetime) -> SyncBatch:
        """Changes since `cursor`, or a full sync of [start, end) when `cursor` is None.
        Raises ProviderError(cause=FULL_SYNC_REQUIRED) when the cursor is no longer accepted."""

    def read_event(self, token: str, event_id: str) -> SyncedEvent:
        """One event as the provider holds it now, `cancelled` when it is deleted or gone. The
        hub asks before it takes an event it made for deleted because a sync no longer shows
        it: a window only shows what lies inside it, so the event may just have moved."""

    def validation_echo(self, args: Mapping[str, str]) -> str | None:
        """The text to answer a subscription validation request with (Graph's
        `validationToken`), or None when this request is not one."""

    def read_notices(self, headers: Mapping[str, str], body: bytes, lifecycle: bool) -> list[PushNotice]:
        """The notifications in one inbound request, read but not trusted; raise ValueError
        when the request is not a notification of this provider at all."""


# --- the provider spec: everything the hub knows about one provider, in one object ----------

@dataclass(frozen=True)
class Setting:
    """One `HUB_<PROVIDER>_<KEY>` environment variable a provider reads."""

    key: str  # lower case; the variable is HUB_<PROVIDER>_<KEY upper-cased>
    help: str
    default: str = ""
    secret: bool = False  # never logged, never printed by `hub config`

    def env_name(self, provider: str) -> str:
        return f"HUB_{provider.upper()}_{self.key.upper()}"


@dataclass(frozen=True)
class ProviderConfig:
    """What a provider's factories receive: its own settings and where it is reached — never
    the hub's settings object, so a provider package does not depend on the hub."""

    provider: str
    values: Mapping[str, str] = field(default_factory=dict)
    sandbox_url: str = ""  # the sandbox's root URL; "" means the real provider
    public_url: str = ""  # where browsers reach the hub (redirect and notification URLs)
    timeout: float = 20.0

    def get(self, key: str) -> str:
        return self.values.get(key, "")

    @property
    def sandbox(self) -> str | None:
        """This provider's emulator inside the sandbox (`<sandbox>/<provider>`), or None."""
        root = self.sandbox_url.rstrip("/")
        return f"{root}/{self.provider}" if root else None


@dataclass(frozen=True)
class OAuthEndpoints:
    """Where one provider's authorization server and API are (real or in the sandbox), and the
    hub's client there."""

    authorize_url: str
    token_url: str
    revoke_url: str | None
    jwks_url: str | None
    api_base: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Conferencing:
    """The video meetings a provider brings, native (Meet in a Google event) or external
    (a Zoom meeting whose link goes into any calendar's event)."""

    capability: Capability
    label: str  # what people call it: "Google Meet"
    # Cause when the account may not use it (API.md causes): admin switched it off, no licence.
    unavailable_cause: str
    # Cause when an event came back without the link that was asked for.
    link_missing_cause: str
    # How the link is introduced in an invitation's text, as the provider's own invitations say.
    join_label: str = "Join the meeting"


@dataclass(frozen=True)
class OAuthConnect:
    """Connected through the provider's OAuth consent (state + PKCE + browser binding)."""

    flow: Callable[[ProviderConfig], "OAuthFlow"]


@dataclass(frozen=True)
class FormConnect:
    """Connected with a credential form the hub shows at the connect link (CalDAV's server URL,
    user name and app-specific password); see oauth/credential_form.py."""

    form: Callable[[ProviderConfig], "CredentialForm"]


@dataclass(frozen=True)
class CauseText:
    """Plain words for a cause only this provider produces (hub/services/explanations.py holds
    the provider-neutral ones). `{provider}` is replaced by the provider's title."""

    code: str
    summary: str
    fix: str
    action: str
    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderSpec:
    """A provider, whole. The registry (providers/registry.py) is a list of these and the hub
    derives everything else from it: API validation and OpenAPI enums, settings-page cards,
    diagnostics, the sandbox's mounts, the `HUB_<NAME>_*` settings and their documentation.

    Factories import their SDKs only when called, so a process that never talks to a provider
    never pays for its imports.
    """

    name: str
    title: str
    # What a fully consented connection to this provider can do.
    capabilities: frozenset[Capability]
    connect: OAuthConnect | FormConnect
    settings: tuple[Setting, ...] = ()
    calendar: Callable[[ProviderConfig], CalendarProvider] | None = None
    conferencing: Callable[[ProviderConfig], "ConferencingProvider"] | None = None
    # The meetings it brings; `native` when they live inside its calendar's events.
    meetings: Conferencing | None = None
    native: bool = False
    emulator: Callable[[], type["ProviderEmulator"]] | None = None
    diagnostics: Callable[[], "ProviderDiagnostics"] | None = None
    causes: tuple[CauseText, ...] = ()
    # Inbound notifications from the provider (`/webhooks/<name>`), if it sends any.
    webhooks: Callable[[], "Blueprint"] | None = None
    # Who joined its meetings (attendance.* webhooks); `attendance_scopes` are added to the
    # connect flow for tenants that enable attendance.
    attendance: Callable[[ProviderConfig], AttendanceReader] | None = None
    attendance_scopes: tuple[str, ...] = ()
    # Push channels and incremental sync (the busy cache, event.updated/cancelled), if any.
    sync: Callable[[ProviderConfig], CalendarSync] | None = None
    # Requests in flight per account the provider allows (Graph: 4 per mailbox), or None.
    concurrency_per_account: int | None = None
    # Work worth doing once at start-up, off the request path (msgraph's model imports).
    warm_up: Callable[[Any], None] | None = None

    @property
    def native_conferencing(self) -> Capability | None:
        return self.meetings.capability if self.meetings is not None and self.native else None

    @property
    def external_conferencing(self) -> Capability | None:
        return self.meetings.capability if self.meetings is not None and not self.native else None
