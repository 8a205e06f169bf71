"""The default storage: one .xlsx workbook, read with fastexcel and saved part by part.

A save rewrites or appends to only the sheets that changed and copies every other part of
the file unchanged (io/writer.py), atomically, with backups, and refuses when Excel or
someone else has the file (io/safety.py). Where each record stands (its Excel row), the order
and headings of each sheet's columns and the language of its labels are learnt here while
reading and used here while saving; the Book speaks records and field names only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from crmbook.errors import CrmbookError, ForeignWorkbookError
from crmbook.excel_limits import MAX_ROWS
from crmbook.io.integrity import reading, verify
from crmbook.io.meta import meta_rows
from crmbook.io.newsheet import NewSheet
from crmbook.io.package import Package, check_file
from crmbook.io.reader import RawSheet, Reader
from crmbook.io.safety import (
    FileState,
    Temporary,
    atomic_replace,
    check_not_locked,
    remove_backups,
    remove_stale_temporaries,
)
from crmbook.io.scrub import pattern, scrub, scrub_parts
from crmbook.io.writer import SheetChange, write_workbook
from crmbook.languages import Words, book_words, sheet_aliases
from crmbook.lists import lists_columns, numbers_column
from crmbook.schema import Schema, Sheet
from crmbook.storage.base import Saved, Storage
from crmbook.storage.cache import SheetCache
from crmbook.storage.changes import Changes, SheetChanges, Upgrade
from crmbook.storage.frames import (
    LoadedSheet,
    Uncachable,
    code_fingerprint,
    decode_loaded,
    decode_raw,
    encode_loaded,
    encode_raw,
)
from crmbook.storage.legacy_state import is_legacy_key
from crmbook.storage.state import (
    BASE_SHEET,
    COLUMNS,
    MOVE_RECORDS,
    SAVES_SHEET,
    Generation,
    SaveState,
    frame_of,
    legacy_rows,
    moved_rows,
    plan_generation,
)
from crmbook.validation import empty_column, highest_id_number, match_headers

LOG = "Log"
_UNKNOWN = object()  # top_id(read=False) of a sheet whose ids were not seen


def create_workbook(path: Path, schema: Schema, *, overwrite: bool = False, lang: str = "en"):
    """Write a new empty workbook from the schema (sheets and labels in `lang`) and open it."""
    if path.exists() and not overwrite:
        raise CrmbookError(f"{path} already exists; choose another name or delete it first")
    from crmbook.io.template import write_template  # openpyxl: for a new workbook only

    now = dt.datetime.now().replace(microsecond=0)
    with Temporary(path) as tmp:
        write_template(tmp.path, workbook_id=uuid.uuid4().hex, now=now, schema=schema, lang=lang)
        atomic_replace(tmp, path, backups=0)
    return WorkbookStorage(path, schema)


class WorkbookStorage(Storage):
    kind = "workbook"
    row_limit = MAX_ROWS
    user_columns = True
    caches = True  # keep parsed sheets in the user's cache (storage/cache.py)

    def __init__(self, path: Path, schema: Schema):
        super().__init__(schema)
        self._path = Path(path)
        check_file(self._path)
        remove_stale_temporaries(self._path)
        self.state = FileState.of(self._path)
        # Learnt while reading, for saving: per schema sheet its columns by field name with
        # the row of its header, and the Excel row of each record by its position as read.
        self._layouts: dict[str, tuple[list[str], int]] = {}
        self._rows: dict[str, pd.Series] = {}
        # The save state (storage/state.py), read when first needed, and the sheets whose
        # records as last saved from here are what the state says (no hand edit since).
        self._state: SaveState | None = None
        self._exact: set[str] = set()
        self._caches: dict[str, SheetCache | None] = {}
        self._open: Reader | None = None
        # The highest id number on each sheet as stored, where known (see top_id()).
        self._top_ids: dict[str, int | None] = {}
        self._keys: dict[str, np.ndarray] = {}  # the stored keys read, until the file changes
        self._open_reader()

    def __repr__(self) -> str:
        return f"<WorkbookStorage {self._path.name}>"

    @property
    def path(self) -> Path:
        return self._path

    def _open_reader(self) -> None:
        self._close_reader()
        self._keys = {}
        with Package(self._path) as pkg:
            actual = list(pkg.sheets)
            parts = {name: sheet.part for name, sheet in pkg.sheets.items()}
            self._fingerprints = _fingerprints(pkg)
            self._stamps = {p: pkg.stamp(p) for p in parts.values() if p in pkg.infos}
        self._in_book = _sheets_in_book(self.schema, actual)
        if self.schema.meta_sheet not in actual and not any(
            s.name in self._in_book for s in self.schema.entities
        ):
            raise ForeignWorkbookError(
                f"{self._path.name} is a workbook but not a crmbook book (it has no Customers "
                f"sheet, only {_listed(actual)}); to bring its rows into a book, run: "
                f"crmbook import BOOK {self._path}"
            )
        internal = {book_name: name for name, book_name in self._in_book.items()}
        self._actual = actual
        self._names = [internal.get(n, n) for n in actual]
        self._parts = parts  # the fastexcel reader opens when a sheet is parsed, not before
        self._state, self._exact = None, set()  # the file may hold another state now

    @property
    def _reader(self) -> Reader:
        if self._open is None:
            self._open = Reader(self._path, self._parts)
        return self._open

    @property
    def sheet_names(self) -> list[str]:
        return [n for n in self._names if n not in (BASE_SHEET, SAVES_SHEET)]

    @property
    def actual_names(self) -> list[str]:
        return self._actual

    @property
    def renamed(self) -> bool:
        return any(k != v for k, v in self._in_book.items())

    def book_name(self, name: str) -> str:
        """The name a crmbook sheet carries in this workbook (Kunden for Customers in German)."""
        return self._in_book.get(name, name)

    # ------------------------------------------------------------ reading

    def read(self, name: str) -> RawSheet:
        if name not in self._names:
            return RawSheet.empty(name)
        if name in (self.schema.meta_sheet, self.schema.lists_sheet):
            raw = self._cached_raw(name)  # read by every open
        else:
            raw = self._reader.sheet(self.book_name(name))
        sheet = self._schema_sheet(name)
        self._exact.discard(name)  # read afresh: hand edits may be in it
        if sheet is not None:
            self._remember(name, raw.header, raw.header_row, raw.rows)
        return raw

    def load(
        self, name: str, context: str, parse: Callable[[RawSheet], LoadedSheet]
    ) -> LoadedSheet:
        key, cache, variant = self._cache_key(name), self._cache(name), f"typed {context}"
        entry = cache.get(name, key, variant) if cache and key else None
        if entry is not None:
            loaded = decode_loaded(entry.table, entry.about, self.schema.sheet(name))
            typed = loaded.typed
            self._remember(name, loaded.header, typed.header_row, typed.rows)
        else:
            loaded = parse(self.read(name))
            if cache and key:
                with contextlib.suppress(Uncachable):  # kept out: values Arrow cannot give back
                    cache.put(name, key, variant, *encode_loaded(loaded))
        self._top_ids[name] = loaded.top_id
        return loaded

    def _cached_raw(self, name: str) -> RawSheet:
        key, cache = self._cache_key(name), self._cache(name)
        entry = cache.get(name, key, "raw") if cache and key else None
        if entry is not None:
            return decode_raw(entry.table, entry.about)
        raw = self._reader.sheet(self.book_name(name))
        if cache and key:
            with contextlib.suppress(Uncachable):
                cache.put(name, key, "raw", *encode_raw(raw))
        return raw

    def _cached_typed(self, name: str) -> dict | None:
        """The description of a cached parse of the sheet as it is now (any context), with
        its table: to answer for its header, keys and ids without parsing."""
        key, cache = self._cache_key(name), self._cache(name)
        entry = cache.any(name, key) if cache and key else None
        if entry is None or entry.about.get("kind") != "loaded":
            return None
        return {**entry.about, "table": entry.table}

    def _remember(self, name: str, header: list[str], header_row: int, rows: pd.Series) -> None:
        """What saving needs of a sheet read: its columns by field name, its records' rows."""
        sheet = self._schema_sheet(name)
        self._layouts[name] = (match_headers(sheet, header), header_row)
        self._rows[name] = rows
        if self._written_with_state(name):
            self._exact.add(name)

    def _written_with_state(self, name: str) -> bool:
        """Whether the sheet's part is as a crmbook save wrote it (its stamp holds) in a book
        that keeps its save state: nothing was typed into it since, and the state knows its
        records, so the next save need not compare them all with the state."""
        part = self._parts.get(self.book_name(name))
        return SAVES_SHEET in self._names and bool(self._stamps.get(part))

    def _cache_key(self, name: str) -> str | None:
        """What a parse of the sheet depends on in the file: the zip directory's CRC-32 and
        size of its part and of the parts its values refer to (shared strings, styles, the
        workbook), with crmbook's code. (The Book adds what it depends on besides.)"""
        part = self._parts.get(self.book_name(name))
        if part not in self._fingerprints:
            return None
        return " | ".join(
            [
                code_fingerprint(),
                self.book_name(name),
                self._fingerprints[part],
                self._fingerprints[""],
            ]
        )

    def _cache(self, name: str) -> SheetCache | None:
        """The book's cache; the meta sheet, read before the book's identity is known, is kept
        under the file's path instead."""
        if not self.caches:
            return None
        scope = "path" if name == self.schema.meta_sheet else "book"
        if scope not in self._caches:
            self._caches[scope] = SheetCache.of_book(self._identity(scope))
        return self._caches[scope]

    def _identity(self, scope: str) -> str:
        if scope == "book":
            book = self.metadata().get("workbook_id")
            if book:
                return f"workbook {book}"
        return f"path {self._path.resolve()}"

    def drop_cache(self) -> None:
        for scope in ("path", "book"):
            cache = self._caches.get(scope) or SheetCache.anyway(self._identity(scope))
            if cache is None:
                continue
            try:
                cache.drop()
            except OSError as error:
                raise CrmbookError(
                    f"{self._path.name}: its cached copies in {cache.folder} could not be "
                    f"removed ({error}); close other programs using them and delete that "
                    "folder by hand"
                ) from error

    def columns(self, name: str) -> list[str]:
        return list(self._layout(name)[0])

    def keys(self, name: str) -> np.ndarray:
        """The keys stored in a sheet, read once while the file stays as it is (each add
        asks for them: the row limit and the highest id)."""
        if name not in self._keys:
            self._keys[name] = self._stored_keys(name)
        return self._keys[name]

    def _stored_keys(self, name: str) -> np.ndarray:
        sheet = self.schema.sheet(name)
        if name not in self._names:
            return np.array([], dtype=object)
        cached = self._cached_typed(name)
        if cached is not None and sheet.key in cached["columns"]:
            column = cached["table"].column(f"c{cached['columns'].index(sheet.key)}")
            values = column.drop_null().to_pandas()
            return values[values != ""].to_numpy()
        layout = self.columns(name)
        if sheet.key not in layout:
            return np.array([], dtype=object)
        values = self._reader.column(self.book_name(name), layout.index(sheet.key))
        return values[values != ""].to_numpy()

    def rows_taken(self, name: str) -> int:
        """Known from the stamp of a part crmbook wrote last (new rows go below its last
        row, blank ones included), else counted from the key column."""
        stamp = self._stamps.get(self._parts.get(self.book_name(name))) or {}
        if name in self._names and "last_row" in stamp and "header_row" in stamp:
            return max(int(stamp["last_row"]) - int(stamp["header_row"]), 0)
        return super().rows_taken(name)

    def top_id(self, name: str, *, read: bool = True) -> int | None:
        """The highest id number on the sheet: remembered beside its part when crmbook wrote
        it last (io/stamp.py), or in a cached parse, else read from its ids (unless not
        `read`: then _UNKNOWN)."""
        if name not in self._top_ids:
            stamp = self._stamps.get(self._parts.get(self.book_name(name))) or {}
            cached = self._cached_typed(name) if "top_id" not in stamp else None
            if "top_id" in stamp:
                self._top_ids[name] = stamp["top_id"]
            elif cached is not None:
                self._top_ids[name] = cached["top_id"]
            elif not read:
                return _UNKNOWN
            else:
                self._top_ids[name] = super().top_id(name)
        return self._top_ids[name]

    def _layout(self, name: str) -> tuple[list[str], int]:
        """A sheet's columns and header row, from its read or else from its header alone."""
        if name not in self._layouts:
            if name not in self._names:
                raise CrmbookError(
                    f"the workbook has no sheet '{name}'; cannot store "
                    f"{self.schema.sheet(name).entity} records. Restore the sheet first."
                )
            stamp = self._stamps.get(self._parts.get(self.book_name(name))) or {}
            cached = self._cached_typed(name) if "columns" not in stamp else None
            if "columns" in stamp:  # as crmbook wrote it last
                header, header_row = stamp["columns"], stamp["header_row"]
            elif cached is not None:
                header, header_row = cached["header"], cached["header_row"]
            else:
                header, header_row = self._reader.header(self.book_name(name))
            layout = match_headers(self.schema.sheet(name), header)
            self._layouts[name] = (layout, header_row)
        return self._layouts[name]

    def _schema_sheet(self, name: str) -> Sheet | None:
        return next((s for s in self.schema.sheets if s.name == name), None)

    def verify(self) -> None:
        with reading(self._path), zipfile.ZipFile(self._path) as z:
            verify(self._path, z)

    def close(self) -> None:
        self._close_reader()

    def _close_reader(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None

    def reopen(self) -> WorkbookStorage:
        return WorkbookStorage(self._path, self.schema)

    def discard(self) -> None:
        self.close()
        self._path.unlink(missing_ok=True)

    # ------------------------------------------------------------ saving

    def save(
        self, changes: Changes, target: Path | None = None, *, force: bool = False, backups: int = 3
    ) -> Saved:
        """Write the changes atomically; refuse if someone else has the file open or changed it."""
        target = Path(target) if target else self._path

        def still_ours() -> None:
            if target == self._path:
                check_not_locked(self._path, force=force)
                self.state.check_unchanged(self._path, force=force)

        still_ours()  # fail fast, before the work of writing
        if self._path.exists() and FileState.of(self._path) != self.state:
            self._open_reader()  # forced over a newer file: read its layout, not the old one's
            self._top_ids = {}  # and its ids
        meta = self.meta_after(changes)
        if changes.upgrade is not None:
            meta["schema_version"] = self.schema.version
        words = book_words(meta.get("language"))
        writes = self._record_writes(changes, words)
        if changes.lists is not None and self.schema.lists_sheet in self._names:
            writes[self.schema.lists_sheet] = self._lists_change(changes, words)
        new_sheets = list(changes.new_sheets)
        if changes.upgrade is not None:
            new_sheets += self._upgrade_sheets(changes, words)
        wrote_meta = bool(
            writes or changes.meta is not None or changes.counters or changes.touched
        ) and (self.schema.meta_sheet in self._names)
        exact = None
        if wrote_meta:
            exact = self._record_generation(changes, meta, writes, new_sheets)
            rows = dict(meta_rows(self.schema, "", changes.when))
            rows.update(meta)
            frame = pd.DataFrame({"key": list(rows), "value": list(rows.values())})
            writes[self.schema.meta_sheet] = SheetChange("rewrite", frame, 1)
        in_book = {self.book_name(name): change for name, change in writes.items()}
        scrubbed = self._scrubbed_parts(changes.forget, in_book, new_sheets)
        with Temporary(target) as tmp:
            hide = {n: "veryHidden" for n in (BASE_SHEET, SAVES_SHEET)} if wrote_meta else None
            with reading(self._path):
                last_rows = write_workbook(
                    self._path, tmp.path, in_book, new_sheets, scrubbed, hide
                )
            atomic_replace(tmp, target, backups=0 if changes.forget else backups, check=still_ours)
        if changes.forget:
            remove_backups(target)
            self.drop_cache()
        rows_now = self._rows_now(changes, writes, last_rows)
        for name, change in writes.items():  # an upgrade's columns are part of them now
            if self._schema_sheet(name) is not None:
                self._layouts[name] = (list(change.frame.columns), change.header_row)
        for name in changes.upgrade.sheets if changes.upgrade else ():
            self._layouts[name] = (list(self.schema.sheet(name).columns), 1)
        self._path = target
        self.state = FileState.of(target)
        self._caches.pop("path", None)
        self._top_ids = {k: v for k, v in self._top_ids.items() if k not in writes}
        self._open_reader()  # the stamps of the parts written tell their top ids now
        if wrote_meta:
            self._meta = meta
            self._state, self._exact = None, exact
        return Saved(target, dict(meta), rows_now)

    def _scrubbed_parts(
        self, texts: tuple[str, ...], writes: dict[str, SheetChange], new_sheets: list[NewSheet]
    ) -> dict[str, bytes]:
        """The parts this save copies that mention a person being erased, cleaned of it."""
        if not texts:
            return {}
        with Package(self._path) as pkg:
            written = {*writes, *(n.name for n in new_sheets)}
            skip = {sheet.part for name, sheet in pkg.sheets.items() if name in written}
            return scrub_parts(pkg, texts, skip)

    # ------------------------------------------------------------ save state

    @property
    def wants_every_record(self) -> bool:
        """The book has no save state of this crmbook's format yet: the save that makes it
        needs every record (the Book reads every sheet for it)."""
        return SAVES_SHEET not in self._names

    def save_state(self) -> SaveState:
        if self._state is None:
            if SAVES_SHEET not in self._names:
                meta = self.metadata()
                legacy = {k: str(v) for k, v in meta.items() if is_legacy_key(k)}
                self._state = SaveState(legacy=legacy)
                if meta.get("generation"):  # the state sheets were removed: their last save
                    lost = Generation.lost_one(str(meta["generation"]))
                    self._state.generations[lost.id] = lost
            else:
                base = self._state_rows(BASE_SHEET)
                self._state = SaveState.read(base, self._state_rows(SAVES_SHEET))
        return self._state

    def _state_rows(self, name: str) -> pd.DataFrame | None:
        if name not in self._names:
            return None
        return self._reader.sheet(self.book_name(name), text=True).frame

    def _record_generation(
        self,
        changes: Changes,
        meta: dict,
        writes: dict[str, SheetChange],
        new_sheets: list[NewSheet],
    ) -> set[str]:
        """Add this save's generation to the state (storage/state.py); returns the sheets
        whose records match the state after it."""
        legacy = {k: meta.pop(k) for k in [k for k in meta if is_legacy_key(k)]}
        first = SAVES_SHEET not in self._names
        parents = [str(meta["generation"])] if meta.get("generation") else []
        latest: dict[str, pd.DataFrame | None] = {}

        def state_of(sheet: str) -> pd.DataFrame | None:
            if first:
                return None
            if not latest:
                latest.update(self.save_state().state_at())
                latest.setdefault(sheet, None)
            return latest.get(sheet)

        plan = plan_generation(self.schema, changes, parents, set(self._exact), state_of)
        meta["generation"] = plan.generation.id
        waiting = 0 if first else int(meta.get("generation_records", 0) or 0) + plan.records
        if first:  # a parent here is the last save before the state sheets were removed
            lost = [Generation.lost_one(gen).row() for gen in parents]
            rows = frame_of(legacy_rows(legacy) + lost + plan.rows)
            new_sheets += [_state_sheet(BASE_SHEET, rows), _state_sheet(SAVES_SHEET, frame_of([]))]
        elif waiting > MOVE_RECORDS:  # move the waiting generations to the base sheet
            moved = moved_rows(self.save_state(), plan.rows, changes.when)
            writes[BASE_SHEET] = SheetChange("rewrite", moved, 1)
            writes[SAVES_SHEET] = SheetChange("rewrite", frame_of([]), 1)
            waiting = 0
        else:
            writes[SAVES_SHEET] = SheetChange("append", frame_of(plan.rows), 1)
        meta["generation_records"] = waiting
        return plan.exact

    def _record_writes(self, changes: Changes, words: Words) -> dict[str, SheetChange]:
        """The record sheets (and the log) as the writer takes them."""
        upgrade = changes.upgrade
        writes: dict[str, SheetChange] = {}
        names = [*changes.sheets, *(upgrade.columns if upgrade else ())]
        for name in dict.fromkeys(names):
            sheet = self.schema.sheet(name)
            if sheet.system or (upgrade and name in upgrade.sheets):
                continue
            changed = changes.sheets.get(name)
            added = _added(upgrade, name) if name in self._names else []
            added += list(changed.added_columns) if changed else []
            change = self._sheet_change(sheet, changed, words, added)
            if change is not None:
                writes[name] = change
        if (changes.log or changes.forget) and LOG in self._names:
            writes[LOG] = self._log_write(changes, words)
        return writes

    def _log_write(self, changes: Changes, words: Words) -> SheetChange:
        """The change log's new lines, appended; when a person is erased, the whole log again
        with their name, email and phone replaced in the earlier lines too."""
        log = self.schema.sheet(LOG)
        found = pattern(changes.forget)
        lines = pd.DataFrame(list(changes.log)).map(lambda v: scrub(v, found))
        layout, header_row = self._layout(LOG)
        added = _added(changes.upgrade, LOG)
        layout = layout + [c for c in added if c not in layout]
        frame = pd.DataFrame({c: lines.get(c) for c in layout})
        if found is None:
            change = SheetChange("append", frame, header_row, number_formats(log, layout))
        else:
            raw = self.read(LOG)
            earlier = raw.frame.set_axis(layout[: raw.frame.shape[1]], axis=1)
            earlier = earlier.astype(object).map(lambda v: scrub(v, found))
            whole = pd.concat([earlier, frame], ignore_index=True)[layout]
            rows = [*raw.rows.tolist(), *([None] * len(frame))]
            change = SheetChange("rewrite", whole, header_row, number_formats(log, layout), rows)
        _mark_added_columns(log, change, added, words)
        change.facts = {"columns": layout, "header_row": header_row}
        return change

    def _sheet_change(
        self, sheet: Sheet, changed: SheetChanges | None, words: Words, added: list[str]
    ) -> SheetChange | None:
        """A sheet's changes as the writer takes them: the whole sheet again, or rows to
        append; with an upgrade's new columns, at least their headers."""
        if not changed and not added:
            return None
        layout, header_row = self._layout(sheet.name)
        layout = layout + [c for c in added if c not in layout]
        formats = number_formats(sheet, layout)
        if changed and changed.rewritten:
            if changed.records is None:
                raise CrmbookError(f"{sheet.name}: records changed in place need the whole sheet")
            read_rows = self._rows.get(sheet.name)
            change = SheetChange(
                "rewrite",
                _for_writing(sheet, changed.records, layout, changed.unread, words),
                header_row,
                formats,
                _read_rows(read_rows, changed.read_positions).tolist(),
                unchanged=_unchanged(sheet, changed),
            )
        else:
            appended = changed.appended if changed else pd.DataFrame()
            change = SheetChange(
                "append", _for_writing(sheet, appended, layout, {}, words), header_row, formats
            )
        _mark_added_columns(sheet, change, added, words)
        ids = self._id_facts(sheet, changed, change.mode)
        change.facts = {"columns": layout, "header_row": header_row, **(ids or {})}
        return change

    def _id_facts(self, sheet: Sheet, changed: SheetChanges | None, mode: str) -> dict | None:
        """The highest id number on the sheet as this save leaves it, when it is known
        without reading the sheet: remembered beside the part for the next add (top_id).
        (With the sheet's columns: the next add need not read its header either.)"""
        if not sheet.id_prefix:
            return None
        if mode == "rewrite":
            return {"top_id": highest_id_number(changed.records["id"])}
        before = self.top_id(sheet.name, read=False)
        if before is _UNKNOWN:
            return None
        added = highest_id_number(changed.appended["id"]) if changed else None
        numbers = [n for n in (before, added) if n is not None]
        return {"top_id": max(numbers) if numbers else None}

    def _lists_change(self, changes: Changes, words: Words) -> SheetChange:
        """The Lists sheet again: crmbook's lists and the numbers beside them as the book
        holds them, the user's own columns as they are; a numbers column it lacks (an older
        workbook) is added after the others."""
        raw = self.read(self.schema.lists_sheet)
        lists = changes.lists
        stored = lists_columns(self.schema, lists, changes.list_numbers or {}, words)
        heading = {name: name for name in lists}
        formats: dict[str, str] = {}
        added = []
        for vocab in self.schema.vocabularies:
            if vocab.numbers is None or vocab.name not in raw.header:
                continue
            label = words.field(vocab.numbers.name)
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

    def _upgrade_sheets(self, changes: Changes, words: Words) -> list[NewSheet]:
        """The schema sheets an older workbook lacks, with any records added to them."""
        out = []
        for name in changes.upgrade.sheets:
            sheet = self.schema.sheet(name)
            frame = _all_records(changes.sheets.get(name))
            if frame is None or not len(frame.columns):
                frame = pd.DataFrame({f.name: empty_column(f, 0) for f in sheet.fields})
            frame = labelled(frame[sheet.columns].reset_index(drop=True).copy(), sheet, words)
            frame.columns = [words.field(c) for c in frame.columns]
            out.append(
                NewSheet(
                    words.sheet(name),
                    frame,
                    [f.ftype.number_format for f in sheet.fields],
                    [f.width for f in sheet.fields],
                    table=name,
                    freeze="B2" if sheet.id_prefix else "A2",
                )
            )
        return out

    def _rows_now(
        self, changes: Changes, writes: dict[str, SheetChange], last_rows: dict[str, int]
    ) -> dict[str, list[int | None]]:
        """Where the records of each sheet given whole now stand, remembered for the next
        save and told to the Book (its validation report shows them)."""
        now: dict[str, list[int | None]] = {}
        upgraded = changes.upgrade.sheets if changes.upgrade else ()
        for name, changed in changes.sheets.items():
            if name in upgraded:
                if changed.records is not None:
                    now[name] = list(range(2, len(changed.records) + 2))
            elif name in writes and changed.records is not None:
                now[name] = self._rows_after(name, changed, writes[name], last_rows)
            elif name in writes:
                self._rows.pop(name, None)  # appended to unread: its next read tells
        for name, rows in now.items():
            self._rows[name] = pd.Series(rows, dtype=object)
        return now

    def _rows_after(
        self, name: str, changed: SheetChanges, write: SheetChange, last_rows: dict[str, int]
    ) -> list[int | None]:
        last = last_rows.get(self.book_name(name), 0)
        n = len(changed.records)
        if write.mode == "rewrite":
            return list(range(last - n + 1, last + 1))
        out = _read_rows(self._rows.get(name), changed.read_positions)
        new = changed.read_positions.isna().to_numpy()  # appended, in order, after the last
        first_added = last - len(write.frame) + 1
        out[new] = list(range(first_added, first_added + int(new.sum())))
        return out.tolist()


def number_formats(sheet: Sheet, layout: list[str]) -> list[str | None]:
    """The Excel number format each column of the sheet needs (None for the user's own)."""
    return [sheet.field(name).ftype.number_format if sheet.has(name) else None for name in layout]


def labelled(frame: pd.DataFrame, sheet: Sheet, words: Words) -> pd.DataFrame:
    """Internal dropdown values as the labels of the workbook's language, for writing."""
    if words.lang == "en":
        return frame
    for f in sheet.fields:
        if f.vocabulary and f.name in frame:
            frame[f.name] = frame[f.name].map(lambda v: words.value(v) if isinstance(v, str) else v)
    return frame


def _added(upgrade: Upgrade | None, name: str) -> list[str]:
    return list(upgrade.columns.get(name, ())) if upgrade else []


def _read_rows(rows: pd.Series | None, positions: pd.Series) -> np.ndarray:
    """The Excel row each record at `positions` was read from (None when not known), with
    numpy alone (a pd.isna per record cost 1 s on 500,000 interactions)."""
    out = np.full(len(positions), None, dtype=object)
    if rows is None:
        return out
    known = pd.to_numeric(rows.reset_index(drop=True), errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )
    at = pd.to_numeric(positions, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    inside = ~np.isnan(at) & (at >= 0) & (at < len(known))
    found = np.full(len(at), np.nan)
    found[inside] = known[at[inside].astype(np.int64)]
    there = ~np.isnan(found)
    out[there] = found[there].astype(np.int64).tolist()
    return out


def _unchanged(sheet: Sheet, changed: SheetChanges) -> list[bool] | None:
    """Per record, whether it is as it was read (its stored row can be kept as it is): not
    new, given no id, not updated. Only for sheets keyed by ids (an id never changes)."""
    if not sheet.id_prefix or changed.read_positions is None:
        return None
    positions = changed.read_positions
    given = positions.isin(list(changed.given_ids)).fillna(False)
    updated = changed.records[sheet.key].isin(list(changed.updated))
    return (positions.notna() & ~given & ~updated).to_numpy(dtype=bool).tolist()


def _all_records(changed: SheetChanges | None) -> pd.DataFrame | None:
    if changed is None:
        return None
    return changed.records if changed.records is not None else changed.appended


def _for_writing(
    sheet: Sheet,
    frame: pd.DataFrame,
    layout: list[str],
    unread: dict[str, pd.Series],
    words: Words,
) -> pd.DataFrame:
    """The frame in the sheet's column order, with unreadable cells written back as typed."""
    out = pd.DataFrame({name: frame.get(name, None) for name in layout}, index=frame.index)
    for name, raw in unread.items():
        if name in out:
            keep = raw.index.intersection(out.index)
            keep = keep[out.loc[keep, name].isna()]
            if len(keep):
                out[name] = out[name].astype(object)
                out.loc[keep, name] = raw[keep]
    return labelled(out, sheet, words)


def _mark_added_columns(sheet: Sheet, change: SheetChange, added: list[str], words: Words) -> None:
    """Columns new to the sheet (an upgrade's, the person's own) get their header written."""
    added = [c for c in added if c in change.frame.columns]
    if added and list(change.frame.columns[-len(added) :]) == added:
        change.added_columns = [words.field(c) if sheet.has(c) else c for c in added]
        change.added_widths = [
            sheet.field(c).width if sheet.has(c) else max(12.0, len(c) + 4.0) for c in added
        ]


def _state_sheet(name: str, rows: pd.DataFrame) -> NewSheet:
    """A sheet of the save state: plain text cells, very hidden (people never see it)."""
    return NewSheet(
        name, rows, ["@"] * len(COLUMNS), [12.0] * len(COLUMNS), None, "veryHidden", None
    )


def _fingerprints(pkg: Package) -> dict[str, str]:
    """Part -> its CRC-32 and size in the zip directory; under "" those of the parts every
    sheet's values depend on (the workbook, its shared strings and styles)."""
    found = {
        name: f"{info.CRC:08x}:{info.file_size}"
        for name, info in pkg.infos.items()
        if name.endswith(".xml")
    }
    rels = pkg.rels(pkg.workbook_part).values()
    shared = [pkg.workbook_part, *sorted(t for k, t in rels if k in ("sharedStrings", "styles"))]
    found[""] = ",".join(f"{part}={found.get(part, '-')}" for part in shared)
    return found


def _listed(names: list[str], most: int = 4) -> str:
    shown = ", ".join(repr(n) for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


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
