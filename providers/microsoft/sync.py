"""Graph change notifications and calendarView delta behind the `CalendarSync` port, on
msgraph-sdk (plumbing in graph_runtime.py, error table in errors.py).

- Channel = a subscription on ``me/events`` (created, updated, deleted) with the hub's
  ``clientState`` and lifecycle URL. Graph validates both URLs before it answers, so opening one
  needs the hub's webhook endpoints to be reachable. Renewal is a PATCH of
  ``expirationDateTime`` (404 → NOT_FOUND: open a new one); closing a gone one is fine.
  https://learn.microsoft.com/graph/api/subscription-post-subscriptions
- Sync = ``/me/calendarView/delta``: a full round over the window, or the stored deltaLink
  followed as is (the window lives in its token). All pages are read; the cursor is the last
  page's ``@odata.deltaLink``. A token Graph dropped (410 SyncStateNotFound) comes out of the
  error table as CONFLICT / FULL_SYNC_REQUIRED.
  https://learn.microsoft.com/graph/delta-query-events
- Notifications are read (not trusted) from Graph's JSON: ``{"value":[…]}``; the validation
  request is answered with its ``validationToken``.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from providers.base import (FULL_SYNC_REQUIRED, AttendeeResponse, ChannelRequest, ErrorKind, ProviderError,
                            PushChannel, PushNotice, SyncBatch, SyncedEvent)

from .calendar import UTC_PREFERENCE, _parse_json_dtz, _utc_text
from .errors import PROVIDER
from .graph_runtime import GraphRuntime

RESOURCE = "me/events"
CHANGE_TYPES = "created,updated,deleted"
# Outlook events allow 10,080 minutes [doc]; asking for a little less keeps clock skew between
# the hub and Graph from turning a request for the maximum into a 400.
MAX_LIFETIME = timedelta(minutes=10_080) - timedelta(minutes=15)
PAGE_SIZE = 200
# showAs → SyncedEvent.show_as. workingElsewhere does not block time, as in free/busy
# (calendar.py: getSchedule shows it as 0), so a cached answer matches a live one.
SHOW_AS = {"free": "free", "workingElsewhere": "free", "tentative": "tentative", "busy": "busy", "oof": "oof",
           "unknown": "busy"}
# attendees[].status.response → RESPONSE_STATUSES
RESPONSES = {"accepted": "accepted", "organizer": "accepted", "declined": "declined",
             "tentativelyAccepted": "tentative", "none": "needs_action", "notResponded": "needs_action"}
LIFECYCLE = {"subscriptionRemoved": "removed", "missed": "missed", "reauthorizationRequired": "reauthorize"}


class MicrosoftSync:
    name = PROVIDER
    renewable = True
    max_channel_lifetime = MAX_LIFETIME

    def __init__(self, api_base: str, timeout: float = 20.0, graph: GraphRuntime | None = None) -> None:
        self.graph = graph or GraphRuntime(api_base, timeout)
        self.api_base = api_base.rstrip("/")
        self.page_size = PAGE_SIZE

    # -- channels ---------------------------------------------------------------------------
    def _expiry(self, wanted: datetime) -> datetime:
        return min(wanted.astimezone(timezone.utc), datetime.now(timezone.utc) + MAX_LIFETIME)

    def open_channel(self, token: str, request: ChannelRequest) -> PushChannel:
        from msgraph.generated.models.subscription import Subscription

        body = Subscription(change_type=CHANGE_TYPES, notification_url=request.address, resource=RESOURCE,
                            lifecycle_notification_url=request.lifecycle_address, client_state=request.secret,
                            expiration_date_time=self._expiry(request.expires_at))
        created = self.graph.call(token, lambda c: c.subscriptions.post(body))
        if created is None or not created.id:
            raise ProviderError(ErrorKind.UNKNOWN, "Microsoft Graph created no subscription", provider=PROVIDER)
        return PushChannel(channel_id=created.id, expires_at=_aware(created.expiration_date_time, body))

    def renew_channel(self, token: str, channel: PushChannel, expires_at: datetime) -> PushChannel:
        from msgraph.generated.models.subscription import Subscription

        body = Subscription(expiration_date_time=self._expiry(expires_at))
        renewed = self.graph.call(token, lambda c: c.subscriptions.by_subscription_id(channel.channel_id).patch(body))
        expires = _aware(renewed.expiration_date_time if renewed else None, body)
        return PushChannel(channel_id=channel.channel_id, expires_at=expires, resource_id=channel.resource_id)

    def close_channel(self, token: str, channel: PushChannel) -> None:
        try:
            self.graph.call(token, lambda c: c.subscriptions.by_subscription_id(channel.channel_id).delete())
        except ProviderError as err:
            if err.kind is not ErrorKind.NOT_FOUND:  # already gone counts as stopped
                raise

    # -- incremental sync ---------------------------------------------------------------------
    def _config(self, start: datetime | None = None, end: datetime | None = None):
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import DeltaRequestBuilder

        config: RequestConfiguration[Any] = RequestConfiguration()
        # Both preferences are repeated on every page: Graph reads them per request.
        config.headers.add("Prefer", UTC_PREFERENCE)
        config.headers.add("Prefer", f"odata.maxpagesize={self.page_size}")
        if start is not None and end is not None:
            config.query_parameters = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
                start_date_time=_utc_text(start) + "Z", end_date_time=_utc_text(end) + "Z")
        return config

    def sync(self, token: str, cursor: str | None, start: datetime, end: datetime) -> SyncBatch:
        if cursor is not None and not cursor.startswith(self.api_base + "/"):
            # A deltaLink is followed with the user's token: never to another host (a cursor
            # stored against another Graph base, e.g. a moved sandbox, cannot be used anyway).
            raise ProviderError(ErrorKind.CONFLICT, "The stored delta link is not for this Graph endpoint",
                                provider=PROVIDER, cause=FULL_SYNC_REQUIRED)
        # The first page of a full round names the window; a deltaLink carries it in its token.
        page = self._page(token, cursor, self._config(start, end) if cursor is None else self._config())
        found: list[SyncedEvent] = []
        while True:
            found.extend(_synced(item) for item in page.get("value") or [] if isinstance(item, dict))
            if page.get("@odata.deltaLink"):
                return SyncBatch(events=tuple(found), cursor=page["@odata.deltaLink"], full=cursor is None)
            if not page.get("@odata.nextLink"):
                raise ProviderError(ErrorKind.UNKNOWN, "Microsoft Graph ended a delta round without a deltaLink",
                                    provider=PROVIDER)
            page = self._page(token, page["@odata.nextLink"], self._config())

    def _page(self, token: str, url: str | None, config: Any) -> dict[str, Any]:
        def request(client: Any) -> Any:
            builder = client.me.calendar_view.delta if url is None else client.me.calendar_view.delta.with_url(url)
            return builder.to_get_request_information(request_configuration=config)

        return self.graph.get_json(token, request)

    def read_event(self, token: str, event_id: str) -> SyncedEvent:
        from kiota_abstractions.base_request_configuration import RequestConfiguration

        config: RequestConfiguration[Any] = RequestConfiguration()
        config.headers.add("Prefer", UTC_PREFERENCE)

        def request(client: Any) -> Any:
            return client.me.events.by_event_id(event_id).to_get_request_information(request_configuration=config)

        try:
            return _synced(self.graph.get_json(token, request))
        except ProviderError as err:
            if err.kind is ErrorKind.NOT_FOUND:
                return SyncedEvent(event_id=event_id, cancelled=True)
            raise

    # -- inbound ------------------------------------------------------------------------------
    def validation_echo(self, args: Mapping[str, str]) -> str | None:
        return args.get("validationToken")

    def read_notices(self, headers: Mapping[str, str], body: bytes, lifecycle: bool) -> list[PushNotice]:
        try:
            data = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            raise ValueError("not JSON") from None
        items = data.get("value") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise ValueError('not a Graph notification: no "value" list')
        notices: list[PushNotice] = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("subscriptionId"), str):
                raise ValueError("not a Graph notification: an entry without subscriptionId")
            secret = item.get("clientState") if isinstance(item.get("clientState"), str) else None
            event = item.get("lifecycleEvent")
            if event is not None:
                if event in LIFECYCLE:  # a lifecycle event this hub does not know is skipped, not refused
                    notices.append(PushNotice(channel_id=item["subscriptionId"], secret=secret, kind=LIFECYCLE[event]))
                continue
            if lifecycle or not isinstance(item.get("changeType"), str):
                raise ValueError("not a Graph change notification")
            resource_data = item.get("resourceData")
            data_: dict[str, Any] = resource_data if isinstance(resource_data, dict) else {}
            event_id = data_.get("id") if isinstance(data_.get("id"), str) else None
            key = ":".join([item["subscriptionId"], item["changeType"], event_id or str(item.get("resource") or ""),
                            str(data_.get("@odata.etag") or "")])
            notices.append(PushNotice(channel_id=item["subscriptionId"], secret=secret, kind="changed",
                                      dedupe_key=key, event_id=event_id))
        return notices


def _aware(moment: datetime | None, asked: Any) -> datetime:
    """Graph's answer, or what was asked when it omits it; always timezone-aware UTC."""
    moment = moment or asked.expiration_date_time
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _synced(item: Mapping[str, Any]) -> SyncedEvent:
    """One delta entry (raw Graph JSON) as a SyncedEvent."""
    if "@removed" in item:
        return SyncedEvent(event_id=item["id"], cancelled=True)
    attendees = []
    for attendee in item.get("attendees") or []:
        address = (attendee.get("emailAddress") or {}).get("address")
        if address:
            response = (attendee.get("status") or {}).get("response") or "none"
            attendees.append(AttendeeResponse(email=address, response_status=RESPONSES.get(response, "needs_action")))
    return SyncedEvent(
        event_id=item["id"], cancelled=bool(item.get("isCancelled")),
        start=_when(item.get("start")), end=_when(item.get("end")), title=item.get("subject"),
        show_as=SHOW_AS.get(item.get("showAs") or "", "busy"), attendees=tuple(attendees))


def _when(value: Any) -> datetime | None:
    return _parse_json_dtz(value) if isinstance(value, dict) and value.get("dateTime") else None
