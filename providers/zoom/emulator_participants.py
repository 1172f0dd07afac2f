"""The sandbox Zoom's meeting participants: who joined, Zoom's signed participant webhooks to
the app's notification URL, and the participants API.

- ``POST /_control/meetings/zoom/{id}/participants`` ``{"email"?,"name","joined_at"?,"left_at"?,
  "customer_key"?}`` records a join (and a leave); the first join starts the meeting
  (``meeting.started``). ``left_at`` without ``joined_at`` for someone in the meeting (by email,
  else name) is their leave; the last one out ends the meeting (``meeting.ended``). Each fact
  is sent as Zoom sends it — ``meeting.participant_joined`` / ``_left`` with
  ``x-zm-signature: v0=HMAC-SHA256(secret, "v0:{ts}:{body}")`` — to the URL set
  with ``POST /_control/webhooks {"provider":"zoom","url","secret"}``. The ``webhook_lost``
  fault drops deliveries (the case the hub's deadline poll exists for).
- ``GET /v2/metrics/meetings/{id}/participants?type=live`` while the meeting runs (the
  ``dashboard_unavailable`` fault refuses it with 4711, as Zoom refuses apps without the
  Dashboard's admin scopes or plans below Business);
  ``GET /v2/past_meetings/{id}/participants`` once it ended; 3001 otherwise.
Payloads: https://developers.zoom.us/docs/api/meetings/events/#tag/meeting/POST/meeting.participant_joined
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Mapping

import requests

from providers.emulator_kit.participants import not_found, participant_fields
from providers.emulator_kit.timefmt import format_rfc3339

from . import emulator_errors as errors
from .emulator_meetings import PROVIDER, zoom_account_id, zoom_user_id

if TYPE_CHECKING:
    from .emulator import ZoomEmulator

WEBHOOK_LOST = "webhook_lost"
# The Dashboard API needs a Business plan and the admin scopes below, which a user-level OAuth
# app (the hub's per-user connect) is never granted:
# https://developers.zoom.us/docs/api/accounts/#tag/dashboards/GET/metrics/meetings/{meetingId}/participants
DASHBOARD_UNAVAILABLE = "dashboard_unavailable"
DASHBOARD_SCOPES = ["dashboard:read:admin", "dashboard_meetings:read:admin"]


class ZoomParticipants:
    def __init__(self, emulator: "ZoomEmulator", post: Callable[..., Any] | None = None) -> None:
        self.emulator = emulator
        self.state = emulator.ctx.state
        self._post = post or _post

    # -- state -------------------------------------------------------------------------------
    def _data(self) -> dict[str, Any]:
        return self.state.provider_data(PROVIDER)

    def set_webhook(self, url: str, secret: str) -> None:
        with self.state.lock:
            self._data()["webhook_target"] = {"url": url, "secret": secret}

    def _meeting(self, meeting_id: str) -> dict[str, Any]:
        with self.state.lock:
            host = self._data().get("meeting_hosts", {}).get(meeting_id)
            meeting = self.state.collection(PROVIDER, host, "meetings").get(meeting_id) if host else None
        if meeting is None:
            raise not_found(f"No Zoom meeting {meeting_id}.")
        return meeting

    def _participants(self, meeting_id: str) -> list[dict[str, Any]]:
        return self._data().setdefault("participants", {}).setdefault(meeting_id, [])

    # -- control -----------------------------------------------------------------------------
    def record(self, meeting_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        name, email, joined, left = participant_fields(body, self.emulator.ctx.now())
        meeting = self._meeting(meeting_id)
        host = self.emulator.account(meeting["host_email"])
        if left and not body.get("joined_at"):
            inside = self._inside(meeting_id, name, email)
            if inside is not None:
                return self._leave(meeting, host, inside, left)
        with self.state.lock:
            started = meeting.get("status") == "started"
            meeting["status"] = "started"
            person = {"id": secrets.token_hex(8), "user_id": str(16778240 + len(self._participants(meeting_id))),
                      "participant_uuid": secrets.token_hex(16).upper(), "user_name": name,
                      "email": email, "join_time": format_rfc3339(joined),
                      "leave_time": format_rfc3339(left) if left else "",
                      "customer_key": str(body.get("customer_key") or "")}
            self._participants(meeting_id).append(person)
        sent = []
        if not started:
            sent.append(self._send("meeting.started", meeting, host, {"start_time": format_rfc3339(joined)}, joined))
        sent.append(self._send("meeting.participant_joined", meeting, host,
                               {"participant": _wire(person, "join_time")}, joined))
        if left:
            sent.append(self._send("meeting.participant_left", meeting, host,
                                   {"participant": {**_wire(person, "leave_time"), "leave_reason": "left the meeting"}},
                                   left))
        return {"participant": person, "webhooks": sent}

    def _inside(self, meeting_id: str, name: str, email: str) -> dict[str, Any] | None:
        """The open visit (joined, not left) of this person, by email, else by name."""
        with self.state.lock:
            open_visits = [p for p in self._participants(meeting_id) if not p["leave_time"]]
        return next((p for p in open_visits if email and p["email"].lower() == email.lower()),
                    next((p for p in open_visits if not email and p["user_name"] == name), None))

    def _leave(self, meeting: dict[str, Any], host: Any, person: dict[str, Any], left: datetime) -> dict[str, Any]:
        """Someone in the meeting leaves; the last one out ends it (`meeting.ended`), and from
        then on its participants are those of a past meeting."""
        with self.state.lock:
            person["leave_time"] = format_rfc3339(left)
            ended = meeting.get("status") == "started" and all(
                p["leave_time"] for p in self._participants(str(meeting["id"])))
            if ended:
                meeting["status"] = "ended"
        sent = [self._send("meeting.participant_left", meeting, host,
                           {"participant": {**_wire(person, "leave_time"), "leave_reason": "left the meeting"}}, left)]
        if ended:
            sent.append(self._send("meeting.ended", meeting, host, {"end_time": format_rfc3339(left)}, left))
        return {"participant": person, "webhooks": sent, "meeting_status": meeting["status"]}

    def _send(self, event: str, meeting: Mapping[str, Any], host: Any, extra: dict[str, Any], at: datetime
              ) -> dict[str, Any]:
        target = self._data().get("webhook_target")
        if target is None:
            return {"event": event, "status": "not_configured"}
        if self.emulator.take_fault(WEBHOOK_LOST, meeting["host_email"]) is not None:
            return {"event": event, "status": "lost"}
        body = {"event": event, "event_ts": int(at.timestamp() * 1000), "payload": {
            "account_id": zoom_account_id(host),
            "object": {"uuid": meeting["uuid"], "id": str(meeting["id"]), "host_id": zoom_user_id(host),
                       "topic": meeting["topic"], "type": meeting["type"], "start_time": meeting["start_time"],
                       "timezone": meeting.get("timezone") or "", "duration": meeting["duration"], **extra}}}
        raw = json.dumps(body, separators=(",", ":")).encode()
        ts = str(int(self.emulator.ctx.now()))
        signature = "v0=" + hmac.new(target["secret"].encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256).hexdigest()
        status = self._post(target["url"], raw, {"Content-Type": "application/json", "x-zm-request-timestamp": ts,
                                                 "x-zm-signature": signature})
        return {"event": event, "status": status}

    # -- API ---------------------------------------------------------------------------------
    def live(self, caller: Any, meeting_id: str) -> dict[str, Any]:
        if self.emulator.take_fault(DASHBOARD_UNAVAILABLE, caller.email) is not None:
            raise errors.missing_scopes(DASHBOARD_SCOPES)
        meeting = self.emulator.meetings.get(caller, meeting_id)  # 3001 unless the caller's
        if meeting.get("status") != "started":
            raise errors.meeting_not_found(meeting_id)
        rows = [{"id": p["user_id"], "user_id": p["user_id"], "user_name": p["user_name"], "email": p["email"],
                 "join_time": p["join_time"], "leave_time": p["leave_time"], "customer_key": p["customer_key"],
                 "participant_uuid": p["participant_uuid"]} for p in self._snapshot(meeting_id)]
        return _page(rows)

    def past(self, caller: Any, meeting_id: str) -> dict[str, Any]:
        meeting = self.emulator.meetings.get(caller, meeting_id)
        if meeting.get("status") != "ended":
            raise errors.meeting_not_found(meeting_id)
        rows = [{"id": p["user_id"], "name": p["user_name"], "user_email": p["email"], "join_time": p["join_time"],
                 "leave_time": p["leave_time"], "duration": 0} for p in self._snapshot(meeting_id)]
        return _page(rows)

    def _snapshot(self, meeting_id: str) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(p) for p in self._participants(meeting_id)]


def register_participants_api(route: Callable[..., Any], participants: ZoomParticipants,
                              scopes: frozenset[str]) -> None:
    @route("/metrics/meetings/<meeting_id>/participants", "metrics_participants", "GET", scopes)
    def metrics_participants(caller: Any, meeting_id: str):
        return participants.live(caller, meeting_id)

    @route("/past_meetings/<meeting_id>/participants", "past_participants", "GET", scopes)
    def past_participants(caller: Any, meeting_id: str):
        return participants.past(caller, meeting_id)


def _wire(person: Mapping[str, Any], when: str) -> dict[str, Any]:
    return {"user_id": person["user_id"], "user_name": person["user_name"], "id": "",
            "participant_uuid": person["participant_uuid"], when: person[when], "email": person["email"],
            "registrant_id": "", "participant_user_id": "", "customer_key": person["customer_key"]}


def _page(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"page_count": 1, "page_size": 300, "total_records": len(rows), "next_page_token": "",
            "participants": rows}


def _post(url: str, raw: bytes, headers: dict[str, str]) -> int | str:
    session = requests.Session()
    session.trust_env = False
    try:
        return session.post(url, data=raw, headers=headers, timeout=10).status_code
    except requests.RequestException as exc:
        return f"unreachable: {type(exc).__name__}"
    finally:
        session.close()
