"""Hand-built frames for the analytics tests, typed exactly as the Book types a sheet.

`shop()` is a five-customer business whose every figure is worked out by hand in the tests
(test_segments.py and test_card.py say how); `write_book` stores such frames in a workbook so
the CLI can be tested on the same records.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

import crmbook
from crmbook.schema import SCHEMA
from crmbook.validation import empty_column, parse_column

TODAY = dt.date(2026, 6, 15)


def sheet(name: str, records: list[dict] = (), **extra_columns: list) -> pd.DataFrame:
    """A typed frame of the sheet: every schema column (empty where not given), then extras."""
    spec = SCHEMA.sheet(name)
    raw = pd.DataFrame(list(records))
    unknown = set(raw.columns) - set(spec.columns)
    assert not unknown, f"{name} has no columns {unknown}"
    columns = {}
    for field in spec.fields:
        if field.name in raw:
            columns[field.name] = parse_column(field, raw[field.name].astype(object)).values
        else:
            columns[field.name] = empty_column(field, len(raw))
    frame = pd.DataFrame(columns)
    for column, values in extra_columns.items():
        frame[column] = values
    return frame


def frames(**given: list[dict] | pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Every entity sheet: the records given by sheet name, the others empty."""
    out = {}
    for spec in SCHEMA.entities:
        value = given.get(spec.name, [])
        out[spec.name] = value if isinstance(value, pd.DataFrame) else sheet(spec.name, value)
    return out


def customer(number: int, name: str, **fields) -> dict:
    return {"id": f"C-{number:06d}", "name": name, **fields}


