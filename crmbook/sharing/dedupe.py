"""Find likely duplicate customers, and merge one into another without losing history.

Two customers are likely the same when they share a normalised email or phone number, or
when each one's name finds the other as find does (typos, initials and other alphabets
forgiven: "Иванов Сергей Викторович" and "Ivanov Sergey V.") at a similar company. The
matching itself, blocked and vectorised so it stays fast at 100,000 customers, is
analytics/matching.py's; import uses the same matcher.
"""

from __future__ import annotations

import pandas as pd

from crmbook.analytics.matching import MIN_SCORE, CustomerMatcher
from crmbook.errors import RecordError
from crmbook.schema import Schema
from crmbook.values import missing


def duplicate_pairs(customers: pd.DataFrame, min_score: float = MIN_SCORE) -> pd.DataFrame:
    """Pairs of customers that are likely one: a, b (a first), score 0-100 and the reasons."""
    return CustomerMatcher(customers).duplicate_pairs(min_score)


def customer_references(schema: Schema) -> list[tuple[str, str]]:
    """(sheet, column) of every field that holds a customer id, from the schema."""
    return [(s.name, f.name) for s in schema.entities for f in s.fields if f.ref == "Customers"]


def merge_customers(book, keep: str, drop: str) -> dict[str, int]:
    """Merge customer `drop` into `keep`: history re-pointed, empty fields filled, drop deleted.

    Returns how many records of each sheet were re-pointed. Every change is in the Log.
    """
    if keep == drop:
        raise RecordError("give two different customers")
    customers = book.customers
    a, b = customers.get(keep), customers.get(drop)
    fill = {
        name: value
        for name, value in b.items()
        if name in a
        and customers.sheet.has(name)
        and not customers.sheet.field(name).auto
        and name != "id"
        and missing(a[name])
        and not missing(value)
        and not (name == "referred_by" and value == keep)
    }
    if fill:
        customers.update(keep, **fill)
    moved: dict[str, int] = {}
    for sheet, column in customer_references(book.schema):
        table = book.table(sheet)
        frame = table.df
        hits = frame.loc[frame[column] == drop, table.sheet.key].tolist()
        for key in hits:
            if sheet == "Customers" and key == keep:
                continue
            table.update(key, **{column: keep})
        if hits:
            moved[sheet] = moved.get(sheet, 0) + len(hits)
    customers.delete(drop)
    book.log_change(customers.sheet, [drop], "", "", f"merged into {keep}")
    return moved
