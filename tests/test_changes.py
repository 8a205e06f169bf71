"""The Changes value: what a Book hands its storage on save, in records and field names.

The last test is a third backend in a few lines, kept in DataFrames: the Changes value and
the Storage interface are all it needs to serve the same Book.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

import crmbook
from crmbook import SCHEMA, Book
from crmbook.io.reader import RawSheet
from crmbook.storage import Changes, Saved, Storage


def test_a_save_is_described_by_records_fields_and_keys(new_book):
    book = new_book
    anna = book.customers.add(name="Anna", city="Berlin")
    bob = book.customers.add(name="Bob")
    book.save()
    assert book.changes().empty
    book.customers.update(anna, city="Haifa")
    book.customers.delete(bob)
    book.customers.add(name="Carla")
    book.set_list("owner", ["anna", "ben"])
    changes = book.changes()
    customers = changes.sheets["Customers"]
    assert customers.updated[anna]["city"] == ("Berlin", "Haifa")
    assert customers.deleted == (bob,)
    assert customers.appended["name"].tolist() == ["Carla"]
    assert customers.rewritten
    assert customers.read_positions.tolist() == [0, pd.NA]  # Anna as read, Carla new
    assert [(line["record"], line["new"]) for line in changes.log] == [
        (anna, "Haifa"),
        (bob, "deleted"),
        ("C-000003", "added"),
    ]
    assert changes.counters == {"Customers": 4}
    assert changes.lists["owner"] == ("anna", "ben")
    assert changes.meta is None  # only the counter moved
    assert not changes.sheets.get("Interactions")


def test_a_sheet_not_read_only_appends(new_book):
    new_book.customers.add(name="Anna")
    new_book.save()
    book = crmbook.open(new_book.path)
    book.interactions.add(customer_id="C-000001", when="2026-01-05 10:00", channel="call")
    changed = book.changes().sheets["Interactions"]
    assert changed.records is None and not changed.rewritten
    assert changed.appended["customer_id"].tolist() == ["C-000001"]


def test_a_record_typed_without_an_id_is_given_one_by_its_position(new_book):
    new_book.customers.add(name="Anna")
    new_book.save()
    wb = openpyxl.load_workbook(new_book.path)
    wb["Customers"].append([None, "Typed by hand"])
    wb.save(new_book.path)
    book = crmbook.open(new_book.path)
    book.customers.df  # noqa: B018 -- reading gives the id
    changed = book.changes().sheets["Customers"]
    assert changed.given_ids == {1: "C-000002"}
    assert changed.rewritten and not len(changed.appended)
    book.save()
    assert crmbook.open(new_book.path).customers.keys == {"C-000001", "C-000002"}


def test_deleting_the_last_record_and_adding_one_keeps_both_changes(new_book):
    book = new_book
    for name in ("Anna", "Bob"):
        book.customers.add(name=name)
    book.save()
    book.customers.delete("C-000002")
    book.customers.add(name="Carla")
    changed = book.changes().sheets["Customers"]
    assert changed.deleted == ("C-000002",)
    assert changed.appended["name"].tolist() == ["Carla"]


def test_a_column_of_ones_own_comes_with_its_values(new_book):
    new_book.customers.add(name="Anna")
    new_book.save()
    column = new_book.customers.add_column("Lieblingsfarbe")
    new_book.customers.update("C-000001", **{column: "grün"})
    changed = new_book.changes().sheets["Customers"]
    assert changed.added_columns == ("Lieblingsfarbe",)
    old, new = changed.updated["C-000001"]["Lieblingsfarbe"]
    assert pd.isna(old) and new == "grün"
    new_book.save()
    assert crmbook.open(new_book.path).customers.get("C-000001")["Lieblingsfarbe"] == "grün"


# ---------------------------------------------------------------- a third backend


class MemoryStorage(Storage):
    """Records in DataFrames, changes applied record by record as a database would."""

    kind = "memory"

    def __init__(self, schema=SCHEMA):
        super().__init__(schema)
        self.frames = {
            s.name: pd.DataFrame({f.name: pd.Series(dtype=object) for f in s.fields})
            for s in schema.sheets
        }
        self.stored = {"schema_version": schema.version, "workbook_id": "in-memory"}
        self.lists = {v.name: list(v.values) for v in schema.vocabularies}

    @property
    def path(self) -> Path:
        return Path("in-memory.crm")

    @property
    def sheet_names(self) -> list[str]:
        return [*self.frames, self.schema.lists_sheet, self.schema.meta_sheet]

    def read(self, name: str) -> RawSheet:
        if name == self.schema.meta_sheet:
            frame = pd.DataFrame({"key": list(self.stored), "value": list(self.stored.values())})
        elif name == self.schema.lists_sheet:
            frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in self.lists.items()})
        else:
            frame = self.frames[name].reset_index(drop=True)
        rows = pd.Series([None] * len(frame), dtype=object)
        return RawSheet(name, 1, list(frame.columns), frame, rows)

    def columns(self, name: str) -> list[str]:
        return list(self.frames[name].columns)

    def keys(self, name: str) -> np.ndarray:
        return self.frames[name][self.schema.sheet(name).key].dropna().to_numpy()

    def save(self, changes: Changes, target=None, *, force=False, backups=3) -> Saved:
        for name, changed in changes.sheets.items():
            key = self.schema.sheet(name).key
            frame = self.frames[name]
            frame = frame[~frame[key].isin(changed.deleted)].copy()
            for record, fields in changed.updated.items():
                for field, (_, new) in fields.items():
                    frame.loc[frame[key] == record, field] = _plain(new)
            new = changed.appended.reindex(columns=frame.columns).astype(object)
            self.frames[name] = pd.concat([frame, new.map(_plain)], ignore_index=True)
        log = pd.DataFrame(list(changes.log)).reindex(columns=self.frames["Log"].columns)
        self.frames["Log"] = pd.concat([self.frames["Log"], log], ignore_index=True)
        if changes.lists is not None:
            self.lists = {k: list(v) for k, v in changes.lists.items()}
        self.stored = self.meta_after(changes)
        self._meta = None
        return Saved(self.path, dict(self.stored))

    def discard(self) -> None:
        self.frames.clear()

    def reopen(self) -> MemoryStorage:
        return self

    def close(self) -> None:
        pass


def _plain(value: object) -> object:
    """A value as a store keeps it: blanks of every kind as None."""
    return None if value is None or value is pd.NA or value is pd.NaT or value != value else value


def test_a_third_backend_needs_only_the_changes_and_the_interface():
    storage = MemoryStorage()
    book = Book(storage, user="anna")
    anna = book.customers.add(name="Anna", city="Berlin", stage="customer")
    bob = book.customers.add(name="Bob")
    book.interactions.add(customer_id=anna, when="2026-01-05 10:00", channel="call")
    book.save()
    book.customers.update(anna, city="Haifa")
    book.customers.delete(bob)
    book.save()
    again = Book(storage)
    assert again.customers.df[["id", "name", "city"]].values.tolist() == [[anna, "Anna", "Haifa"]]
    assert again.interactions.df["customer_id"].tolist() == [anna]
    assert again.customers.add(name="Carla") == "C-000003"  # ids are never given out twice
    assert again.log.df["new"].tolist()[-2:] == ["Haifa", "deleted"]
    assert again.validate().valid
