"""Who joined a Google Meet, from the Meet REST API v2 (the `AttendanceReader` port), on
google-api-python-client's bundled `meet v2` discovery document.

`conferenceRecords.list(filter='space.meeting_code = "abc-mnop-xyz"')` finds the conferences held
in the event's meeting space (none: nobody has joined), then `conferenceRecords.participants.list`
lists everyone, during the conference too. A signed-in participant is `users/{id}` — the same id
as the `sub` of that person's Google sign-in, which is how a connected interviewer is recognised;
guests come with a display name only. Scope: meetings.space.readonly.
https://developers.google.com/meet/api/reference/rest/v2/conferenceRecords.participants
"""
from __future__ import annotations

import re
import socket
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping

import googleapiclient
import httplib2
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build_from_document
from googleapiclient.errors import HttpError

from providers.base import AttendanceRead, ErrorKind, MeetingParticipant, ProviderError
from providers.google.calendar_api import from_http_error as _from_http_error
from providers.google.errors import PROVIDER

SOURCE = "meet_api"
SCOPE = "https://www.googleapis.com/auth/meetings.space.readonly"
_DISCOVERY = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "meet.v2.json"
_CODE = re.compile(r"meet\.google\.com/([a-z]{3}-[a-z]{4}-[a-z]{3})")
MAX_PAGES = 20


class MeetAttendance:
    name = PROVIDER
    source = SOURCE
    push_source: str | None = None  # Meet sends nothing: conference records are read
    live_unreadable_cause: str | None = None
    live = True

    def __init__(self, api_base: str, timeout: float = 20.0) -> None:
        self.api_base = api_base if api_base.endswith("/") else api_base + "/"
        self.timeout = timeout
        self._local = threading.local()  # a built service is not thread-safe: one per thread

    def _service(self):
        if getattr(self._local, "service", None) is None:
            self._local.http = httplib2.Http(timeout=self.timeout)
            self._local.service = build_from_document(_DISCOVERY.read_text(), http=self._local.http,
                                                      client_options={"api_endpoint": self.api_base})
        return self._local.service, self._local.http

    def _call(self, token: str, request_of: Callable[[Any], Any]) -> dict[str, Any]:
        service, transport = self._service()
        http = AuthorizedHttp(Credentials(token), http=transport, refresh_status_codes=())
        try:
            return request_of(service).execute(http=http, num_retries=0)
        except HttpError as exc:
            raise _from_http_error(exc) from None
        except (httplib2.HttpLib2Error, socket.timeout, OSError) as exc:
            self._local.service = None
            raise ProviderError(ErrorKind.PROVIDER_DOWN, f"Google Meet unreachable: {type(exc).__name__}",
                                provider=PROVIDER, cause="provider_unavailable") from None

    def _all(self, token: str, key: str, request_of: Callable[[Any, str | None], Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page: str | None = None
        for _ in range(MAX_PAGES):
            body = self._call(token, lambda s: request_of(s, page))  # noqa: B023 - called at once
            items.extend(i for i in body.get(key) or [] if isinstance(i, dict))
            page = body.get("nextPageToken")
            if not page:
                break
        return items

    def participants(self, token: str, conference: Mapping[str, Any]) -> AttendanceRead:
        code = meeting_code(conference)
        if not code:
            raise ProviderError(ErrorKind.INVALID_REQUEST, "The event has no Meet meeting code.", provider=PROVIDER)
        records = self._all(token, "conferenceRecords", lambda s, page: s.conferenceRecords().list(
            filter=f'space.meeting_code = "{code}"', pageToken=page))
        people: list[MeetingParticipant] = []
        for record in records:
            rows = self._all(token, "participants", lambda s, page: s.conferenceRecords().participants().list(
                parent=record["name"], pageToken=page))  # noqa: B023 - called at once
            people.extend(p for p in (_participant(r) for r in rows) if p is not None)
        return AttendanceRead(SOURCE, tuple(people))


def meeting_code(conference: Mapping[str, Any]) -> str | None:
    found = _CODE.search(str(conference.get("join_url") or ""))
    return found.group(1) if found else (str(conference.get("meeting_id") or "") or None)


def _participant(row: Mapping[str, Any]) -> MeetingParticipant | None:
    joined = _time(row.get("earliestStartTime"))
    if joined is None:
        return None
    signed_in = row.get("signedinUser") if isinstance(row.get("signedinUser"), dict) else None
    other = row.get("anonymousUser") or row.get("phoneUser") or {}
    who = signed_in or (other if isinstance(other, dict) else {})
    user = str((signed_in or {}).get("user") or "")
    return MeetingParticipant(name=str(who.get("displayName") or ""), joined_at=joined,
                              left_at=_time(row.get("latestEndTime")),
                              account_id=user.removeprefix("users/") or None)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
