"""Instructions (callgrind) each layer around one Google call adds, in one process: the plain
SDK call, then the same call through `CalendarApi.call`, the Google adapter
(providers/google/calendar.py), the adapter behind the hub's limits (hub/limited.py) and
finally `TokenManager.call` with the row as planning read it (oauth/tokens.py) — what
hub/services/events.py's `_with` and the free/busy reader run around the provider call, less
their bookkeeping. For free/busy (one calendar, one day) and event create with Meet.

The SDK baseline is bench/request_instructions.py's: the service built once from the bundled
discovery document on one authorized `Http`, the resource built once. The sandbox runs in its
own process (not counted) and closes each connection after one answer, so every layer pays
the same TCP connect.

Run: python bench/provider_call_layers.py [requests]
     PROFILE_DIR=dir python bench/provider_call_layers.py --measured N: cProfile of each series there.
     BENCH_BASELINE_TREE=dir also measures the hub source in dir, with this file.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
WARM_UP = 30
DAY = datetime(2026, 3, 2, tzinfo=UTC)
EVENT_DAY = datetime(2026, 5, 1, tzinfo=UTC)  # after the free/busy window
LAYERS = ("sdk", "api", "adapter", "limited", "tokens")


_PROFILE: Any = None


def _dump(label: str) -> None:
    global _PROFILE
    if os.environ.get("PROFILE_DIR"):  # cProfile of each series instead of callgrind's dumps
        import cProfile
        if label.startswith("before-"):
            _PROFILE = cProfile.Profile()
            _PROFILE.enable()
        else:
            _PROFILE.disable()
            _PROFILE.dump_stats(os.path.join(os.environ["PROFILE_DIR"], label.removeprefix("after-") + ".pstats"))
        return
    subprocess.run(["callgrind_control", f"--dump={label}", str(os.getpid())], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def measured(n: int) -> None:
    sys.path.insert(0, os.getcwd())
    import httplib2
    from google.oauth2.credentials import Credentials
    from google_auth_httplib2 import AuthorizedHttp
    from googleapiclient.discovery import build_from_document
    import googleapiclient

    from bench.common import connected_bench_user, live_stack
    from hub.storage.models import Connection
    from oauth.tokens import StoredAccess
    from providers.base import EventDraft
    from providers.google.calendar import GoogleCalendar, _free_busy_query
    from tests.e2e.support import Api, Sandbox

    with live_stack(None, separate_sandbox=True) as (app, url, sandbox_url, key):
        hub = app.extensions["hub"]
        email = connected_bench_user(Api(url, key), Sandbox(sandbox_url))
        conn_id = Api(url, key).get("/v1/users/bench/connections").json()["connections"][0]["id"]
        token = hub.tokens.access_token(conn_id)
        with hub.db.session() as session:
            known = StoredAccess.of(session.get(Connection, conn_id))
        api_base = f"{sandbox_url}/google/calendar/v3/"
        document = (Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
                    / "calendar.v3.json").read_text()
        service = build_from_document(document, http=AuthorizedHttp(Credentials(token), http=httplib2.Http(timeout=20)),
                                      client_options={"api_endpoint": api_base})
        freebusy, events = service.freebusy(), service.events()
        adapter = GoogleCalendar(api_base)
        limited = hub.calendar("google")
        start, end = DAY, DAY + timedelta(days=1)
        total = WARM_UP + n
        fb_body = {"timeMin": "2026-03-02T00:00:00Z", "timeMax": "2026-03-03T00:00:00Z", "timeZone": "UTC",
                   "items": [{"id": email}]}

        def draft(i: int) -> EventDraft:
            at = EVENT_DAY + timedelta(minutes=30 * i)
            return EventDraft(title=f"Bench {i}", start=at, end=at + timedelta(minutes=30), attendees=(),
                              description=None, location=None, timezone=None, native_conferencing=True,
                              send_updates=True, idempotency_handle=uuid.uuid4().hex)

        series: list[tuple[str, Callable[[int], Any]]] = []
        # Free/busy
        series.append(("fb-sdk", lambda i: freebusy.query(body=fb_body).execute(num_retries=0)))
        series.append(("fb-api", lambda i: adapter._api.call(token, _free_busy_query([email], start, end))))
        series.append(("fb-adapter", lambda i: adapter.free_busy(token, [email], start, end)))
        series.append(("fb-limited", lambda i: limited.free_busy(token, [email], start, end)))
        series.append(("fb-tokens", lambda i: hub.tokens.call(
            conn_id, lambda t: limited.free_busy(t, [email], start, end), known=known)))
        # Event create with Meet: each layer its own events, at their own times.
        for layer_no, layer in enumerate(LAYERS):
            drafts = [draft(layer_no * total + i) for i in range(total)]
            if layer == "sdk":
                bodies = [{"summary": d.title, "start": {"dateTime": d.start.strftime("%Y-%m-%dT%H:%M:%SZ")},
                           "end": {"dateTime": d.end.strftime("%Y-%m-%dT%H:%M:%SZ")}, "attendees": [],
                           "conferenceData": {"createRequest": {"requestId": d.idempotency_handle,
                                                                "conferenceSolutionKey": {"type": "hangoutsMeet"}}}}
                          for d in drafts]
                call: Callable[[int], Any] = lambda i, b=bodies: events.insert(  # noqa: E731
                    calendarId="primary", body=b[i], conferenceDataVersion=1, sendUpdates="all").execute(num_retries=0)
            elif layer == "api":
                def call(i: int, d: list[EventDraft] = drafts) -> Any:
                    body = {"summary": d[i].title, "start": {"dateTime": d[i].start.strftime("%Y-%m-%dT%H:%M:%SZ")},
                            "end": {"dateTime": d[i].end.strftime("%Y-%m-%dT%H:%M:%SZ")}, "attendees": [],
                            "conferenceData": {"createRequest": {"requestId": d[i].idempotency_handle,
                                                                 "conferenceSolutionKey": {"type": "hangoutsMeet"}}}}
                    return adapter._api.call(token, lambda s: s.events().insert(
                        calendarId="primary", body=body, conferenceDataVersion=1, sendUpdates="all"))
            elif layer == "adapter":
                call = lambda i, d=drafts: adapter.create_event(token, d[i])  # noqa: E731
            elif layer == "limited":
                call = lambda i, d=drafts: limited.create_event(token, d[i])  # noqa: E731
            else:
                call = lambda i, d=drafts: hub.tokens.call(  # noqa: E731
                    conn_id, lambda t: limited.create_event(t, d[i]), known=known)
            series.append((f"ev-{layer}", call))
        for label, call in series:
            for i in range(WARM_UP):
                call(i)
            _dump(f"before-{label}")
            for i in range(WARM_UP, total):
                call(i)
            _dump(f"after-{label}")


def count(tree: Path, n: int) -> dict[str, float]:
    """Instructions per call of each layer's series, measured in `tree` (this script run there)."""
    sys.path.insert(0, str(ROOT))  # this tree's bench, in this (uncounted) process only
    from bench import callgrind
    return callgrind.measured_in_tree(Path(__file__).resolve(), tree, n, [])


def main(n: int) -> None:
    trees = [("this tree", ROOT)]
    if os.environ.get("BENCH_BASELINE_TREE"):
        trees.insert(0, ("baseline", Path(os.environ["BENCH_BASELINE_TREE"])))
    print(f"instructions per call (callgrind, {n} calls after {WARM_UP} warm-up), cumulative by layer")
    for name, tree in trees:
        figures = count(tree, n)
        for kind in ("fb", "ev"):
            parts = [f"{layer} {figures[f'{kind}-{layer}'] / 1e6:.3f} M" if f"{kind}-{layer}" in figures
                     else f"{layer} n/a" for layer in LAYERS]
            print(f"  {name:10} {'freebusy' if kind == 'fb' else 'event':8} " + " | ".join(parts))


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--measured":
        measured(int(args[1]))
    else:
        main(int(args[0]) if args else 100)
