"""What the widget tests share: a small demo shop with one customer whose every record is
known (Olga Ivanova: a meeting with a promised next step, a sale, an overdue task, a task due
today and one coming up, a birthday in two days), a fresh copy of it per test, and readers
that look at the page as a person does and at the file as Excel would.

Test modules load the fixtures with `pytest_plugins = ["widget_support"]`, so the shop is
built once per run, and import the helpers. (PYTEST_DONT_REWRITE: it is imported before it
is registered as a plugin; it holds no assertions to rewrite.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

import crmbook
from crmbook.demo import build_demo_book
from crmbook.widgets.session import Session

TODAY = dt.date(2026, 3, 15)
USER = "tester"
OLGA = "Olga Ivanova"


@dataclass(frozen=True)
class Known:
    """The ids of the records the tests look for."""

    customer: str
    interaction: str
    sale: str
    overdue_task: str
    today_task: str
    upcoming_task: str


def day(offset: int) -> dt.date:
    return TODAY + dt.timedelta(days=offset)


@pytest.fixture(scope="session")
def shop_master(tmp_path_factory) -> tuple[Path, Known]:
    """Built once: read it or copy it, never save to it (use `shop`)."""
    path = tmp_path_factory.mktemp("widgets") / "shop.xlsx"
    book = build_demo_book(path, customers=120, today=TODAY)
    source = str(book.sources.df["name"].iloc[0])
    olga = book.customers.add(
        name=OLGA,
        email="olga@example.com",
        phone="+49 30 9876543",
        city="Berlin",
        stage="customer",
        owner="Anna Schmidt",
        source=source,
        birthday=day(2).replace(year=1986),
        consent_email=True,
    )
    meeting = book.interactions.add(
        customer_id=olga,
        when=dt.datetime.combine(day(-10), dt.time(10, 0)),
        channel="meeting",
        kind="inquiry",
        outcome="success",
        owner="Anna Schmidt",
        summary="Asked about a Lisbon trip for two",
        next_step="Send the Lisbon offer",
        next_date=day(3),
    )
    sale = book.sales.add(customer_id=olga, date=day(-5), amount=2400, product="Lisbon city break")
    tasks = [
        book.tasks.add(customer_id=olga, due=day(offset), title=title, owner="Anna Schmidt")
        for offset, title in (
            (-2, "Call Olga about the hotel"),
            (0, "Send Olga the tickets"),
            (4, "Ask Olga for feedback"),
        )
    ]
    book.save(backups=0)
    return path, Known(olga, meeting, sale, *tasks)


@pytest.fixture
def shop(shop_master, tmp_path) -> Path:
    """A copy of the shop of this test's own."""
    path = tmp_path / "shop.xlsx"
    shutil.copy(shop_master[0], path)
    return path


@pytest.fixture
def known(shop_master) -> Known:
    return shop_master[1]


@pytest.fixture
def session(shop) -> Session:
    return Session(shop, user=USER, today=TODAY)


def text(markup: str) -> str:
    """What a person reads in an HTML widget: no styles, no tags, single spaces."""
    markup = re.sub(r"<style>.*?</style>", " ", markup, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def table_rows(markup: str) -> int:
    """How many rows the HTML table of a widget shows."""
    body = re.search(r"<tbody>(.*)</tbody>", markup, flags=re.DOTALL)
    return body.group(1).count("<tr>") if body else 0


def fingerprint(path: Path) -> str:
    """The file's content, to check that nothing was written."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def excel_rows(path: Path, sheet: str) -> list[dict[str, object]]:
    """A sheet's records as openpyxl reads them (an independent reader), by header."""
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = wb[sheet].iter_rows(values_only=True)
        header = [str(h) for h in next(rows)]
        return [dict(zip(header, r, strict=False)) for r in rows if any(v is not None for v in r)]
    finally:
        wb.close()


def reopened(path: Path) -> crmbook.Book:
    return crmbook.open(path)


def open_in_excel(path: Path) -> Path:
    """Leave the lock file Excel keeps beside a workbook it has open."""
    lock = path.with_name("~$" + path.name)
    lock.write_bytes(b"tester")
    return lock
