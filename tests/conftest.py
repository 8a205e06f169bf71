"""Small workbook builders shared by the tests.

Every builder writes under tmp_path. The hand-edited workbook is a crmbook file changed with
openpyxl the way a person changes it in Excel: columns moved and renamed, a column of their own,
blank rows, dates and numbers typed as text, stray spaces, and a handful of real mistakes whose
places are listed in `HandEdited.problems` so tests can check each is reported exactly once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import itertools
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo

import crmbook
from crmbook import SCHEMA, Book
from crmbook.schema import Sheet

USER = "tester"


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The parse cache of the whole run in a folder of its own, never the user's; on, so
    that every test that opens a book twice also checks a cached open."""
    folder = tmp_path_factory.mktemp("cache") / "sheets"
    before = {k: os.environ.get(k) for k in ("CRMBOOK_CACHE_DIR", "CRMBOOK_NO_CACHE")}
    os.environ["CRMBOOK_CACHE_DIR"] = str(folder)
    os.environ.pop("CRMBOOK_NO_CACHE", None)
    yield folder
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def new_book(tmp_path: Path) -> Book:
    """A fresh, empty crmbook workbook."""
    return crmbook.create(tmp_path / "crm.xlsx", user=USER)


# ---------------------------------------------------------------- valid records from the schema

SAMPLE = {
    "text": "sample text",
    "longtext": "a longer note\nover two lines",
    "email": "anna@example.com",
    "phone": "+49 30 1234567",
    "date": dt.date(2020, 1, 2),
    "datetime": dt.datetime(2020, 1, 2, 10, 30),
    "money": 1250.5,
    "integer": 30,
    "bool": True,
    "tags": "vip, newsletter",
}
_unique = itertools.count(1)


def valid_record(book: Book, sheet: Sheet) -> dict[str, object]:
    """Values for every field a person can fill, derived from the schema.

    References point at records that exist: a missing target record is added first.
    """
    record: dict[str, object] = {}
    for f in sheet.fields:
        if f.auto:
            continue
        if f.ref:
            target = book.table(f.ref)
            if f.ref == sheet.name:
                keys = sorted(target.keys)
                if keys:
                    record[f.name] = keys[0]
                continue
            keys = sorted(target.keys)
            record[f.name] = keys[0] if keys else target.add(**valid_record(book, target.sheet))
        elif f.vocabulary:
            values = book.lists[f.vocabulary] or ["Maria"]
            record[f.name] = values[0]
        elif f.unique:
            record[f.name] = f"{sheet.entity} {next(_unique)}"
        else:
            record[f.name] = SAMPLE.get(f.type, "sample")
    return record


@pytest.fixture
def make_record():
    """valid_record as a fixture, for tests that prefer not to import from conftest."""
    return valid_record


# ---------------------------------------------------------------- the hand-edited workbook


@dataclass
class HandEdited:
    """A workbook edited by hand, and where its real mistakes are.

    header: the Customers header row as the person left it.
    problems: (code, sheet, Excel row, column) of every issue crmbook must report.
    """

    path: Path
    future: dt.date
    header: list[str] = field(default_factory=list)
    problems: set[tuple[str, str, int, str]] = field(default_factory=set)


# The Customers sheet as the person left it. Headers are moved and respelled; "Favourite colour"
# is their own column. None is an empty cell; a row of Nones is a blank row.
CUSTOMER_HEADER = [
    "Name",
    "ID",
    "Consent Email",
    "E-mail ",
    "Birthday",
    "Stage",
    "Favourite colour",
    "kind",
    "company",
    "phone",
    "city",
    "country",
    "source",
    "owner",
    "tags",
    "consent_sms",
    "Consent Date",
    "referred_by",
    "Contact every days",
    "created",
    "updated",
    "notes",
]


def _customer_rows(future: str) -> list[dict[str, object]]:
    return [
        # row 2: everything typed loosely but readable
        {
            "Name": "Anna Schmidt ",
            "ID": "C-000001",
            "Consent Email": "yes",
            "E-mail ": "anna@example.com ",
            "Birthday": "31.03.1990",
            "Stage": "Customer ",
            "Favourite colour": "green",
            "Consent Date": "March 5, 2021",
            "Contact every days": "30",
        },
        {},  # row 3: blank
        # row 4
        {
            "Name": "Boris Ivanov",
            "ID": "C-000002",
            "Consent Email": True,
            "E-mail ": "boris@example.com",
            "Birthday": "2021-03-05",
            "Stage": "LOYAL",
            "Favourite colour": "blue",
            "phone": "+7 495 123-45-67",
        },
        {},  # row 5: blank
        {},  # row 6: blank
        # row 7: no id (crmbook assigns one)
        {"Name": "Carla Rossi", "Stage": "prospect", "E-mail ": "carla@example.com"},
        # row 8: the id of row 4 again
        {"Name": "Dan Levi", "ID": "C-000002", "Stage": "prospect"},
        # row 9: email without @
        {"Name": "Eva Novak", "ID": "C-000004", "E-mail ": "eva.example.com"},
        # row 10: birthday in the future
        {"Name": "Felix Wolf", "ID": "C-000005", "Birthday": future},
        # row 11: stage not in Lists
        {"Name": "Gita Roy", "ID": "C-000006", "Stage": "vip"},
        # row 12: the required name left empty
        {"Name": None, "ID": "C-000007", "city": "Haifa"},
    ]


