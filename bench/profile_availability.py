"""Where a many-participant /v1/availability request's CPU goes: the hub's WSGI app called in
this process, the sandbox in its own process (optionally adding latency to every provider call).

Every thread that works for the request is profiled on its own CPU clock: the request thread,
the provider pool's threads and msgraph's event-loop thread; the profiles are merged and
printed (cumulative, then own time), with the CPU of each kind of thread.

Run: python bench/profile_availability.py [participants] [latency_ms] [requests] [stats file]
"""
from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werkzeug.test import EnvironBuilder  # noqa: E402

from bench.availability_endpoint import setup  # noqa: E402
from bench.common import live_stack  # noqa: E402
from tests.e2e.support import Api, Sandbox  # noqa: E402


class ProfiledPool(ThreadPoolExecutor):
    """A pool whose threads each run under their own profiler (started on the thread's first task)."""

    def __init__(self, workers: int) -> None:
        super().__init__(max_workers=workers, thread_name_prefix="provider")
        self.profiles: list[cProfile.Profile] = []
        self.on = False
        self._local = threading.local()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any):  # type: ignore[override]
        def run() -> Any:
            prof = getattr(self._local, "prof", None)
            if prof is None:
                prof = self._local.prof = cProfile.Profile(time.thread_time)
                self.profiles.append(prof)
            if not self.on:
                return fn(*args, **kwargs)
            prof.enable()
            try:
                return fn(*args, **kwargs)
            finally:
                prof.disable()
        return super().submit(run)


def call(app: Any, body: dict[str, Any], key: str) -> None:
    headers = [("Authorization", f"Bearer {key}")]
    environ = EnvironBuilder(path="/v1/availability", method="POST", data=json.dumps(body), headers=headers,
                             content_type="application/json").get_environ()
    status: list[str] = []
    out = app(environ, lambda s, h, e=None: status.append(s))
    b"".join(out)
    getattr(out, "close", lambda: None)()
    assert status[0].startswith("200"), status


def main(count: int, latency_ms: int, n: int) -> None:
    limits = {"rate_limit_connect_links": "100000/minute", "rate_limit_api": "100000/minute"}
    keep_alive = os.environ.get("BENCH_KEEP_ALIVE", "1") != "0"
    with live_stack(separate_sandbox=True, keep_alive=keep_alive, provider_concurrency=max(32, count),
                    **limits) as (app, url, sandbox_url, key):
        hub = app.extensions["hub"]
        pool = ProfiledPool(max(32, count))
        hub.executor = pool
        api, sandbox = Api(url, key), Sandbox(sandbox_url)
        body = setup(api, sandbox, count)
        if latency_ms:
            for provider in ("google", "microsoft"):
                sandbox.fault(provider, "latency", params={"ms": latency_ms})
        for _ in range(3):  # under the latency: the pools grow to the fan-out's width here (see availability_endpoint)
            call(app, body, key)
        graph = hub.calendar("microsoft")._adapter.graph
        loop = graph._loop
        loop_prof = cProfile.Profile(time.thread_time)
        loop.call_soon_threadsafe(loop_prof.enable)
        main_prof = cProfile.Profile(time.thread_time)
        pool.on = True
        wall, cpu = [], []
        for _ in range(n):
            t, c = time.perf_counter(), time.process_time()
            main_prof.enable()
            call(app, body, key)
            main_prof.disable()
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        pool.on = False
        done = threading.Event()

        def stop() -> None:
            loop_prof.disable()
            done.set()
        loop.call_soon_threadsafe(stop)
        done.wait(5)
        print(f"{count} participants, {latency_ms} ms latency: wall median {sorted(wall)[n // 2] * 1000:.0f} ms, "
              f"process CPU median {sorted(cpu)[n // 2] * 1000:.0f} ms (profiled: slower than unprofiled)")
        for name, profs in (("request thread", [main_prof]), ("pool threads", pool.profiles),
                            ("msgraph loop", [loop_prof])):
            profs = [p for p in profs if p.getstats()]
            if not profs:
                continue
            stats = pstats.Stats(profs[0])
            for p in profs[1:]:
                stats.add(p)
            print(f"{name}: {stats.total_tt / n * 1000:.1f} ms CPU per request")  # type: ignore[attr-defined]
            if len(sys.argv) > 4:
                stats.dump_stats(f"{sys.argv[4]}.{name.split()[0]}")
        everything = [p for p in [main_prof, loop_prof, *pool.profiles] if p.getstats()]
        stats = pstats.Stats(everything[0], stream=(text := io.StringIO()))
        for p in everything[1:]:
            stats.add(p)
        if len(sys.argv) > 4:
            stats.dump_stats(sys.argv[4])  # for pstats: callers, callees
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)
        print(text.getvalue())


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100, int(sys.argv[2]) if len(sys.argv) > 2 else 0,
         int(sys.argv[3]) if len(sys.argv) > 3 else 5)
