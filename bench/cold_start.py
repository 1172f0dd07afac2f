"""Cold start: `hub demo` launched as a subprocess until the first 200 on /readyz, against a
baseline measured in the same run — a bare Flask app started the same way until its first 200.
Each run starts the demo twice in one directory: first start (fresh SQLite, every migration
runs) and restart (instance/ kept: the schema is at head, so alembic is not even imported).

Two figures per start: wall time, and the CPU time the process (all its threads) had used when
its first 200 arrived, read from /proc. On a machine shared with other work the wall ratio
swings with the load; the CPU ratio much less, so both are printed from the same starts.

Bytecode: an installed hub has its .pyc files, as the baseline's Flask has; in an environment
with PYTHONDONTWRITEBYTECODE only the hub would compile its ~190 modules on every start. The
starts therefore run a copy of the hub's packages, compiled once, in a temporary directory
(the working tree gets no __pycache__); `--no-pyc` runs the working tree as it is.

Run: python bench/cold_start.py [runs] [--no-pyc]
"""
from __future__ import annotations

import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PACKAGES = ("hub", "oauth", "providers", "webhooks")  # what `hub demo` imports of this repository


@dataclass
class Start:
    wall: float  # seconds from launch to the first 200
    cpu: float  # seconds of CPU (user + system, every thread) the process had used by then


def cpu_seconds(pid: int) -> float:
    # Fields 14 and 15 of /proc/PID/stat: utime and stime, in clock ticks, summed over threads.
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def time_to_ready(cmd: list[str], port: int, cwd: str, env: dict[str, str]) -> Start:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**env, "HUB_DEMO_API_KEY": "hub_live_bench"})
    try:
        deadline = start + 60
        while time.perf_counter() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).status_code == 200:
                    return Start(time.perf_counter() - start, cpu_seconds(proc.pid))
            except requests.RequestException:
                pass
            time.sleep(0.02)
        raise RuntimeError("did not become ready in 60 s")
    finally:
        proc.terminate()
        proc.wait(10)


def hub_cmd(port: int) -> list[str]:
    return [sys.executable, "-m", "hub.cli", "demo", "--port", str(port)]


def base_cmd(port: int) -> list[str]:
    return [sys.executable, "-c", BASELINE, str(port)]


def compiled_copy(into: Path) -> None:
    """The hub's packages copied into INTO and compiled there, as `pip install` leaves them."""
    root = Path(__file__).resolve().parents[1]
    for package in PACKAGES:
        shutil.copytree(root / package, into / package, ignore=shutil.ignore_patterns("__pycache__"))
    if not compileall.compile_dir(into, quiet=1):
        raise RuntimeError("the hub's modules did not compile")


def child_env(code: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [env.get("PYTHONPATH")])])
    return env


def line(label: str, starts: list[Start], note: str = "") -> tuple[float, float]:
    wall, cpu = statistics.median(s.wall for s in starts), statistics.median(s.cpu for s in starts)
    print(f"{label:<22} → first 200: {wall * 1000:6.0f} ms wall, {cpu * 1000:5.0f} ms CPU {note}")
    return wall, cpu


def main(runs: int, cache_bytecode: bool) -> None:
    hub_starts: list[Start] = []
    restarts: list[Start] = []
    base_starts: list[Start] = []
    with tempfile.TemporaryDirectory() as code:
        if cache_bytecode:
            compiled_copy(Path(code))
        env = child_env(Path(code) if cache_bytecode else None)
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                for starts in (hub_starts, restarts):
                    port = free_port_pair()
                    starts.append(time_to_ready(hub_cmd(port), port, tmp, env))
                port = free_port_pair()
                base_starts.append(time_to_ready(base_cmd(port), port, tmp, env))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, {runs} runs, medians, "
          f"bytecode {'compiled once' if cache_bytecode else 'as the environment says'}")
    hub_wall, hub_cpu = line("hub demo, first start", hub_starts, "(fresh SQLite)")
    re_wall, re_cpu = line("hub demo, restart", restarts, "(instance/ kept)")
    base_wall, base_cpu = line("bare Flask app", base_starts)
    print(f"ratio hub/bare, wall: first start {hub_wall / base_wall:.2f}x, restart {re_wall / base_wall:.2f}x")
    print(f"ratio hub/bare, CPU:  first start {hub_cpu / base_cpu:.2f}x, restart {re_cpu / base_cpu:.2f}x")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 5, "--no-pyc" not in sys.argv[1:])
