"""Importing contacts at scale: 20,000 Google Contacts into the 100,000-customer book (a script).

    .venv/bin/python benchmarks/import_contacts.py [BOOK] [--contacts 20000] [--known 0.5]

Imports into BOOK, by default the demo book of benchmarks/storage.py (100,000 customers,
500,000 interactions, built once in benchmarks/data by its build()). First it writes a Google
Contacts CSV the way Google writes it (the current layout, every column of
tests/files/google-contacts.csv): a share of the contacts (--known, half by default) are
customers of the book (their name, company, email and phone as the book has them, a new city),
the others are new people. Then, in one run, each job a fresh process:

- fastexcel reads every sheet of the book (the floor for anything that opens it);
- pandas.read_excel(engine="openpyxl") reads the Customers sheet and pandas reads the CSV: the
  plain way to only *look* at both, before matching or writing anything;
- `crmbook import BOOK contacts.csv --yes` end to end (on a fresh copy of the book): reads,
  recognises the format, checks every row, matches every contact against the customers,
  updates the matched ones, adds the new ones and saves.

Then, in this process on another fresh copy, the import's steps one by one, so the figures say
where the time goes.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from storage import CACHE, build

GOOGLE_HEADER = Path(__file__).parent.parent / "tests" / "files" / "google-contacts.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("book", nargs="?", type=Path, help="default: storage.py's demo book")
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--known", type=float, default=0.5, help="share of book customers")
    args = parser.parse_args()
    os.environ["CRMBOOK_CACHE_DIR"] = str(CACHE)  # as storage.py: not the user's cache
    book: Path = args.book or build(100_000, 500_000)
    contacts = book.parent / f"google-contacts-{args.contacts}.csv"
    known = write_google_csv(book, contacts, args.contacts, args.known)
    print(
        f"{book} ({book.stat().st_size / 1e6:.1f} MB); {contacts.name}: {args.contacts:,} "
        f"contacts, {known:,} of them customers of the book"
    )
    work = book.parent / f"import-work{book.suffix}"
    floor = _seconds([sys.executable, "-c", _FASTEXCEL, str(book)])
    plain = _seconds([sys.executable, "-c", _PANDAS_OPENPYXL, str(book), str(contacts)])
    shutil.copyfile(book, work)
    took = _seconds([sys.executable, "-m", "crmbook", "import", str(work), str(contacts), "--yes"])
    print(f"  {'fastexcel reads every sheet (the floor)':<56} {floor:7.1f} s")
    print(f"  {'pandas.read_excel(openpyxl) Customers + read_csv':<56} {plain:7.1f} s")
    print(f"  {'crmbook import BOOK contacts.csv --yes':<56} {took:7.1f} s")
    print(
        f"  import vs fastexcel's read: {took / floor:.2f}x; "
        f"pandas+openpyxl only reading vs import: {plain / took:.2f}x"
    )
    shutil.copyfile(book, work)
    steps(work, contacts)
    work.unlink()


def steps(book: Path, contacts: Path) -> None:
    """The import's steps in one process, each timed (what the progress bar shows)."""
    import crmbook
    from crmbook.sharing.importer import apply_import, plan_import
    from crmbook.sharing.sources import open_source, prepare

    started = time.perf_counter()

    def lap(label: str) -> None:
        nonlocal started
        now = time.perf_counter()
        print(f"    {label:<54} {now - started:7.1f} s")
        started = now

    print("  the steps, in one process:")
    opened = crmbook.open(book)
    table = opened.customers
    sheet = table.sheet
    customers = table.df
    lap("open the book, read Customers")
    ready = prepare(open_source(contacts), sheet, (), (), table.keeps_user_columns)
    lap(f"read the CSV ({ready.preset})")
    keys = {f.ref: opened.table(f.ref).keys for f in sheet.fields if f.ref}
    plan = plan_import(
        ready.frame,
        ready.mapping,
        sheet,
        opened.schema,
        customers,
        opened.lists,
        keys,
        opened.today(),
        contacts.name,
        rows=ready.rows,
        keep=ready.keep,
    )
    lap(f"check and match ({len(plan.new):,} new, {len(plan.updates):,} matched)")
    apply_import(opened, plan, sheet)
    lap("update and add the records")
    opened.save()
    lap("save")


def write_google_csv(
    book: Path, path: Path, count: int, known_share: float = 0.5, seed: int = 2024
) -> int:
    """A Google Contacts CSV: some of the book's customers (as the book has them), some new."""
    import fastexcel

    with GOOGLE_HEADER.open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    customers = fastexcel.read_excel(book).load_sheet_by_name("Customers").to_pandas()
    people = customers[customers["kind"] == "person"]
    known = people.sample(round(count * known_share), random_state=seed)
    rng = random.Random(seed)
    rows = []
    for c in known.itertuples():
        first, _, last = str(c.name).partition(" ")
        rows.append(_row(header, first, last, c.company, c.email, c.phone, "Leipzig"))
    for n in range(count - len(rows)):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}.{n}@contacts.example".lower()
        phone = f"+49 151 {rng.randrange(10**7, 10**8)}"
        rows.append(_row(header, first, last, None, email, phone, rng.choice(CITIES)))
    rng.shuffle(rows)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return len(known)


def _row(header, first, last, company, email, phone, city) -> list[str]:
    values = {
        "First Name": first,
        "Last Name": last,
        "Organization Name": company if isinstance(company, str) else "",
        "Labels": "* myContacts ::: Fair 2026",
        "E-mail 1 - Label": "* Work",
        "E-mail 1 - Value": email if isinstance(email, str) else "",
        "Phone 1 - Label": "Mobile",
        "Phone 1 - Value": phone if isinstance(phone, str) else "",
        "Address 1 - Label": "Home",
        "Address 1 - City": city,
        "Address 1 - Country": "Germany",
    }
    return [values.get(h, "") for h in header]


FIRST = ("Anna", "Jonas", "Мария", "Noa", "Luca", "Sofia", "Yusuf", "Élodie", "Ben", "Mia")
LAST = ("Keller", "Ivanova", "Cohen", "Rossi", "Nowak", "Jansen", "Dupont", "Öztürk", "Berg")
CITIES = ("Hamburg", "Berlin", "Wien", "Zürich", "Tel Aviv", "Москва")

_FASTEXCEL = """
import sys, fastexcel
reader = fastexcel.read_excel(sys.argv[1])
for name in reader.sheet_names:
    reader.load_sheet(name).to_pandas()
"""
_PANDAS_OPENPYXL = """
import sys, pandas
pandas.read_excel(sys.argv[1], sheet_name="Customers", engine="openpyxl")
pandas.read_csv(sys.argv[2])
"""


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
