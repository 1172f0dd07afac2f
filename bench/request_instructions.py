"""Instructions per free/busy request and per event create (valgrind's callgrind), against a bare
Flask endpoint and the same provider call made straight with google-api-python-client, in the same
process: a figure that other processes on a shared machine do not move, for before/after
comparisons of a few percent, and issue 17's goal 1 as a ratio: hub / (bare Flask + SDK call).

The hub's WSGI app is called in this process as in bench/profile_request.py (no HTTP server in
between; the sandbox runs in its own process, which callgrind does not follow). Each kind is
warmed up, then callgrind's counters are dumped before and after N requests
(`callgrind_control --dump`); the second dump is the N requests' instructions, every thread of
the process included (a live read's provider call runs on the hub's pool, as in production).

Kinds: `cached` (free/busy from the busy cache), `live` (free/busy read from the provider),
`event` (POST /v1/events with a Google Meet link, a new event per request: each has its own title
and start, no Idempotency-Key). The SDK baselines are what a program without the hub would run for
the same answer: `freebusy().query` for `live`, `events().insert` with a conferenceData
createRequest for `event`, on a service built once with one authorized `Http`, the resource
(`service.events()`) built once and kept — the cheapest ordinary use of the SDK, as the hub uses
it. Written as Google's guides write it, `service.events().insert(...).execute()` rebuilds the
resource, every method and docstring, on each call: ~22 M instructions per event create, a
baseline no hub could fail to beat, so not this one.

The sandbox's calendar grows by one event per create (the hub's and the SDK's). That costs
nothing here: the sandbox is another process, which callgrind does not count; no create reads the
calendar back; and the events lie on days after the free/busy window (2026-03-02), whose answer
stays the same size. The hub's own `events` and `jobs` tables grow too (one indexed insert each:
a B-tree a level deeper at most).

The bench user's calendar has an active push channel (the busy cache's, as a finished sync leaves
it), so each create also marks the cache behind and records a sync job, as in production. No
runner takes the job here (bench.common starts the hub without its in-process worker): the
sync's own provider call is not in the figure. `event` runs after the free/busy kinds, whose
cached answers it would otherwise send to the provider.

Run: python bench/request_instructions.py [requests] [kind ...]    (default: cached live event)
     BENCH_BASELINE_TREE=dir also measures the hub source in dir (e.g. `git archive <commit> | tar
     -x -C dir`) in a second process, with this file: before/after from one invocation. A kind
     the tree cannot run is printed as n/a (its error on stderr), the others still are.
     BENCH_DATABASE_URL=postgresql+psycopg://user@host/db: the hub on a fresh database made on that
     server (and dropped after) instead of a SQLite file; the server's own work is another
     process, not counted.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import traceback
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]


def _dump(label: str) -> None:
    """Ask callgrind to write its counters since the last dump (valgrind's gdbserver wakes this
    process while it waits; the fork and wait cost ~0.4 M instructions, spread over N requests)."""
    subprocess.run(["callgrind_control", f"--dump={label}", str(os.getpid())], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def _environ(path: str, body: dict, headers: dict[str, str]) -> tuple[dict[str, Any], bytes]:
    """The request's WSGI environ, built once (werkzeug's EnvironBuilder per call would be
    counted with every request)."""
    from werkzeug.test import EnvironBuilder
    data = json.dumps(body).encode()
    return EnvironBuilder(path=path, method="POST", data=data, headers=headers,
                          content_type="application/json").get_environ(), data


def _call(app: Any, request: tuple[dict[str, Any], bytes], expect: str = "200") -> None:
    environ = {**request[0], "wsgi.input": io.BytesIO(request[1])}
    status: list[str] = []
    out = app(environ, lambda s, h, e=None: status.append(s))
    body = b"".join(out)
    getattr(out, "close", lambda: None)()
    assert status[0].startswith(expect), (status, body[:500])


WARM_UP = 30
FB_WINDOW = {"start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
EVENT_DAY = datetime(2026, 4, 1, tzinfo=UTC)  # after the free/busy window


def _event_times(i: int) -> tuple[str, str]:
    """The i-th create's half hour: every create a new event at its own time."""
    start = EVENT_DAY + timedelta(minutes=30 * i)
    return (start.strftime("%Y-%m-%dT%H:%M:%SZ"), (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _sdk(sandbox_url: str, token: str) -> Any:
    """google-api-python-client against the sandbox's Google, as a program without the hub
    would use it: the service built once from the bundled discovery document, on one authorized
    `Http` (kept alive between calls)."""
    import googleapiclient
    import httplib2
    from google.oauth2.credentials import Credentials
    from google_auth_httplib2 import AuthorizedHttp
    from googleapiclient.discovery import build_from_document

    document = (Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "calendar.v3.json").read_text()
    http = AuthorizedHttp(Credentials(token), http=httplib2.Http(timeout=20))
    service = build_from_document(document, http=http,
                                  client_options={"api_endpoint": f"{sandbox_url}/google/calendar/v3/"})
    return service


def _runs(kinds: list[str], app: Any, key: str, sandbox_url: str, email: str, token: str, total: int
          ) -> list[tuple[str, Callable[[int], None]]]:
    """(label, call i) per measured series: the bare endpoint, each SDK baseline a kind needs,
    then the hub's kinds. Requests are built before they are counted."""
    import uuid

    from bench.profile_request import bare_app
    auth = {"Authorization": f"Bearer {key}"}
    fb_request = _environ("/v1/freebusy", {"users": ["bench"], **FB_WINDOW}, {})
    bare = bare_app()
    runs: list[tuple[str, Callable[[int], None]]] = [("bare", lambda i: _call(bare, fb_request))]
    service = _sdk(sandbox_url, token)
    if "live" in kinds:
        freebusy = service.freebusy()
        fb_body = {"timeMin": FB_WINDOW["start"], "timeMax": FB_WINDOW["end"], "timeZone": "UTC",
                   "items": [{"id": email}]}

        def sdk_live(i: int) -> None:
            answer = freebusy.query(body=fb_body).execute(num_retries=0)
            assert answer["calendars"][email]["busy"], answer
        runs.append(("sdk_live", sdk_live))
    if "event" in kinds:
        events = service.events()
        bodies = []
        for i in range(total):
            start, end = _event_times(i)
            bodies.append({"summary": f"SDK {i}", "start": {"dateTime": start}, "end": {"dateTime": end},
                           "attendees": [], "conferenceData": {"createRequest": {
                               "requestId": uuid.uuid4().hex, "conferenceSolutionKey": {"type": "hangoutsMeet"}}}})

        def sdk_event(i: int) -> None:
            made = events.insert(calendarId="primary", body=bodies[i], conferenceDataVersion=1,
                                 sendUpdates="all").execute(num_retries=0)
            assert made["hangoutLink"], made
        runs.append(("sdk_event", sdk_event))
    for kind in sorted(kinds, key=lambda k: k == "event"):  # event last (see the docstring)
        if kind == "event":
            # Half hours after the SDK's: no two events of the run at the same time.
            requests = [_environ("/v1/events", {"organizer": "bench", "title": f"Bench {i}",
                                                "start": _event_times(total + i)[0],
                                                "end": _event_times(total + i)[1],
                                                "conferencing": "google_meet"}, auth) for i in range(total)]
            runs.append((kind, lambda i, r=requests: _call(app, r[i], "201")))
        else:
            request = _environ("/v1/freebusy", {"users": ["bench"], **FB_WINDOW, "consistency": kind}, auth)
            runs.append((kind, lambda i, r=request: _call(app, r)))
    return runs


def measured(n: int, kinds: list[str]) -> None:
    """Runs under callgrind: warm-up, dump, n calls, dump; per kind, after the bare endpoint."""
    sys.path.insert(0, os.getcwd())
    _measured(n, kinds, os.environ.get(MEASURED_DATABASE) or None)


MEASURED_DATABASE = "BENCH_MEASURED_DATABASE_URL"  # the measured process's database, set by `count`


@contextmanager
def _database() -> Iterator[str | None]:
    """None (bench.common's SQLite file), or a fresh PostgreSQL database on BENCH_DATABASE_URL's
    server, made here in the uncounted process (with the tests' own helper) for each tree."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        yield None
        return
    from tests.conftest import empty_postgres
    with empty_postgres(url) as fresh:
        yield fresh


def _measured(n: int, kinds: list[str], database_url: str | None) -> None:
    from bench.common import connected_bench_user, live_stack
    from tests.busy_cache_support import Cached, fill_cache
    from tests.e2e.support import Api, Sandbox

    with live_stack(database_url, separate_sandbox=True, rate_limit_api="100000000/minute") as (
            app, url, sandbox_url, key):
        hub = app.extensions["hub"]
        api, sandbox = Api(url, key), Sandbox(sandbox_url)
        # bench/common.cached_bench_user, written out: this runs inside the tree measured, and a
        # baseline tree's bench/common.py may predate that helper.
        email = connected_bench_user(api, sandbox)
        conn_id = api.get("/v1/users/bench/connections").json()["connections"][0]["id"]
        day = datetime(2026, 3, 2, tzinfo=UTC)
        fill_cache(hub.db, conn_id, [Cached(day + timedelta(hours=10), day + timedelta(hours=11))],
                   synced_at=datetime.now(UTC), window=(day - timedelta(days=1), day + timedelta(days=62)))
        # The SDK baselines use the token the hub holds for the same account.
        token = hub.tokens.access_token(conn_id)
        for label, call in _runs(kinds, app, key, sandbox_url, email, token, WARM_UP + n):
            try:
                for i in range(WARM_UP):
                    call(i)
            except Exception:  # noqa: BLE001 - a tree that cannot run this kind: the others still run
                traceback.print_exc()
                print(f"{label}: not measured in this tree", file=sys.stderr)
                continue
            _dump(f"before-{label}")
            for i in range(WARM_UP, WARM_UP + n):
                call(i)
            _dump(f"after-{label}")


def count(tree: Path, n: int, kinds: list[str]) -> dict[str, float]:
    """Instructions per request of each series, measured in `tree` (this script run there)."""
    sys.path.insert(0, str(ROOT))  # this tree's bench and tests, in this (uncounted) process only
    from bench import callgrind
    with _database() as url:
        return callgrind.measured_in_tree(Path(__file__).resolve(), tree, n, kinds,
                                          {MEASURED_DATABASE: url or ""})


def main(n: int, kinds: list[str]) -> None:
    trees = [("this tree", ROOT)]
    baseline = os.environ.get("BENCH_BASELINE_TREE")
    if baseline:
        trees.insert(0, ("baseline", Path(baseline)))
    database = "PostgreSQL" if os.environ.get("BENCH_DATABASE_URL") else "SQLite"
    print(f"instructions per request (callgrind, {n} requests after {WARM_UP} warm-up, in-process WSGI calls, "
          f"{database})")
    for name, tree in trees:
        figures = count(tree, n, kinds)
        bare = figures.get("bare")
        if bare is None:
            print(f"  {name:10} not measured (see stderr)")
            continue
        parts = [f"bare Flask {bare / 1e6:.3f} M"]
        for kind in kinds:
            parts.append(f"{kind} {figures[kind] / 1e6:.3f} M ({figures[kind] / bare:.2f}x bare)"
                         if kind in figures else f"{kind} n/a")
        print(f"  {name:10} " + " | ".join(parts))
        # Goal 1 of issue 17: hub / (bare Flask + the SDK call that gives the same answer).
        goal = []
        for kind in ("live", "event"):
            sdk, hub = figures.get(f"sdk_{kind}"), figures.get(kind)
            if kind in kinds and sdk is not None:
                ratio = f"{hub / (bare + sdk):.3f}x" if hub is not None else "n/a"
                goal.append(f"{kind}: SDK {sdk / 1e6:.3f} M, hub/(bare+SDK) {ratio}")
        if goal:
            print(f"  {'':10} goal 1 (<= 2x): " + " | ".join(goal))


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--measured":
        measured(int(args[1]), args[2:])
    else:
        main(int(args[0]) if args else 200, args[1:] or ["cached", "live", "event"])
