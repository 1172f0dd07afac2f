"""Cold start: `hub demo` launched as a subprocess until the first 200 on /readyz, against a
baseline measured in the same run — a bare Flask app started the same way until its first 200.

Run: python bench/cold_start.py [runs]
"""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import requests

BASELINE = (
    "import sys\n"
    "from flask import Flask\n"
    "app = Flask('baseline')\n"
    "app.add_url_rule('/readyz', 'r', lambda: 'ok')\n"
    "from werkzeug.serving import run_simple\n"
    "run_simple('127.0.0.1', int(sys.argv[1]), app)\n"
)


def free_port() -> int:
    # Two consecutive free ports: the demo takes P and P+1.
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket() as s2:
                s2.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue


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
    hub_times, base_times = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            hub_times.append(time_to_ready([sys.executable, "-m", "hub.cli", "demo", "--port", str(port)], port, tmp))
            port = free_port()
            base_times.append(time_to_ready([sys.executable, "-c", BASELINE, str(port)], port, tmp))
    hub_med, base_med = statistics.median(hub_times), statistics.median(base_times)
    print(f"hub demo → first 200 on /readyz: median {hub_med * 1000:.0f} ms over {runs} runs "
          f"(fresh SQLite, migrations included)")
    print(f"bare Flask app → first 200:       median {base_med * 1000:.0f} ms")
    print(f"ratio hub/bare: {hub_med / base_med:.2f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
