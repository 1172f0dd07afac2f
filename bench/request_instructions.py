"""Instructions per free/busy request (valgrind's callgrind), against a bare Flask endpoint in the
same process: a figure that other processes on a shared machine do not move, for before/after
comparisons of a few percent.

The hub's WSGI app is called in this process as in bench/profile_request.py (no HTTP server in
between; the sandbox runs in its own process, which callgrind does not follow). Each kind is
warmed up, then callgrind's counters are dumped before and after N requests
(`callgrind_control --dump`); the second dump is the N requests' instructions, every thread of
the process included (a live read's provider call runs on the hub's pool, as in production).

Run: python bench/request_instructions.py [requests] [kind ...]    (kinds: cached, live; default both)
     BENCH_BASELINE_TREE=dir also measures the hub source in dir (e.g. `git archive <commit> | tar
     -x -C dir`) in a second process: before/after from one invocation.
"""
from __future__ import annotations

import glob
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


def _call(app: Any, request: tuple[dict[str, Any], bytes]) -> None:
    environ = {**request[0], "wsgi.input": io.BytesIO(request[1])}
    status: list[str] = []
    out = app(environ, lambda s, h, e=None: status.append(s))
    b"".join(out)
    getattr(out, "close", lambda: None)()
    assert status[0].startswith("200"), status


def measured(n: int, kinds: list[str]) -> None:
    """Runs under callgrind: warm-up, dump, n calls, dump; per kind, after the bare endpoint."""
    sys.path.insert(0, os.getcwd())
    from bench.common import connected_bench_user, live_stack
    from bench.profile_request import bare_app
    from tests.busy_cache_support import Cached, fill_cache
    from tests.e2e.support import Api, Sandbox

    with live_stack(separate_sandbox=True, rate_limit_api="100000000/minute") as (app, url, sandbox_url, key):
        hub = app.extensions["hub"]
        api, sandbox = Api(url, key), Sandbox(sandbox_url)
        # bench/common.cached_bench_user, written out: this runs inside the tree measured, and a
        # baseline tree's bench/common.py may predate that helper.
        connected_bench_user(api, sandbox)
        conn_id = api.get("/v1/users/bench/connections").json()["connections"][0]["id"]
        day = datetime(2026, 3, 2, tzinfo=UTC)
        fill_cache(hub.db, conn_id, [Cached(day + timedelta(hours=10), day + timedelta(hours=11))],
                   synced_at=datetime.now(UTC), window=(day - timedelta(days=1), day + timedelta(days=62)))
        fb = {"users": ["bench"], "start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
        auth = {"Authorization": f"Bearer {key}"}
        runs: list[tuple[str, Any, dict, dict[str, str]]] = [("bare", bare_app(), fb, {})]
        runs += [(kind, app, {**fb, "consistency": kind}, auth) for kind in kinds]
        for label, target, body, headers in runs:
            request = _environ("/v1/freebusy", body, headers)
            for _ in range(30):
                _call(target, request)
            _dump(f"before-{label}")
            for _ in range(n):
                _call(target, request)
            _dump(f"after-{label}")


def count(tree: Path, n: int, kinds: list[str]) -> dict[str, float]:
    out_dir = tempfile.mkdtemp()
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_dir}/cg.%p",
                    sys.executable, str(Path(__file__).resolve()), "--measured", str(n), *kinds],
                   cwd=tree, env=env, check=True, capture_output=True)
    figures: dict[str, float] = {}
    for path in glob.glob(f"{out_dir}/cg.*"):
        text = Path(path).read_text(errors="replace")
        label = re.search(r"^desc: Trigger: dump after-(\w+)$", text, re.MULTILINE)
        total = re.search(r"^summary: (\d+)$", text, re.MULTILINE)
        if label and total:
            figures[label.group(1)] = int(total.group(1)) / n
    return figures


def main(n: int, kinds: list[str]) -> None:
    trees = [("this tree", ROOT)]
    baseline = os.environ.get("BENCH_BASELINE_TREE")
    if baseline:
        trees.insert(0, ("baseline", Path(baseline)))
    print(f"instructions per request (callgrind, {n} requests after 30 warm-up, in-process WSGI calls)")
    for name, tree in trees:
        figures = count(tree, n, kinds)
        bare = figures["bare"]
        parts = [f"bare Flask {bare / 1e6:.3f} M"] + [
            f"{kind} {figures[kind] / 1e6:.3f} M ({figures[kind] / bare:.2f}x bare)" for kind in kinds]
        print(f"  {name:10} " + " | ".join(parts))


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--measured":
        measured(int(args[1]), args[2:])
    else:
        main(int(args[0]) if args else 200, args[1:] or ["cached", "live"])
