"""Find likely duplicate customers, and merge one into another without losing history.

Two customers are likely the same when they share a normalised email or phone number, or
when each one's name finds the other as find does (typos, initials and other alphabets
forgiven: "Иванов Сергей Викторович" and "Ivanov Sergey V.") at a similar company.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import fuzz

from crmbook.analytics.find import CustomerIndex, fold, phone_digits_column
from crmbook.errors import RecordError
from crmbook.schema import Schema
from crmbook.values import missing

MIN_SCORE = 85
SAME_COMPANY = 80
SAME_CONTACT = {"same email": 100, "same phone": 95}
# A similar name alone is weak evidence (namesakes exist): it scores less without a shared
# company or city; each further piece of evidence adds a little.
CITY_ONLY, NAME_ONLY, MORE_EVIDENCE = 10, 20, 5


def _same(frame: pd.DataFrame, i: int, j: int, column: str) -> bool:
    a, b = frame.at[i, column], frame.at[j, column]
    return not missing(a) and not missing(b) and fold(a).strip() == fold(b).strip()


def duplicate_pairs(customers: pd.DataFrame, min_score: float = MIN_SCORE) -> pd.DataFrame:
    """Pairs of customers that are likely one: a, b (a first), score 0-100 and the reasons."""
    frame = customers.reset_index(drop=True)
    found: dict[tuple[int, int], tuple[float, list[str]]] = {}

    def note(i: int, j: int, score: float, reason: str) -> None:
        pair = (min(i, j), max(i, j))
        best, reasons = found.get(pair, (0.0, []))
        if best:  # one more piece of evidence
            score = min(100.0, max(best, score) + MORE_EVIDENCE)
        found[pair] = (max(best, score), [*reasons, reason])

    emails = frame["email"].astype("str").str.strip().str.lower()
    phones = phone_digits_column(frame["phone"]).where(frame["phone"].notna(), "")
    for values, reason in ((emails, "same email"), (phones, "same phone")):
        groups = values[values.notna() & (values != "")].groupby(values).groups
        for members in groups.values():
            members = list(members)
            for a in range(len(members)):
                for b in range(a + 1, len(members)):
                    note(members[a], members[b], SAME_CONTACT[reason], reason)
    index = CustomerIndex(frame)
    names = frame["name"].tolist()
    scores = {}
    for i, name in enumerate(names):
        if missing(name):
            continue
        row = index.scores(str(name))
        for j in np.flatnonzero(row >= min_score + CITY_ONLY - MORE_EVIDENCE):
            if j != i:
                scores[(i, int(j))] = float(row[j])
    for (i, j), forward in scores.items():
        if i > j or (j, i) not in scores:
            continue
        a, b = frame.at[i, "company"], frame.at[j, "company"]
        similar = min(forward, scores[(j, i)])
        if not missing(a) and not missing(b):
            if fuzz.ratio(fold(a), fold(b)) < SAME_COMPANY:
                continue
            note(i, j, similar, "similar name and company")
        elif _same(frame, i, j, "city"):
            note(i, j, similar - CITY_ONLY, "similar name, same city")
        else:
            note(i, j, similar - NAME_ONLY, "similar name")
    rows = [
        {
            "score": round(score),
            "a": frame.at[i, "id"],
            "a_name": frame.at[i, "name"],
            "b": frame.at[j, "id"],
            "b_name": frame.at[j, "name"],
            "reasons": ", ".join(dict.fromkeys(reasons)),
        }
        for (i, j), (score, reasons) in found.items()
        if score >= min_score
    ]
    columns = ["score", "a", "a_name", "b", "b_name", "reasons"]
    return (
        pd.DataFrame(rows, columns=columns)
        .sort_values(["score", "a", "b"], ascending=[False, True, True])
        .reset_index(drop=True)
    )


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
