"""Time the analytics on a big demo book, after it is loaded (a script, not a test).

    .venv/bin/python benchmarks/analytics.py [/tmp/bench/big.xlsx]

Builds the book first when it is missing (100,000 customers, 500,000 interactions; a few
minutes). Each job runs three times on the loaded frames; the median is printed.
"""

from __future__ import annotations

import datetime as dt
import statistics
import subprocess
import sys
import time
from pathlib import Path

import crmbook
from crmbook.analytics.activity import activity_report
from crmbook.analytics.pipeline import pipeline_report
from crmbook.analytics.reminders import reminders
from crmbook.analytics.sources import source_effectiveness

DEFAULT = Path("/tmp/bench/big.xlsx")
SHEETS = ("Customers", "Contacts", "Interactions", "Deals", "Sales", "Tasks", "Sources")
LIMIT = 1.0  # seconds


def main(path: Path = DEFAULT) -> int:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "crmbook",
                "demo",
                str(path),
                "--customers",
                "100000",
                "--interactions",
                "500000",
            ],
            check=True,
        )
    started = time.perf_counter()
    book = crmbook.open(path)
    frames = {name: book.table(name).df for name in SHEETS}
    loaded = time.perf_counter() - started
    today = frames["Customers"]["created"].max().date()  # the day the demo was built
    jobs = {
        "reminders (7 days)": lambda: reminders(frames, today, 7),
        "source report": lambda: source_effectiveness(frames, today=today),
        "source report, one year": lambda: source_effectiveness(
            frames, today - dt.timedelta(days=365), today, today=today
        ),
        "activity report": lambda: activity_report(frames, today),
        "pipeline report": lambda: pipeline_report(frames),
    }
    sizes = ", ".join(f"{len(frames[n]):,} {n.lower()}" for n in SHEETS)
    print(f"{path}: {sizes}")
    print(f"loaded in {loaded:.1f} s; today = {today}")
    print(f"{'job':<26} {'median of 3':>12}")
    slow = []
    for name, job in jobs.items():
        times = []
        for _ in range(3):
            t = time.perf_counter()
            job()
            times.append(time.perf_counter() - t)
        median = statistics.median(times)
        print(f"{name:<26} {median * 1000:>9.0f} ms")
        if median >= LIMIT:
            slow.append(name)
    if slow:
        print(f"over {LIMIT:.0f} s: {', '.join(slow)}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
