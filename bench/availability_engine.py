"""Benchmark of the availability engine against a bare sort and the brute-force oracle.

Run from the repository root:  python -m bench.availability_engine [--runs 21] [--oracle-runs 3]
                               python -m bench.availability_engine --instructions [--calls 5]

Scenarios (60-day window, 30-minute slots on a 15-minute grid, max_results high enough that
the engine never stops early, busy blocks 15-60 min, each participant's list sorted as a
provider returns it; participant i works in zone i mod 3 of Stockholm / London / New York,
Mon-Fri 09-17 or 08-12 + 13-16:30, i.e. six distinct schedules):
  (a)  10 required participants x 300 busy blocks inside their own working hours
  (a') the same 10 people, 2 required + 8 optional (so that there are slots to report)
  (b)  50 required participants x 1,000 busy blocks anywhere in the day
  (b') the same 50 people, 5 required + 45 optional
With ten or fifty people each busy half their day, (a) and (b) have no common free slot:
that is the expected answer, and the engine still does all the work to prove it.

Figures: median wall time of find_slots and of ``sorted()`` over the same busy blocks (the
concatenated per-participant lists, as the engine receives them), timed alternately in the
same run; eng/sorted is the median of the per-run ratios. Then the oracle's time and its
ratio to the engine, and a breakdown of the engine's two big parts. Working-hours expansions
and their intersection (and an optional person's merged working time) are memoised per
schedule and days (as in the hub, where a team asks again and again); "cold" is the engine
with those caches emptied before every run. GC is off while timing, as in
timeit. The oracle's answer is compared with the engine's as a sanity check.

``--instructions``: the same ratios in CPU instructions counted by valgrind's callgrind, which
are not disturbed by other processes on a shared machine. Each figure is the count of a
process making ``--calls`` + 1 calls minus that of one making 1 call (the warm-up, which also
fills the engine's memos), divided by ``--calls``; PYTHONHASHSEED is fixed so that the two
processes run the same code path.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from hub.availability import Participant, WorkingHours, find_slots, to_datetimes
from hub.availability.intervals import from_datetimes, merge_columns
from hub.availability.slots import _common_blocks, _working_columns
from hub.availability.working_hours import _expanded_days
from tests.oracle_availability import oracle_slots

WINDOW_START = datetime(2026, 3, 2, tzinfo=timezone.utc)  # spans Europe's and the US's DST change
WINDOW_DAYS = 60
ZONES = ("Europe/Stockholm", "Europe/London", "America/New_York")
SCHEDULES = (
    {"mon": [["09:00", "17:00"]], "tue": [["09:00", "17:00"]], "wed": [["09:00", "17:00"]],
     "thu": [["09:00", "17:00"]], "fri": [["09:00", "17:00"]]},
    {day: [["08:00", "12:00"], ["13:00", "16:30"]] for day in ("mon", "tue", "wed", "thu", "fri")},
)


@dataclass(frozen=True)
class Scenario:
    label: str
    participants: list[Participant]

    @property
    def busy(self) -> list[tuple[int, int]]:
        return [block for p in self.participants for block in p.busy]

    def with_optional(self, label: str, required: int) -> Scenario:
        people = [p if i < required else replace(p, optional=True) for i, p in enumerate(self.participants)]
        return Scenario(label, people)

    def kwargs(self) -> dict[str, Any]:
        return dict(
            start=WINDOW_START,
            end=WINDOW_START + timedelta(days=WINDOW_DAYS),
            participants=self.participants,
            duration_minutes=30,
            interval_minutes=15,
            now=WINDOW_START,
            max_results=100_000,
        )


def build(label: str, people: int, blocks: int, *, in_hours: bool, seed: int) -> Scenario:
    rng = random.Random(seed)
    start = int(WINDOW_START.timestamp())
    end = start + WINDOW_DAYS * 86400
    participants = []
    for i in range(people):
        hours = WorkingHours.from_dict({"timezone": ZONES[i % 3], "weekly": SCHEDULES[i // 3 % 2]})
        spans = hours.expand(start, end) if in_hours else [(start, end, start)]
        busy = []
        for _ in range(blocks):
            span_start, span_end, _ = rng.choice(spans)
            first = rng.randrange(span_start, span_end - 900, 900)
            busy.append((first, min(span_end, first + 60 * rng.choice((15, 30, 45, 60)))))
        busy.sort()
        participants.append(Participant(f"user{i}", hours, busy))
    return Scenario(label, participants)


def paired_ms(action: Callable[[], object], baseline: Callable[[], object], runs: int) -> tuple[float, float, float]:
    """Median ms of ``action`` and of ``baseline`` timed alternately, and the median of the
    per-run ratios: alternating makes both see the same machine load (other processes)."""
    pairs = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(runs):
            began = time.perf_counter()
            action()
            middle = time.perf_counter()
            baseline()
            pairs.append((middle - began, time.perf_counter() - middle))
    finally:
        gc.enable()
    return (
        statistics.median(a for a, _ in pairs) * 1000,
        statistics.median(b for _, b in pairs) * 1000,
        statistics.median(a / b for a, b in pairs),
    )


def median_ms(action: Callable[[], object], runs: int) -> float:
    samples = []
    gc.collect()
    gc.disable()
    try:
        for _ in range(runs):
            began = time.perf_counter()
            action()
            samples.append(time.perf_counter() - began)
    finally:
        gc.enable()
    return statistics.median(samples) * 1000


def measure(scenario: Scenario, runs: int, oracle_runs: int) -> dict[str, Any]:
    kwargs = scenario.kwargs()
    busy = scenario.busy
    as_datetimes = to_datetimes(busy)
    schedules = list(dict.fromkeys(p.working_hours for p in scenario.participants if p.working_hours))
    window = (int(kwargs["start"].timestamp()), int(kwargs["end"].timestamp()))
    found = find_slots(**kwargs)
    engine, baseline, ratio = paired_ms(lambda: find_slots(**kwargs), lambda: sorted(busy), runs)

    def cold() -> object:
        _expanded_days.cache_clear()
        _common_blocks.cache_clear()
        _working_columns.cache_clear()
        return find_slots(**kwargs)

    cold_ms, _, cold_ratio = paired_ms(cold, lambda: sorted(busy), runs)
    row: dict[str, Any] = {
        "label": scenario.label,
        "busy": len(busy),
        "slots": len(found),
        "engine": engine,
        "sorted": baseline,
        "ratio": ratio,
        "cold": cold_ms,
        "cold_ratio": cold_ratio,
        "convert": median_ms(lambda: from_datetimes(as_datetimes), max(3, runs // 4)),
        "schedules": len(schedules),
        "expand": median_ms(lambda: [hours.expand(window[0], window[1]) for hours in schedules], runs),
        "merge": median_ms(lambda: merge_columns(busy), runs),
    }
    if oracle_runs:
        expected = oracle_slots(**kwargs)
        offered = [(int(s.start.timestamp()), int(s.end.timestamp()), tuple(s.optional_available)) for s in found]
        row["agrees"] = offered == expected
        row["oracle"] = median_ms(lambda: oracle_slots(**kwargs), oracle_runs)
    return row


def scenarios(only: int | None = None) -> list[Scenario]:
    """The four scenarios, or (``only``) a list holding just that one, built alone."""
    found = []
    if only is None or only < 2:
        small = build("(a)  10 x 300, in hours", 10, 300, in_hours=True, seed=1)
        found += [small, small.with_optional("(a') 2 req + 8 optional", 2)]
    if only is None or only >= 2:
        wide = build("(b)  50 x 1000, any time", 50, 1000, in_hours=False, seed=2)
        found += [wide, wide.with_optional("(b') 5 req + 45 optional", 5)]
    return found if only is None else [found[only % 2]]


def run_calls(index: int, action: str, calls: int) -> None:
    """The measured process of --instructions: one warm-up call, then ``calls`` more."""
    scenario = scenarios(index)[0]
    kwargs, busy = scenario.kwargs(), scenario.busy
    call = (lambda: find_slots(**kwargs)) if action == "engine" else (lambda: sorted(busy))
    for _ in range(calls + 1):
        call()


def instructions(index: int, action: str, calls: int) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, "-m", "bench.availability_engine", "--run-calls", str(index), action, str(calls)]
    done = subprocess.run(command, capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONHASHSEED": "0"})
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_call(index: int, action: str, calls: int) -> float:
    return (instructions(index, action, calls) - instructions(index, action, 0)) / calls


def report_instructions(calls: int, only: list[int]) -> None:
    print(f"availability engine, Python {platform.python_version()}, {WINDOW_DAYS} days, 15-min grid, "
          f"instructions per call (callgrind, {calls} calls after a warm-up)")
    print(f"{'scenario':28} {'engine':>12} {'sorted':>12} {'eng/sorted':>10}")
    for index, scenario in enumerate(scenarios()):
        if only and index not in only:
            continue
        engine, baseline = per_call(index, "engine", calls), per_call(index, "sorted", calls)
        print(f"{scenario.label:28} {engine:12,.0f} {baseline:12,.0f} {engine / baseline:9.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21, help="timed runs of the engine and sorted()")
    parser.add_argument("--oracle-runs", type=int, default=3, help="timed oracle runs (0: skip the oracle)")
    parser.add_argument("--instructions", action="store_true", help="count instructions with callgrind instead")
    parser.add_argument("--calls", type=int, default=5, help="calls counted per figure with --instructions")
    parser.add_argument("--only", type=int, nargs="*", default=[], help="scenario numbers (0-3) with --instructions")
    parser.add_argument("--run-calls", nargs=3, metavar=("SCENARIO", "ACTION", "CALLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_calls:
        index, action, calls = args.run_calls
        run_calls(int(index), action, int(calls))
        return
    if args.instructions:
        report_instructions(args.calls, args.only)
        return

    print(f"availability engine, Python {platform.python_version()}, {WINDOW_DAYS} days, 15-min grid, "
          f"median of {args.runs} runs (oracle: {args.oracle_runs}), load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    header = f"{'scenario':28} {'busy':>6} {'slots':>6} {'engine ms':>10} {'sorted ms':>10} {'eng/sorted':>10}"
    header += f" {'oracle ms':>10} {'oracle/eng':>10} {'agrees':>6}" if args.oracle_runs else ""
    print(header)
    for scenario in scenarios():
        row = measure(scenario, args.runs, args.oracle_runs)
        line = (f"{row['label']:28} {row['busy']:6d} {row['slots']:6d} {row['engine']:10.2f} "
                f"{row['sorted']:10.2f} {row['ratio']:9.2f}x")
        if args.oracle_runs:
            line += f" {row['oracle']:10.0f} {row['oracle'] / row['engine']:9.0f}x {str(row['agrees']):>6}"
        print(line)
        print(f"{'':28} cold caches: engine {row['cold']:.2f} ms, {row['cold_ratio']:.2f}x sorted")
        print(f"{'':28} parts: expanding {row['schedules']} schedules {row['expand']:.2f} ms, merging all "
              f"busy {row['merge']:.2f} ms; from_datetimes() of the busy blocks {row['convert']:.2f} ms")


if __name__ == "__main__":
    main()
