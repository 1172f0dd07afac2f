"""Zoom meetings adapter on zoomus, used with each user's own OAuth access token.

zoomus traps, and what this module does about them:
- ``ZoomClient(...)`` fetches a server-to-server token in its constructor (a network call with
  the app's credentials, on every construction). The hub never builds a ``ZoomClient``: it
  builds zoomus's component classes (``MeetingComponentV2``, ``UserComponentV2``) directly with a
  per-call config holding the user's token. A config dict per call also keeps concurrent calls
  for different users from seeing each other's token (a shared client's ``config["token"]`` is
  one mutable slot).
- zoomus returns the raw ``requests.Response`` and never raises: every status is checked here
  and turned into a ``ProviderError`` through ``errors.py``.
- zoomus formats ``start_time`` with ``strftime("%Y-%m-%dT%H:%M:%SZ")`` whatever the datetime's
  zone, so a 14:00+01:00 start would reach Zoom as 14:00 UTC. Times are converted to UTC first.
- zoomus does not retry; neither does this adapter (retries are the caller's decision).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import requests
from zoomus.components.meeting import MeetingComponentV2
from zoomus.components.user import UserComponentV2
from zoomus.util import API_VERSION_2

from providers.base import ErrorKind, Meeting, MeetingDraft, ProviderError
from providers.zoom.errors import PROVIDER, classify_api_error

SCHEDULED = 2  # Zoom meeting type: a scheduled meeting with a fixed start
TOPIC_MAX, AGENDA_MAX = 200, 2000
# Zoom user types that cannot host: 4 "Unassigned without Meetings Basic" (no meetings product),
# 99 "None" [?]. https://developers.zoom.us/docs/api/users/#tag/users/GET/users/{userId}
NON_HOST_TYPES = frozenset({4, 99})


@dataclass(frozen=True)
class ZoomUser:
    id: str
    account_id: str | None
    email: str | None
    name: str | None
    type: int | None

    @property
    def can_host(self) -> bool:
        return self.type not in NON_HOST_TYPES


class ZoomMeetings:
    """The ConferencingProvider port for Zoom."""

    name = PROVIDER

    def __init__(self, api_base: str, timeout: float = 20.0) -> None:
        self.api_base = api_base.rstrip("/")
        # zoomus coerces the timeout with int(); never let 0.5 s become "no timeout" (0).
        self.timeout = max(1, math.ceil(timeout))

    # --- plumbing -------------------------------------------------------------------------
    def _component(self, kind: type, token: str):
        config = {"token": token, "version": API_VERSION_2, "data_type": "json"}
        return kind(base_uri=self.api_base, config=config, timeout=self.timeout)

    def _call(self, send: Callable[[], requests.Response], expected: tuple[int, ...]) -> requests.Response:
        try:
            response = send()
        except requests.RequestException as exc:
            raise ProviderError(ErrorKind.PROVIDER_DOWN, f"Zoom unreachable: {type(exc).__name__}",
                                provider=PROVIDER, cause="provider_unavailable") from None
        if response.status_code not in expected:
            raise classify_api_error(response.status_code, _json(response), response.headers)
        return response

    # --- identity -------------------------------------------------------------------------
    def me(self, token: str) -> ZoomUser:
        users = self._component(UserComponentV2, token)
        body = _json(self._call(users.me, (200,)))
        if not body.get("id"):
            raise ProviderError(ErrorKind.UNKNOWN, "Zoom answered users/me without an id", provider=PROVIDER)
        name = body.get("display_name") or " ".join(filter(None, [body.get("first_name"), body.get("last_name")]))
        return ZoomUser(id=str(body["id"]), account_id=body.get("account_id"), email=body.get("email"),
                        name=name or None, type=_int(body.get("type")))

    def can_host(self, token: str) -> bool:
        return self.me(token).can_host

    # --- meetings -------------------------------------------------------------------------
    def create_meeting(self, token: str, draft: MeetingDraft) -> Meeting:
        meetings = self._component(MeetingComponentV2, token)
        fields = _meeting_fields(draft)
        body = _json(self._call(lambda: meetings.create(user_id="me", type=SCHEDULED, **fields), (201,)))
        if not body.get("id") or not body.get("join_url"):
            raise ProviderError(ErrorKind.UNKNOWN, "Zoom created a meeting without an id or join URL",
                                provider=PROVIDER)
        return Meeting(meeting_id=str(body["id"]), join_url=str(body["join_url"]),
                       passcode=body.get("password") or None)

    def update_meeting(self, token: str, meeting_id: str, draft: MeetingDraft) -> None:
        meetings = self._component(MeetingComponentV2, token)
        self._call(lambda: meetings.update(id=meeting_id, **_meeting_fields(draft)), (204,))

    def delete_meeting(self, token: str, meeting_id: str) -> None:
        """Delete; a meeting already gone counts as deleted (a retried cancel must succeed)."""
        meetings = self._component(MeetingComponentV2, token)
        try:
            self._call(lambda: meetings.delete(id=meeting_id), (200, 204))
        except ProviderError as err:
            if err.kind is not ErrorKind.NOT_FOUND:
                raise

    def get_meeting(self, token: str, meeting_id: str) -> dict[str, Any]:
        meetings = self._component(MeetingComponentV2, token)
        return _json(self._call(lambda: meetings.get(id=meeting_id), (200,)))


def _meeting_fields(draft: MeetingDraft) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "topic": draft.topic[:TOPIC_MAX],
        # zoomus writes the wall-clock digits followed by "Z": hand it UTC.
        "start_time": as_utc(draft.start),
        "duration": max(1, int(draft.duration_minutes)),
    }
    if draft.timezone:
        fields["timezone"] = draft.timezone  # how Zoom shows the time; the instant is start_time
    if draft.agenda:
        fields["agenda"] = draft.agenda[:AGENDA_MAX]
    return fields


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC. The hub only handles aware datetimes; a naive one is taken as
    UTC rather than as the server's local time."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
