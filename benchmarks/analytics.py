"""Time the analytics on a big demo book, after it is loaded (a script, not a test).

    .venv/bin/python benchmarks/analytics.py [/tmp/bench/big.xlsx]

Builds the book first when it is missing (100,000 customers, 500,000 interactions; a few
minutes). Each job runs three times on the loaded frames; the median is printed.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from _timing import load_frames, time_jobs

from crmbook.analytics.activity import activity_report
from crmbook.analytics.pipeline import board, forecast, pipeline_report
from crmbook.analytics.reminders import reminders
from crmbook.analytics.sources import source_effectiveness

DEFAULT = Path("/tmp/bench/big.xlsx")


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
    frames, loaded = load_frames(path)
    today = frames["Customers"]["created"].max().date()  # the day the demo was built
    jobs = {
        "reminders (7 days)": lambda: reminders(frames, today, 7),
        "source report": lambda: source_effectiveness(frames, today=today),
        "source report, one year": lambda: source_effectiveness(
            frames, today - dt.timedelta(days=365), today, today=today
        ),
        "activity report": lambda: activity_report(frames, today),
        "pipeline report": lambda: pipeline_report(frames, today),
        "forecast, 6 months": lambda: forecast(frames["Deals"], today),
        "pipeline board, 8 cards a column": lambda: board(
            frames["Deals"], frames["Customers"], today, per_stage=8
        ),
    }
    return time_jobs(path, frames, loaded, today, jobs)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
