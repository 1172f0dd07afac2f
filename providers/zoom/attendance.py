"""Who joined a Zoom meeting, read from Zoom's API (the `AttendanceReader` port).

Zoom's participant webhooks arrive within seconds, but a lost one is retried only after 5
minutes: a 10-minute no-show deadline must read the list. During the meeting the list is
`GET /metrics/meetings/{id}/participants?type=live` (Dashboard API; Business plans and up, and
admin scopes a user-level app is not granted); afterwards `GET /past_meetings/{id}/participants`
(the latest instance when given the numeric id, so no UUID double-encoding is needed). A meeting
that never started is in neither: nobody joined. Where the Dashboard is refused and there is no
past meeting yet, the meeting's own status (`GET /meetings/{id}`, `waiting|started`) tells the
two apart: a running meeting's list cannot be read, which is said as an error and read again
later — never taken for "nobody joined", since a no-show must come from a list Zoom gave.
https://developers.zoom.us/docs/api/meetings/#tag/dashboards/GET/metrics/meetings/{meetingId}/participants
https://developers.zoom.us/docs/api/meetings/#tag/meetings/GET/past_meetings/{meetingId}/participants
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Mapping

import requests
from zoomus.components.metric import MetricComponentV2
from zoomus.components.past_meeting import PastMeetingComponentV2

from providers.base import AttendanceRead, ErrorKind, MeetingParticipant, ProviderError
from providers.zoom.errors import PROVIDER
from providers.zoom.meetings import ZoomMeetings, _json
from providers.zoom.times import parse_time

SOURCE = "zoom_api"
PAGE_SIZE = 300  # Zoom's maximum
MAX_PAGES = 20
# A running meeting whose live list the app may not read: its past list exists only after the
# end, so reading every minute would only spend the Dashboard's "heavy" rate limit.
RUNNING_UNREADABLE_RETRY_SECONDS = 300.0
LIVE_UNREADABLE = "zoom_live_participants_unavailable"
# What Zoom answers when the Dashboard is not the app's to call (plan, or scopes: 4711).
_NO_DASHBOARD = (ErrorKind.ACCESS_DENIED, ErrorKind.INVALID_REQUEST, ErrorKind.SCOPE_MISSING)


class ZoomAttendance:
    name = PROVIDER
    source = SOURCE
    live = True
    push_source: str | None = "zoom_webhooks"
    live_unreadable_cause: str | None = LIVE_UNREADABLE

    def __init__(self, api_base: str, timeout: float = 20.0) -> None:
        self._zoom = ZoomMeetings(api_base, timeout)  # its zoomus plumbing and error table

    def participants(self, token: str, conference: Mapping[str, Any]) -> AttendanceRead:
        meeting_id = str(conference.get("meeting_id") or "")
        if not meeting_id:
            raise ProviderError(ErrorKind.INVALID_REQUEST, "The event has no Zoom meeting id.", provider=PROVIDER)
        metrics = self._zoom._component(MetricComponentV2, token)
        try:
            rows = self._pages(lambda page: metrics.list_participants(
                meeting_id=meeting_id, type="live", page_size=PAGE_SIZE, next_page_token=page))
        except ProviderError as err:
            # Not live (ended, not started: 3001), or no Dashboard for this app or plan: the past
            # meeting's list.
            if err.kind is not ErrorKind.NOT_FOUND and err.kind not in _NO_DASHBOARD:
                raise
            past = self._zoom._component(PastMeetingComponentV2, token)
            try:
                rows = self._pages(lambda page: past.get_participants(
                    meeting_id=meeting_id, page_size=PAGE_SIZE, next_page_token=page))
            except ProviderError as again:
                if again.kind is not ErrorKind.NOT_FOUND:
                    raise
                if err.kind is not ErrorKind.NOT_FOUND and self._running(token, meeting_id):
                    raise ProviderError(
                        ErrorKind.ACCESS_DENIED, "Zoom does not let this app read who is in the running "
                        f"meeting (Dashboard: {err.message}); its participants are read after the end.",
                        provider=PROVIDER, cause=LIVE_UNREADABLE,
                        provider_code=err.provider_code, http_status=err.http_status,
                        retry_after=RUNNING_UNREADABLE_RETRY_SECONDS) from None
                rows = []  # never started: nobody joined
        return AttendanceRead(SOURCE, tuple(p for p in (_participant(r) for r in rows) if p is not None))

    def _running(self, token: str, meeting_id: str) -> bool:
        """Whether Zoom says the meeting is in progress (`status` of GET /meetings/{id})."""
        return str(self._zoom.get_meeting(token, meeting_id).get("status") or "") == "started"

    def _pages(self, fetch: Callable[[str], requests.Response]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = ""
        for _ in range(MAX_PAGES):
            body = _json(self._zoom._call(functools.partial(fetch, page), (200,)))
            rows.extend(r for r in body.get("participants") or [] if isinstance(r, dict))
            page = str(body.get("next_page_token") or "")
            if not page:
                break
        return rows


def _participant(row: Mapping[str, Any]) -> MeetingParticipant | None:
    """Dashboard rows say `user_name`/`email`, past-meeting rows `name`/`user_email`."""
    joined = parse_time(row.get("join_time"))
    if joined is None:
        return None
    return MeetingParticipant(
        name=str(row.get("user_name") or row.get("name") or ""), joined_at=joined,
        email=str(row.get("email") or row.get("user_email") or "") or None,
        left_at=parse_time(row.get("leave_time")),
        key=str(row.get("customer_key") or "") or None)
