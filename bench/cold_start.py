"""Cold start: `hub demo` launched as a subprocess until it answers the README's first request,
against a baseline measured in the same run — a bare Flask app started the same way until its
first 200. Each run starts the demo twice in one directory: first start (fresh SQLite, every
migration runs) and restart (instance/ kept: the schema is at head, so alembic is not even
imported).

Two points per demo start: the first 200 on /readyz (polled), and then — sent at once — the
README's first request (`POST /v1/users/alice/connect-links`, provider google, with the demo's
key): "ready" is its first 201 (sent again once alice exists if it was 404: a demo that made its
users only after serving), and the first attempt's duration is the first request's latency (what was left for
the first user request to load is paid there, so it is reported beside the start).

Two figures per point: wall time, and the CPU time the process (all its threads) had used, read
from /proc. On a machine shared with other work the wall ratio swings with the load; the CPU
ratio much less, so both are printed from the same starts. `--callgrind` runs every start under
valgrind's callgrind instead and counts the instructions executed up to the README's answer
(`callgrind_control --dump` at that moment): the figure that load does not move (~50× slower,
so use few runs).

Bytecode: an installed hub has its .pyc files, as the baseline's Flask has; in an environment
with PYTHONDONTWRITEBYTECODE only the hub would compile its ~190 modules on every start. The
starts therefore run a copy of the hub's packages, compiled once, in a temporary directory
(the working tree gets no __pycache__); `--no-pyc` runs the working tree as it is.

Run: python -m bench.cold_start [runs] [--no-pyc] [--callgrind]
"""
from __future__ import annotations

import compileall
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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


KEY = "hub_live_bench"
README_REQUEST = ("/v1/users/alice/connect-links", {"provider": "google"})  # the README's first command


@dataclass
class Start:
    wall: float  # seconds from launch to the first 200 on /readyz
    cpu: float  # seconds of CPU (user + system, every thread) the process had used by then
    ready_wall: float = 0.0  # … to the README's first request answered (the baseline: = wall)
    ready_cpu: float = 0.0
    first_request: float = 0.0  # that request's own duration (the baseline: its second /readyz)
    instructions: float = 0.0  # with --callgrind: executed up to ready


def cpu_seconds(pid: int) -> float:
    # Fields 14 and 15 of /proc/PID/stat: utime and stime, in clock ticks, summed over threads.
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def callgrind_dump(pid: int, out_file: str) -> float:
    """Instructions the process (every thread) has executed so far, from a dump it writes now."""
    subprocess.run(["callgrind_control", "--dump=ready", str(pid)], check=True, capture_output=True, timeout=120)
    dumps = sorted(glob.glob(out_file + ".*"))
    for line in Path(dumps[0]).read_text().splitlines():
        if line.startswith("summary:"):
            return float(line.split()[1])
    raise RuntimeError(f"no summary in {dumps[0]}")


class Exited(RuntimeError):
    """The started process ended before it was ready: on a shared machine, most often because
    another process took its port between `free_port_pair` and its bind (under valgrind the
    window is tens of seconds); `start` tries again on other ports."""


def start(cmd: Callable[[int], list[str]], cwd: str, env: dict[str, str], readme: bool, callgrind: str | None) -> Start:
    for attempt in range(3):
        port = free_port_pair()
        try:
            return time_to_ready(cmd(port), port, cwd, env, readme, callgrind)
        except Exited as err:
            print(f"  start {attempt + 1}: {err}; again on other ports", file=sys.stderr)
            for f in glob.glob(f"{callgrind}*") if callgrind else ():
                os.remove(f)
    raise RuntimeError("three starts ended before they were ready")


