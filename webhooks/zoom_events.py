"""What the hub does with a verified Zoom event.

- ``meeting.started`` / ``meeting.participant_joined`` / ``meeting.participant_left`` /
  ``meeting.ended``: recorded against the hub event whose Zoom meeting it is (who joined and
  when). Meetings the hub did not make are ignored: their participants are none of its business.
- ``app_deauthorized``: the Zoom user removed the app; every hub connection to that Zoom user
  becomes ``needs_reauth`` (cause ``zoom_token_revoked``) and its dead tokens are dropped, as
  Zoom's data rules ask.
Each event is recorded under a key naming the event itself, in the same transaction as its
effect, so a retried or replayed delivery changes nothing twice.
Payloads: https://developers.zoom.us/docs/api/meetings/events/ and
https://developers.zoom.us/docs/api/marketplace/events/#tag/app/POST/app_deauthorized
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, cast

from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError

from hub.storage.db import Database
from hub.storage.models import Connection, Event, ZoomWebhookEvent
from providers.base import ErrorKind, ProviderError
from providers.zoom.times import parse_time
from providers.zoom.errors import PROVIDER

MEETING_EVENTS = ("meeting.started", "meeting.participant_joined", "meeting.participant_left", "meeting.ended")
DEAUTHORIZED = "app_deauthorized"

StatusListener = Callable[[object, Connection, str, ProviderError | None], None]


@dataclass(frozen=True)
class Outcome:
    status: str  # recorded | duplicate | ignored
    event_id: str | None = None


def _object(value: Any) -> Mapping[str, Any]:
    """A JSON object inside a provider body, or an empty one when absent or not an object."""
    return value if isinstance(value, Mapping) else {}


def handle(db: Database, body: Mapping[str, Any], clock: Callable[[], datetime],
           on_status_change: StatusListener | None = None) -> Outcome:
    event = str(body.get("event") or "")  # pragma: no mutate (no event and an unknown one are both ignored)
    payload = _object(body.get("payload"))
    if event in MEETING_EVENTS:
        return _meeting_event(db, event, payload, body.get("event_ts"), clock)
    if event == DEAUTHORIZED:
        return _deauthorized(db, payload, body.get("event_ts"), clock, on_status_change)
    return Outcome("ignored")


def _meeting_event(db: Database, event: str, payload: Mapping[str, Any], event_ts: Any,
                   clock: Callable[[], datetime]) -> Outcome:
    meeting = _object(payload.get("object"))
    meeting_id = str(meeting.get("id") or "")  # pragma: no mutate (any text that is no hub meeting's id is ignored alike)
    if not meeting_id:
        return Outcome("ignored")
    participant = _object(meeting.get("participant"))
    when_field = {"meeting.started": "start_time", "meeting.ended": "end_time"}.get(event)
    when = parse_time(participant.get("join_time") if event.endswith("joined") else
                 participant.get("leave_time") if event.endswith("left") else
                 meeting.get(when_field or "")) or _epoch_ms(event_ts) or clock()
    who = str(participant.get("participant_uuid") or participant.get("id") or participant.get("user_id")
              or participant.get("user_name") or "")
    # The event itself, not the delivery: a meeting starts once per instance (uuid), a person
    # joins an instance at one moment.
    # no mutate: the key only has to tell events apart; its separator and filler change nothing
    key = ":".join([event, str(meeting.get("uuid") or meeting_id), who, when.isoformat() if who else ""])  # pragma: no mutate
    with db.session() as session:
        hub_event = _hub_event(session, meeting_id, meeting.get("host_id"))
        if hub_event is None:
            return Outcome("ignored")
        row = ZoomWebhookEvent(
            dedupe_key=key[:255], event_type=event, occurred_at=when, received_at=clock(),
            zoom_account_id=_str(payload.get("account_id"), "zoom_account_id"),
            zoom_user_id=_str(meeting.get("host_id"), "zoom_user_id"),
            meeting_id=meeting_id, meeting_uuid=_str(meeting.get("uuid"), "meeting_uuid"),
            tenant_id=hub_event.tenant_id, event_id=hub_event.id,
            participant_id=_str(who, "participant_id"), participant_name=_str(participant.get("user_name"), "participant_name"),
            # Zoom often sends an empty email for guests: keep None rather than "".
            participant_email=_str(participant.get("email"), "participant_email"),
            participant_key=_str(participant.get("customer_key"), "participant_key"))
        event_id = hub_event.id
        if not _insert_once(session, row):
            return Outcome("duplicate", event_id)
    return Outcome("recorded", event_id)


def _deauthorized(db: Database, payload: Mapping[str, Any], event_ts: Any, clock: Callable[[], datetime],
                  on_status_change: StatusListener | None) -> Outcome:
    user_id = str(payload.get("user_id") or "")
    if not user_id:
        return Outcome("ignored")
    when = parse_time(payload.get("deauthorization_time")) or _epoch_ms(event_ts) or clock()
    err = ProviderError(ErrorKind.AUTH_REVOKED,
                        "The Zoom user removed the hub's app from their Zoom account; "  # pragma: no mutate (wording)
                        "Zoom revoked its tokens. Reconnect Zoom to make Zoom meetings again.",  # pragma: no mutate (wording)
                        provider=PROVIDER, cause="zoom_token_revoked")
    with db.session() as session:
        row = ZoomWebhookEvent(dedupe_key=f"{DEAUTHORIZED}:{user_id}:{when.isoformat()}"[:255],
                               event_type=DEAUTHORIZED, occurred_at=when, received_at=clock(),
                               zoom_account_id=_str(payload.get("account_id"), "zoom_account_id"),
                               zoom_user_id=_str(user_id, "zoom_user_id"))
        if not _insert_once(session, row):
            return Outcome("duplicate")
        conns = session.execute(select(Connection).where(
            Connection.provider == PROVIDER, Connection.provider_account_id == user_id).with_for_update()).scalars()
        for conn in conns:
            old = conn.status
            # The tokens are dead at Zoom; Zoom's data rules ask apps to drop what they hold.
            conn.access_token_enc = conn.refresh_token_enc = None
            conn.access_expires_at = None
            if old != "active":
                continue
            conn.status = "needs_reauth"
            conn.last_error = {**err.as_dict(), "provider_code": DEAUTHORIZED, "at": clock().isoformat()}
            if on_status_change:
                on_status_change(session, conn, old, err)
    return Outcome("recorded")


def _hub_event(session, meeting_id: str, host_id: Any) -> Event | None:
    """The hub event holding this Zoom meeting: its conferencing names the meeting id, and its
    Zoom connection is the host's (when Zoom says who hosts)."""
    query = select(Event).where(Event.conference_connection_id.is_not(None),
                                Event.conferencing["meeting_id"].as_string() == meeting_id)
    if host_id:
        hosts = select(Connection.id).where(Connection.provider == PROVIDER,
                                            Connection.provider_account_id == str(host_id))
        query = query.where(Event.conference_connection_id.in_(hosts))
    return session.execute(query.order_by(Event.created_at.desc()).limit(1)).scalar_one_or_none()


