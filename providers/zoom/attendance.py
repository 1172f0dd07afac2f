"""Who joined a Zoom meeting, read from Zoom's API (the `AttendanceReader` port).

Zoom's participant webhooks arrive within seconds, but a lost one is retried only after 5
minutes: a 10-minute no-show deadline must read the list. During the meeting the list is
`GET /metrics/meetings/{id}/participants?type=live` (Dashboard API; Business plans and up);
afterwards, or where the Dashboard is not available, `GET /past_meetings/{id}/participants`
(the latest instance when given the numeric id, so no UUID double-encoding is needed). A meeting
that never started is in neither: nobody joined.
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


class ZoomAttendance:
    name = PROVIDER
    source = SOURCE
    live = True
    push_source: str | None = "zoom_webhooks"

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
            # Not live (ended, not started) or no Dashboard on this plan: the past meeting's list.
            if err.kind not in (ErrorKind.NOT_FOUND, ErrorKind.ACCESS_DENIED, ErrorKind.INVALID_REQUEST):
                raise
            past = self._zoom._component(PastMeetingComponentV2, token)
            try:
                rows = self._pages(lambda page: past.get_participants(
                    meeting_id=meeting_id, page_size=PAGE_SIZE, next_page_token=page))
            except ProviderError as again:
                if again.kind is not ErrorKind.NOT_FOUND:
                    raise
                rows = []  # never started: nobody joined
        return AttendanceRead(SOURCE, tuple(p for p in (_participant(r) for r in rows) if p is not None))

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
