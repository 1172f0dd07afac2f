"""Where one request's CPU goes: the hub's WSGI app called in this process (no HTTP server in
between), provider calls made on this thread so the profile sees them, the sandbox in its own
process. Prints CPU per request for each kind against a bare Flask endpoint called the same way
(a ratio from the same run), then the top of a cProfile of each kind.

Run: python bench/profile_request.py [requests] [kind ...]   (PROFILE_DIR=dir also saves each profile there)
     kinds: freebusy (live), cached (free/busy from the busy cache), event (with Meet)
"""
from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import sys
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask, jsonify, request  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from bench.common import cached_bench_user, live_stack  # noqa: E402
from tests.e2e.support import Api, Sandbox  # noqa: E402


class InlineExecutor:
    """Runs each call at submit, on this thread: the profiler sees the provider call."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed back as the fan-out expects
            future.set_exception(exc)
        return future

    def shutdown(self, **_: Any) -> None:
        return None


def bare_app() -> Flask:
    app = Flask("bare")

    @app.post("/v1/freebusy")
    def fb():
        body = request.get_json()
        return jsonify({"start": body["start"], "end": body["end"], "users": {}})
    return app


def cpu_per_call(app: Any, path: str, body_of: Callable[[int], dict], headers: dict[str, str], n: int,
                 profile: cProfile.Profile | None = None) -> float:
    spent = 0.0
    for i in range(n):
        environ = EnvironBuilder(path=path, method="POST", data=json.dumps(body_of(i)), headers=headers,
                                 content_type="application/json").get_environ()
        status: list[str] = []
        t = time.thread_time()
        if profile:
            profile.enable()
        out = app(environ, lambda s, h, e=None, seen=status: seen.append(s))
        b"".join(out)
        getattr(out, "close", lambda: None)()
        if profile:
            profile.disable()
        spent += time.thread_time() - t
        assert status[0].startswith(("200", "201")), status
    return spent / n


def main(n: int, kinds: list[str]) -> None:
    with live_stack(separate_sandbox=True, rate_limit_api="100000000/minute") as (app, url, sandbox_url, key):
        hub = app.extensions["hub"]
        hub.executor = InlineExecutor()
        api, sandbox = Api(url, key), Sandbox(sandbox_url)
        cached_bench_user(api, sandbox, hub.db)
        auth = {"Authorization": f"Bearer {key}"}
        answer = api.post("/v1/freebusy", json={"users": ["bench"], "start": "2026-03-02T00:00:00Z",
                                                "end": "2026-03-03T00:00:00Z", "consistency": "cached"}).json()
        assert answer["users"]["bench"]["source"] == "cache", answer
        fb = {"users": ["bench"], "start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
        bodies: dict[str, tuple[str, Callable[[int], dict]]] = {
            "freebusy": ("/v1/freebusy", lambda i: {**fb, "consistency": "live"}),
            "cached": ("/v1/freebusy", lambda i: {**fb, "consistency": "cached"}),
            "event": ("/v1/events", lambda i: {"organizer": "bench", "title": f"Bench {i}",
                                               "start": "2026-03-03T09:00:00Z", "end": "2026-03-03T09:30:00Z",
                                               "conferencing": "google_meet"}),
        }
        bare = bare_app()
        cpu_per_call(bare, "/v1/freebusy", lambda i: fb, {}, 50)
        bare_cpu = cpu_per_call(bare, "/v1/freebusy", lambda i: fb, {}, n)
        print(f"bare Flask endpoint: {bare_cpu * 1000:.3f} ms CPU per call")
        for kind in kinds:
            path, body_of = bodies[kind]
            cpu_per_call(app, path, body_of, auth, 20)
            cpu = cpu_per_call(app, path, body_of, auth, n)
            print(f"{kind}: {cpu * 1000:.3f} ms CPU per call (includes the SDK call's), {cpu / bare_cpu:.1f}x bare")
        for kind in kinds:
            path, body_of = bodies[kind]
            prof = cProfile.Profile(time.thread_time)  # CPU, not waiting on the sandbox
            cpu_per_call(app, path, body_of, auth, n, prof)
            text = io.StringIO()
            stats = pstats.Stats(prof, stream=text)
            if os.environ.get("PROFILE_DIR"):  # for pstats' print_callers and friends
                stats.dump_stats(os.path.join(os.environ["PROFILE_DIR"], f"{kind}.pstats"))
            stats.sort_stats("cumulative").print_stats(45)
            stats.sort_stats("tottime").print_stats(30)
            print(f"===== {kind} =====")
            print(text.getvalue())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200, sys.argv[2:] or ["freebusy", "cached", "event"])