HAND_EDITED_PROBLEMS = {
    ("missing-id", "Customers", 7, "id"),
    ("duplicate", "Customers", 8, "id"),
    ("bad-email", "Customers", 9, "email"),
    ("future-date", "Customers", 10, "birthday"),
    ("not-in-list", "Customers", 11, "stage"),
    ("required", "Customers", 12, "name"),
    ("unknown-reference", "Interactions", 4, "customer_id"),
}


def _replace_table(ws, name: str, header: list[str], rows: list[list[object]]) -> None:
    """Rewrite a sheet's cells and stretch its Excel table over them, as Excel would."""
    ws.delete_rows(1, ws.max_row)
    ws.append(header)
    for row in rows:
        ws.append(row)
    del ws.tables[name]
    last = f"{get_column_letter(len(header))}{max(len(rows), 1) + 1}"
    table = Table(displayName=name, ref=f"A1:{last}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(table)


def write_hand_edited(path: Path, today: dt.date | None = None) -> HandEdited:
    """Create a crmbook workbook, then edit it with openpyxl like a person in Excel."""
    future = (today or dt.date.today()) + dt.timedelta(days=400)
    crmbook.create(path, user=USER).close()
    wb = openpyxl.load_workbook(path)

    rows = _customer_rows(future.strftime("%d.%m.%Y"))
    _replace_table(
        wb["Customers"],
        "Customers",
        CUSTOMER_HEADER,
        [[r.get(h) for h in CUSTOMER_HEADER] for r in rows],
    )

    interactions = SCHEMA.sheet("Interactions").columns
    _replace_table(
        wb["Interactions"],
        "Interactions",
        [c.upper() if c == "when" else c for c in interactions],
        [
            ["I-000001", "C-000001", "2021-03-05 14:30", "Call", "sale", "success"],
            [None] * 6,
            ["I-000002", "C-999999", dt.datetime(2021, 3, 6, 9, 0), "email"],
        ],
    )

    sales = SCHEMA.sheet("Sales").columns
    _replace_table(
        wb["Sales"],
        "Sales",
        sales,
        [
            ["S-000001", "C-000001", "March 5, 2021", "1 200,50", "Haircut "],
            ["S-000002", "C-000002", "05.03.2021", "99", "Colour"],
        ],
    )
    wb.save(path)
    return HandEdited(path, future, list(CUSTOMER_HEADER), set(HAND_EDITED_PROBLEMS))


@pytest.fixture(scope="session")
def hand_edited_master(tmp_path_factory) -> HandEdited:
    """Built once; read it, never save to it (use hand_edited for that)."""
    return write_hand_edited(tmp_path_factory.mktemp("master") / "edited.xlsx")


@pytest.fixture
def hand_edited(hand_edited_master: HandEdited, tmp_path: Path) -> HandEdited:
    """A copy of the hand-edited workbook of this test's own."""
    path = tmp_path / "edited.xlsx"
    shutil.copy(hand_edited_master.path, path)
    return dataclasses.replace(hand_edited_master, path=path)


# ---------------------------------------------------------------- PostgreSQL (the SQL backend)
# tests/postgres_server.py starts a throwaway server (or uses CRMBOOK_TEST_POSTGRES); it is
# imported inside the fixtures so that tests which do not ask for them pay nothing.


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The SQLAlchemy URL of a PostgreSQL server's `postgres` database, for the whole session.

    Skips (with the reason) every test that asks for it when no server can be started.
    """
    from postgres_server import PostgresUnavailable, temporary_server

    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(temporary_server())
        except PostgresUnavailable as reason:
            pytest.skip(str(reason))
        yield url


_postgres_databases = itertools.count(1)


@pytest.fixture
def postgres_url(postgres_server: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty UTF-8 database of this test's own; dropped afterwards."""
    from postgres_server import create_database, drop_database

    test = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"t{os.getpid()}_{next(_postgres_databases)}_{test}"
    url = create_database(postgres_server, name)
    yield url
    with contextlib.suppress(Exception):  # the server may be gone; it is deleted anyway
        drop_database(postgres_server, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database to make a crmbook database in: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def demo_master(tmp_path_factory) -> Path:
    """The demo business (120 customers) as a workbook; copy it before changing it."""
    from crmbook.demo import build_demo_book

    path = tmp_path_factory.mktemp("demo") / "shop.xlsx"
    build_demo_book(path, customers=120, today=dt.date(2026, 6, 15)).close()
    return path


@pytest.fixture
def demo_workbook(demo_master: Path, tmp_path: Path) -> Path:
    path = tmp_path / "shop.xlsx"
    shutil.copy(demo_master, path)
    return path