def shop() -> dict[str, pd.DataFrame]:
    """Five customers on 2026-06-15 (TODAY):

    C1 Anna, loyal: 4 purchases (5000), referred C2 and C4, contacted 5 days ago.
    C2 Boris, customer: 1 purchase (300) on 2026-05-20, a follow-up still open.
    C3 Carla, prospect: created 2026-06-01, only a meeting booked for July.
    C4 Dan, repeat: 2 purchases (2000), silent since 2024-06-01.
    C5 Eva, lost: 1 purchase (100) in 2023, emailed on 2026-01-10.
    """
    return frames(
        Customers=[
            customer(
                1,
                "Anna Schmidt",
                stage="loyal",
                city="Berlin",
                tags="vip, ski",
                email="anna@example.com",
                consent_email=True,
                birthday="1990-05-03",
                created="2024-01-10 09:00",
                owner="Maria",
            ),
            customer(
                2,
                "Boris Ivanov",
                stage="customer",
                city="New York",
                tags="beach",
                email="boris@example.com",
                birthday="1985-12-24",
                referred_by="C-000001",
                created="2025-01-01 12:00",
                owner="Tom",
            ),
            customer(
                3,
                "Carla Rossi",
                stage="prospect",
                city="Berlin",
                email="carla@example.com",
                created="2026-06-01 10:00",
                owner="Maria",
            ),
            customer(
                4,
                "Dan Levi",
                stage="repeat",
                city="Hamburg",
                referred_by="C-000001",
                created="2023-03-01 08:00",
                owner="Tom",
            ),
            customer(
                5,
                "Eva Novak",
                stage="lost",
                city="Berlin",
                email="eva@example.com",
                created="2022-01-01 08:00",
                owner="Maria",
            ),
        ],
        Contacts=[
            {
                "id": "P-000001",
                "customer_id": "C-000001",
                "name": "Lena Weber",
                "role": "Assistant",
            },
        ],
        Sales=[
            {
                "id": "S-000001",
                "customer_id": "C-000001",
                "date": "2025-07-01",
                "amount": 1000,
                "product": "City break",
            },
            {
                "id": "S-000002",
                "customer_id": "C-000001",
                "date": "2025-12-01",
                "amount": 2000,
                "product": "Ski week",
                "promo_code": "WELCOME10",
            },
            {
                "id": "S-000003",
                "customer_id": "C-000001",
                "date": "2026-03-01",
                "amount": 500,
                "product": "Insurance",
            },
            {
                "id": "S-000004",
                "customer_id": "C-000001",
                "date": "2026-06-01",
                "amount": 1500,
                "product": "Ski week",
                "deal_id": "D-000001",
            },
            {
                "id": "S-000005",
                "customer_id": "C-000002",
                "date": "2026-05-20",
                "amount": 300,
                "product": "Insurance",
            },
            {
                "id": "S-000006",
                "customer_id": "C-000004",
                "date": "2024-01-15",
                "amount": 800,
                "product": "City break",
            },
            {
                "id": "S-000007",
                "customer_id": "C-000004",
                "date": "2024-06-01",
                "amount": 1200,
                "product": "Beach holiday",
            },
            {
                "id": "S-000008",
                "customer_id": "C-000005",
                "date": "2023-01-01",
                "amount": 100,
                "product": "Insurance",
            },
        ],
        Interactions=[
            {
                "id": "I-000001",
                "customer_id": "C-000004",
                "when": "2024-06-01 11:00",
                "channel": "call",
                "kind": "sale",
                "outcome": "success",
            },
            {
                "id": "I-000002",
                "customer_id": "C-000005",
                "when": "2026-01-10 09:30",
                "channel": "email",
                "kind": "follow-up",
                "outcome": "neutral",
                "next_step": "Call back",
                "next_date": "2026-01-20",
            },
            {
                "id": "I-000003",
                "customer_id": "C-000002",
                "when": "2026-05-20 12:00",
                "channel": "meeting",
                "kind": "sale",
                "outcome": "success",
                "owner": "Tom",
                "summary": "Bought insurance",
                "next_step": "Send offer",
                "next_date": "2026-06-01",
            },
            {
                "id": "I-000004",
                "customer_id": "C-000001",
                "when": "2026-06-01 09:00",
                "channel": "visit",
                "kind": "sale",
                "outcome": "success",
                "owner": "Maria",
                "summary": "Booked the ski week",
                "next_step": "Send documents",
                "next_date": "2026-06-05",
            },
            {
                "id": "I-000005",
                "customer_id": "C-000001",
                "when": "2026-06-10 10:00",
                "channel": "call",
                "kind": "service",
                "outcome": "success",
                "owner": "Maria",
                "summary": "Documents sent",
            },
            {
                "id": "I-000006",
                "customer_id": "C-000003",
                "when": "2026-07-01 15:00",
                "channel": "meeting",
                "kind": "inquiry",
                "owner": "Maria",
                "summary": "Meeting booked",
            },
        ],
        Deals=[
            {
                "id": "D-000001",
                "customer_id": "C-000001",
                "title": "Ski week",
                "stage": "won",
                "amount": 1500,
                "opened": "2026-05-01",
                "closed": "2026-06-01",
                "owner": "Maria",
            },
            {
                "id": "D-000002",
                "customer_id": "C-000002",
                "title": "Cruise",
                "stage": "lost",
                "amount": 4000,
                "opened": "2026-04-01",
                "closed": "2026-05-01",
                "lost_reason": "price",
                "competitor": "TravelNow",
                "owner": "Tom",
            },
        ],
        Tasks=[
            {
                "id": "T-000001",
                "customer_id": "C-000001",
                "due": "2026-06-20",
                "title": "Call about the trip",
                "status": "open",
                "owner": "Maria",
            },
            {"id": "T-000002", "due": "2026-06-16", "title": "Order brochures", "status": "open"},
        ],
        Competitors=[{"name": "TravelNow"}],
        Segments=[
            {"name": "Big spenders", "rules": "revenue>=2000"},
            {"name": "Berlin", "rules": "city=Berlin", "notes": "the home town"},
        ],
    )


def write_book(path: Path, data: dict[str, pd.DataFrame]) -> Path:
    """Store the frames in a new crmbook workbook (ids kept) and return its path."""
    book = crmbook.create(path, user="tester")
    owners = data["Customers"]["owner"].dropna().unique().tolist()
    book.set_list("owner", sorted(set(owners) | set(data["Interactions"]["owner"].dropna())))
    for name in [sheet.name for sheet in SCHEMA.reference_order()]:
        if len(data[name]):
            book.table(name).add_many(data[name], keep_ids=True)
    book.save(backups=0)
    book.close()
    return path
