"""What a Book hands its storage on save: one value describing everything that changed.

The Book collects its pending work (records added, fields changed, records deleted, sheets
written whole, the Lists, id counters, change-log lines, metadata, a schema upgrade) into
`Changes`; a Storage stores all of it or none of it (storage/base.py). The value speaks
records and crmbook's field names. Where a record stands in an Excel sheet, how the sheet's
columns are ordered and what language its labels are in are the workbook storage's business:
it learnt them when it read the sheet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from crmbook.io.newsheet import NewSheet
from crmbook.schema import SCHEMA_HISTORY, SCHEMA_VERSION
from crmbook.storage.state import Generation

COUNTER = "next_id."  # metadata key prefix of the id counters: next_id.Customers


@dataclass(frozen=True)
class Upgrade:
    """What the next save adds to a book made for an older schema version."""

    from_version: int
    sheets: list[str]  # schema sheets the book lacks
    columns: dict[str, list[str]]  # sheet -> schema columns it lacks, added at its end
    lists: list[str] = field(default_factory=list)  # numbers columns the Lists sheet lacks

    @property
    def note(self) -> str:
        news = [text for version, text in SCHEMA_HISTORY if version > self.from_version]
        columns = {**self.columns, **({"Lists": self.lists} if self.lists else {})}
        added = [f"the sheet {name}" for name in self.sheets] + [
            f"the column{'s' if len(cols) > 1 else ''} {', '.join(cols)} to {sheet}"
            for sheet, cols in columns.items()
        ]
        return (
            f"the workbook is of schema version {self.from_version} (this crmbook writes "
            f"version {SCHEMA_VERSION}): the next save adds "
            + (" and ".join(added) or "nothing but the new version number")
            + (f". New since version {self.from_version}: {'; '.join(news)}" if news else "")
            + ". Nothing is removed; your own sheets and columns stay."
        )


@dataclass(frozen=True)
class SheetChanges:
    """What changed in one sheet of records since the storage handed it out.

    A store that applies changes record by record (a database) reads `appended`, `given_ids`,
    `updated` and `deleted`; one that keeps whole sheets (the workbook) writes `records` again
    when `rewritten`, else appends `appended`.
    """

    sheet: str  # crmbook's name of the sheet
    # New records in the order they were added: crmbook's field names, a person's own
    # columns by their heading.
    appended: pd.DataFrame
    # key -> field -> (the value read, the new value), for records changed in place; a store
    # shared by several people changes a field only while it still holds the value read.
    updated: Mapping[str, Mapping[str, tuple[object, object]]] = field(default_factory=dict)
    deleted: tuple[str, ...] = ()  # keys of records removed
    # Position among the records as read -> the id crmbook gave a record that had none
    # (typed in by hand). Applies before `updated`, which already uses the new ids.
    given_ids: Mapping[int, str] = field(default_factory=dict)
    # Every record as the Book now holds it, when it read the whole sheet (None otherwise):
    # what a whole-sheet store writes back, and what the save state is taken from.
    records: pd.DataFrame | None = None
    # For each of `records` (same index): its position among the records the storage handed
    # out when the sheet was read, <NA> for a record added since.
    read_positions: pd.Series | None = None
    # field -> values the Book could not read (indexed like `records`): stored back as they
    # were typed wherever the record still has no value there, so nothing typed is lost.
    unread: Mapping[str, pd.Series] = field(default_factory=dict)
    # Columns of the person's own added to the sheet (Table.add_column), in order; their
    # values come in `updated` and `appended`. A store that keeps only crmbook's fields
    # refuses them before they get here (Storage.user_columns).
    added_columns: tuple[str, ...] = ()

    @property
    def rewritten(self) -> bool:
        """Whether records changed other than by appending."""
        return bool(self.updated or self.deleted or self.given_ids)

    def __bool__(self) -> bool:
        return bool(len(self.appended)) or self.rewritten or bool(self.added_columns)


@dataclass(frozen=True)
class Changes:
    """Everything one save stores, all at once or not at all."""

    when: dt.datetime  # the moment of the save
    who: str  # the person saving
    # Per record sheet the Book read or added to (crmbook's sheet names); a sheet the Book
    # read but did not change is here too, with its `records`, for the save state.
    sheets: Mapping[str, SheetChanges] = field(default_factory=dict)
    log: tuple[Mapping[str, object], ...] = ()  # change-log lines, by the Log sheet's fields
    new_sheets: tuple[NewSheet, ...] = ()  # sheets written whole (Book.write_sheet)
    # The Lists, when they changed (or an upgrade adds a numbers column to them): every
    # vocabulary, and the numbers beside a list (a deal stage's probability) by value.
    lists: Mapping[str, tuple[str, ...]] | None = None
    list_numbers: Mapping[str, Mapping[str, float]] | None = None
    counters: Mapping[str, int] = field(default_factory=dict)  # sheet -> next id, where it moved
    # The book's metadata other than the counters, whole, when any of it changed.
    meta: Mapping[str, object] | None = None
    upgrade: Upgrade | None = None
    # Store the save state (what merge compares copies by) even if nothing else changed.
    touched: bool = False
    # A merge: the generations of the other copy it took in, its newest last (the save
    # follows that one as well as this copy's last). See storage/state.py.
    joined: tuple[Generation, ...] = ()
    # Texts (a name, an email, a phone) of a person being erased: the store removes them from
    # everything it keeps besides the records, which the Book has cleaned already: the change
    # log's earlier lines, other sheets' text, its backups and cached copies.
    forget: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            any(self.sheets.values())
            or self.log
            or self.new_sheets
            or self.lists is not None
            or self.counters
            or self.meta is not None
            or self.upgrade is not None
            or self.touched
            or bool(self.forget)
        )
