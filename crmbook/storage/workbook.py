"""The default storage: one .xlsx workbook, read with fastexcel and saved part by part.

A save rewrites or appends to only the sheets that changed and copies every other part of
the file unchanged (io/writer.py), atomically, with backups, and refuses when Excel or
someone else has the file (io/safety.py).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmbook.io.newsheet import NewSheet
from crmbook.io.package import Package, check_file
from crmbook.io.reader import RawSheet, Reader
from crmbook.io.safety import FileState, atomic_replace, check_not_locked
from crmbook.io.template import meta_rows
from crmbook.io.writer import SheetChange, write_workbook
from crmbook.languages import sheet_aliases
from crmbook.lists import lists_columns, numbers_column
from crmbook.schema import EXCEL_MAX_ROWS, Schema, Sheet
from crmbook.storage.base import Storage
from crmbook.validation import empty_column

if TYPE_CHECKING:
    from crmbook.book import Book, Table, Upgrade


class WorkbookStorage(Storage):
    kind = "workbook"
    row_limit = EXCEL_MAX_ROWS
    user_columns = True

    def __init__(self, path: Path, schema: Schema):
        self._path = Path(path)
        self.schema = schema
        check_file(self._path)
        self.state = FileState.of(self._path)
        self._open_reader()

    def __repr__(self) -> str:
        return f"<WorkbookStorage {self._path.name}>"

    @property
    def path(self) -> Path:
        return self._path

    def _open_reader(self) -> None:
        self._headers: dict[str, tuple[list[str], int]] = {}
        with Package(self._path) as pkg:
            actual = list(pkg.sheets)
            parts = {name: sheet.part for name, sheet in pkg.sheets.items()}
        self._in_book = _sheets_in_book(self.schema, actual)
        internal = {book_name: name for name, book_name in self._in_book.items()}
        self._actual = actual
        self._names = [internal.get(n, n) for n in actual]
        self._reader = Reader(self._path, parts)

    @property
    def sheet_names(self) -> list[str]:
        return self._names

    @property
    def actual_names(self) -> list[str]:
        return self._actual

    @property
    def renamed(self) -> bool:
        return any(k != v for k, v in self._in_book.items())

    def book_name(self, name: str) -> str:
        """The name a crmbook sheet carries in this workbook (Kunden for Customers in German)."""
        return self._in_book.get(name, name)

    def read(self, name: str) -> RawSheet:
        if name not in self._names:
            return RawSheet.empty(name)
        return self._reader.sheet(self.book_name(name))

    def header(self, name: str) -> tuple[list[str], int]:
        return self._reader.header(self.book_name(name))

    def column(self, name: str, position: int, column: str) -> np.ndarray:
        values = self._reader.column(self.book_name(name), position)
        return values[values != ""]

    def close(self) -> None:
        self._reader.close()

    def reopen(self) -> WorkbookStorage:
        return WorkbookStorage(self._path, self.schema)

    # ------------------------------------------------------------ saving

    def save(self, book: Book, target: Path | None, *, force: bool, backups: int) -> dict:
        """Write the changes atomically; refuse if someone else has the file open or changed it."""
        target = Path(target) if target else self._path

        def still_ours() -> None:
            if target == self._path:
                check_not_locked(self._path, force=force)
                self.state.check_unchanged(self._path, force=force)

        still_ours()  # fail fast, before the work of writing
        if self._path.exists() and FileState.of(self._path) != self.state:
            self._open_reader()  # forced over a newer file: read its layout, not the old one's
        changes: dict[str, SheetChange] = {}
        new_sheets = list(book._new_sheets.values())
        upgrade = book.upgrade
        if upgrade is not None:
            new_sheets += self._upgrade_sheets(book, upgrade)
            book.meta["schema_version"] = self.schema.version
        for name, table in book.tables.items():
            if table.sheet.system or (upgrade and name in upgrade.sheets):
                continue
            change = self._table_change(book, table)
            if upgrade and name in upgrade.columns and name in self._names:
                layout = book._layout(table.sheet)
                change = change or SheetChange(
                    "append",
                    pd.DataFrame(columns=layout),
                    book._header_row(table.sheet),
                    number_formats(table.sheet, layout),
                )
                _mark_added_columns(book, table.sheet, change, upgrade)
            if change is not None:
                changes[name] = change
        if book._log and "Log" in self._names:
            log_sheet = self.schema.sheet("Log")
            frame = pd.DataFrame(book._log)
            layout = book._layout(log_sheet)
            changes[log_sheet.name] = SheetChange(
                "append",
                pd.DataFrame({c: frame.get(c) for c in layout}),
                book._header_row(log_sheet),
                number_formats(log_sheet, layout),
            )
            if upgrade and log_sheet.name in upgrade.columns:
                _mark_added_columns(book, log_sheet, changes[log_sheet.name], upgrade)
        lists_upgrade = bool(upgrade and upgrade.lists)
        if (book._lists_changed or lists_upgrade) and self.schema.lists_sheet in self._names:
            changes[self.schema.lists_sheet] = self._lists_change(book)
        if (book._meta_changed or changes) and self.schema.meta_sheet in self._names:
            _record_fingerprints(book)
            rows = dict(meta_rows(self.schema, "", book.now()))
            rows.update(book.meta)
            meta = pd.DataFrame({"key": ["key", *rows.keys()], "value": ["value", *rows.values()]})
            changes[self.schema.meta_sheet] = SheetChange("rewrite", meta.iloc[1:], 1)
        tmp = target.with_name(f".{target.name}.crmbook-{uuid.uuid4().hex[:8]}")
        try:
            in_book = {self.book_name(name): change for name, change in changes.items()}
            last_rows = write_workbook(self._path, tmp, in_book, new_sheets)
            last_rows = {name: last_rows.get(self.book_name(name), 0) for name in changes}
            if upgrade is not None:
                last_rows |= {name: len(book.tables[name].df) + 1 for name in upgrade.sheets}
            atomic_replace(tmp, target, backups=backups, check=still_ours)
        finally:
            tmp.unlink(missing_ok=True)
        self._path = target
        self.state = FileState.of(target)
        self._reader.close()
        self._open_reader()
        return last_rows

    def _table_change(self, book: Book, table: Table) -> SheetChange | None:
        """A changed table as the writer takes it: the whole sheet again, or rows to append."""
        if table._rewrite:
            typed = table.typed
            added = table._added_columns
            return SheetChange(
                "rewrite",
                _for_writing(book, table, typed.frame, typed.layout),
                typed.header_row,
                number_formats(table.sheet, typed.layout),
                typed.rows.tolist(),
                added_columns=list(added) or None,
                added_widths=[max(12.0, len(c) + 4.0) for c in added] or None,
            )
        if table._new or table._pending_append:
            new = pd.concat(table._new, ignore_index=True) if table._new else pd.DataFrame()
            if table._typed is not None and table._pending_append:
                new = table._typed.frame.iloc[-table._pending_append :]
            layout = table._typed.layout if table._typed else book._layout(table.sheet)
            header_row = table._typed.header_row if table._typed else book._header_row(table.sheet)
            return SheetChange(
                "append",
                _for_writing(book, table, new, layout),
                header_row,
                number_formats(table.sheet, layout),
            )
        return None

    def _lists_change(self, book: Book) -> SheetChange:
        """The Lists sheet again: crmbook's lists and the numbers beside them as the book
        holds them, the user's own columns as they are; a numbers column it lacks (an older
        workbook) is added after the others."""
        raw = self.read(self.schema.lists_sheet)
        stored = lists_columns(self.schema, book.lists, book.list_numbers, book.words)
        heading = {name: name for name in book.lists}
        formats: dict[str, str] = {}
        added = []
        for vocab in self.schema.vocabularies:
            if vocab.numbers is None or vocab.name not in raw.header:
                continue
            label = book.words.field(vocab.numbers.name)
            formats[label] = vocab.numbers.number_format
            present = numbers_column(raw.header, vocab.numbers)
            if present is None:
                added.append(label)
            heading[present or label] = label
        columns = {}
        for position, name in enumerate([*raw.header, *added]):
            if name in heading:
                columns[name] = pd.Series(stored[heading[name]], dtype=object)
            else:
                columns[name] = raw.frame.iloc[:, position].reset_index(drop=True)
        return SheetChange(
            "rewrite",
            pd.DataFrame(columns),
            raw.header_row,
            [formats.get(heading.get(name, name)) for name in columns],
            added_columns=added or None,
            added_widths=[16.0] * len(added) if added else None,
        )

    def _upgrade_sheets(self, book: Book, upgrade: Upgrade) -> list[NewSheet]:
        """The schema sheets an older workbook lacks, with any records added to them."""
        out = []
        for name in upgrade.sheets:
            sheet = self.schema.sheet(name)
            table = book.tables[name]
            frame = table.df[sheet.columns] if table._typed or table._new else None
            if frame is None:
                frame = pd.DataFrame({f.name: empty_column(f, 0) for f in sheet.fields})
            frame = labelled(book, frame.reset_index(drop=True).copy(), sheet)
            frame.columns = [book.words.field(c) for c in frame.columns]
            out.append(
                NewSheet(
                    book.words.sheet(name),
                    frame,
                    [f.ftype.number_format for f in sheet.fields],
                    [f.width for f in sheet.fields],
                    table=name,
                    freeze="B2" if sheet.id_prefix else "A2",
                )
            )
        return out


def number_formats(sheet: Sheet, layout: list[str]) -> list[str | None]:
    """The Excel number format each column of the sheet needs (None for the user's own)."""
    return [sheet.field(name).ftype.number_format if sheet.has(name) else None for name in layout]


def labelled(book: Book, frame: pd.DataFrame, sheet: Sheet) -> pd.DataFrame:
    """Internal dropdown values as the labels of the workbook's language, for writing."""
    if book.words.lang == "en":
        return frame
    for f in sheet.fields:
        if f.vocabulary and f.name in frame:
            frame[f.name] = frame[f.name].map(
                lambda v: book.words.value(v) if isinstance(v, str) else v
            )
    return frame


def _for_writing(book: Book, table: Table, frame: pd.DataFrame, layout: list[str]) -> pd.DataFrame:
    """The frame in the sheet's column order, with unreadable cells written back as typed."""
    out = pd.DataFrame({name: frame.get(name, None) for name in layout}, index=frame.index)
    for name, raw in table._kept_raw.items():
        if name in out:
            keep = raw.index.intersection(out.index)
            keep = keep[out.loc[keep, name].isna()]
            if len(keep):
                out[name] = out[name].astype(object)
                out.loc[keep, name] = raw[keep]
    return labelled(book, out, table.sheet)


def _mark_added_columns(book: Book, sheet: Sheet, change: SheetChange, upgrade: Upgrade) -> None:
    added = [c for c in upgrade.columns.get(sheet.name, []) if c in change.frame.columns]
    if added and list(change.frame.columns[-len(added) :]) == added:
        change.added_columns = [book.words.field(c) for c in added]
        change.added_widths = [sheet.field(c).width for c in added]


def _record_fingerprints(book: Book) -> None:
    """Remember each record's field hashes, so a copy of this save can be merged later."""
    from crmbook.sharing.fingerprints import record_save

    full, appended = {}, {}
    for name, table in book.tables.items():
        if table.sheet.system or not table.sheet.key:
            continue
        if table._typed is not None:
            full[name] = table.df
        elif table._new:
            appended[name] = pd.concat(table._new, ignore_index=True)
    record_save(book.meta, book.schema, full, appended)


def _sheets_in_book(schema: Schema, actual: list[str]) -> dict[str, str]:
    """crmbook's sheet -> the sheet of the workbook that is it, by any language's name."""
    found = {}
    lowered = {n.lower(): n for n in reversed(actual)}
    for name in (*(s.name for s in schema.sheets), schema.lists_sheet, schema.dashboard_sheet):
        for alias in sheet_aliases(name):
            if alias.lower() in lowered:
                found[name] = lowered[alias.lower()]
                break
    return found
