"""Shared by the analytics benchmarks: load a book once, then time jobs on its frames."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import crmbook

LIMIT = 1.0  # seconds a job may take after load


def load_frames(path: Path) -> tuple[dict, float]:
    """Every entity sheet as a typed frame, and the seconds loading took."""
    started = time.perf_counter()
    book = crmbook.open(path)
    frames = {sheet.name: book.table(sheet.name).df for sheet in crmbook.SCHEMA.entities}
    return frames, time.perf_counter() - started


def time_jobs(path: Path, frames: dict, loaded: float, today, jobs: dict[str, Callable]) -> int:
    """Print the median of 3 runs of each job; exit status 1 if one is over LIMIT."""
    sizes = ", ".join(f"{len(frame):,} {name.lower()}" for name, frame in frames.items())
    print(f"{path}: {sizes}")
    print(f"loaded in {loaded:.1f} s; today = {today}")
    width = max(len(name) for name in jobs) + 2
    print(f"{'job':<{width}} {'median of 3':>12}")
    slow = []
    for name, job in jobs.items():
        times = []
        for _ in range(3):
            t = time.perf_counter()
            job()
            times.append(time.perf_counter() - t)
        median = statistics.median(times)
        print(f"{name:<{width}} {median * 1000:>9.0f} ms")
        if median >= LIMIT:
            slow.append(name)
    if slow:
        print(f"over {LIMIT:.0f} s: {', '.join(slow)}")
    return 1 if slow else 0
