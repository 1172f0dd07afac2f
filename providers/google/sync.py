"""Google Calendar push channels and incremental sync (the `CalendarSync` port).

- Channels: `events.watch` on the primary calendar with the hub's channel id, its secret as the
  channel token and the lifetime as `params.ttl`; `channels.stop` with the id and resourceId.
  Google cannot extend a channel: the hub opens a new one before the old one expires and then
  stops the old one (https://developers.google.com/calendar/api/guides/push).
- Sync: a full sync lists the window (`timeMin`/`timeMax`, recurring events expanded with
  `singleEvents`) over all pages and keeps the `nextSyncToken` of the last page; an incremental
  sync lists with that token (plus `singleEvents` and `showDeleted`, the only filters that go with
  it) and gets every change since, deletions as `status: cancelled`. A token Google no longer
  accepts is 410 `fullSyncRequired` → ProviderError(CONFLICT, cause FULL_SYNC_REQUIRED)
  (https://developers.google.com/calendar/api/guides/sync). An incremental sync reports changes
  wherever they fall, so an event moved out of the window comes back and the caller can drop it.
- All-day events (`date`, no time) are whole days in the event's own `timeZone`, else the
  calendar's (the `timeZone` of the events.list answer), else UTC.
- Notifications: everything is in the headers; the body is empty and never read
  (https://developers.google.com/calendar/api/guides/push#understanding-the-notification-message-format).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from providers.base import (FULL_SYNC_REQUIRED, AttendeeResponse, ChannelRequest, ErrorKind, ProviderError,
                            PushChannel, PushNotice, SyncBatch, SyncedEvent)
from providers.google.calendar_api import CalendarApi, parse_instant, rfc3339
from providers.google.errors import PROVIDER

MAX_CHANNEL_LIFETIME = timedelta(days=7)  # Calendar's default and usual maximum [doc]
PAGE_SIZE = 250
# attendees[].responseStatus -> the hub's response statuses (providers.base.RESPONSE_STATUSES).
RESPONSES = {"needsAction": "needs_action", "accepted": "accepted", "declined": "declined",
             "tentative": "tentative"}
# X-Goog-Resource-State -> PushNotice.kind. `sync` is the channel's first message and says
# nothing changed; `exists`/`not_exists` both mean "look again".
STATES = {"sync": "opened", "exists": "changed", "not_exists": "changed"}


class GoogleSync:
    name = PROVIDER
    renewable = False
    max_channel_lifetime = MAX_CHANNEL_LIFETIME

    def __init__(self, api_base: str, timeout: float = 20.0,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self._api = CalendarApi(api_base, timeout)
        self._now = now

    # --- channels -------------------------------------------------------------------------
    def open_channel(self, token: str, request: ChannelRequest) -> PushChannel:
        lifetime = min(request.expires_at - self._now(), MAX_CHANNEL_LIFETIME)
        body = {"id": request.channel_id, "type": "web_hook", "address": request.address,
                "token": request.secret, "params": {"ttl": str(max(1, int(lifetime.total_seconds())))}}
        answer = self._api.call(token, lambda s: s.events().watch(calendarId="primary", body=body))
        return PushChannel(channel_id=answer["id"], resource_id=answer.get("resourceId"),
                           expires_at=datetime.fromtimestamp(int(answer["expiration"]) / 1000, tz=timezone.utc))

    def renew_channel(self, token: str, channel: PushChannel, expires_at: datetime) -> PushChannel:
        raise ProviderError(ErrorKind.INVALID_REQUEST,
                            "Google channels cannot be renewed: open a new channel, then stop the old one",
                            provider=PROVIDER)

    def close_channel(self, token: str, channel: PushChannel) -> None:
        if not channel.resource_id:
            raise ProviderError(ErrorKind.INVALID_REQUEST, "channels.stop needs the channel's resourceId",
                                provider=PROVIDER)
        body = {"id": channel.channel_id, "resourceId": channel.resource_id}
        try:
            self._api.call(token, lambda s: s.channels().stop(body=body))
        except ProviderError as err:
            if err.kind is not ErrorKind.NOT_FOUND:  # gone already (stopped, expired): stopped
                raise

    # --- sync -----------------------------------------------------------------------------
    def sync(self, token: str, cursor: str | None, start: datetime, end: datetime) -> SyncBatch:
        query: dict[str, Any] = {"calendarId": "primary", "singleEvents": True, "maxResults": PAGE_SIZE}
        if cursor is None:
            query.update(timeMin=rfc3339(start), timeMax=rfc3339(end))
        else:
            query.update(syncToken=cursor, showDeleted=True)
        events: list[SyncedEvent] = []
        page_token: str | None = None
        while True:
            page = self._list(token, {**query, "pageToken": page_token})
            zone = _zone(page.get("timeZone"))
            events.extend(synced_event(item, zone) for item in page.get("items") or ())
            page_token = page.get("nextPageToken")
            if not page_token:
                break
        next_token = page.get("nextSyncToken")
        if not next_token:
            raise ProviderError(ErrorKind.UNKNOWN, "events.list ended without a nextSyncToken", provider=PROVIDER)
        return SyncBatch(events=tuple(events), cursor=next_token, full=cursor is None)

    def _list(self, token: str, query: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._api.call(token, lambda s: s.events().list(**query))
        except ProviderError as err:
            if err.http_status == 410 and err.cause != FULL_SYNC_REQUIRED:
                # A 410 on a list is always the sync token, whatever reason the body gives.
                raise ProviderError(ErrorKind.CONFLICT, err.message, provider=PROVIDER, cause=FULL_SYNC_REQUIRED,
                                    provider_code=err.provider_code, http_status=410) from None
            raise

    def read_event(self, token: str, event_id: str) -> SyncedEvent:
        try:
            item = self._api.call(token, lambda s: s.events().get(calendarId="primary", eventId=event_id))
        except ProviderError as err:
            if err.kind is ErrorKind.NOT_FOUND or err.http_status == 410:  # deleted, or gone for good
                return SyncedEvent(event_id=event_id, cancelled=True)
            raise
        # events.get does not give the calendar's zone; the hub's own events have times, and
        # an all-day event read in UTC still says whether it exists.
        return synced_event(item, timezone.utc)

    # --- notifications --------------------------------------------------------------------
    def validation_echo(self, args: Mapping[str, str]) -> str | None:
        return None  # Google does not validate the address of a new channel

    def read_notices(self, headers: Mapping[str, str], body: bytes, lifecycle: bool) -> list[PushNotice]:
        if lifecycle:
            raise ValueError("Google sends no lifecycle notifications")
        lower = {k.lower(): v for k, v in headers.items()}
        channel_id = lower.get("x-goog-channel-id")
        if not channel_id:
            raise ValueError("not a Google channel message: no X-Goog-Channel-ID")
        del body  # Calendar's messages have none (a payload is only sent when a channel asks for one)
        # A state this code does not know is still a message about the calendar: looking again
        # is always a safe answer to it.
        kind = STATES.get(lower.get("x-goog-resource-state", ""), "changed")
        number = lower.get("x-goog-message-number")
        return [PushNotice(channel_id=channel_id, secret=lower.get("x-goog-channel-token"), kind=kind,
                           dedupe_key=f"{channel_id}:{number}" if number else None,
                           resource_id=lower.get("x-goog-resource-id"))]


def synced_event(item: Mapping[str, Any], calendar_zone: tzinfo) -> SyncedEvent:
    """One events.list item as the port's SyncedEvent."""
    attendees = tuple(AttendeeResponse(a["email"].lower(), RESPONSES.get(a.get("responseStatus", ""), "needs_action"))
                      for a in item.get("attendees") or () if a.get("email"))
    return SyncedEvent(
        event_id=item["id"],
        cancelled=item.get("status") == "cancelled",
        start=_when(item.get("start"), calendar_zone),
        end=_when(item.get("end"), calendar_zone),
        title=item.get("summary"),
        show_as=_show_as(item),
        attendees=attendees,
    )


def _show_as(item: Mapping[str, Any]) -> str:
    if item.get("transparency") == "transparent":
        return "free"
    # The calendar's owner declined an invitation: Google's free/busy does not count it either.
    if any(a.get("self") and a.get("responseStatus") == "declined" for a in item.get("attendees") or ()):
        return "free"
    if item.get("eventType") == "outOfOffice":
        return "oof"
    if item.get("status") == "tentative":
        return "tentative"
    return "busy"


def _when(value: Mapping[str, Any] | None, calendar_zone: tzinfo) -> datetime | None:
    if not value:
        return None  # a cancelled event may come with its id and status only
    if value.get("dateTime"):
        return parse_instant(value["dateTime"])
    if value.get("date"):
        zone = _zone(value.get("timeZone"), calendar_zone)
        return datetime.combine(date.fromisoformat(value["date"]), time(), zone).astimezone(timezone.utc)
    return None


def _zone(name: str | None, fallback: tzinfo = timezone.utc) -> tzinfo:
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback

