"""Graph ``event`` resources for the sandbox (https://learn.microsoft.com/graph/api/resources/event):
validation of what a client sends, the stored form, and the wire form in the zone the client
prefers (``Prefer: outlook.timezone="…"``, UTC by default).

Stored events keep bookkeeping under keys starting with ``_`` (instants in UTC, the
transactionId); ``wire`` drops them and renders times in the requested zone.
"""

from __future__ import annotations

import base64
import copy
import re
import secrets
from datetime import datetime, timezone, tzinfo
from typing import Any
from urllib.parse import quote

from flask import request

from providers.emulator_kit.accounts import Account

from . import emulator_errors as errors
from .emulator_oauth import object_id, tenant_id
from .timezones import windows_name, zone_named

SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
MEETING_PROVIDERS = ("unknown", "teamsForBusiness", "skypeForBusiness", "skypeForConsumer")
ATTENDEE_TYPES = ("required", "optional", "resource")
NO_TIME = "0001-01-01T00:00:00Z"
# Properties of microsoft.graph.event; Graph refuses any other name in a request body.
EVENT_PROPERTIES = frozenset({
    "allowNewTimeProposals", "attendees", "body", "bodyPreview", "cancelledOccurrences", "categories",
    "changeKey", "createdDateTime", "end", "exceptionOccurrences", "hasAttachments", "hideAttendees",
    "iCalUId", "id", "importance", "isAllDay", "isCancelled", "isDraft", "isOnlineMeeting", "isOrganizer",
    "isReminderOn", "lastModifiedDateTime", "location", "locations", "onlineMeeting", "onlineMeetingProvider",
    "onlineMeetingUrl", "organizer", "originalEndTimeZone", "originalStart", "originalStartTimeZone",
    "recurrence", "reminderMinutesBeforeStart", "responseRequested", "responseStatus", "sensitivity",
    "seriesMasterId", "showAs", "start", "transactionId", "type", "webLink", "attachments", "calendar",
    "extensions", "instances", "multiValueExtendedProperties", "singleValueExtendedProperties",
})
WRITABLE = ("subject", "body", "start", "end", "attendees", "location", "locations", "isOnlineMeeting",
            "onlineMeetingProvider", "showAs", "sensitivity", "importance", "isAllDay", "categories",
            "reminderMinutesBeforeStart", "isReminderOn", "responseRequested", "allowNewTimeProposals",
            "hideAttendees")


# -- zones and times -------------------------------------------------------------------------------
def zone(name: Any) -> tzinfo:
    if not isinstance(name, str) or not name:
        raise errors.time_zone_not_supported(str(name))
    found = zone_named(name)
    if found is None:
        raise errors.time_zone_not_supported(name)
    return found


def mailbox_zone_name(account: Account) -> str:
    """The mailbox's time zone as Graph names it: a Windows-style mailbox (Outlook on Windows)
    reports the Windows id, e.g. "Singapore Standard Time" for Asia/Singapore."""
    if account.timezone_style == "windows":
        return windows_name(account.timezone) or account.timezone
    return account.timezone


def preferred_zone(account: Account) -> tuple[str, tzinfo]:
    """The zone times are answered in: ``Prefer: outlook.timezone`` or UTC. A Windows-style
    mailbox models the case the hub must survive where that header is not honoured (a proxy or
    tenant policy): times come in the mailbox's own zone under its Windows name."""
    if account.timezone_style == "windows":
        return mailbox_zone_name(account), zone(account.timezone)
    match = re.search(r'outlook\.timezone\s*=\s*"([^"]+)"', request.headers.get("Prefer", ""))
    if not match:
        return "UTC", timezone.utc
    return match.group(1), zone(match.group(1))


