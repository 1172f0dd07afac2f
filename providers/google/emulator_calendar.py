"""The Google Calendar held in sandbox state: one primary calendar per account, its events,
free/busy, incremental sync and push channels. Speaks Calendar API v3 resources; HTTP, auth
and faults on requests are the API layer's job (``emulator_api``).

Events live in ``state.collection("google", email, "events")`` keyed by id. A deleted event
stays as a ``cancelled`` tombstone: Google answers 410 to a second delete and reports the
deletion to incremental sync, and its id stays taken (a retried insert gets 409).

Every change to an event and every new channel is reported to a ``CalendarListener`` (the
emulator's push notifications, ``emulator_push``); the store itself sends nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Callable, Mapping, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

from providers.emulator_kit.accounts import Account
from providers.emulator_kit.faults import Fault
from providers.emulator_kit.state import SandboxState
from providers.emulator_kit.timefmt import format_rfc3339, parse_rfc3339, zone_or_none

from . import emulator_errors as errors
from . import emulator_meet as meet
from .emulator_events import (
    WRITABLE_FIELDS,
    check_enums,
    check_event_id,
    etag_for,
    html_link,
    merge_patch,
    new_event_id,
    normalise_attendees,
    normalise_times,
    public_view,
    timestamp,
    writable_part,
)

PROVIDER = "google"
# Google does not document the freeBusy window limit; 90 days is what integrators observe
# (calcom/cal.com#11962). [?]
FREEBUSY_MAX_RANGE = timedelta(days=90)
FREEBUSY_MAX_CALENDARS = 50  # FreeBusyRequest.calendarExpansionMax maximum [doc]
EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX = 250, 2500  # events.list maxResults [doc]
# Channel lifetime when the client sets none (expiration or params.ttl), and the cap: the
# default is documented (7 days), the cap is not. [?]
CHANNEL_DEFAULT_TTL = timedelta(days=7)
CHANNEL_MAX_TTL = timedelta(days=30)
DEFAULT_REMINDERS = [{"method": "popup", "minutes": 10}]

# Control-API busy statuses -> how a Google event expresses them.
CONTROL_STATUSES: dict[str, dict[str, Any]] = {
    "busy": {"status": "confirmed", "transparency": "opaque"},
    "tentative": {"status": "tentative", "transparency": "opaque"},
    "free": {"status": "confirmed", "transparency": "transparent"},
    "oof": {
        "status": "confirmed",
        "transparency": "opaque",
        "eventType": "outOfOffice",
        "outOfOfficeProperties": {"autoDeclineMode": "declineNone"},
    },
}
_CONTROL_SUMMARIES = {"busy": "Busy", "tentative": "Tentative", "free": "Free", "oof": "Out of office"}
_SYNC_EXCLUSIVE = ("timeMin", "timeMax", "orderBy", "q", "iCalUID", "updatedMin",
                   "privateExtendedProperty", "sharedExtendedProperty")


@dataclass(frozen=True)
class MeetPolicy:
    """Whether Meet may be used, decided by the emulator (account flags and faults)."""

    allowed: Callable[[Account], bool]  # what calendars.get reports; uses no fault up
    outcome: Callable[[Account], str]  # "success" | "pending" | "unavailable" for one createRequest


class CalendarListener(Protocol):
    """Told about every change, inside the store's lock; must not call back into the store."""

    def calendar_changed(self, email: str) -> None: ...

    def channel_opened(self, channel_id: str) -> None: ...


class _NoListener:
    def calendar_changed(self, email: str) -> None:
        del email

    def channel_opened(self, channel_id: str) -> None:
        del channel_id


