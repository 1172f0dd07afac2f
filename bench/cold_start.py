"""Cold start: `hub demo` launched as a subprocess until the first 200 on /readyz, against a
baseline measured in the same run — a bare Flask app started the same way until its first 200.
Each run starts the demo twice in one directory: first start (fresh SQLite, every migration
runs) and restart (instance/ kept: the schema is at head, so alembic is not even imported).

Run: python bench/cold_start.py [runs]
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.support import free_port_pair  # noqa: E402 - after the repo is on the path

BASELINE = (
    "import sys\n"
    "from flask import Flask\n"
    "app = Flask('baseline')\n"
    "app.add_url_rule('/readyz', 'r', lambda: 'ok')\n"
    "from werkzeug.serving import run_simple\n"
    "run_simple('127.0.0.1', int(sys.argv[1]), app)\n"
)


def time_to_ready(cmd: list[str], port: int, cwd: str) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "HUB_DEMO_API_KEY": "hub_live_bench"})
    try:
        deadline = start + 60
        while time.perf_counter() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).status_code == 200:
                    return time.perf_counter() - start
            except requests.RequestException:
                pass
            time.sleep(0.02)
        raise RuntimeError("did not become ready in 60 s")
    finally:
        proc.terminate()
        proc.wait(10)


def main(runs: int) -> None:
    hub_times, restart_times, base_times = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            for times in (hub_times, restart_times):
                port = free_port_pair()
                times.append(time_to_ready([sys.executable, "-m", "hub.cli", "demo", "--port", str(port)], port, tmp))
            port = free_port_pair()
            base_times.append(time_to_ready([sys.executable, "-c", BASELINE, str(port)], port, tmp))
    hub_med, restart_med = statistics.median(hub_times), statistics.median(restart_times)
    base_med = statistics.median(base_times)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, {runs} runs, medians")
    print(f"hub demo, first start → first 200 on /readyz: {hub_med * 1000:.0f} ms (fresh SQLite, migrations)")
    print(f"hub demo, restart     → first 200 on /readyz: {restart_med * 1000:.0f} ms (schema at head)")
    print(f"bare Flask app        → first 200:            {base_med * 1000:.0f} ms")
    print(f"ratio hub/bare: first start {hub_med / base_med:.2f}x, restart {restart_med / base_med:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
