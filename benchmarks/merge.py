"""Save state and merge benchmark: the state's share of the file, what a save that adds one
record writes of it, and `crmbook merge` of two edited copies against fastexcel reading both.

    .venv/bin/python benchmarks/merge.py [--customers N] [--interactions N] [--changes 300]

Uses the demo workbook of benchmarks/storage.py (built once in benchmarks/data/). First the
compressed size of the two state sheets against the file; then a copy gets one interaction
added and saved through crmbook: the rows and bytes that save added to the state. Then it makes two
copies and changes each through crmbook (not timed): on each side `--changes` customers
updated (a tenth of them the same customers' city on both sides, so there are conflicts), a
third as many customers and interactions added, a tenth as many tasks deleted. Then, each in a
fresh process: fastexcel reads every sheet of both copies into pandas (the floor: a merge must
read both), and `crmbook merge MINE THEIRS --out MERGED` runs end to end (open both, find the
newest save they share, plan, apply, save the result) with an empty parse cache of its own
(benchmarks/data/cache), as when THEIRS arrives by email and MINE was not opened since its
last save. Prints seconds, the ratio and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from storage import CACHE, DATA, build

READ_BOTH = """
import fastexcel
t = time.perf_counter()
for path in (MINE, THEIRS):
    reader = fastexcel.read_excel(path)
    frames = {n: reader.load_sheet_by_name(n).to_pandas() for n in reader.sheet_names}
seconds = time.perf_counter() - t
"""

MERGE = """
import subprocess, sys
t = time.perf_counter()
done = subprocess.run([sys.executable, "-m", "crmbook", "merge", MINE, THEIRS, "--out", OUT,
                       "--format", "json"], capture_output=True, text=True)
seconds = time.perf_counter() - t
report = json.loads(done.stdout)
print(json.dumps({"conflicts": len(report["conflicts"])}))
"""


def edit(path: Path, side: str, changes: int) -> None:
    """`changes` updates, a third as many adds, a tenth as many deletions, through crmbook."""
    import crmbook

    book = crmbook.open(path, user=side)
    customers = book.customers.df["id"].tolist()
    same = customers[: changes // 10]  # both sides change these customers' city
    own = customers[100 + (0 if side == "mine" else changes) :][:changes]
    updates = {key: {"city": f"{side} city"} for key in same}
    updates |= {key: {"phone": f"+49 30 {n:07d}", "stage": "customer"} for n, key in enumerate(own)}
    book.customers.update_many(updates)
    new = book.customers.add_many([{"name": f"{side} new {n}"} for n in range(changes // 3)])
    book.interactions.add_many(
        [
            {"customer_id": key, "when": "2026-11-30 10:00", "channel": "call"}
            for key in [*new, *own][: changes // 3]
        ]
    )
    tasks = book.tasks.df["id"].tolist()
    start = 0 if side == "mine" else changes
    book.tasks.delete_many(tasks[start : start + changes // 10])
    book.save(backups=0)


STATE_SHEETS = ("_crmbook_base", "_crmbook_saves")


def state_parts(path: Path) -> dict[str, zipfile.ZipInfo]:
    """The zip entries of the two state sheets (the parts crmbook wrote them to)."""
    from crmbook.io.package import Package

    with Package(path) as pkg:
        parts = {name: pkg.sheets[name].part for name in STATE_SHEETS}
    with zipfile.ZipFile(path) as z:
        return {name: z.getinfo(part) for name, part in parts.items()}


def state_rows(path: Path) -> int:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    rows = sum(1 for _ in wb["_crmbook_saves"].iter_rows(min_row=2))
    wb.close()
    return rows


def state_figures(book: Path) -> None:
    """The state's share of the file, and what adding one record and saving adds to it."""
    import crmbook

    parts = state_parts(book)
    state = sum(info.compress_size for info in parts.values())
    size = book.stat().st_size
    print(f"file {size / 1e6:.1f} MB, save state {state / 1e6:.2f} MB = {state / size:.1%}")
    copy = DATA / f"merge-one-{book.name}"
    shutil.copyfile(book, copy)
    rows_before = state_rows(copy)
    added = crmbook.open(copy, user="bench")
    added.interactions.add(customer_id="C-000001", when="2026-11-30 10:00", channel="call")
    added.save(backups=0)
    after = state_parts(copy)
    same_base = (after["_crmbook_base"].CRC, after["_crmbook_base"].compress_size) == (
        parts["_crmbook_base"].CRC,
        parts["_crmbook_base"].compress_size,
    )
    saves = after["_crmbook_saves"]
    print(
        f"add one interaction + save: {state_rows(copy) - rows_before} rows added to "
        f"_crmbook_saves (now {saves.file_size:,} bytes of XML, {saves.compress_size:,} "
        f"compressed); _crmbook_base {'copied unchanged' if same_base else 'REWRITTEN'}"
    )
    copy.unlink()


def run(code: str, **paths: Path) -> dict:
    script = (
        "import time, json\n"
        + "".join(f"{k.upper()} = {str(v)!r}\n" for k, v in paths.items())
        + code
        + "\nprint(json.dumps({'seconds': seconds}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    result = {}
    for line in out.stdout.strip().splitlines():
        result |= json.loads(line)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=500_000)
    parser.add_argument("--changes", type=int, default=300, help="customers changed per side")
    parser.add_argument("--keep", action="store_true", help="keep the copies (and reuse them)")
    args = parser.parse_args()
    book = build(args.customers, args.interactions)
    print(f"load average at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    state_figures(book)
    mine = DATA / f"merge-mine-{book.name}"
    theirs = DATA / f"merge-theirs-{book.name}"
    out = DATA / f"merge-result-{book.name}"
    t = time.perf_counter()
    for side, path in (("mine", mine), ("theirs", theirs)):
        if not (args.keep and path.exists()):
            shutil.copyfile(book, path)
            edit(path, side, args.changes)
    print(f"two copies edited in {time.perf_counter() - t:.0f} s", flush=True)
    floor = run(READ_BOTH, mine=mine, theirs=theirs)
    print(f"fastexcel reads both copies      {floor['seconds']:7.1f} s", flush=True)
    out.unlink(missing_ok=True)
    os.environ["CRMBOOK_CACHE_DIR"] = str(CACHE)
    shutil.rmtree(CACHE, ignore_errors=True)  # cold: nothing of either copy parsed before
    merged = run(MERGE, mine=mine, theirs=theirs, out=out)
    print(f"crmbook merge (CLI, end to end)  {merged['seconds']:7.1f} s", flush=True)
    print(f"conflicts: {merged['conflicts']}")
    print(f"\nmerge / fastexcel read of both: {merged['seconds'] / floor['seconds']:.2f}x")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for path in (out,) if args.keep else (mine, theirs, out):
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
