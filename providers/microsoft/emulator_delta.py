"""Graph's ``calendarView/delta`` for the sandbox (https://learn.microsoft.com/graph/delta-query-events).

- ``GET /v1.0/me/calendarView/delta?startDateTime=…&endDateTime=…`` (also under
  ``/me/calendar/calendarView/delta``, and with msgraph-sdk's ``delta()`` spelling) starts a
  round: pages of events with ``@odata.nextLink`` (``$skiptoken``), the last page with
  ``@odata.deltaLink`` (``$deltatoken``). ``Prefer: odata.maxpagesize=N`` sets the page size.
- Following a deltaLink later returns only what changed since, in the window fixed by the first
  call (the tokens carry it, so later calls need no parameters): changed events in full, deleted
  ones — and ones moved out of the window — as ``{"id", "@removed": {"reason": "deleted"}}``.
- A token the sandbox did not mint for this mailbox, one from before a reset, or any token while
  the ``sync_token_invalid`` fault is armed answers **410 SyncStateNotFound**, the error Graph
  gives for a sync state it dropped [seen: microsoftgraph/microsoft-graph-docs#2350].

Change tracking: every change to a stored event (API, control API, the person_* hooks) takes the
next number of one provider-wide sequence (``_seq`` on the event; deleted events leave a
tombstone in the mailbox's ``removed_events`` collection). All of it lives in SandboxState, so the
demo's snapshot keeps delta tokens valid across a restart.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from flask import Response, jsonify, request

from providers.emulator_kit.state import SandboxState

from . import emulator_events as events
from .emulator_errors import GraphError

if TYPE_CHECKING:
    from providers.emulator_kit.accounts import Account

    from .emulator import MicrosoftEmulator

PROVIDER = "microsoft"
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata"
DEFAULT_PAGE = 10  # [?] Graph documents no default page size for event delta
MAX_PAGE = 1000
REMOVED = "removed_events"
_MAXPAGESIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)


class DeltaLog:
    """The change sequence of every sandbox mailbox's calendar."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def _data(self) -> dict[str, Any]:
        return self.state.provider_data(PROVIDER).setdefault("delta", {"seq": 0})

    def record(self, email: str, event: dict[str, Any], change: str) -> None:
        """CalendarStore's change listener (called under the state lock)."""
        with self.state.lock:
            data = self._data()
            data["seq"] += 1
            removed = self.state.collection(PROVIDER, email, REMOVED)
            if change == "deleted":
                removed[event["id"]] = {"_seq": data["seq"], "_start_at": event["_start_at"],
                                        "_end_at": event["_end_at"]}
            else:
                event["_seq"] = data["seq"]
                removed.pop(event["id"], None)

    def high_water(self) -> int:
        with self.state.lock:
            return int(self._data()["seq"])

    def changes(self, email: str, start: datetime, end: datetime, since: int | None, upto: int
                ) -> list[tuple[str, dict[str, Any] | None]]:
        """(id, event or None when removed) in sequence order: the whole window when `since` is
        None, else what changed in (since, upto]."""
        found: list[tuple[int, str, dict[str, Any] | None]] = []
        with self.state.lock:
            for event in self.state.collection(PROVIDER, email, "events").values():
                seq = event.get("_seq", 0)  # events older than change tracking count as unchanged
                if seq > upto or (since is not None and seq <= since):
                    continue
                inside = event["_start_at"] < end and event["_end_at"] > start
                if inside:
                    found.append((seq, event["id"], event))
                elif since is not None:  # moved out of the window: gone from this view
                    found.append((seq, event["id"], None))
            if since is not None:
                for event_id, stone in self.state.collection(PROVIDER, email, REMOVED).items():
                    if since < stone["_seq"] <= upto and stone["_start_at"] < end and stone["_end_at"] > start:
                        found.append((stone["_seq"], event_id, None))
        found.sort(key=lambda item: item[0])
        return [(event_id, event) for _, event_id, event in found]


