"""The sandbox Microsoft's Teams attendance reports (Graph v1.0 onlineMeetings), for attendance.

- ``POST /_control/meetings/microsoft/{event_id}/participants`` ``{"email"?,"name","joined_at"?,
  "left_at"?}``: someone joins the Teams meeting of a calendar event (``{event_id}`` is the Graph
  event id, ``calendar.event_id`` in the hub: Teams meetings have no other id the hub knows).
- ``GET /v1.0/me/onlineMeetings?$filter=JoinWebUrl eq '<joinUrl>'`` → the meeting;
  ``GET /v1.0/me/onlineMeetings/{id}/attendanceReports`` → one report, but only once the
  meeting has ended (sandbox clock), as Teams writes them after the end;
  ``GET …/attendanceReports/{reportId}/attendanceRecords`` → one record per person with
  ``attendanceIntervals``.
https://learn.microsoft.com/graph/api/resources/meetingattendancereport
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Mapping

from flask import request

from providers.emulator_kit.participants import not_found, participant_fields
from providers.emulator_kit.timefmt import format_rfc3339, from_epoch, parse_rfc3339

from . import emulator_errors as errors

if TYPE_CHECKING:
    from providers.emulator_kit.accounts import Account

    from .emulator import MicrosoftEmulator

PROVIDER = "microsoft"
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata"
# Delegated OnlineMeetingArtifact.Read.All and nothing else: a calendar-only token is refused
# with 403, as Graph does (the hub asks for the scope where the tenant turns attendance on).
# https://learn.microsoft.com/graph/api/meetingattendancereport-list#permissions
ARTIFACTS = frozenset({"OnlineMeetingArtifact.Read.All"})
_FILTER = re.compile(r"^\s*JoinWebUrl\s+eq\s+'(.+)'\s*$", re.IGNORECASE)


def meeting_id_of(join_url: str) -> str:
    """An id shaped like Graph's (base64 of the organizer and thread), stable per join URL."""
    return "MSo" + base64.urlsafe_b64encode(hashlib.sha256(join_url.encode()).digest()).decode().rstrip("=")


