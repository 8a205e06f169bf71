"""Personal data: everything about one customer, and erasing or anonymising them.

Erasing keeps the business figures: sales and deals stay (so revenue and the pipeline do not
change) but point at one shared placeholder customer; anonymising keeps the customer record
with its non-identifying fields (city, country, source, stage, dates) and clears the rest.
Both remove the person's name, email and phone from the free text of other records.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from crmbook.errors import RecordError
from crmbook.io.scrub import ERASED, pattern, scrub
from crmbook.values import missing

PLACEHOLDER = "(erased customers)"
# Customer fields an anonymised record keeps: they say nothing about who the person is.
KEPT_WHEN_ANONYMISED = (
    "kind",
    "city",
    "country",
    "source",
    "stage",
    "owner",
    "contact_every_days",
)
# Records that exist only for the person: removed on erase.
REMOVED_ON_ERASE = ("Contacts", "Interactions", "Tasks")
FREE_TEXT = ("longtext", "text")


def customer_frames(book, customer_id: str) -> dict[str, pd.DataFrame]:
    """Every record about one customer, per sheet, plus the change log about them."""
    customers = book.customers.df
    if customer_id not in set(customers["id"]):
        raise RecordError(f"no customer with id {customer_id!r}")
    frames = {"Customers": customers[customers["id"] == customer_id]}
    ids = {customer_id}
    for sheet in book.schema.entities:
        for f in sheet.fields:
            if f.ref == "Customers" and sheet.name != "Customers":
                df = book.table(sheet.name).df
                frames[sheet.name] = df[df[f.name] == customer_id]
                ids |= set(frames[sheet.name]["id"].dropna())
    referred = customers[customers["referred_by"] == customer_id]
    frames["Referred customers"] = referred[["id", "name"]]
    log = book.table("Log").df
    frames["Log"] = log[log["record"].isin(ids)]
    return frames


def export_person(book, customer_id: str, folder: str | os.PathLike) -> list[Path]:
    """Write everything about the customer as JSON and as a workbook; logged in the Log."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames = customer_frames(book, customer_id)
    data = {
        name: json.loads(frame.to_json(orient="records", date_format="iso", force_ascii=False))
        for name, frame in frames.items()
    }
    json_path = folder / f"{customer_id}.json"
    json_path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    xlsx_path = folder / f"{customer_id}.xlsx"
    with pd.ExcelWriter(xlsx_path, engine="xlsxwriter") as writer:
        for name, frame in frames.items():
            frame.to_excel(writer, sheet_name=name[:31], index=False)
    book.log_change(book.customers.sheet, [customer_id], "", "", "personal data exported")
    return [json_path, xlsx_path]


def _identifiers(book, customer_id: str) -> list[str]:
    """The person's name, email and phone (and their contacts'), longest first."""
    found = set()
    person = book.customers.get(customer_id)
    contacts = book.contacts.df[book.contacts.df["customer_id"] == customer_id]
    for record in [person, *contacts.to_dict("records")]:
        for name in ("name", "email", "phone"):
            value = record.get(name)
            if isinstance(value, str) and len(value.strip()) >= 3:
                found.add(value.strip())
    return sorted(found, key=len, reverse=True)


def _scrub(text: object, identifiers: list[str]) -> object:
    return scrub(text, pattern(identifiers))


def _placeholder(book) -> str:
    customers = book.customers.df
    hit = customers.loc[customers["name"] == PLACEHOLDER, "id"]
    if len(hit):
        return str(hit.iloc[0])
    return book.customers.add(name=PLACEHOLDER, notes="sales and deals of erased customers")


def erase_person(book, customer_id: str, *, anonymise: bool = False) -> dict[str, int]:
    """Remove (or anonymise) the customer everywhere; returns the records touched per sheet."""
    identifiers = _identifiers(book, customer_id)
    touched: dict[str, int] = {}

    def count(sheet: str, n: int = 1) -> None:
        touched[sheet] = touched.get(sheet, 0) + n

    target = customer_id if anonymise else _placeholder(book)
    for sheet in book.schema.entities:
        refs = [f.name for f in sheet.fields if f.ref == "Customers"]
        if not refs or sheet.name == "Customers":
            continue
        table = book.table(sheet.name)
        mine = table.df[table.df[refs[0]] == customer_id]
        for key in mine[table.sheet.key].tolist():
            if sheet.name in REMOVED_ON_ERASE and (not anonymise or sheet.name == "Contacts"):
                table.delete(key)
            elif target != customer_id:
                table.update(key, **{refs[0]: target})
            count(sheet.name)
    customers = book.customers
    for key in customers.df.loc[customers.df["referred_by"] == customer_id, "id"].tolist():
        if anonymise:
            continue
        customers.update(key, referred_by=None)
        count("Customers")
    for sheet in book.schema.entities:  # free text anywhere that names the person
        table = book.table(sheet.name)
        texts = [f.name for f in sheet.fields if f.type in FREE_TEXT and f.name != "name"]
        for _, row in table.df.iterrows():
            changed = {n: _scrub(row[n], identifiers) for n in texts}
            changed = {n: v for n, v in changed.items() if v != row[n] and isinstance(v, str)}
            if changed:
                table.update(row[table.sheet.key], **changed)
                count(sheet.name)
    if anonymise:
        person = customers.get(customer_id)
        cleared = {
            f.name: None if f.type != "bool" else False
            for f in customers.sheet.fields
            if not f.auto
            and f.name not in ("id", "name", *KEPT_WHEN_ANONYMISED)
            and person.get(f.name) is not None
            and not _blank(person.get(f.name))
        }
        customers.update(customer_id, name=f"anonymised {customer_id}", **cleared)
    else:
        customers.delete(customer_id)
    count("Customers")
    for entry in book.pending_log:  # the log must not keep what was just erased
        for name in ("old", "new"):
            entry[name] = _scrub(entry[name], identifiers)
        if entry["record"] == customer_id and entry["field"] == "" and entry["new"] == "deleted":
            entry["old"] = ERASED
    action = "anonymised" if anonymise else "erased"
    book.log_change(customers.sheet, [customer_id], "", "", f"personal data {action}")
    book.forget(identifiers)  # the save cleans the earlier log, other text, backups, caches
    return touched


def _blank(value: object) -> bool:
    """Nothing to erase: a missing value, or a consent that is already off."""
    return missing(value) or value is False
