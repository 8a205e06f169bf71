"""PostgreSQL benchmark: crmbook against plain pandas/SQLAlchemy, in one run, as ratios.

    .venv/bin/python benchmarks/postgres.py [--customers 100000] [--interactions 2000000]
        [--url postgresql://user@host/postgres] [--repeat 1] [--to-sql-method multi|executemany]

2 million interactions is beyond what an Excel sheet holds (1,048,575 rows below the header),
so this is the job only a database does. Without --url a throwaway PostgreSQL server is
started (tests/postgres_server.py; CRMBOOK_TEST_POSTGRES names an existing one instead) and
removed at the end. Two fresh databases are made on it: one loaded by crmbook (constrained
tables, every record validated, COPY), one by DataFrame.to_sql (no constraints).

Jobs, each crmbook against the plain way, each in a fresh process (seconds and peak memory,
VmHWM, of that process; the loads generate the demo data before the clock starts and reset
the peak then, so theirs is the frames plus what the load adds):

- load: the demo frames of every sheet into the fresh database
- open: every entity table as a DataFrame (crmbook: typed frames; plain: pd.read_sql_table)
- report: the source report and the reminders as the CLI computes them (same functions, so
  the difference is the loading)
- and, for reference, the CLI end to end: crmbook report sources / crmbook reminders.

Absolute times vary a lot on shared machines; the ratios measured in one run matter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # postgres_server.py

TODAY = dt.date(2026, 11, 23)  # the demo's "today", fixed so every run draws the same data
CRM_DB, PLAIN_DB = "crmbook_bench", "plain_bench"
SLICE = 100_000  # rows per to_sql call in the plain load (for its progress lines)

# Run first in every job's interpreter.
PRELUDE = """
import datetime as dt, json, re, sys, time
import pandas as pd

def progress(text):
    print(f"    {text}", file=sys.stderr, flush=True)

def demo():
    from crmbook.demo import generate_demo
    import gc
    progress(f"generating {CUSTOMERS:,} customers, {INTERACTIONS:,} interactions (not timed)")
    data = generate_demo(CUSTOMERS, INTERACTIONS, today=TODAY)
    gc.collect()
    with open("/proc/self/clear_refs", "w") as refs:  # peak memory from here: job + the frames
        refs.write("5")
    return data

def fingerprint(frame):
    # order-independent: crmbook reads in the order added, read_sql_table in the table's order
    import hashlib
    ids = "\\n".join(sorted(frame["id"].astype(str)))
    return {
        "rows": len(frame),
        "ids_sha256": hashlib.sha256(ids.encode()).hexdigest()[:16],
        "sum_when_s": int(frame["when"].astype("datetime64[s]").astype("int64").sum()),
        "next_dates": int(frame["next_date"].notna().sum()),
        "calls": int((frame["channel"] == "call").sum()),
    }

def analyse(frames, t):
    # the source report and the reminders on the loaded frames; the job's seconds since t
    from crmbook.analytics.reminders import reminders
    from crmbook.analytics.sources import source_effectiveness

    extra["load"] = time.perf_counter() - t
    ranked = source_effectiveness(frames, today=TODAY)
    found = reminders(frames, TODAY, 7)
    seconds = time.perf_counter() - t
    extra["analytics"] = seconds - extra["load"]
    extra["result"] = report_summary(ranked, found)
    return seconds

def report_summary(ranked, found):
    return {
        "sources": len(ranked),
        "revenue": round(float(ranked["revenue"].sum()), 2),
        "new_customers": int(ranked["new_customers"].sum()),
        "reminders": len(found),
    }

extra = {}
"""

REPORT_SHEETS = ("Customers", "Contacts", "Interactions", "Tasks", "Sales", "Sources")

# Each job sets `seconds` (and may fill `extra`); run_job adds the peak memory.
JOBS = {
    "crmbook load": """
import crmbook
from crmbook.storage.sql import create_database
data = demo()
t = time.perf_counter()
# as crmbook migrate makes a database: the foreign keys come at the end of the first save
storage = create_database(CRM_URL, crmbook.SCHEMA, bulk_load=True)
book = crmbook.Book(storage, user="benchmark")
book.set_list("owner", data.owners)
for sheet in crmbook.SCHEMA.reference_order():
    s = time.perf_counter()
    book.table(sheet.name).add_many(data.frames[sheet.name], keep_ids=True)
    extra[f"add_many {sheet.name}"] = time.perf_counter() - s
    progress(f"add_many {sheet.name}: {len(data.frames[sheet.name]):,} records "
             f"checked in {extra[f'add_many {sheet.name}']:.1f} s")

def copied(sheet, done, total):
    if done == total or done % 200_000 == 0:
        progress(f"save: {sheet} {done:,}/{total:,} at {time.perf_counter() - s:.1f} s")

