"""Storage benchmark: crmbook against the plain openpyxl/pandas way, in one run, as ratios.

    .venv/bin/python benchmarks/storage.py [--customers 100000] [--interactions 500000] [--repeat 1]

Builds the demo workbook once (benchmarks/data/), then runs every job in a fresh process and
reports seconds and peak memory (VmHWM) of that process. Absolute times vary a lot on
shared machines; the ratios measured in the same run are the figures that matter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

# Each job runs in its own interpreter; it prints {"seconds": ..., "peak_mb": ...}.
JOBS = {
    "crmbook open -> typed DataFrames": """
import crmbook
t = time.perf_counter()
book = crmbook.open(PATH)
frames = {s.name: book.table(s.name).df for s in crmbook.SCHEMA.entities}
seconds = time.perf_counter() - t
""",
    "pandas.read_excel(engine=openpyxl)": """
import pandas as pd
t = time.perf_counter()
frames = pd.read_excel(PATH, sheet_name=None, engine="openpyxl")
seconds = time.perf_counter() - t
""",
    "pandas.read_excel(engine=calamine)": """
import pandas as pd
t = time.perf_counter()
frames = pd.read_excel(PATH, sheet_name=None, engine="calamine")
seconds = time.perf_counter() - t
""",
    "crmbook open + add one interaction + save": """
import crmbook
t = time.perf_counter()
book = crmbook.open(COPY)
book.interactions.add(customer_id="C-000001", when="2026-01-05 10:00", channel="call",
                      outcome="success", summary="benchmark call")
book.save(backups=0)
seconds = time.perf_counter() - t
""",
    "openpyxl load + append one row + save": """
import openpyxl, datetime
t = time.perf_counter()
wb = openpyxl.load_workbook(COPY)
ws = wb["Interactions"]
ws.append(["I-999999", "C-000001", datetime.datetime(2026, 1, 5, 10), "call", None,
           "success", None, "benchmark call"])
wb.save(COPY)
seconds = time.perf_counter() - t
""",
}

PAIRS = [
    (
        "open to DataFrames",
        "pandas.read_excel(engine=openpyxl)",
        "crmbook open -> typed DataFrames",
    ),
    (
        "add one record and save",
        "openpyxl load + append one row + save",
        "crmbook open + add one interaction + save",
    ),
]


def run_job(code: str, path: Path) -> dict:
    copy = path.with_name("copy-" + path.name)
    shutil.copyfile(path, copy)
    script = (
        "import time, json, re\n"
        f"PATH = {str(path)!r}\nCOPY = {str(copy)!r}\n"
        + code
        # VmHWM is this process's own peak; ru_maxrss would carry the parent's over exec.
        + "\nhwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())"
        "\nprint(json.dumps({'seconds': seconds, 'peak_mb': int(hwm.group(1)) / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    copy.unlink(missing_ok=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def build(customers: int, interactions: int) -> Path:
    path = DATA / f"crm-{customers}-{interactions}.xlsx"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        print(f"building {path.name} ...", flush=True)
        t = time.perf_counter()
        from crmbook.demo import build_demo_book

        build_demo_book(
            path,
            customers=customers,
            interactions=interactions,
            today=dt.date(2026, 11, 23),
            overwrite=True,
        )
        print(f"  built in {time.perf_counter() - t:.0f} s, {path.stat().st_size / 1e6:.1f} MB")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per job (median is shown)")
    parser.add_argument("--only", nargs="*", help="run only jobs whose name contains this")
    args = parser.parse_args()
    path = build(args.customers, args.interactions)
    results: dict[str, dict] = {}
    for name, code in JOBS.items():
        if args.only and not any(o in name for o in args.only):
            continue
        runs = [run_job(code, path) for _ in range(args.repeat)]
        results[name] = {
            "seconds": statistics.median(r["seconds"] for r in runs),
            "peak_mb": max(r["peak_mb"] for r in runs),
        }
        print(
            f"{name:45s} {results[name]['seconds']:8.1f} s {results[name]['peak_mb']:8.0f} MB",
            flush=True,
        )
    print(f"\n{path.name}: {path.stat().st_size / 1e6:.1f} MB\n")
    print("| job | seconds | peak MB |\n|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['seconds']:.1f} | {r['peak_mb']:,.0f} |")
    print("\n| comparison | crmbook is faster by |\n|---|---|")
    for label, baseline, ours in PAIRS:
        if baseline in results and ours in results:
            ratio = results[baseline]["seconds"] / results[ours]["seconds"]
            print(f"| {label} | {ratio:.1f}x |")


if __name__ == "__main__":
    main()