def _insert_once(session, row: ZoomWebhookEvent) -> bool:
    """Insert; False (and the session rolled back) when the event was recorded before."""
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return False
    return True


def _epoch_ms(value: Any) -> datetime | None:
    try:
        # no mutate: int(None) raises TypeError, which ends in None just the same
        return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc) if value is not None else None  # pragma: no mutate
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _str(value: Any, column: str) -> str | None:
    """Zoom's value as text cut to the size of `column` of zoom_webhook_events (PostgreSQL
    refuses a longer one, and the 500 would make Zoom send the event again and again), or None
    when Zoom sent nothing or an empty string."""
    if value in (None, ""):
        return None
    text_type = cast(String, ZoomWebhookEvent.__table__.c[column].type)  # pragma: no mutate (cast does nothing at run time)
    return str(value)[:text_type.length]


def activity(db: Database, event_id: str) -> list[dict[str, Any]]:
    """What Zoom reported about a hub event's meeting, oldest first."""
    with db.session() as session:
        rows = session.execute(select(ZoomWebhookEvent).where(ZoomWebhookEvent.event_id == event_id)
                               # no mutate: SQLite returns ties in id order anyway; the tie-break is for PostgreSQL
                               .order_by(ZoomWebhookEvent.occurred_at, ZoomWebhookEvent.id)  # pragma: no mutate
                               ).scalars()
        return [{"type": r.event_type, "at": r.occurred_at, "participant": r.participant_name,
                 "email": r.participant_email} for r in rows]