def parse_dtz(value: Any, field: str) -> tuple[datetime, str]:
    """A dateTimeTimeZone as an instant in UTC plus the zone name it was given in."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise errors.invalid_request(f"{field} is required and must be a dateTimeTimeZone.")
    name = value.get("timeZone") or "UTC"
    try:
        moment = datetime.fromisoformat(value["dateTime"].strip().replace("Z", "+00:00"))
    except ValueError:
        raise errors.invalid_request(f"Cannot convert the literal '{value['dateTime']}' to the expected type "
                                     "'Edm.DateTimeOffset'.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(name))
    return moment.astimezone(timezone.utc), name


def format_dtz(moment: datetime, zone_name: str, tz: tzinfo) -> dict[str, str]:
    local = moment.astimezone(tz)
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0", "timeZone": zone_name}


def stamp(now: float) -> str:
    moment = datetime.fromtimestamp(now, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


# -- ids and links ---------------------------------------------------------------------------------
def new_event_id() -> str:
    # Shaped like Exchange item ids (AAMkA…, URL-safe base64, "=" padded).
    return "AAMkAD" + base64.urlsafe_b64encode(secrets.token_bytes(105)).decode()


def change_key() -> str:
    return base64.b64encode(secrets.token_bytes(21)).decode()


def teams_meeting(organizer_email: str) -> dict[str, Any]:
    thread = base64.b64encode(secrets.token_bytes(36)).decode().replace("+", "").replace("/", "")[:48]
    context = '{"Tid":"%s","Oid":"%s"}' % (tenant_id(organizer_email), object_id(organizer_email))
    join = (f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{thread}%40thread.v2/0?context="
            + re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(context, safe="")))
    return {"joinUrl": join, "conferenceId": str(secrets.randbelow(10**9)).zfill(9),
            "tollNumber": "+1 323-555-0166", "tollFreeNumbers": []}


def teams_body(meeting: dict[str, Any], content_type: str) -> str:
    if content_type == "html":
        return ('<div style="width:100%"><span style="white-space:nowrap">________________________________'
                '________________________________________________</span></div><div><b>Microsoft Teams meeting</b>'
                f'</div><div><a href="{meeting["joinUrl"]}">Join the meeting now</a></div>'
                f'<div>Meeting ID: {meeting["conferenceId"]}</div>')
    return ("\r\n________________________________________________________________________________\r\n"
            f"Microsoft Teams meeting\r\nJoin the meeting now\r\n{meeting['joinUrl']}\r\n"
            f"Meeting ID: {meeting['conferenceId']}\r\n")


# -- validation ------------------------------------------------------------------------------------
def check_properties(body: dict[str, Any]) -> None:
    for key in body:
        if key.startswith("@odata") or key == "subject" or key in EVENT_PROPERTIES:
            continue
        raise errors.bad_body(f"The property '{key}' does not exist on type 'microsoft.graph.event'. Make sure "
                              "to only use property names that are defined by the type or mark the type as open type.")


def _attendees(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise errors.invalid_request("attendees must be a collection.")
    out: list[dict[str, Any]] = []
    for item in raw:
        address = ((item or {}).get("emailAddress") or {}).get("address") if isinstance(item, dict) else None
        if not isinstance(address, str) or "@" not in address:
            raise errors.invalid_request("An attendee must have an emailAddress with an address.")
        kind = item.get("type") or "required"
        if kind not in ATTENDEE_TYPES:
            raise errors.invalid_request(f"Requested value '{kind}' was not found.")
        name = item["emailAddress"].get("name") or address
        out.append({"type": kind, "status": {"response": "none", "time": NO_TIME},
                    "emailAddress": {"name": name, "address": address}})
    return out


def apply_fields(event: dict[str, Any], body: dict[str, Any]) -> None:
    """Copy the writable fields of ``body`` onto ``event`` (creation and PATCH alike)."""
    check_properties(body)
    for key in WRITABLE:
        if key not in body:
            continue
        value = body[key]
        if key in ("start", "end"):
            instant, name = parse_dtz(value, key)
            event[f"_{key}_at"] = instant
            event["originalStartTimeZone" if key == "start" else "originalEndTimeZone"] = name
        elif key == "attendees":
            event["attendees"] = _attendees(value)
        elif key == "body":
            if not isinstance(value, dict):
                raise errors.invalid_request("body must be an itemBody.")
            content_type = (value.get("contentType") or "text").lower()
            if content_type not in ("text", "html"):
                raise errors.invalid_request(f"Requested value '{value.get('contentType')}' was not found.")
            event["body"] = {"contentType": content_type, "content": value.get("content") or ""}
        elif key == "location":
            event["location"] = {"displayName": (value or {}).get("displayName") or "", "locationType": "default",
                                 "uniqueIdType": "unknown"}
        elif key == "showAs" and value not in SHOW_AS:
            raise errors.invalid_request(f"Requested value '{value}' was not found.")
        elif key == "onlineMeetingProvider" and value not in MEETING_PROVIDERS:
            raise errors.invalid_request(f"Requested value '{value}' was not found.")
        else:
            event[key] = copy.deepcopy(value)
    if event.get("_end_at") and event.get("_start_at") and event["_end_at"] < event["_start_at"]:
        raise errors.invalid_request("The end time of the event must be later than its start time.")  # [?]


def new_event(organizer_email: str, organizer_name: str, now: float) -> dict[str, Any]:
    event_id = new_event_id()
    return {
        "id": event_id, "createdDateTime": stamp(now), "lastModifiedDateTime": stamp(now),
        "changeKey": change_key(), "categories": [], "transactionId": None,
        "originalStartTimeZone": "UTC", "originalEndTimeZone": "UTC",
        "iCalUId": "040000008200E00074C5B7101A82E008" + secrets.token_hex(28).upper(),
        "reminderMinutesBeforeStart": 15, "isReminderOn": True, "hasAttachments": False, "subject": "",
        "importance": "normal", "sensitivity": "normal", "isAllDay": False, "isCancelled": False,
        "isOrganizer": True, "responseRequested": True, "seriesMasterId": None, "showAs": "busy",
        "type": "singleInstance",
        "webLink": f"https://outlook.office365.com/owa/?itemid={quote(event_id, safe='')}&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None, "isOnlineMeeting": False, "onlineMeetingProvider": "unknown",
        "allowNewTimeProposals": True, "isDraft": False, "hideAttendees": False,
        "responseStatus": {"response": "organizer", "time": NO_TIME},
        "body": {"contentType": "html", "content": ""},
        "location": {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"},
        "locations": [], "recurrence": None, "attendees": [],
        "organizer": {"emailAddress": {"name": organizer_name, "address": organizer_email}},
        "onlineMeeting": None,
    }


def touch(event: dict[str, Any], now: float) -> None:
    event["lastModifiedDateTime"] = stamp(now)
    event["changeKey"] = change_key()


def wire(event: dict[str, Any], zone_name: str, tz: tzinfo) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in event.items() if not k.startswith("_")}
    out["@odata.etag"] = f'W/"{event["changeKey"]}"'
    if event.get("_transaction_id") is not None:
        out["transactionId"] = event["_transaction_id"]
    else:
        out.pop("transactionId", None)  # only returned when the app set it
    out["start"] = format_dtz(event["_start_at"], zone_name, tz)
    out["end"] = format_dtz(event["_end_at"], zone_name, tz)
    text = re.sub(r"<[^>]+>", " ", out["body"]["content"])
    out["bodyPreview"] = re.sub(r"\s+", " ", text).strip()[:255]
    ordered = {"@odata.etag": out.pop("@odata.etag"), "id": out.pop("id")}
    ordered.update(out)
    return ordered
