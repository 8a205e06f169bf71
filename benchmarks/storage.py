"""Storage benchmark: crmbook against the plain openpyxl/pandas/fastexcel way, in one run.

    .venv/bin/python benchmarks/storage.py [--customers 100000] [--interactions 500000]
                                           [--repeat 1] [--only NAME ...] [--skip-openpyxl]

Builds the demo workbook once (benchmarks/data/), then runs every job in a fresh process and
reports seconds and the peak memory (VmHWM) of that process. The parse cache lives in
benchmarks/data/cache and is emptied before the first open, so the first open is a cold
one and the jobs after it find what it cached (as a person's second command does). The
command-line jobs are timed end to end (interpreter start, imports, open, output) against a
fastexcel read of every sheet, also in a process of its own. The add-and-save jobs also say
where their time went (open, add, save state, each part written). Absolute times vary a
lot on shared machines; the ratios measured in the same run are the figures that matter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
CACHE = DATA / "cache"
TODAY = dt.date(2026, 11, 23)

# Each in-process job prints {"seconds": ..., "peak_mb": ...} (and maybe "split").
SPLIT = """
import crmbook.io.writer as writer, crmbook.io.sheetpart as sheetpart
import crmbook.storage.workbook as workbook
split = {}
def timed(label, function):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            name = label(*args) if callable(label) else label
            split[name] = split.get(name, 0.0) + time.perf_counter() - started
    return wrapper
part = lambda self, out, source, info: info.filename.rsplit("/", 1)[-1]
for plan in (sheetpart._Appended, sheetpart._Streamed):
    plan.write = timed(part, plan.write)
for module, name, label in [
    (writer, "_copy_part", "parts copied as they are"),
    (writer, "_write_part", "small parts (tables...)"),
    (workbook.WorkbookStorage, "_record_generation", "save state (generation, for merges)"),
]:
    if hasattr(module, name):  # private helpers: timed while they exist
        setattr(module, name, timed(label, getattr(module, name)))
"""
ADD = """
book.interactions.add(customer_id="C-000001", when="2026-01-05 10:00", channel="call",
                      outcome="success", summary="benchmark call")
"""
OPEN_ALL = """
book = crmbook.open(PATH)
frames = {s.name: book.table(s.name).df for s in crmbook.SCHEMA.entities}
"""
OPEN_ADD_SAVE = f"""
import crmbook
{SPLIT}
t = time.perf_counter()
book = crmbook.open(COPY)
split["open"] = time.perf_counter() - t
a = time.perf_counter()
{ADD}
split["add (checks, ids)"] = time.perf_counter() - a
book.save(backups=0)
seconds = time.perf_counter() - t
"""
COLD = "crmbook open -> typed DataFrames (cold: nothing cached)"
JOBS = {
    COLD: f"""
import crmbook
t = time.perf_counter()
{OPEN_ALL}
seconds = time.perf_counter() - t
""",
    "crmbook re-open of the unchanged book (cached)": f"""
import crmbook
t = time.perf_counter()
{OPEN_ALL}
seconds = time.perf_counter() - t
""",
    "fastexcel: every sheet to pandas": """
import fastexcel
t = time.perf_counter()
reader = fastexcel.read_excel(PATH)
frames = {n: reader.load_sheet(n).to_pandas() for n in reader.sheet_names}
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
    "crmbook open + add one interaction + save": OPEN_ADD_SAVE,
    "crmbook open + add one interaction + save, --no-cache": 'os.environ["CRMBOOK_NO_CACHE"] = "1"'
    + OPEN_ADD_SAVE,
    "open session (every sheet loaded): add one interaction + save": f"""
import crmbook
{SPLIT}
book = crmbook.open(COPY)
frames = {{s.name: book.table(s.name).df for s in crmbook.SCHEMA.entities}}
split.clear()
t = time.perf_counter()
{ADD}
split["add (checks, ids)"] = time.perf_counter() - t
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
OPENPYXL = ("pandas.read_excel(engine=openpyxl)", "openpyxl load + append one row + save")

# End to end through a fresh process: (argv after the interpreter, where PATH is the book).
FLOOR = "fastexcel reads every sheet (a process of its own)"
COMMANDS = {
    FLOOR: [
        "-c",
        "import sys, fastexcel; r = fastexcel.read_excel(sys.argv[1]); "
        "[r.load_sheet(n).to_pandas() for n in r.sheet_names]",
        "PATH",
    ],
    "crmbook find BOOK 'Ivanov Sergey'": ["-m", "crmbook", "find", "PATH", "Ivanov Sergey"],
    "crmbook reminders BOOK --days 7": [
        "-m",
        "crmbook",
        "reminders",
        "PATH",
        "--days",
        "7",
        "--today",
        str(TODAY),
    ],
    "crmbook segment BOOK stage=loyal city=Berlin": [
        "-m",
        "crmbook",
        "segment",
        "PATH",
        "stage=loyal",
        "city=Berlin",
        "--today",
        str(TODAY),
    ],
    "crmbook report sources BOOK": [
        "-m",
        "crmbook",
        "report",
        "sources",
        "PATH",
        "--today",
        str(TODAY),
    ],
}
# Runs a command as its own process would, then reports that process's peak memory.
PEAK = """
import atexit, re, runpy, sys
def peak():
    hwm = re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())
    open(OUT, "w").write(str(int(hwm.group(1)) / 1024))