class TeamsAttendanceStore:
    def __init__(self, emulator: "MicrosoftEmulator") -> None:
        self.emulator = emulator
        self.state = emulator.ctx.state

    def _attendance(self) -> dict[str, list[dict[str, Any]]]:
        return self.state.provider_data(PROVIDER).setdefault("attendance", {})

    def _meetings(self, organizer: str) -> list[dict[str, Any]]:
        with self.state.lock:
            return [e for e in self.state.collection(PROVIDER, organizer, "events").values()
                    if (e.get("onlineMeeting") or {}).get("joinUrl")]

    def _event(self, event_id: str) -> tuple[str, dict[str, Any]] | None:
        with self.state.lock:
            for account in self.state.accounts(PROVIDER):
                event = self.state.collection(PROVIDER, account.email, "events").get(event_id)
                if event is not None and (event.get("onlineMeeting") or {}).get("joinUrl"):
                    return account.email, event
        return None

    def record(self, event_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        name, email, joined, left = participant_fields(body, self.emulator.ctx.now())
        found = self._event(event_id)
        if found is None:
            raise not_found(f"No Teams meeting on event {event_id}.")
        join_url = found[1]["onlineMeeting"]["joinUrl"]
        entry = {"email": email, "name": name, "join": format_rfc3339(joined),
                 "leave": format_rfc3339(left) if left else None}
        with self.state.lock:
            self._attendance().setdefault(meeting_id_of(join_url), []).append(entry)
        return {"participant": entry, "onlineMeetingId": meeting_id_of(join_url)}

    # -- Graph ---------------------------------------------------------------------------------
    def list_meetings(self, account: "Account") -> dict[str, Any]:
        found = _FILTER.match(request.args.get("$filter", ""))
        if not found:
            raise errors.invalid_request("Filter on JoinWebUrl is required.")
        url = found.group(1).replace("''", "'")
        value = [_meeting(e) for e in self._meetings(account.email) if e["onlineMeeting"]["joinUrl"] == url]
        return {"@odata.context": f"{CONTEXT}#users('{account.email}')/onlineMeetings", "value": value}

    def _owned(self, account: "Account", meeting_id: str) -> dict[str, Any]:
        for event in self._meetings(account.email):
            if meeting_id_of(event["onlineMeeting"]["joinUrl"]) == meeting_id:
                return event
        raise errors.item_not_found()

    def reports(self, account: "Account", meeting_id: str) -> dict[str, Any]:
        event = self._owned(account, meeting_id)
        ended = _end(event) <= from_epoch(self.emulator.ctx.now())
        with self.state.lock:
            people = list(self._attendance().get(meeting_id, []))
        value = [{"id": f"{meeting_id[:12]}-report", "totalParticipantCount": len(people),
                  "meetingStartDateTime": _start(event), "meetingEndDateTime": format_rfc3339(_end(event))}
                 ] if ended else []
        return {"@odata.context": f"{CONTEXT}#meetingAttendanceReports", "value": value}

    def records(self, account: "Account", meeting_id: str, report_id: str) -> dict[str, Any]:
        event = self._owned(account, meeting_id)
        if report_id != f"{meeting_id[:12]}-report" or _end(event) > from_epoch(self.emulator.ctx.now()):
            raise errors.item_not_found()
        with self.state.lock:
            people = list(self._attendance().get(meeting_id, []))
        value = []
        for p in people:
            seconds = int((_parse(p["leave"] or format_rfc3339(_end(event))) - _parse(p["join"])).total_seconds())
            value.append({"id": hashlib.sha1((p["email"] or p["name"]).encode()).hexdigest()[:24],
                          "emailAddress": p["email"], "totalAttendanceInSeconds": seconds,
                          "role": "Organizer" if p["email"].lower() == account.email else "Attendee",
                          "identity": {"id": None, "displayName": p["name"], "tenantId": None},
                          "attendanceIntervals": [{"joinDateTime": p["join"],
                                                   "leaveDateTime": p["leave"] or format_rfc3339(_end(event)),
                                                   "durationInSeconds": seconds}]})
        return {"@odata.context": f"{CONTEXT}#attendanceRecords", "value": value}


def register_attendance_api(graph_call: Callable[..., Any], route: Callable[..., None],
                            store: TeamsAttendanceStore) -> None:
    artifacts = graph_call(ARTIFACTS, denied=_forbidden)
    route("/me/onlineMeetings", "graph_online_meetings",
          artifacts(lambda account: store.list_meetings(account)), ["GET"])
    route("/me/onlineMeetings/<meeting_id>/attendanceReports", "graph_attendance_reports",
          artifacts(lambda account, meeting_id: store.reports(account, meeting_id)), ["GET"])
    route("/me/onlineMeetings/<meeting_id>/attendanceReports/<report_id>/attendanceRecords",
          "graph_attendance_records",
          artifacts(lambda account, meeting_id, report_id: store.records(account, meeting_id, report_id)),
          ["GET"])


def _forbidden() -> errors.GraphError:
    # [seen] microsoftgraph/microsoft-graph-explorer-v4#1884: what /me/onlineMeetings answers a
    # token it will not serve (the Teams workload's body, not Outlook's ErrorAccessDenied).
    return errors.GraphError(403, "Forbidden", "An error has occurred.")


def _meeting(event: dict[str, Any]) -> dict[str, Any]:
    join = event["onlineMeeting"]["joinUrl"]
    return {"id": meeting_id_of(join), "joinWebUrl": join, "subject": event.get("subject"),
            "startDateTime": _start(event), "endDateTime": format_rfc3339(_end(event))}


def _start(event: dict[str, Any]) -> str:
    return format_rfc3339(event["_start_at"])


def _end(event: dict[str, Any]) -> datetime:
    return event["_end_at"]


def _parse(value: str) -> datetime:
    return parse_rfc3339(value).astimezone(timezone.utc)