book.storage.progress = copied
s = time.perf_counter()
book.save()
extra["save"] = time.perf_counter() - s
seconds = time.perf_counter() - t
""",
    "plain load": """
import sqlalchemy as sa
data = demo()
engine = sa.create_engine(PLAIN_URL)
method = None if TO_SQL_METHOD == "executemany" else TO_SQL_METHOD
t = time.perf_counter()
for name, frame in data.frames.items():
    # the frames have at most 21 columns: 1,000 rows stay below psycopg's 65,535 parameters
    for start in range(0, len(frame), SLICE):
        frame.iloc[start:start + SLICE].to_sql(
            name.lower(), engine, if_exists="append", index=False, method=method, chunksize=1000
        )
        done = min(start + SLICE, len(frame))
        if done == len(frame) or done % 200_000 == 0:
            progress(f"to_sql {name} {done:,}/{len(frame):,} at {time.perf_counter() - t:.1f} s")
seconds = time.perf_counter() - t
""",
    "crmbook open": """
import crmbook
t = time.perf_counter()
book = crmbook.open(CRM_URL)
frames = {s.name: book.table(s.name).df for s in crmbook.SCHEMA.entities}
seconds = time.perf_counter() - t
extra["interactions"] = fingerprint(frames["Interactions"])
""",
    "plain open": """
import crmbook, sqlalchemy as sa
engine = sa.create_engine(PLAIN_URL)
t = time.perf_counter()
with engine.connect() as conn:
    frames = {s.name: pd.read_sql_table(s.name.lower(), conn) for s in crmbook.SCHEMA.entities}
seconds = time.perf_counter() - t
extra["interactions"] = fingerprint(frames["Interactions"])
""",
    "crmbook report": """
import crmbook
t = time.perf_counter()
book = crmbook.open(CRM_URL)
frames = {name: book.table(name).df for name in REPORT_SHEETS}
seconds = analyse(frames, t)
""",
    "plain report": """
import sqlalchemy as sa
engine = sa.create_engine(PLAIN_URL)
t = time.perf_counter()
with engine.connect() as conn:
    frames = {name: pd.read_sql_table(name.lower(), conn) for name in REPORT_SHEETS}
seconds = analyse(frames, t)
""",
    "CLI: crmbook report sources --format csv": """
import resource, subprocess
t = time.perf_counter()
subprocess.run([CRMBOOK, "report", "sources", CRM_URL, "--format", "csv", "--today",
                str(TODAY)], check=True, stdout=subprocess.DEVNULL)
seconds = time.perf_counter() - t
child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
""",
    "CLI: crmbook reminders --format csv": """
import resource, subprocess
t = time.perf_counter()
subprocess.run([CRMBOOK, "reminders", CRM_URL, "--format", "csv", "--today", str(TODAY)],
               check=True, stdout=subprocess.DEVNULL)