def time_to_ready(cmd: list[str], port: int, cwd: str, env: dict[str, str], readme: bool,
                  callgrind: str | None = None) -> Start:
    if callgrind:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={callgrind}", *cmd]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**env, "HUB_DEMO_API_KEY": KEY})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = start + (600 if callgrind else 60)
        while time.perf_counter() < deadline:
            if proc.poll() is not None:
                raise Exited(f"exited with {proc.returncode} before it was ready")
            try:
                if requests.get(f"{base}/readyz", timeout=0.5 if not callgrind else 30).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.02)
        else:
            raise RuntimeError("did not become ready in time")
        got = Start(time.perf_counter() - start, cpu_seconds(proc.pid))
        sent = time.perf_counter()
        if readme:
            # Sent again until it succeeds: a demo that makes its users after it serves answers
            # 404 user_not_found at first (the first attempt's duration is the latency reported).
            # Between the two tries, alice is polled with a GET (under the API-wide rate limit,
            # not connect links' 60 a minute).
            path, body = README_REQUEST
            auth = {"Authorization": f"Bearer {KEY}"}
            resp = requests.post(base + path, json=body, headers=auth, timeout=600)
            got.first_request = time.perf_counter() - sent
            if resp.status_code == 404:
                while requests.get(f"{base}/v1/users/alice", headers=auth, timeout=600).status_code == 404:
                    if time.perf_counter() > deadline:
                        raise RuntimeError("the demo made no user alice")
                    time.sleep(0.05 if not callgrind else 0.5)
                resp = requests.post(base + path, json=body, headers=auth, timeout=600)
            if resp.status_code != 201:
                raise RuntimeError(f"the README's first request: {resp.status_code} {resp.text[:200]}")
        else:
            requests.get(f"{base}/readyz", timeout=600).raise_for_status()
            got.first_request = time.perf_counter() - sent
        done = time.perf_counter()
        got.ready_wall, got.ready_cpu = (done - start, cpu_seconds(proc.pid)) if readme else (got.wall, got.cpu)
        if proc.poll() is not None:  # what answered was another process on this port
            raise Exited(f"exited with {proc.returncode}; another process answered on port {port}")
        if callgrind:
            got.instructions = callgrind_dump(proc.pid, callgrind)
        return got
    finally:
        proc.terminate()
        proc.wait(30)


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


def median(starts: list[Start], field: str) -> float:
    return statistics.median(getattr(s, field) for s in starts)


def line(label: str, starts: list[Start], note: str = "") -> None:
    print(f"{label:<22} /readyz {median(starts, 'wall') * 1000:6.0f} ms wall {median(starts, 'cpu') * 1000:5.0f} ms CPU"
          f" | ready {median(starts, 'ready_wall') * 1000:6.0f} ms wall {median(starts, 'ready_cpu') * 1000:5.0f} ms CPU"
          f" | first request {median(starts, 'first_request') * 1000:5.1f} ms"
          + (f" | {median(starts, 'instructions') / 1e9:.2f} G instructions" if starts[0].instructions else "")
          + f" {note}")


def ratios(label: str, field: str, hub: list[Start], re: list[Start], base: list[Start], base_field: str) -> None:
    b = median(base, base_field)
    print(f"ratio hub/bare, {label:<22} first start {median(hub, field) / b:.2f}x, restart {median(re, field) / b:.2f}x")


def main(runs: int, cache_bytecode: bool, callgrind: bool) -> None:
    hub_starts: list[Start] = []
    restarts: list[Start] = []
    base_starts: list[Start] = []
    with tempfile.TemporaryDirectory() as code:
        if cache_bytecode:
            compiled_copy(Path(code))
        env = child_env(Path(code) if cache_bytecode else None)
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                for n, starts in enumerate((hub_starts, restarts)):
                    starts.append(start(hub_cmd, tmp, env, True, f"{code}/callgrind.hub{n}" if callgrind else None))
                    for f in glob.glob(f"{code}/callgrind.*"):
                        os.remove(f)
                base_starts.append(start(base_cmd, tmp, env, False, f"{code}/callgrind.base" if callgrind else None))
                for f in glob.glob(f"{code}/callgrind.*"):
                    os.remove(f)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, {runs} runs, medians, "
          f"bytecode {'compiled once' if cache_bytecode else 'as the environment says'}"
          f"{', under callgrind (wall and CPU are valgrind’s, not comparable)' if callgrind else ''}")
    print("ready: the demo's answer to the README's first request (alice's connect link); the bare app's first 200")
    line("hub demo, first start", hub_starts, "(fresh SQLite)")
    line("hub demo, restart", restarts, "(instance/ kept)")
    line("bare Flask app", base_starts)
    if callgrind:
        ratios("instructions to ready:", "instructions", hub_starts, restarts, base_starts, "instructions")
        return
    ratios("wall to ready:", "ready_wall", hub_starts, restarts, base_starts, "wall")
    ratios("CPU to ready:", "ready_cpu", hub_starts, restarts, base_starts, "cpu")
    ratios("wall to /readyz:", "wall", hub_starts, restarts, base_starts, "wall")
    ratios("CPU to /readyz:", "cpu", hub_starts, restarts, base_starts, "cpu")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 5, "--no-pyc" not in sys.argv[1:], "--callgrind" in sys.argv[1:])