def _encode(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(token: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        return None
    return data if isinstance(data, dict) else None


def _instant(value: Any, name: str) -> datetime:
    try:
        return parse_rfc3339(value)
    except (TypeError, ValueError):
        raise errors.bad_request(f"Bad Request: {name} must be an RFC 3339 timestamp with a time zone offset.") from None


class GoogleCalendarStore:
    def __init__(
        self,
        state: SandboxState,
        clock: Callable[[], float],
        meet_policy: MeetPolicy,
        take_fault: Callable[[str, str | None], Fault | None],
        listener: CalendarListener | None = None,
    ) -> None:
        self._state = state
        self._clock = clock
        self._meet = meet_policy
        self._take_fault = take_fault
        self._listener: CalendarListener = listener or _NoListener()

    # -- calendars ---------------------------------------------------------------------------
    def resolve(self, caller: Account, calendar_id: str) -> Account:
        """The account whose primary calendar ``calendar_id`` names. A token reaches only its
        own calendar's events; anything else is 404, as for an unshared calendar."""
        if calendar_id == "primary" or calendar_id.lower() == caller.email:
            return caller
        raise errors.not_found()

    @staticmethod
    def _calendar_etag(account: Account) -> str:
        return f'"{zlib.crc32(account.email.encode()) * 1000}"'

    def _conference_properties(self, account: Account) -> dict[str, Any]:
        return {"allowedConferenceSolutionTypes": ["hangoutsMeet"] if self._meet.allowed(account) else []}

    def calendar(self, account: Account) -> dict[str, Any]:
        return {
            "kind": "calendar#calendar",
            "etag": self._calendar_etag(account),
            "id": account.email,
            "summary": account.email,
            "timeZone": account.timezone,
            "conferenceProperties": self._conference_properties(account),
        }

    def calendar_list_entry(self, account: Account) -> dict[str, Any]:
        return {
            "kind": "calendar#calendarListEntry",
            "etag": self._calendar_etag(account),
            "id": account.email,
            "summary": account.email,
            "timeZone": account.timezone,
            "colorId": "14",
            "backgroundColor": "#9fe1e7",
            "foregroundColor": "#000000",
            "selected": True,
            "accessRole": "owner",
            "defaultReminders": list(DEFAULT_REMINDERS),
            "notificationSettings": {
                "notifications": [
                    {"type": "eventCreation", "method": "email"},
                    {"type": "eventChange", "method": "email"},
                    {"type": "eventCancellation", "method": "email"},
                    {"type": "eventResponse", "method": "email"},
                ]
            },
            "primary": True,
            "conferenceProperties": self._conference_properties(account),
        }

    def calendar_list(self, account: Account) -> dict[str, Any]:
        return {
            "kind": "calendar#calendarList",
            "etag": self._calendar_etag(account),
            "nextSyncToken": _encode({"calendarList": account.email}),
            "items": [self.calendar_list_entry(account)],
        }

    # -- events ------------------------------------------------------------------------------
    def _events(self, account: Account) -> dict[str, dict[str, Any]]:
        return self._state.collection(PROVIDER, account.email, "events")

    def _zone(self, account: Account) -> ZoneInfo:
        return zone_or_none(account.timezone) or ZoneInfo("UTC")

    def _touch(self, account: Account, event: dict[str, Any]) -> None:
        """Record a change: new etag and updated time, and a place in the sync order."""
        meta = self._state.collection(PROVIDER, account.email, "calendar")
        meta["seq"] = meta.get("seq", 0) + 1
        now = self._clock()
        event["_seq"] = meta["seq"]
        event["etag"] = etag_for(now, meta["seq"])
        event["updated"] = timestamp(now)
        self._listener.calendar_changed(account.email)

    def _apply_times(self, account: Account, event: dict[str, Any]) -> None:
        event["_start"], event["_end"] = normalise_times(event, self._zone(account))

    def _apply_conference(
        self, account: Account, event: dict[str, Any], requested: Any, existing: dict[str, Any] | None
    ) -> None:
        """Handle ``conferenceData`` of a request sent with conferenceDataVersion=1."""
        if requested is None:
            return
        create = requested.get("createRequest") if isinstance(requested, dict) else None
        if not isinstance(create, dict):
            return  # nothing to create; Google keeps what the event had
        if not create.get("requestId"):
            raise errors.required("Missing conference request id.")
        key = create.get("conferenceSolutionKey") or {}
        if key.get("type") != "hangoutsMeet":
            raise errors.invalid_conference_type()
        previous = (existing or {}).get("createRequest", {})
        if previous.get("requestId") == create["requestId"]:
            return  # the same requestId again is ignored, so retries never make a second Meet
        outcome = self._meet.outcome(account)
        if outcome == "unavailable":
            raise errors.invalid_conference_type()
        request = {"requestId": create["requestId"], "conferenceSolutionKey": {"type": "hangoutsMeet"}}
        event.pop("hangoutLink", None)
        if outcome == "pending":
            event["conferenceData"] = meet.pending_conference(request)
            event["_pending_request"] = request
        else:
            event["conferenceData"], event["hangoutLink"] = meet.created_conference(request)
            event.pop("_pending_request", None)

    def insert_event(self, account: Account, body: dict[str, Any], conference_version: int) -> dict[str, Any]:
        with self._state.lock:
            events = self._events(account)
            event_id = check_event_id(body["id"]) if body.get("id") is not None else new_event_id()
            if event_id in events:
                raise errors.duplicate()
            now = timestamp(self._clock())
            event: dict[str, Any] = {
                "kind": "calendar#event",
                "id": event_id,
                "status": "confirmed",
                "htmlLink": html_link(event_id, account.email),
                "created": now,
                **writable_part(body),
            }
            event["creator"] = {"email": account.email, "self": True}
            event["organizer"] = {"email": account.email, "self": True}
            event["iCalUID"] = body.get("iCalUID") or f"{event_id}@google.com"
            event["sequence"] = body.get("sequence") if isinstance(body.get("sequence"), int) else 0
            event.setdefault("reminders", {"useDefault": True})
            event.setdefault("eventType", "default")
            check_enums(event)
            if "attendees" in event:
                event["attendees"] = normalise_attendees(event["attendees"], account.email)
            self._apply_times(account, event)
            if conference_version >= 1:
                self._apply_conference(account, event, body.get("conferenceData"), None)
            self._touch(account, event)
            events[event_id] = event
            return public_view(event)

    def _existing(self, account: Account, event_id: str) -> dict[str, Any]:
        event = self._events(account).get(event_id)
        if event is None:
            raise errors.not_found()
        return event

    @staticmethod
    def _check_if_match(event: dict[str, Any], if_match: str | None) -> None:
        """``If-Match`` with an etag that is no longer the event's: someone changed it since the
        client read it, so the write is refused (412 conditionNotMet) instead of overwriting."""
        if if_match is None or if_match.strip() == "*":
            return
        offered = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
        if event.get("etag") not in offered:
            raise errors.condition_not_met()

    def get_event(self, account: Account, event_id: str) -> dict[str, Any]:
        with self._state.lock:
            event = self._existing(account, event_id)
            pending = event.pop("_pending_request", None)
            if pending is not None:
                # Google finishes creating the Meet shortly after; the next read sees it.
                event["conferenceData"], event["hangoutLink"] = meet.created_conference(pending)
                self._touch(account, event)
            return public_view(event)

    def _rebuild(
        self,
        account: Account,
        old: dict[str, Any],
        writable: dict[str, Any],
        conference: Any,
        conference_version: int,
        clear_conference: bool,
    ) -> dict[str, Any]:
        """Shared end of patch and update: the old event's server fields plus new writable
        fields, validated like an insert."""
        event = {k: v for k, v in old.items() if k not in WRITABLE_FIELDS}
        event.update(writable)
        event.setdefault("status", "confirmed")
        check_enums(event)
        if "attendees" in event:
            event["attendees"] = normalise_attendees(event["attendees"], account.email)
        self._apply_times(account, event)
        # Without conferenceDataVersion=1 Google leaves conference data exactly as it was.
        if conference_version >= 1:
            if clear_conference:
                for key in ("conferenceData", "hangoutLink", "_pending_request"):
                    event.pop(key, None)
            else:
                self._apply_conference(account, event, conference, old.get("conferenceData"))
        if any(old.get(k) != event.get(k) for k in ("start", "end", "status")):
            event["sequence"] = old.get("sequence", 0) + 1
        self._touch(account, event)
        return event

    def patch_event(
        self, account: Account, event_id: str, body: dict[str, Any], conference_version: int,
        if_match: str | None = None,
    ) -> dict[str, Any]:
        with self._state.lock:
            old = self._existing(account, event_id)
            self._check_if_match(old, if_match)
            current = {k: old[k] for k in WRITABLE_FIELDS if k in old}
            changes = {k: v for k, v in body.items() if k in WRITABLE_FIELDS}
            clear = "conferenceData" in body and body["conferenceData"] is None
            event = self._rebuild(
                account, old, merge_patch(current, changes), body.get("conferenceData"), conference_version, clear
            )
            self._events(account)[event_id] = event
            return public_view(event)

    def update_event(
        self, account: Account, event_id: str, body: dict[str, Any], conference_version: int,
        if_match: str | None = None,
    ) -> dict[str, Any]:
        with self._state.lock:
            old = self._existing(account, event_id)
            self._check_if_match(old, if_match)
            writable = writable_part(body)
            writable.setdefault("reminders", {"useDefault": True})
            # A full update that leaves conferenceData out (with version 1) removes the conference.
            clear = body.get("conferenceData") is None
            event = self._rebuild(account, old, writable, body.get("conferenceData"), conference_version, clear)
            self._events(account)[event_id] = event
            return public_view(event)

    def delete_event(self, account: Account, event_id: str, if_match: str | None = None) -> None:
        with self._state.lock:
            event = self._existing(account, event_id)
            self._check_if_match(event, if_match)
            if event.get("status") == "cancelled":
                raise errors.deleted()
            event["status"] = "cancelled"
            self._touch(account, event)

    def list_events(self, account: Account, query: Mapping[str, str]) -> dict[str, Any]:
        try:
            max_results = min(int(query.get("maxResults", EVENTS_PAGE_DEFAULT)), EVENTS_PAGE_MAX)
        except ValueError:
            raise errors.invalid("Invalid value for: maxResults", "maxResults") from None
        if max_results < 1:
            raise errors.invalid("Invalid value for: maxResults", "maxResults")
        with self._state.lock:
            events = list(self._events(account).values())
            seq_now = self._state.collection(PROVIDER, account.email, "calendar").get("seq", 0)
            if query.get("syncToken"):
                items = self._changes_since(account, query)
            else:
                items = self._matching(events, query)
            offset = 0
            if query.get("pageToken"):
                page = _decode(query["pageToken"])
                if not page or page.get("g") != self._state.generation or not isinstance(page.get("o"), int):
                    raise errors.invalid("Invalid page token value.", "pageToken")
                offset = page["o"]
            chunk = items[offset : offset + max_results]
            body: dict[str, Any] = {
                "kind": "calendar#events",
                "etag": etag_for(self._clock(), seq_now),
                "summary": account.email,
                "description": "",
                "updated": max((e["updated"] for e in events), default=timestamp(self._clock())),
                "timeZone": account.timezone,
                "accessRole": "owner",
                "defaultReminders": list(DEFAULT_REMINDERS),
            }
            if offset + max_results < len(items):
                body["nextPageToken"] = _encode({"o": offset + max_results, "g": self._state.generation})
            else:
                body["nextSyncToken"] = _encode({"a": account.email, "s": seq_now, "g": self._state.generation})
            body["items"] = [public_view(e) for e in chunk]
            return body

    def _changes_since(self, account: Account, query: Mapping[str, str]) -> list[dict[str, Any]]:
        clashing = [p for p in _SYNC_EXCLUSIVE if p in query]
        if clashing:
            raise errors.invalid(f"The syncToken parameter cannot be combined with {', '.join(clashing)}.", "syncToken")
        token = _decode(query["syncToken"])
        if (
            not token
            or token.get("a") != account.email
            or token.get("g") != self._state.generation
            or not isinstance(token.get("s"), int)
            # API.md's name for the fault, and the name it had first.
            or self._take_fault("sync_token_invalid", account.email) is not None
            or self._take_fault("full_sync_required", account.email) is not None
        ):
            raise errors.full_sync_required()
        changed = [e for e in self._events(account).values() if e["_seq"] > token["s"]]
        return sorted(changed, key=lambda e: e["_seq"])

    def _matching(self, events: list[dict[str, Any]], query: Mapping[str, str]) -> list[dict[str, Any]]:
        time_min = _instant(query["timeMin"], "timeMin") if query.get("timeMin") else None
        time_max = _instant(query["timeMax"], "timeMax") if query.get("timeMax") else None
        if time_min and time_max and time_max <= time_min:
            raise errors.time_range_empty()
        show_deleted = query.get("showDeleted") == "true"
        order_by = query.get("orderBy")
        if order_by == "startTime" and query.get("singleEvents") != "true":
            raise errors.bad_request("The requested ordering is not available for the particular query.")
        if order_by not in (None, "startTime", "updated"):
            raise errors.invalid("Invalid value for: orderBy", "orderBy")
        items = [
            e
            for e in events
            if (show_deleted or e["status"] != "cancelled")
            and (time_min is None or e["_end"] > time_min)
            and (time_max is None or e["_start"] < time_max)
        ]
        if order_by == "updated":
            return sorted(items, key=lambda e: (e["updated"], e["id"]))
        return sorted(items, key=lambda e: (e["_start"], e["id"]))

    # -- free/busy ---------------------------------------------------------------------------
    def free_busy(self, caller: Account, body: dict[str, Any]) -> dict[str, Any]:
        for name in ("timeMin", "timeMax"):
            if not body.get(name):
                raise errors.required(f"Missing {name} parameter.")
        time_min, time_max = _instant(body["timeMin"], "timeMin"), _instant(body["timeMax"], "timeMax")
        if time_max <= time_min:
            raise errors.time_range_empty()
        if time_max - time_min > FREEBUSY_MAX_RANGE:
            raise errors.time_range_too_long()
        zone: tzinfo = timezone.utc
        if body.get("timeZone"):
            named = zone_or_none(body["timeZone"])
            if named is None:
                raise errors.invalid("Invalid time zone definition.", "timeZone")
            zone = named
        items = body.get("items") or []
        if not isinstance(items, list):
            raise errors.invalid("Invalid value for: items")
        calendars: dict[str, Any] = {}
        for position, item in enumerate(items):
            calendar_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(calendar_id, str) or not calendar_id:
                raise errors.required("Missing calendar id.")
            calendars[calendar_id] = self._calendar_busy(caller, calendar_id, position, time_min, time_max, zone)
        return {
            "kind": "calendar#freeBusy",
            "timeMin": format_rfc3339(time_min, millis=True, zone=timezone.utc),
            "timeMax": format_rfc3339(time_max, millis=True, zone=timezone.utc),
            "calendars": calendars,
        }

    def _calendar_busy(
        self, caller: Account, calendar_id: str, position: int, time_min: datetime, time_max: datetime, zone
    ) -> dict[str, Any]:
        # Per-calendar failures arrive inside HTTP 200, next to the calendars that worked. [doc]
        if position >= FREEBUSY_MAX_CALENDARS:
            # Documented reason; whether Google reports it per calendar or fails the call is
            # not documented. [?]
            return {"errors": [{"domain": "usageLimits", "reason": "tooManyCalendarsRequested"}], "busy": []}
        owner = caller if calendar_id == "primary" else self._state.account(PROVIDER, calendar_id)
        if owner is None:
            return {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
        fault = self._take_fault("freebusy_calendar_error", owner.email)
        if fault is not None:
            return {"errors": [{"domain": "global", "reason": fault.params.get("reason", "internalError")}], "busy": []}
        with self._state.lock:
            spans = sorted(
                (max(e["_start"], time_min), min(e["_end"], time_max))
                for e in self._events(owner).values()
                if e["status"] != "cancelled"
                and e.get("transparency", "opaque") == "opaque"
                and e["_end"] > time_min
                and e["_start"] < time_max
            )
        merged: list[list[datetime]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return {"busy": [{"start": format_rfc3339(s, zone=zone), "end": format_rfc3339(e, zone=zone)} for s, e in merged]}

    # -- push channels -----------------------------------------------------------------------
    def watch(self, account: Account, body: dict[str, Any], require_https: bool) -> dict[str, Any]:
        channel_id, address = body.get("id"), body.get("address")
        if not channel_id:
            raise errors.required("Missing channel id.")
        if body.get("type") not in ("web_hook", "webhook"):
            raise errors.invalid("Invalid value for: type")
        if not address:
            raise errors.required("Missing address.")
        if require_https and not str(address).startswith("https://"):
            raise errors.GoogleApiError(400, "push.webhookUrlNotHttps", f"WebHook callback must be HTTPS: {address}")
        now = self._clock()
        latest = now + CHANNEL_MAX_TTL.total_seconds()
        expiration = now + CHANNEL_DEFAULT_TTL.total_seconds()
        raw_params = body.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        try:
            # Calendar's channels take a lifetime either way: params.ttl in seconds (what the
            # push guide's examples use) or an absolute expiration in milliseconds.
            if params.get("ttl") is not None:
                expiration = now + int(params["ttl"])
            elif body.get("expiration"):
                expiration = int(body["expiration"]) / 1000
        except (TypeError, ValueError):
            raise errors.invalid("Invalid value for: expiration" if "ttl" not in params else "Invalid value for: ttl") from None
        with self._state.lock:
            channels = self._state.provider_data(PROVIDER).setdefault("channels", {})
            if channel_id in channels:
                raise errors.GoogleApiError(400, "channelIdNotUnique", "Channel id not unique", domain="push")
            channel = {
                "kind": "api#channel",
                "id": channel_id,
                "resourceId": secrets.token_urlsafe(20),
                "resourceUri": f"https://www.googleapis.com/calendar/v3/calendars/{quote(account.email)}/events?alt=json",
                "expiration": str(int(min(expiration, latest) * 1000)),
            }
            if body.get("token"):
                channel["token"] = body["token"]
            channels[channel_id] = {**channel, "_address": address, "_email": account.email, "_params": body.get("params")}
            self._listener.channel_opened(channel_id)
            return channel

    def stop_channel(self, body: dict[str, Any]) -> None:
        with self._state.lock:
            channels = self._state.provider_data(PROVIDER).setdefault("channels", {})
            channel = channels.get(body.get("id"))
            if channel is None or channel["resourceId"] != body.get("resourceId"):
                raise errors.GoogleApiError(404, "notFound", f"Channel '{body.get('id')}' not found for project 'sandbox'")
            del channels[body["id"]]

    def channels(self) -> list[dict[str, Any]]:
        with self._state.lock:
            return [dict(c) for c in self._state.provider_data(PROVIDER).get("channels", {}).values()]

    # -- control API -------------------------------------------------------------------------
    def locate(self, event_id: str) -> tuple[Account, datetime, datetime] | None:
        """Whose calendar holds the live (not deleted) event ``event_id``, and its span."""
        with self._state.lock:
            for account in self._state.accounts(PROVIDER):
                event = self._events(account).get(event_id)
                if event is not None and event["status"] != "cancelled":
                    return account, event["_start"], event["_end"]
            return None

    def add_busy_block(
        self, account: Account, start: datetime, end: datetime, status: str, subject: str | None
    ) -> dict[str, Any]:
        if status not in CONTROL_STATUSES:
            raise ValueError(f"status must be one of {', '.join(CONTROL_STATUSES)}")
        body = {
            "summary": subject or _CONTROL_SUMMARIES[status],
            "start": {"dateTime": format_rfc3339(start, zone=timezone.utc), "timeZone": "UTC"},
            "end": {"dateTime": format_rfc3339(end, zone=timezone.utc), "timeZone": "UTC"},
            **CONTROL_STATUSES[status],
        }
        return self.insert_event(account, body, conference_version=0)

    def current_events(self, account: Account) -> list[dict[str, Any]]:
        with self._state.lock:
            live = [e for e in self._events(account).values() if e["status"] != "cancelled"]
            return [public_view(e) for e in sorted(live, key=lambda e: (e["_start"], e["id"]))]