seconds = time.perf_counter() - t
child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
""",
}

# (what, plain job, crmbook job)
PAIRS = [
    ("load all sheets into a fresh database", "plain load", "crmbook load"),
    ("open: every table as a DataFrame", "plain open", "crmbook open"),
    ("source report + reminders, from the database", "plain report", "crmbook report"),
]


def run_job(name: str, settings: dict) -> dict:
    """Run one job in a fresh interpreter; its progress goes to our stderr as it comes."""
    script = (
        "import datetime\n"  # for TODAY's repr
        + "".join(f"{k} = {v!r}\n" for k, v in settings.items())
        + PRELUDE
        + JOBS[name]
        # VmHWM is this process's own peak; for the CLI jobs the child's ru_maxrss.
        + "\nhwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())"
        "\npeak = globals().get('child_mb') or int(hwm.group(1)) / 1024"
        "\nprint(json.dumps({'seconds': seconds, 'peak_mb': peak, 'extra': extra}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    if out.returncode:
        raise SystemExit(f"the job {name!r} failed (exit status {out.returncode}); see above")
    return json.loads(out.stdout.strip().splitlines()[-1])


def fresh_database(base: str, name: str) -> str:
    from postgres_server import create_database, drop_database

    drop_database(base, name)
    return create_database(base, name)


def row_counts(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    import crmbook

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        counts = {
            s.name: conn.execute(sa.text(f'SELECT count(*) FROM "{s.name.lower()}"')).scalar()
            for s in crmbook.SCHEMA.entities
        }
    engine.dispose()
    return counts


def bench(base: str, args: argparse.Namespace) -> int:
    import sqlalchemy as sa
    from postgres_server import _with_database

    settings = {
        "CUSTOMERS": args.customers,
        "INTERACTIONS": args.interactions,
        "TODAY": TODAY,
        "TO_SQL_METHOD": args.to_sql_method,
        "SLICE": SLICE,
        "REPORT_SHEETS": REPORT_SHEETS,
        "CRMBOOK": str(Path(sys.executable).with_name("crmbook")),
        "CRM_URL": _with_database(base, CRM_DB),
        "PLAIN_URL": _with_database(base, PLAIN_DB),
    }
    engine = sa.create_engine(base)
    with engine.connect() as conn:
        version = conn.execute(sa.text("SHOW server_version")).scalar()
    engine.dispose()
    print(f"PostgreSQL {version}; {args.customers:,} customers, {args.interactions:,} interactions")
    results: dict[str, dict] = {}
    for name in JOBS:
        if args.only and not any(o in name for o in args.only):
            continue
        runs = []
        for attempt in range(args.repeat):
            if name == "crmbook load":
                fresh_database(base, CRM_DB)
            if name == "plain load":
                fresh_database(base, PLAIN_DB)
            print(f"{name} (run {attempt + 1} of {args.repeat}) ...", flush=True)
            runs.append(run_job(name, settings))
        results[name] = {
            "seconds": statistics.median(r["seconds"] for r in runs),
            "peak_mb": max(r["peak_mb"] for r in runs),
            "extra": runs[-1]["extra"],
        }
        r = results[name]
        print(f"  {name}: {r['seconds']:.1f} s, peak {r['peak_mb']:,.0f} MB", flush=True)
        steps = {k: v for k, v in r["extra"].items() if isinstance(v, float)}
        if steps:
            print("    " + ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()), flush=True)

    status = 0
    print()
    for label, db in (("crmbook", "CRM_URL"), ("plain", "PLAIN_URL")):
        if f"{label} load" in results:
            counts = row_counts(settings[db])
            print(
                f"rows in the {label} database: "
                + ", ".join(f"{k} {v:,}" for k, v in counts.items())
            )
            if counts["Interactions"] != args.interactions:
                print(
                    f"  MISMATCH: {counts['Interactions']:,} interactions, "
                    f"not {args.interactions:,}"
                )
                status = 1
    for what, plain, ours in (
        ("interactions frame", "plain open", "crmbook open"),
        ("report results", "plain report", "crmbook report"),
    ):
        if plain in results and ours in results:
            key = "interactions" if "open" in plain else "result"
            a, b = results[ours]["extra"][key], results[plain]["extra"][key]
            print(f"{what}: crmbook {a}\n{' ' * len(what)}  plain   {b}")
            print(f"  {'the same' if a == b else 'DIFFERENT'}")
            status |= a != b

    method = "method='multi'" if args.to_sql_method == "multi" else "executemany (method=None)"
    print(f"\nplain load: DataFrame.to_sql({method}, chunksize=1000)\n")
    print("| job | crmbook s | plain s | plain / crmbook | crmbook peak MB | plain peak MB |")
    print("|---|---|---|---|---|---|")
    for label, plain, ours in PAIRS:
        if plain in results and ours in results:
            p, c = results[plain], results[ours]
            print(
                f"| {label} | {c['seconds']:.1f} | {p['seconds']:.1f} | "
                f"**{p['seconds'] / c['seconds']:.2f}x** | "
                f"{c['peak_mb']:,.0f} | {p['peak_mb']:,.0f} |"
            )
    for name, r in results.items():
        if name.startswith("CLI"):
            print(f"| {name} (reference) | {r['seconds']:.1f} | | | {r['peak_mb']:,.0f} | |")
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=2_000_000)
    parser.add_argument(
        "--url",
        help="a PostgreSQL server's URL (its user may create databases); default: "
        "start a throwaway server",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per job (median is shown)")
    parser.add_argument(
        "--to-sql-method",
        choices=["multi", "executemany"],
        default="executemany",
        help="how the plain load inserts: DataFrame.to_sql(method='multi') or the default",
    )
    parser.add_argument(
        "--only",
        nargs="*",
        help="run only jobs whose name contains this (with --url --keep: "
        "the open and report jobs on the databases an earlier run loaded)",
    )
    parser.add_argument("--keep", action="store_true", help="with --url: keep the two databases")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.url:
        from postgres_server import _normalise_url

        base = _normalise_url(args.url)
        try:
            status = bench(base, args)
        finally:
            if not args.keep:
                from postgres_server import drop_database

                for name in (CRM_DB, PLAIN_DB):
                    drop_database(base, name)
    else:
        from postgres_server import temporary_server

        with temporary_server() as base:
            status = bench(base, args)
    print(f"\n(all in {time.perf_counter() - started:.0f} s)")
    return status


if __name__ == "__main__":
    sys.exit(main())
