"""Counting CPU instructions with valgrind's callgrind: figures that other processes on a shared
machine do not move (wall time and utime+stime move ±15% between identical runs on 2 cores).

A process started under `command(out_dir)` is counted; `dump(pid, label)` asks callgrind to write
that process's counters since its previous dump (and start again from zero), so a dump before
and a dump after N requests hold exactly those N requests' instructions — every thread of the
process included. `counts(out_dir)` reads each dump's total back by its label.
"""
from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def command(out_dir: str, forked: bool = False) -> list[str]:
    """The valgrind prefix of a counted command. `forked`: the counted process is a fork of the
    one started (a gunicorn worker): valgrind runs its gdbserver — what `callgrind_control`
    talks to — in a forked child only when children are traced (gunicorn forks, never execs).
    Off otherwise: a process that dumps itself runs `callgrind_control`, which must not be
    traced in turn."""
    return ["valgrind", "--tool=callgrind", f"--trace-children={'yes' if forked else 'no'}",
            f"--callgrind-out-file={out_dir}/cg.%p"]


def dump(pid: int, label: str) -> None:
    """Ask callgrind in `pid` to write its counters since the last dump, as dump `label` (one
    word). valgrind's gdbserver wakes the process if it waits in a system call; the waking
    costs the process no counted instructions worth speaking of (~0.4 M in a Python process that
    dumps itself, spread over the N requests)."""
    subprocess.run(["callgrind_control", f"--dump={label}", str(pid)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)


def counts(out_dir: str) -> dict[str, int]:
    """label → instructions of each labelled dump written under `out_dir` (read once the counted
    processes have ended; a process's end-of-run file has no label and is left out)."""
    figures: dict[str, int] = {}
    for path in glob.glob(f"{out_dir}/cg.*"):
        text = Path(path).read_text(errors="replace")
        label = re.search(r"^desc: Trigger: dump (\S+)$", text, re.MULTILINE)
        total = re.search(r"^summary: (\d+)$", text, re.MULTILINE)
        if label and total:
            figures[label.group(1)] = int(total.group(1))
    return figures


def per_call(figures: dict[str, int], n: int) -> dict[str, float]:
    """label → instructions per call of each `after-<label>` dump among `figures` (`counts`'
    answer), for series that dump `before-<label>`, make n calls, then dump `after-<label>`."""
    return {label.removeprefix("after-"): total / n for label, total in figures.items() if label.startswith("after-")}


def measured_in_tree(script: Path, tree: Path, n: int, args: list[str], env: dict[str, str] | None = None
                     ) -> dict[str, float]:
    """Runs `script --measured n *args` under callgrind with `tree`'s source first on the path
    (a baseline checkout measured by this tree's script, in the same invocation) and answers
    `per_call` of its dumps. Its stderr is shown when it fails or says a series was not measured."""
    run_env = {**os.environ, **(env or {}), "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    with tempfile.TemporaryDirectory() as out_dir:  # callgrind's files, a few MB a run
        run = subprocess.run([*command(out_dir), sys.executable, str(script), "--measured", str(n), *args],
                             cwd=tree, env=run_env, capture_output=True, text=True)
        if run.returncode != 0 or "not measured" in run.stderr:
            print(run.stderr[-4000:], file=sys.stderr)
        return per_call(counts(out_dir), n)