atexit.register(peak)
sys.argv = ARGV
if sys.argv[0] == "-c":
    sys.argv = ["-c", *sys.argv[2:]]
    exec(ARGV[1])
else:
    sys.argv = sys.argv[1:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def run_job(code: str, path: Path) -> dict:
    copy = path.with_name("copy-" + path.name)
    shutil.copyfile(path, copy)
    script = (
        "import time, json, re, os\n"
        f"PATH = {str(path)!r}\nCOPY = {str(copy)!r}\nsplit = {{}}\n"
        + code
        # VmHWM is this process's own peak; ru_maxrss would carry the parent's over exec.
        + "\nhwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())"
        "\nprint(json.dumps({'seconds': seconds, 'peak_mb': int(hwm.group(1)) / 1024,"
        " 'split': split}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    copy.unlink(missing_ok=True)
    if out.returncode:
        raise SystemExit(f"job failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_command(argv: list[str], path: Path) -> dict:
    argv = [str(path) if a == "PATH" else a for a in argv]
    with tempfile.NamedTemporaryFile("r", suffix=".peak") as peak:
        script = f"ARGV = {argv!r}\nOUT = {peak.name!r}\n" + PEAK
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", script],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "peak_mb": float(Path(peak.name).read_text() or 0)}


def build(customers: int, interactions: int) -> Path:
    """The demo book of this size in benchmarks/data, built when missing or older. The other
    benchmarks (merge, dedupe, import_contacts) take their book from here too. A killed
    build leaves no book behind (build_demo_book moves it in place only when complete)."""
    path = DATA / f"crm-{customers}-{interactions}.xlsx"
    if not path.exists() or _older_schema(path):
        DATA.mkdir(exist_ok=True)
        print(f"building {path.name} ...", flush=True)
        t = time.perf_counter()
        from crmbook.demo import build_demo_book

        build_demo_book(
            path, customers=customers, interactions=interactions, today=TODAY, overwrite=True
        ).close()
        print(f"  built in {time.perf_counter() - t:.0f} s, {path.stat().st_size / 1e6:.1f} MB")
    return path


def _older_schema(path: Path) -> bool:
    """Whether the book was built by a crmbook of an older schema (its first save would
    upgrade it, which is not what is measured): then it is built again."""
    import crmbook

    return crmbook.open(path).upgrade is not None


def ratio(results: dict, slow: str, fast: str) -> float | None:
    if slow in results and fast in results:
        return results[slow]["seconds"] / results[fast]["seconds"]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per job (median is shown)")
    parser.add_argument("--only", nargs="*", help="run only jobs whose name contains this")
    parser.add_argument(
        "--skip-openpyxl", action="store_true", help="leave out the two openpyxl jobs (minutes)"
    )
    args = parser.parse_args()
    os.environ["CRMBOOK_CACHE_DIR"] = str(CACHE)
    path = build(args.customers, args.interactions)
    shutil.rmtree(CACHE, ignore_errors=True)
    print(
        f"{path.name}: {path.stat().st_size / 1e6:.1f} MB; load average at start: "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}\n",
        flush=True,
    )
    results: dict[str, dict] = {}
    jobs = [(name, code, run_job) for name, code in JOBS.items()]
    jobs += [(name, argv, run_command) for name, argv in COMMANDS.items()]
    for name, what, runner in jobs:
        if args.only and not any(o in name for o in args.only):
            continue
        if args.skip_openpyxl and name in OPENPYXL:
            continue
        runs = []
        for _ in range(args.repeat):
            if name == COLD:  # every run of it starts with nothing cached, not the first alone
                shutil.rmtree(CACHE, ignore_errors=True)
            runs.append(runner(what, path))
        results[name] = {
            "seconds": statistics.median(r["seconds"] for r in runs),
            "peak_mb": max(r["peak_mb"] for r in runs),
            "split": runs[-1].get("split") or {},
        }
        print(
            f"{name:66s} {results[name]['seconds']:8.2f} s {results[name]['peak_mb']:7.0f} MB",
            flush=True,
        )
        for part, seconds in sorted(results[name]["split"].items(), key=lambda x: -x[1]):
            print(f"    {part:62s} {seconds:8.2f} s")
    print(f"\nload average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("\n| job | seconds | peak MB |\n|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['seconds']:.2f} | {r['peak_mb']:,.0f} |")
    cold, again = COLD, "crmbook re-open of the unchanged book (cached)"
    fastexcel, add = "fastexcel: every sheet to pandas", "crmbook open + add one interaction + save"
    session = "open session (every sheet loaded): add one interaction + save"
    checks = [
        ("open: pandas+openpyxl / crmbook (cold)", OPENPYXL[0], cold, ">= 20"),
        ("open: crmbook (cold) / fastexcel", cold, fastexcel, "<= 1.3"),
        ("re-open: fastexcel / crmbook (cached)", fastexcel, again, ">= 10"),
        ("add + save: openpyxl / crmbook", OPENPYXL[1], add, ">= 50"),
        ("add + save in an open session: openpyxl / crmbook", OPENPYXL[1], session, ">= 100"),
    ]
    checks += [
        (f"{name} / fastexcel's process", name, FLOOR, "< 0.5")
        for name in COMMANDS
        if name != FLOOR
    ]
    print("\n| comparison | ratio | aim |\n|---|---|---|")
    for label, slow, fast, aim in checks:
        value = ratio(results, slow, fast)
        if value is not None:
            print(f"| {label} | {value:.2f} | {aim} |")


if __name__ == "__main__":
    main()
