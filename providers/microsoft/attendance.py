"""Who joined a Teams meeting, from its attendance report (the `AttendanceReader` port), on
msgraph-sdk.

`GET /me/onlineMeetings?$filter=JoinWebUrl eq '<joinUrl>'` finds the meeting, then
`…/attendanceReports` and `…/attendanceReports/{id}/attendanceRecords` list everyone with their
join and leave times. Teams writes a report only AFTER the meeting ends, so this reader is not
`live`: deadlines wait for the end, and until a report exists the read says "no record yet".
Scope: OnlineMeetingArtifact.Read.All.
https://learn.microsoft.com/graph/api/meetingattendancereport-list
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from providers.base import AttendanceRead, ErrorKind, MeetingParticipant, ProviderError

from .errors import PROVIDER
from .graph_runtime import GraphRuntime

SOURCE = "teams_report"
SCOPE = "OnlineMeetingArtifact.Read.All"


class TeamsAttendance:
    name = PROVIDER
    source = SOURCE
    push_source: str | None = None  # reports are read after the meeting
    live_unreadable_cause: str | None = None
    live = False

    def __init__(self, api_base: str, timeout: float = 20.0, graph: GraphRuntime | None = None) -> None:
        self.graph = graph or GraphRuntime(api_base, timeout)

    def participants(self, token: str, conference: Mapping[str, Any]) -> AttendanceRead:
        try:
            return self._participants(token, conference)
        except ProviderError as err:
            if err.kind is not ErrorKind.ACCESS_DENIED:
                raise
            # The calls are on /me and the organizer's own meetings: a refusal is the token
            # lacking the artifact scope, which reconnecting (with attendance on) fixes.
            raise ProviderError(ErrorKind.SCOPE_MISSING, f"Teams refused the attendance report: {err.message}",
                                provider=PROVIDER, cause="scopes_missing", provider_code=err.provider_code,
                                http_status=err.http_status) from None

    def _participants(self, token: str, conference: Mapping[str, Any]) -> AttendanceRead:
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.users.item.online_meetings.online_meetings_request_builder import (
            OnlineMeetingsRequestBuilder,
        )

        join_url = str(conference.get("join_url") or "")
        if not join_url:
            raise ProviderError(ErrorKind.INVALID_REQUEST, "The event has no Teams join URL.", provider=PROVIDER)
        config: RequestConfiguration[Any] = RequestConfiguration(
            query_parameters=OnlineMeetingsRequestBuilder.OnlineMeetingsRequestBuilderGetQueryParameters(
                filter=f"JoinWebUrl eq '{join_url.replace(chr(39), chr(39) * 2)}'"))
        meetings = self.graph.call(token, lambda c: c.me.online_meetings.get(request_configuration=config))
        found = [m for m in (meetings.value if meetings else None) or [] if m.id]
        if not found:
            raise ProviderError(ErrorKind.NOT_FOUND, "Teams does not know this meeting's join URL.", provider=PROVIDER)
        meeting_id = found[0].id
        reports = self.graph.call(token, lambda c: c.me.online_meetings.by_online_meeting_id(
            meeting_id).attendance_reports.get())
        report_ids = [r.id for r in (reports.value if reports else None) or [] if r.id]
        if not report_ids:
            return AttendanceRead(SOURCE, None)  # written only after the meeting ends
        people: list[MeetingParticipant] = []
        for report_id in report_ids:
            records = self.graph.call(token, lambda c: c.me.online_meetings.by_online_meeting_id(
                meeting_id).attendance_reports.by_meeting_attendance_report_id(
                report_id).attendance_records.get())  # noqa: B023 - called at once
            for record in (records.value if records else None) or []:
                name = (record.identity.display_name if record.identity else None) or ""
                for interval in record.attendance_intervals or []:
                    if interval.join_date_time is None:
                        continue
                    people.append(MeetingParticipant(name=name, joined_at=_utc(interval.join_date_time),
                                                     email=record.email_address or None,
                                                     left_at=_utc(interval.leave_date_time)
                                                     if interval.leave_date_time else None))
        return AttendanceRead(SOURCE, tuple(people))


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
