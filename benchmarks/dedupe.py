"""Dedupe benchmark: `crmbook dedupe` on the big demo book against fastexcel reading that book.

    .venv/bin/python benchmarks/dedupe.py [--customers 100000] [--interactions 500000]

The target: dedupe (open the book, compare the customers, print every likely pair) finishes
within 2x the time fastexcel alone needs to read the book. Both run once, each in a fresh
process, timed from the outside as a user waits for them; the ratio of the two is the figure.
The matcher alone (customers already loaded) is timed too, with the number of pairs it finds.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from storage import build

CRMBOOK = Path(sys.executable).with_name("crmbook")
FASTEXCEL = """
import sys, fastexcel
excel = fastexcel.read_excel(sys.argv[1])
for name in excel.sheet_names:
    excel.load_sheet_by_name(name).to_pandas()
"""
MATCHER = """
import sys, time, crmbook
from crmbook.analytics.matching import CustomerMatcher
customers = crmbook.open(sys.argv[1]).customers.df
t = time.perf_counter()
pairs = CustomerMatcher(customers).duplicate_pairs()
print(f"{time.perf_counter() - t:.2f} {len(customers)} {len(pairs)}")
"""


def wall(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=500_000)
    args = parser.parse_args()
    path = build(args.customers, args.interactions)
    read, _ = wall([sys.executable, "-c", FASTEXCEL, str(path)])
    print(f"fastexcel reads every sheet            {read:7.1f} s", flush=True)
    dedupe, listed = wall([str(CRMBOOK), "dedupe", str(path), "--format", "csv"])
    pairs = listed.count("\n") - 1
    print(f"crmbook dedupe --format csv            {dedupe:7.1f} s ({pairs:,} pairs)", flush=True)
    _, matched = wall([sys.executable, "-c", MATCHER, str(path)])
    seconds, customers, found = matched.split()
    print(f"  of which the matcher, after loading  {float(seconds):7.1f} s", flush=True)
    print(f"\n{path.name}: {int(customers):,} customers, {int(found):,} likely pairs\n")
    print("| job | seconds |\n|---|---|")
    print(f"| fastexcel: read every sheet of the book | {read:.1f} |")
    print(f"| crmbook dedupe BOOK --format csv (open, match, print every pair) | {dedupe:.1f} |")
    print(f"| the matcher alone, customers loaded | {float(seconds):.1f} |")
    print(f"\ndedupe / fastexcel read = {dedupe / read:.2f} (target: at most 2)")


if __name__ == "__main__":
    main()