# -- state tokens ----------------------------------------------------------------------------------
def _encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(token: str) -> dict[str, Any] | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def sync_state_not_found(generation: int | str = 0) -> GraphError:
    # [seen] microsoftgraph/microsoft-graph-docs#2350: 410 Gone for a sync state Graph dropped.
    return GraphError(410, "SyncStateNotFound",
                      f"The sync state generation is not found; generation={generation};[highest=0].")


def register_delta_api(graph_call: Callable[..., Any], route: Callable[..., None], emulator: "MicrosoftEmulator",
                       scopes: frozenset[str], instant: Callable[[str | None, str], datetime]) -> None:
    log: DeltaLog = emulator.delta
    state = emulator.ctx.state

    def page_size() -> int:
        match = _MAXPAGESIZE.search(request.headers.get("Prefer", ""))
        return max(1, min(int(match.group(1)), MAX_PAGE)) if match else DEFAULT_PAGE

    def round_from(account: "Account", args: dict[str, str]) -> dict[str, Any]:
        """Where this call stands: a new round, a page of one ($skiptoken), or the next round
        after a deltaLink ($deltatoken)."""
        skip, delta = args.get("$skiptoken") or args.get("skiptoken"), args.get("$deltatoken") or args.get("deltatoken")
        if skip or delta:
            data = _decode(skip or delta or "")
            if (data is None or data.get("g") != state.generation or data.get("m") != account.email
                    or not isinstance(data.get("u"), int)):
                raise sync_state_not_found()
            if delta and emulator.take_fault("sync_token_invalid", account.email) is not None:
                raise sync_state_not_found(data["u"])
            if delta:  # the next round: what changed since that round ended
                return {**data, "f": data["u"], "u": log.high_water(), "o": 0}
            return data
        start = instant(args.get("startdatetime"), "startDateTime")
        end = instant(args.get("enddatetime"), "endDateTime")
        return {"g": state.generation, "m": account.email, "s": start.isoformat(), "e": end.isoformat(),
                "f": None, "u": log.high_water(), "o": 0}

    @graph_call(scopes)
    def delta(account: "Account") -> Response:
        args = {k.lower(): v for k, v in request.args.items()}
        where = round_from(account, args)
        start, end = datetime.fromisoformat(where["s"]), datetime.fromisoformat(where["e"])
        changed = log.changes(account.email, start, end, where["f"], where["u"])
        size, offset = page_size(), int(where.get("o") or 0)
        zone_name, tz = events.preferred_zone(account)
        value: list[dict[str, Any]] = []
        for event_id, event in changed[offset:offset + size]:
            if event is None:
                value.append({"@odata.type": "#microsoft.graph.event", "id": event_id, "@removed": {"reason": "deleted"}})
            else:
                value.append({"@odata.type": "#microsoft.graph.event", **events.wire(event, zone_name, tz)})
        body: dict[str, Any] = {"@odata.context": f"{CONTEXT}#Collection(event)"}
        if offset + size < len(changed):
            body["@odata.nextLink"] = f"{request.base_url}?$skiptoken={_encode({**where, 'o': offset + size})}"
        else:
            ended = {k: where[k] for k in ("g", "m", "s", "e", "u")}
            body["@odata.deltaLink"] = f"{request.base_url}?$deltatoken={_encode(ended)}"
        body["value"] = value
        response = jsonify(body)
        applied = ["odata.track-changes"]
        if _MAXPAGESIZE.search(request.headers.get("Prefer", "")):
            applied.append(f"odata.maxpagesize={size}")
        response.headers["Preference-Applied"] = ", ".join(applied)
        return response

    for path in ("/me/calendarView/delta", "/me/calendarview/delta", "/me/calendar/calendarView/delta",
                 "/me/calendar/calendarview/delta"):
        # msgraph-sdk calls the function as `delta()`; Graph answers both spellings.
        for spelling in (path, path + "()"):
            route(spelling, "graph_delta" + spelling.replace("/", "_").replace("()", "_call"), delta, ["GET"])
