"""The Book: one workbook as typed DataFrames per entity, changed through one generic API.

    book = crmbook.open("shop.xlsx")
    book.customers.df                      # typed pandas DataFrame
    cid = book.customers.add(name="Anna", email="anna@example.com")
    book.interactions.add(customer_id=cid, when="2024-05-01 10:00", channel="call")
    book.save()

Sheets are read lazily (only what a job touches) and records are validated before they
enter the book. A save hands the storage one value, `Changes` (storage/changes.py): the
records added, the fields changed with the values read, the records deleted, the log lines
and the rest; the storage stores it all or nothing (the workbook rewrites only the sheets
that changed, see storage/workbook.py) and tells back what the Book needs (the rows its
records now stand on, the metadata as stored).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from crmbook.errors import CrmbookError, NotAWorkbookError, RecordError
from crmbook.excel_limits import clipped
from crmbook.io.newsheet import NewSheet, check_sheet_name, frame_formats, unique_headers
from crmbook.io.reader import RawSheet
from crmbook.languages import LABELS, book_words, sheet_aliases
from crmbook.lists import numbers_column, parse_share, read_numbers
from crmbook.schema import SCHEMA, Schema, Sheet
from crmbook.storage import (
    Changes,
    SheetChanges,
    Storage,
    Upgrade,
    is_database_url,
    storage_for,
)
from crmbook.storage import create as create_storage
from crmbook.storage.changes import COUNTER
from crmbook.storage.frames import LoadedSheet
from crmbook.storage.state import Generation
from crmbook.validation import (
    ERROR,
    Checker,
    Code,
    Report,
    TypedSheet,
    canonical_choices,
    check_records,
    empty_column,
    header_key,
    highest_id_number,
    parse_column,
    type_sheet,
)
from crmbook.values import missing, missing_mask


def open(
    location: str | os.PathLike,
    *,
    user: str | None = None,
    dayfirst: bool = True,
    password: str | None = None,
) -> Book:
    """Open a crmbook workbook, or a crmbook database by its URL, for reading and changing.

    `location` is a file ("shop.xlsx") or a database URL ("sqlite:///shop.db",
    "postgresql://user@server/shop"; see storage/sql.py). With a password, an encrypted
    workbook is decrypted to a private temporary copy and save() encrypts it again
    (see storage/encrypted.py).
    """
    if password is not None:
        if is_database_url(location):
            raise CrmbookError("a password protects a workbook file, not a database")
        from crmbook.storage.encrypted import EncryptedStorage

        storage = EncryptedStorage(Path(location), password, SCHEMA)
        return Book(storage, user=user, dayfirst=dayfirst)
    return Book(storage_for(location, SCHEMA), user=user, dayfirst=dayfirst)


def create(
    location: str | os.PathLike,
    *,
    user: str | None = None,
    overwrite: bool = False,
    lang: str = "en",
) -> Book:
    """Make a new empty workbook from the schema (sheets and labels in `lang`), or the
    tables of a new database at a database URL, and open it."""
    return Book(create_storage(location, SCHEMA, overwrite=overwrite, lang=lang), user=user)


BULK_LOG_THRESHOLD = 100


def format_id(prefix: str, number: int) -> str:
    return f"{prefix}-{number:06d}"


class Table:
    """The records of one entity sheet."""

    def __init__(self, book: Book, sheet: Sheet):
        self.book = book
        self.sheet = sheet
        self._typed: TypedSheet | None = None
        self._new: list[pd.DataFrame] = []  # records added before the sheet was read
        self._kept_raw: dict[str, pd.Series] = {}  # field -> unreadable values, by frame index
        self._added_columns: list[str] = []  # user columns added since the last save
        self._stored_keys: set[str] | None = None
        self._counted = False  # the id counter moved past the sheet's stored ids
        # What the storage holds, to tell it what changed (see changes()): by frame index,
        # each stored record's position as read and its key; the fields changed since, with
        # the value read; the ids given to records read without one.
        self._read_at: pd.Series | None = None
        self._stored: pd.Series | None = None
        self._edits: dict[object, dict[str, object]] = {}
        self._given_ids: dict[int, str] = {}

    def __repr__(self) -> str:
        return f"<Table {self.sheet.name}: {len(self)} records>"

    def __len__(self) -> int:
        return len(self.df)

    # ------------------------------------------------------------ reading

    @property
    def typed(self) -> TypedSheet:
        if self._typed is None:
            self._typed = self.book._load(self.sheet)
            self._remember_stored()
        if self._new:
            new = pd.concat(self._new, ignore_index=True)
            self._new = []
            self._append(new)
        return self._typed

    @property
    def df(self) -> pd.DataFrame:
        """The records as a typed DataFrame (schema columns, then the user's own columns)."""
        return self.typed.frame

    @property
    def keys(self) -> set[str]:
        """Every key in the sheet (read cheaply when the sheet is not loaded yet)."""
        if self._typed is None:
            return self._existing_keys()
        return set(self.df[self.sheet.key].dropna().tolist())  # Arrow hands over in C

    def _existing_keys(self) -> set[str]:
        """The keys in the sheet and not yet saved; an unloaded sheet is read but not typed.

        Reading the keys also moves the id counter past ids someone typed in Excel.
        """
        if self._typed is not None:
            return self.keys
        if self._stored_keys is None:
            self._stored_keys = set(self.book.storage.keys(self.sheet.name))
            if self.sheet.id_prefix and not self._counted:
                self.book._bump_counter(self.sheet, pd.Series(list(self._stored_keys), dtype="str"))
                self._counted = True
        pending = {k for frame in self._new for k in frame[self.sheet.key].dropna()}
        return self._stored_keys | pending

    def _counter_past_stored_ids(self) -> None:
        """Move the id counter past every id in the sheet, typed by hand ones included,
        without reading the sheet when the storage knows its highest id (Storage.top_id)."""
        if self._typed is not None or self._stored_keys is not None or self._counted:
            return  # reading the sheet or its keys moved it already
        number = self.book.storage.top_id(self.sheet.name)
        if number is not None:
            self.book.bump_counter(self.sheet.name, number)
        self._counted = True

    @property
    def user_columns(self) -> list[str]:
        """The sheet's columns of the user's own (kept on every save, values as typed)."""
        return [c for c in self.df.columns if not self.sheet.has(c)]

    @property
    def keeps_user_columns(self) -> bool:
        """Whether the storage keeps user columns (a workbook and a database do)."""
        return self.book.storage.user_columns

    def add_column(self, name: str) -> str:
        """Add a column of the user's own at the end of the sheet, empty for every record."""
        name = " ".join(str(name).split())
        if not self.keeps_user_columns:
            raise CrmbookError(
                f"{self.book.location} keeps only crmbook's columns; cannot add {name!r} "
                f"to {self.sheet.name}"
            )
        taken = {header_key(f.name) for f in self.sheet.fields} | {
            header_key(f.label) for f in self.sheet.fields
        }
        if not name or header_key(name) in taken:
            raise CrmbookError(f"{name!r} cannot be a column of your own: choose another name")
        if any(header_key(c) == header_key(name) for c in self.df.columns):
            raise CrmbookError(f"{self.sheet.name} has a column {name!r} already")
        typed = self.typed
        typed.frame[name] = pd.Series(None, index=typed.frame.index, dtype=object)
        typed.layout.append(name)
        self._added_columns.append(name)
        self.book.log_change(self.sheet, [""], name, "", "column added")
        return name

    def get(self, key: str) -> dict:
        """One record as a dict; KeyError names what was not found."""
        return self.df.loc[self._position(key)].to_dict()

    def _position(self, key: str):
        frame = self.df
        hits = frame.index[frame[self.sheet.key] == key]
        if len(hits) == 0:
            raise KeyError(
                f"no {self.sheet.entity} with {self.sheet.key} {key!r} in {self.sheet.name}"
            )
        return hits[0]

    # ------------------------------------------------------------ changing

    def add(self, **values: object) -> str:
        """Add one record; returns its id (or name for Sources, Templates, Competitors)."""
        return self.add_many([values])[0]

    def add_many(
        self, records: Iterable[Mapping] | pd.DataFrame, *, keep_ids: bool = False
    ) -> list[str]:
        """Add records in one go (validated together); nothing is added if any is wrong."""
        raw = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
        unknown = [c for c in raw.columns if not self.sheet.has(c)]
        own = [c for c in unknown if c in self.df.columns] if unknown else []
        unknown = [c for c in unknown if c not in own]
        if unknown:
            raise RecordError(
                f"{self.sheet.name} has no column {', '.join(map(repr, unknown))}; "
                f"columns are: {', '.join(self.sheet.columns)}"
            )
        if raw.empty:
            return []
        new = self._typed_records(raw.drop(columns=own).reset_index(drop=True))
        for column in own:
            new[column] = raw[column].map(_user_value).to_numpy()
        now = pd.Timestamp(self.book.now())
        if self.sheet.id_prefix and not keep_ids:
            new["id"] = None
        for stamp in ("created", "updated"):
            if self.sheet.has(stamp):
                new[stamp] = new[stamp].fillna(now) if keep_ids else now
        self._check(new, is_new=True)
        limit = self.book.storage.row_limit
        total = self.book._row_count(self) + len(new) if limit is not None else 0
        if limit is not None and total >= limit:
            raise RecordError(
                f"{self.sheet.name} would hold {total:,} records; an Excel sheet "
                f"holds at most {limit - 1:,} below its header. A database holds more: "
                "see crmbook migrate"
            )
        if self.sheet.id_prefix:  # only now: a refused record never uses up an id
            self._counter_past_stored_ids()
            new["id"] = self.book._assign_ids(self.sheet, new["id"] if keep_ids else None, len(new))
        if self._typed is None:
            self._new.append(new)
        else:
            self._append(new)
        keys = new[self.sheet.key].tolist()
        if len(keys) <= BULK_LOG_THRESHOLD:
            self.book.log_change(self.sheet, keys, "", "", "added")
        else:
            self.book.log_change(
                self.sheet, [f"{keys[0]}..{keys[-1]}"], "", "", f"added {len(keys):,} records"
            )
        return keys

    def update(self, key: str, **values: object) -> None:
        """Change fields of one record; the change is validated and logged."""
        self.update_many({key: values})

    def update_many(self, changes: Mapping[str, Mapping[str, object]]) -> None:
        """Change fields of many records at once (key -> field -> value): validated together,
        nothing changed if any is wrong; every changed field is logged."""
        if not changes:
            return
        given = pd.DataFrame.from_dict({k: dict(v) for k, v in changes.items()}, orient="index")
        named = pd.DataFrame.from_dict(
            {k: dict.fromkeys(v, True) for k, v in changes.items()}, orient="index"
        ).reindex(index=given.index, columns=given.columns)
        named = named.fillna(False).astype(bool)
        own = [c for c in given.columns if not self.sheet.has(c) and c in self.df.columns]
        unknown = [c for c in given.columns if not self.sheet.has(c) and c not in own]
        if unknown or "id" in given.columns:
            bad = unknown or ["id"]
            raise RecordError(f"cannot set {', '.join(map(str, bad))} on {self.sheet.name}")
        keys = [str(k) for k in given.index]
        positions = self._positions(keys)
        frame = self.df
        candidate = frame.loc[positions].reset_index(drop=True)
        fields = [c for c in given.columns if c not in own]
        typed = self._typed_records(given[fields].reset_index(drop=True), defaults=False)
        for name in fields:
            mask = named[name].to_numpy()
            column = candidate[name].astype(object)
            column[mask] = typed[name][mask].astype(object)
            candidate[name] = column.astype(frame[name].dtype, errors="ignore")
        for name in own:
            mask = named[name].to_numpy()
            column = candidate[name].astype(object)
            column[mask] = [_user_value(v) for v in given[name][mask]]
            candidate[name] = column
        if self.sheet.has("updated"):
            candidate["updated"] = pd.Timestamp(self.book.now())
        self._check(candidate, is_new=False, ignore_keys=set(keys))
        for name in candidate.columns:
            if name not in frame.columns:
                continue
            olds = frame.loc[positions, name].tolist()
            news = candidate[name].tolist()
            moved = [i for i in range(len(keys)) if not _same(olds[i], news[i])]
            if not moved:
                continue
            # one write per column: a cell at a time copies an Arrow-backed column each time
            frame.loc[[positions[i] for i in moved], name] = candidate[name].iloc[moved].array
            for i in moved:
                self._edits.setdefault(positions[i], {}).setdefault(name, olds[i])
                if name != "updated":
                    self.book.log_change(
                        self.sheet, [keys[i]], name, _shown(olds[i]), _shown(news[i])
                    )
            if name in self._kept_raw:
                dropped = [positions[i] for i in moved]
                self._kept_raw[name] = self._kept_raw[name].drop(dropped, errors="ignore")

    def _positions(self, keys: list[str]) -> list:
        """The frame index of each key's record; KeyError names the first one not found."""
        frame = self.df
        index = pd.Series(frame.index, index=frame[self.sheet.key].astype(object))
        index = index[~index.index.duplicated()]
        missing = [k for k in keys if k not in index.index]
        if missing:
            raise KeyError(
                f"no {self.sheet.entity} with {self.sheet.key} {missing[0]!r} in {self.sheet.name}"
            )
        return index.loc[keys].tolist()

    def upsert(self, key: str, **values: object) -> str:
        """Change the record with this key, or add it: names match whatever their case
        ("newsletter" finds "Newsletter"). For Sources, Templates, Competitors, Segments."""
        if self.sheet.id_prefix:
            raise RecordError(
                f"{self.sheet.name} records get their ids from crmbook; "
                "use add() or update(id, ...)"
            )
        names = self.df[self.sheet.key].astype("str").str.strip().str.casefold()
        same = self.df[self.sheet.key][names == str(key).strip().casefold()]
        if len(same):
            self.update(same.iloc[0], **values)
            return same.iloc[0]
        return self.add(**{self.sheet.key: key, **values})

    def delete(self, key: str) -> None:
        """Remove one record. Its id is never given out again."""
        self.delete_many([key])

    def delete_many(self, keys: Iterable[str]) -> None:
        """Remove records; each removal is logged with what the record held."""
        keys = [str(k) for k in keys]
        if not keys:
            return
        positions = self._positions(keys)
        frame = self.df
        for key, position in zip(keys, positions, strict=True):
            summary = ", ".join(
                f"{k}={_shown(v)}" for k, v in frame.loc[position].items() if not missing(v)
            )
            self.book.log_change(self.sheet, [key], "", summary, "deleted")
        self.typed.frame = frame.drop(index=positions)
        self.typed.rows = self.typed.rows.drop(index=positions)

    # ------------------------------------------------------------ helpers

    def _typed_records(self, raw: pd.DataFrame, defaults: bool = True) -> pd.DataFrame:
        checker = Checker(self.book.schema)
        columns = {}
        for f in self.sheet.fields:
            if f.name in raw:
                parsed = parse_column(f, raw[f.name], self.book.dayfirst)
                for value in raw[f.name][parsed.bad]:
                    checker.add(parsed.code, self.sheet.name, None, f.name, value)
                col = parsed.values
                if defaults and f.default is not None and f.type != "bool":
                    col = col.fillna(f.default)
                columns[f.name] = col
            else:
                col = empty_column(f, len(raw))
                if defaults and f.default is not None and f.type != "bool":
                    col = col.fillna(f.default)
                columns[f.name] = col
        if checker.issues:
            raise RecordError(_issues_message(self.sheet, checker.issues), checker.issues)
        frame = pd.DataFrame(columns)
        canonical_choices(frame, self.sheet, self.book.lists)
        return frame

    def _check(
        self, new: pd.DataFrame, *, is_new: bool, ignore_keys: set[str] = frozenset()
    ) -> None:
        checker = Checker(self.book.schema)
        typed = TypedSheet(
            self.sheet, new, pd.Series([None] * len(new), dtype=object), list(new.columns)
        )
        keys = self.book._reference_keys(self.sheet)
        if self.sheet.name in keys:  # records may refer to each other (referred_by)
            keys[self.sheet.name] = keys[self.sheet.name] | set(new[self.sheet.key].dropna())
        check_records(typed, checker, self.book.lists, keys, self.book.today())
        key = self.sheet.key
        if (not self.sheet.id_prefix or is_new) and new[key].notna().any():
            existing = self._existing_keys() - set(ignore_keys)
            clash = new[key][new[key].astype(object).isin(existing)]  # Arrow's isin is slow
            for value in clash:
                checker.add(
                    Code.DUPLICATE,
                    self.sheet.name,
                    None,
                    key,
                    value,
                    message=f"{key} '{value}' already exists",
                    fix=f"choose another {key}",
                )
        errors = [i for i in checker.issues if i.severity == ERROR]
        if errors:
            raise RecordError(_issues_message(self.sheet, errors), errors)

    def _append(self, new: pd.DataFrame) -> None:
        """New records at the end, under frame labels no stored record ever had."""
        typed = self._typed
        taken = [typed.frame.index.max() if len(typed.frame) else -1]
        if self._read_at is not None and len(self._read_at):
            taken.append(self._read_at.index.max())
        start = int(max(taken)) + 1
        new = new.set_axis(pd.RangeIndex(start, start + len(new)))
        for name in typed.frame.columns:
            if name not in new:
                new[name] = None
        frame = (
            pd.concat([typed.frame, new[typed.frame.columns]])
            if len(typed.frame)
            else new[typed.frame.columns].copy()
        )
        for name in typed.frame.columns:
            if frame[name].dtype != typed.frame[name].dtype and len(typed.frame):
                frame[name] = frame[name].astype(typed.frame[name].dtype, errors="ignore")
        rows = pd.Series([None] * len(new), index=new.index, dtype=object)
        typed.frame, typed.rows = frame, pd.concat([typed.rows.astype(object), rows])

    def _remember_stored(self) -> None:
        frame = self._typed.frame
        self._read_at = pd.Series(np.arange(len(frame)), index=frame.index)
        self._stored = frame[self.sheet.key].copy() if self.sheet.key else None
        self._edits = {}

    @property
    def changed(self) -> bool:
        """Whether anything is waiting to be saved (cheaper than changes())."""
        if self._typed is None:
            return bool(self._new)
        return (
            bool(self._new or self._edits or self._given_ids or self._added_columns)
            or len(self._typed.frame) != len(self._read_at)
            or not self._typed.frame.index.equals(self._read_at.index)
        )

    def changes(self) -> SheetChanges | None:
        """This sheet's part of the next save; None when it was neither read nor added to."""
        if self._typed is None:
            if not self._new:
                return None
            return SheetChanges(self.sheet.name, pd.concat(self._new, ignore_index=True))
        frame = self.typed.frame
        read_at = self._read_at.reindex(frame.index).astype("Int64")
        deleted: list[str] = []
        updated: dict[str, dict[str, tuple[object, object]]] = {}
        stored = self._stored
        if stored is not None:
            deleted = stored[~stored.index.isin(frame.index)].dropna().tolist()
            edited = [p for p in self._edits if p in stored.index and p in frame.index]
            names = {name for p in edited for name in self._edits[p]}
            now = {
                name: dict(zip(edited, frame.loc[edited, name].tolist(), strict=True))
                for name in names
            }
            for position in edited:
                updated[stored[position]] = {
                    name: (value, now[name][position])
                    for name, value in self._edits[position].items()
                }
        return SheetChanges(
            self.sheet.name,
            frame[read_at.isna().to_numpy()],
            updated,
            tuple(deleted),
            dict(self._given_ids),
            frame,
            read_at,
            dict(self._kept_raw),
            tuple(self._added_columns),
        )

    def _saved(self, rows: list[int | None] | None) -> None:
        """After a save: what is stored now is what the Book holds."""
        if self._typed is not None:
            if rows is not None:
                self._typed.rows = pd.Series(rows, index=self._typed.frame.index, dtype=object)
            self._remember_stored()
        self._new, self._given_ids, self._stored_keys = [], {}, None
        self._counted = False
        self._added_columns = []


def _user_value(value: object) -> object:
    """A value for a user's own column: text trimmed, nothing for blanks, others as given."""
    if isinstance(value, str):
        return value.strip() or None
    return None if missing(value) else value


def _same(a: object, b: object) -> bool:
    if missing(a) and missing(b):
        return True
    if missing(a) or missing(b):
        return False
    return a == b


def _shown(value: object) -> str:
    if missing(value):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else str(value)
    return str(value)


def _issues_message(sheet: Sheet, issues: list) -> str:
    lines = [f"{sheet.name}: the record was not saved:"]
    lines += [
        f"  - {i.column}: {i.message}"
        + ("" if missing(i.value) else f" ({i.value})")
        + f". {i.fix}"
        for i in issues
    ]
    return "\n".join(lines)


class Book:
    """A crmbook workbook (or database): typed tables, the Lists vocabularies, validation
    and save. `storage` is where the records live (a workbook file by default)."""

    def __init__(
        self,
        storage: Storage | str | os.PathLike,
        *,
        user: str | None = None,
        dayfirst: bool = True,
        schema: Schema = SCHEMA,
    ):
        self.storage = storage if isinstance(storage, Storage) else storage_for(storage, schema)
        self.schema = schema
        self.dayfirst = dayfirst
        self.user = user or os.environ.get("CRMBOOK_USER") or _login_name()
        self._load_issues: dict[str, list] = {}
        self.tables = {s.name: Table(self, s) for s in schema.sheets}
        self.meta = self.storage.metadata()
        self._stored_meta = dict(self.meta)  # what changes() compares against
        self.words = book_words(self.meta.get("language"))
        self._new_sheets: dict[str, NewSheet] = {}
        self.upgrade: Upgrade | None = None
        self.upgrade = self._plan_upgrade()
        self.lists = self._read_lists()
        self.list_numbers = self._read_numbers()
        self._lists_changed = False
        self._log: list[dict] = []
        self._touched = False
        self._joined: tuple[Generation, ...] = ()
        self._forget: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"<Book {self.storage.location}>"

    @property
    def path(self) -> Path:
        """The workbook file (for a database, see Storage.path)."""
        return self.storage.path

    @property
    def location(self) -> str:
        """What opens this book again: the file name or the database URL."""
        return self.storage.location

    @property
    def sheet_names(self) -> list[str]:
        return self.storage.sheet_names

    @property
    def _foreign(self) -> bool:
        """Whether the workbook shows another language than the internal names."""
        return self.words.lang != "en" or self.storage.renamed

    def _internal_values(self, frame: pd.DataFrame, sheet: Sheet) -> None:
        """Dropdown labels of any language ('offen', 'Termin') as internal values."""
        if not self._foreign:
            return
        for f in sheet.fields:
            if f.vocabulary and f.name in frame:
                col = frame[f.name].copy()
                known = col.notna()
                col[known] = [LABELS.get(str(v).strip().lower(), v) for v in col[known]]
                frame[f.name] = col

    def __getattr__(self, name: str) -> Table:
        tables = self.__dict__.get("tables", {})
        for table in tables.values():
            if name in (table.sheet.name.lower(), table.sheet.entity + "s"):
                return table
        raise AttributeError(name)

    def table(self, name: str) -> Table:
        """A table by sheet name ("Customers") or entity ("customer")."""
        return self.tables[self.schema.sheet(name).name]

    # ------------------------------------------------------------ clock and user

    def now(self) -> dt.datetime:
        return dt.datetime.now().replace(microsecond=0)

    def today(self) -> dt.date:
        return self.now().date()

    # ------------------------------------------------------------ reading

    def _raw(self, name: str) -> RawSheet:
        return self.storage.read(name)

    def read_sheet(self, name: str) -> pd.DataFrame:
        """Any sheet's values as stored, by its headings (a sheet crmbook wrote with
        write_sheet, a person's own); blank rows left out."""
        return self._raw(name).frame.copy()

    def _load(self, sheet: Sheet) -> TypedSheet:
        checker = Checker(self.schema)
        if sheet.name not in self.sheet_names and not (
            self.upgrade and sheet.name in self.upgrade.sheets
        ):
            checker.add(Code.MISSING_SHEET, sheet.name)
        loaded = self.storage.load(
            sheet.name, self._parse_context(sheet), lambda raw: self._parse(sheet, raw)
        )
        typed = loaded.typed
        checker.issues.extend(loaded.issues)
        if self.upgrade is not None:
            added = self.upgrade.columns.get(sheet.name, [])
            typed.layout += self._added_columns(sheet, typed.layout)
            checker.issues = [
                i
                for i in checker.issues
                if not (i.code == Code.MISSING_COLUMN and i.column in added)
            ]
        table = self.tables[sheet.name]
        table._kept_raw.update(loaded.unread)
        if sheet.id_prefix and len(typed.frame):
            missing = typed.frame["id"].isna()
            if loaded.top_id is not None and (missing.any() or not self.storage.guards_ids):
                self.bump_counter(sheet.name, loaded.top_id)
            if missing.any():
                ids = self._assign_ids(sheet, None, int(missing.sum()))
                for row, new_id in zip(typed.rows[missing], ids, strict=True):
                    checker.add(Code.MISSING_ID, sheet.name, row, "id", new_id=new_id)
                typed.frame.loc[missing, "id"] = ids
                positions = typed.frame.index[missing.to_numpy()]
                table._given_ids = dict(zip(positions, ids, strict=True))
        self._load_issues[sheet.name] = checker.issues
        return typed

    def _parse(self, sheet: Sheet, raw: RawSheet) -> LoadedSheet:
        """A sheet's values typed: what the storage may cache (see _parse_context)."""
        checker = Checker(self.schema)
        typed = type_sheet(sheet, raw, checker, self.dayfirst)
        self._internal_values(typed.frame, sheet)
        canonical_choices(typed.frame, sheet, self.lists)
        unread = {}
        for name in {i.column for i in checker.issues if i.code.startswith("bad-")}:
            original = raw.frame.iloc[:, typed.layout.index(name)].reset_index(drop=True)
            unreadable = typed.frame[name].isna() & ~missing_mask(original)
            unread[name] = original[unreadable]
        top_id = highest_id_number(typed.frame["id"]) if sheet.id_prefix else None
        return LoadedSheet(typed, list(raw.header), checker.issues, unread, top_id)

    def _parse_context(self, sheet: Sheet) -> str:
        """What _parse depends on besides the sheet's cells: the sheet's schema, the
        workbook's language, the Lists and the date order."""
        lists = json.dumps(self.lists, sort_keys=True, ensure_ascii=False)
        return hashlib.blake2b(
            f"{sheet!r}|{self.words.lang}|{self._foreign}|{self.dayfirst}|{lists}".encode(),
            digest_size=16,
        ).hexdigest()

    def _added_columns(self, sheet: Sheet, layout: list[str]) -> list[str]:
        """The schema columns a pending upgrade adds to this sheet (none without one)."""
        if self.upgrade is None:
            return []
        return [c for c in self.upgrade.columns.get(sheet.name, ()) if c not in layout]

    def _row_count(self, table: Table) -> int:
        """Rows stored and pending; a sheet not loaded is counted by the storage, cheaply."""
        if table._typed is not None:
            return len(table._typed.frame)
        return self.storage.rows_taken(table.sheet.name) + sum(map(len, table._new))

    def _plan_upgrade(self) -> Upgrade | None:
        """Refuse a workbook from a newer crmbook; plan the upgrade of an older one."""
        version = self.meta.get("schema_version")
        if not isinstance(version, int):
            return None
        if version > self.schema.version:
            raise NotAWorkbookError(
                f"{self.path} was made by a newer crmbook (schema version {version}); this "
                f"crmbook knows versions up to {self.schema.version}. Update crmbook "
                "(pip install -U crmbook) to open it; nothing was changed."
            )
        if version == self.schema.version:
            return None
        sheets = [s.name for s in self.schema.sheets if s.name not in self.sheet_names]
        columns = {}
        for sheet in self.schema.sheets:
            if sheet.name in self.sheet_names:
                layout = self.storage.columns(sheet.name)
                missing = [c for c in sheet.columns if c not in layout]
                if missing and layout:
                    columns[sheet.name] = missing
        return Upgrade(version, sheets, columns, self._missing_numbers())

    def _missing_numbers(self) -> list[str]:
        """The numbers columns (a stage's probability) the Lists sheet lacks beside its lists."""
        if self.schema.lists_sheet not in self.sheet_names:
            return []
        header = self._raw_lists_header()
        return [
            v.numbers.name
            for v in self.schema.vocabularies
            if v.numbers and v.name in header and numbers_column(header, v.numbers) is None
        ]

    def write_sheet(
        self, name: str, frame: pd.DataFrame, *, table: bool = True, replace: bool = False
    ) -> None:
        """Write `frame` as a sheet of its own, saved with the other changes by save().

        Number formats and widths come from the schema for its columns, else from the dtypes;
        text is always stored as text. A sheet of that name is replaced only when crmbook wrote
        it and replace=True; the workbook's own sheets and the user's are never replaced.
        """
        check_sheet_name(name)
        owned = {
            alias.lower()
            for n in (*self.schema.owned_sheet_names, self.schema.dashboard_sheet)
            for alias in sheet_aliases(n)
        }
        if name.lower() in owned:
            raise CrmbookError(f"{name!r} is one of crmbook's own sheets; choose another name")
        existing = next((n for n in self.storage.actual_names if n.lower() == name.lower()), None)
        if existing is not None:
            if not replace:
                raise CrmbookError(
                    f"the workbook has a sheet {existing!r} already; choose another name "
                    "or replace it (replace=True)"
                )
            if f"sheet.{existing}" not in self.meta:
                raise CrmbookError(
                    f"the sheet {existing!r} was not written by crmbook; it is never replaced. "
                    "Choose another name."
                )
            name = existing
        if frame.shape[1] == 0:
            raise CrmbookError(f"nothing to write to {name!r}: the frame has no columns")
        frame = frame.reset_index(drop=True).set_axis(unique_headers(frame.columns), axis=1)
        for column in frame.columns:
            if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
                frame[column] = frame[column].dt.tz_localize(None)
        formats, widths = frame_formats(frame, _known_formats(self.schema, frame))
        self._new_sheets[name] = NewSheet(
            name, frame, formats, widths, table=name if table else None
        )
        self.meta[f"sheet.{name}"] = f"written by crmbook {self.now().isoformat(sep=' ')}"

    def _read_lists(self) -> dict[str, list[str]]:
        raw = self._raw(self.schema.lists_sheet)
        lists = {}
        for vocab in self.schema.vocabularies:
            if vocab.name in raw.header:
                col = raw.frame[vocab.name]
                lists[vocab.name] = [str(v).strip() for v in col if not missing(v)]
                if self._foreign:
                    lists[vocab.name] = [LABELS.get(v.lower(), v) for v in lists[vocab.name]]
            else:
                lists[vocab.name] = list(vocab.values)
        return lists

    def _read_numbers(self) -> dict[str, dict[str, float]]:
        checker = Checker(self.schema)
        numbers = read_numbers(
            self._raw(self.schema.lists_sheet),
            self.schema,
            self.lists,
            lambda v: LABELS.get(v.lower(), v) if self._foreign else v,
            checker,
        )
        self._load_issues[self.schema.lists_sheet] = checker.issues
        return numbers

    def numbers(self, vocabulary: str) -> dict[str, float]:
        """Each value of a list with its number from the Lists sheet: numbers("deal_stage")
        gives each deal stage's probability of being won."""
        if self.schema.vocabulary(vocabulary).numbers is None:
            raise KeyError(f"the list {vocabulary!r} has no numbers beside it")
        return dict(self.list_numbers[vocabulary])

    def set_numbers(self, vocabulary: str, numbers: Mapping[str, float]) -> None:
        """Change numbers of a list (e.g. a stage's probability: 0.3 or "30%"), saved with
        the Lists sheet."""
        vocab = self.schema.vocabulary(vocabulary)
        if vocab.numbers is None:
            raise KeyError(f"the list {vocabulary!r} has no numbers beside it")
        checked = {}
        for value, given in numbers.items():
            number, problem = parse_share(given)
            if problem is not None:
                raise RecordError(
                    f"the {vocab.numbers.name} of '{value}' {problem}; give a share such as 0.3"
                )
            checked[str(value).strip()] = number
        self.list_numbers[vocabulary] = {**self.list_numbers.get(vocabulary, {}), **checked}
        self._lists_changed = True

    def _reference_keys(self, sheet: Sheet) -> dict[str, set[str]]:
        targets = {f.ref for f in sheet.fields if f.ref}
        return {t: self.table(t).keys for t in targets}

    def set_list(self, vocabulary: str, values: Iterable[str]) -> None:
        """Replace one dropdown list of the Lists sheet (e.g. the owners)."""
        self.schema.vocabulary(vocabulary)
        self.lists[vocabulary] = list(
            dict.fromkeys(str(v).strip() for v in values if str(v).strip())
        )
        self._lists_changed = True

    # ------------------------------------------------------------ ids and log

    def bump_counter(self, sheet: str, number: int) -> None:
        """Make sure no id numbered up to `number` is given out in `sheet` (ids typed by hand,
        or given out in the book a copy came from)."""
        sheet = self.schema.sheet(sheet)
        key = f"{COUNTER}{sheet.name}"
        self.storage.bump_counter(sheet, number)
        if number + 1 > int(self.meta.get(key, 1) or 1):
            self.meta[key] = number + 1

    def _bump_counter(self, sheet: Sheet, ids: pd.Series) -> None:
        number = highest_id_number(ids)
        if number is not None:
            self.bump_counter(sheet.name, number)

    def _assign_ids(self, sheet: Sheet, given: pd.Series | None, n: int) -> list[str]:
        if given is not None and given.notna().all():
            self._bump_counter(sheet, given)
            return given.tolist()
        key = f"{COUNTER}{sheet.name}"
        start = self.storage.reserve_ids(sheet, n, int(self.meta.get(key, 1) or 1))
        self.meta[key] = start + n
        return [format_id(sheet.id_prefix, start + i) for i in range(n)]

    def log_change(
        self, sheet: Sheet | str, keys: list[str], field: str = "", old: str = "", new: str = ""
    ) -> None:
        """Add lines to the change log (one per key), saved with the next save."""
        name = sheet.name if isinstance(sheet, Sheet) else self.schema.sheet(sheet).name
        when = self.now()
        self._log.extend(
            {
                "when": when,
                "who": self.user,
                "sheet": name,
                "record": k,
                "field": field,
                "old": clipped(old),
                "new": clipped(new),
            }
            for k in keys
        )

    # ------------------------------------------------------------ validation and save

    def validate(self) -> Report:
        """Every problem in the workbook, as a Report (see Report.to_frame()); a damaged
        file raises NotAWorkbookError instead."""
        self.storage.verify()
        checker = Checker(self.schema)
        has_lists = self.schema.lists_sheet in self.sheet_names
        lists_header = self._raw_lists_header() if has_lists else []
        for vocab in self.schema.vocabularies:
            if has_lists and vocab.name not in lists_header:
                checker.add(Code.MISSING_LIST, self.schema.lists_sheet, 1, vocab.name)
        pending = self.upgrade.lists if self.upgrade else []
        for name in [] if not has_lists else self._missing_numbers():
            if name not in pending:
                checker.add(
                    Code.MISSING_LIST,
                    self.schema.lists_sheet,
                    1,
                    name,
                    message=f"the column '{name}' is missing; crmbook uses its defaults",
                    fix=f"add a column headed '{name}' beside its list on the Lists sheet "
                    "(a new workbook made by crmbook init shows how)",
                )
        if self.upgrade is not None:
            checker.add(
                Code.SCHEMA_UPGRADE,
                self.schema.meta_sheet,
                None,
                "schema_version",
                self.upgrade.from_version,
                note=self.upgrade.note,
            )
        typed = {s.name: self.table(s.name).typed for s in self.schema.sheets}
        for issues in self._load_issues.values():
            checker.issues.extend(issues)
        added = self.upgrade.sheets if self.upgrade else []
        keys = {  # a missing sheet is one error, not one more per reference to it
            name: set(t.frame[t.sheet.key].dropna())
            for name, t in typed.items()
            if t.sheet.key and (name in self.sheet_names or name in added)
        }
        for t in typed.values():
            check_records(t, checker, self.lists, keys, self.today())
        return checker.report()

    def _raw_lists_header(self) -> list[str]:
        return self._raw(self.schema.lists_sheet).header

    @property
    def pending_log(self) -> list[dict]:
        """The change-log lines the next save adds, oldest first: a list to edit in place
        (a merge puts the other copy's history first, an erasure scrubs what it erased)."""
        return self._log

    def touch(self) -> None:
        """Make the next save store the book's save state (what merge compares copies by)
        even when no record changed."""
        self._touched = True

    def forget(self, texts: Iterable[str]) -> None:
        """Make the next save remove these texts (a person's name, email, phone) from all the
        storage keeps besides the records: the change log's earlier lines, text elsewhere in
        the workbook, its backups and cached copies (sharing/personal.py erases with it)."""
        self._forget = tuple(dict.fromkeys([*self._forget, *texts]))

    def join(self, generations: Iterable[Generation]) -> None:
        """Make the next save follow another copy's saves too (a merge took them in): the
        other copy's generations, its newest last (storage/state.py)."""
        self._joined = tuple(generations)
        self._touched = True

    @property
    def changed(self) -> bool:
        return (
            bool(self._log)
            or self._lists_changed
            or self._touched
            or bool(self._new_sheets)
            or self.meta != self._stored_meta
            or any(t.changed for t in self.tables.values())
        )

    def changes(self) -> Changes:
        """Everything the next save stores, as one value (see storage/changes.py)."""
        counters, meta = {}, {}
        for key, value in self.meta.items():
            if not key.startswith(COUNTER):
                meta[key] = value
            elif self._stored_meta.get(key) != value:
                counters[key.removeprefix(COUNTER)] = int(value)
        stored = {k: v for k, v in self._stored_meta.items() if not k.startswith(COUNTER)}
        lists_changed = self._lists_changed or bool(self.upgrade and self.upgrade.lists)
        if self.storage.wants_every_record:  # the save state is made from every record
            for sheet in self.schema.entities:
                self.tables[sheet.name].typed  # noqa: B018 -- read the sheet
        sheets = {}
        for name, table in self.tables.items():
            changed = table.changes()
            if changed is not None:
                sheets[name] = changed
        return Changes(
            when=self.now(),
            who=self.user,
            sheets=sheets,
            log=tuple(self._log),
            new_sheets=tuple(self._new_sheets.values()),
            lists={k: tuple(v) for k, v in self.lists.items()} if lists_changed else None,
            list_numbers={k: dict(v) for k, v in self.list_numbers.items()}
            if lists_changed
            else None,
            counters=counters,
            meta=meta if meta != stored else None,
            upgrade=self.upgrade,
            touched=self._touched,
            joined=self._joined,
            forget=self._forget,
        )

    def save(
        self, path: str | os.PathLike | None = None, *, force: bool = False, backups: int = 3
    ) -> Path:
        """Store the changes all at once or not at all; refuse if someone else has the
        workbook open or changed it (a database checks the fields changed instead)."""
        if self.upgrade is not None:
            self._log_upgrade(self.upgrade)
        changes = self.changes()
        saved = self.storage.save(
            changes, Path(path) if path else None, force=force, backups=backups
        )
        for name in changes.sheets:
            self.tables[name]._saved(saved.rows.get(name))
        self._log = []
        self._new_sheets = {}
        self.upgrade = None
        self._lists_changed = self._touched = False
        self._joined, self._forget = (), ()
        self.meta.clear()
        self.meta.update(saved.meta)
        self._stored_meta = dict(self.meta)
        return saved.path

    def _log_upgrade(self, upgrade: Upgrade) -> None:
        if any(entry["record"] == "schema_version" for entry in self._log):
            return  # a save that failed before logged it already
        self._log.append(
            {
                "when": self.now(),
                "who": self.user,
                "sheet": self.schema.meta_sheet,
                "record": "schema_version",
                "field": "schema_version",
                "old": str(upgrade.from_version),
                "new": f"{self.schema.version}: {upgrade.note}",
            }
        )

    def drop_cache(self) -> None:
        """Remove every cached copy of this book's parsed sheets from the user's cache (the
        book and its copies share them); the next open parses the workbook again."""
        self.storage.drop_cache()

    def close(self) -> None:
        self.storage.close()


def _known_formats(schema: Schema, frame: pd.DataFrame) -> dict[str, tuple[str, float]]:
    """The schema's format and width for frame columns named like a field of a matching type."""
    known: dict[str, tuple[str, float]] = {}
    for sheet in schema.sheets:
        for f in sheet.fields:
            if f.name not in frame.columns or f.name in known:
                continue
            series = frame[f.name]
            dates = pd.api.types.is_datetime64_any_dtype(series)
            if f.type in ("date", "datetime") and not dates:
                continue
            if f.type in ("money", "integer") and not pd.api.types.is_numeric_dtype(series):
                continue
            if f.type not in ("date", "datetime") and dates:
                continue
            known[f.name] = (f.ftype.number_format, f.width)
    return known


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
