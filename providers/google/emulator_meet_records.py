"""The sandbox Google's Meet REST API v2 conference records (meet.googleapis.com, mounted at
``/google/meet/v2``), for attendance.

- ``POST /_control/meetings/google/{meeting_code}/participants`` ``{"email"?,"name","joined_at"?,
  "left_at"?}``: someone joins the Meet of a calendar event (its ``conferenceData.conferenceId``);
  the first join opens a conference record. A participant whose email is a Google account of the
  sandbox is a ``signedinUser`` (``users/{id}``, the id being that account's OpenID ``sub``),
  anyone else an ``anonymousUser`` with a display name — Meet never reports addresses.
- ``GET /google/meet/v2/conferenceRecords?filter=space.meeting_code = "abc-mnop-xyz"``
- ``GET /google/meet/v2/conferenceRecords/{id}/participants``
Only the organizer (the space's owner) sees its records, as with a user's own token.
https://developers.google.com/meet/api/reference/rest/v2/conferenceRecords
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any, Mapping

from flask import Blueprint, Response, jsonify, request

from providers.emulator_kit.participants import not_found, participant_fields
from providers.emulator_kit.timefmt import format_rfc3339
from providers.emulator_kit.wire import bearer_token

from . import emulator_errors as errors

if TYPE_CHECKING:
    from .emulator import GoogleEmulator

PROVIDER = "google"
# Scopes that may list conference records (the discovery document's list for the method).
MEET_READ = frozenset({"https://www.googleapis.com/auth/meetings.space.readonly",
                       "https://www.googleapis.com/auth/meetings.space.created"})
_FILTER = re.compile(r'^\s*space\.meeting_code\s*=\s*"([a-z]{3}-[a-z]{4}-[a-z]{3})"\s*$')


class MeetRecords:
    def __init__(self, emulator: "GoogleEmulator") -> None:
        self.emulator = emulator
        self.state = emulator.ctx.state

    def _records(self) -> dict[str, dict[str, Any]]:
        return self.state.provider_data(PROVIDER).setdefault("meet_records", {})

    def _organizer(self, code: str) -> str | None:
        """The account whose calendar holds the event with this Meet."""
        with self.state.lock:
            for account in self.state.accounts(PROVIDER):
                for event in self.state.collection(PROVIDER, account.email, "events").values():
                    if (event.get("conferenceData") or {}).get("conferenceId") == code:
                        return account.email
        return None

    def record(self, code: str, body: Mapping[str, Any]) -> dict[str, Any]:
        name, email, joined, left = participant_fields(body, self.emulator.ctx.now())
        organizer = self._organizer(code)
        if organizer is None:
            raise not_found(f"No Meet {code} on any calendar.")
        account = self.state.account(PROVIDER, email) if email else None
        with self.state.lock:
            entry = self._records().get(code)
            if entry is None:
                record_id = secrets.token_hex(12)
                entry = self._records()[code] = {
                    "organizer": organizer, "participants": [],
                    "record": {"name": f"conferenceRecords/{record_id}", "startTime": format_rfc3339(joined),
                               "expireTime": format_rfc3339(joined.replace(year=joined.year + 1)),
                               "space": f"spaces/{code.replace('-', '')}"}}
            who = ({"signedinUser": {"user": f"users/{account.subject}", "displayName": name}} if account
                   else {"anonymousUser": {"displayName": name}})
            participant = {"name": f"{entry['record']['name']}/participants/{secrets.token_hex(6)}", **who,
                           "earliestStartTime": format_rfc3339(joined)}
            if left:
                participant["latestEndTime"] = format_rfc3339(left)
            entry["participants"].append(participant)
        return {"participant": participant, "conferenceRecord": entry["record"]}

    def list_records(self, caller: str, filter_text: str) -> dict[str, Any]:
        found = _FILTER.match(filter_text or "")
        if filter_text and not found:
            raise errors.invalid("Invalid filter.", "filter")
        with self.state.lock:
            entries = [e for code, e in self._records().items()
                       if e["organizer"] == caller and (not found or code == found.group(1))]
            return {"conferenceRecords": [dict(e["record"]) for e in entries]} if entries else {}

    def list_participants(self, caller: str, record_id: str) -> dict[str, Any]:
        with self.state.lock:
            for entry in self._records().values():
                if entry["record"]["name"] == f"conferenceRecords/{record_id}" and entry["organizer"] == caller:
                    rows = [dict(p) for p in entry["participants"]]
                    return {"participants": rows, "totalSize": len(rows)} if rows else {}
        raise errors.not_found()


def register_meet_api(bp: Blueprint, emulator: "GoogleEmulator", records: MeetRecords) -> None:
    def caller() -> str | Response:
        presented = bearer_token()
        token = emulator.oauth.validate_access_token(presented)
        if token is None:
            return errors.auth_error(bool(presented))
        if not MEET_READ & set(token.scopes):
            return errors.insufficient_scopes("google.apps.meet.v2.ConferenceRecordsService.ListConferenceRecords",
                                              MEET_READ).response()
        return token.email

    @bp.get("/meet/v2/conferenceRecords")
    def meet_records():
        who = caller()
        if isinstance(who, Response):
            return who
        try:
            return jsonify(records.list_records(who, request.args.get("filter", "")))
        except errors.GoogleApiError as err:
            return err.response()

    @bp.get("/meet/v2/conferenceRecords/<record_id>/participants")
    def meet_participants(record_id: str):
        who = caller()
        if isinstance(who, Response):
            return who
        try:
            return jsonify(records.list_participants(who, record_id))
        except errors.GoogleApiError as err:
            return err.response()
