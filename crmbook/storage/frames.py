"""Sheets as the parse cache keeps them (storage/cache.py): Arrow columns plus a description.

A `LoadedSheet` is what the Book makes of a sheet it reads: typed columns, the Excel row of
each record, the load issues, the cells it could not read and the highest id number. Decoding
an entry gives back exactly what the parse gave (dtypes, rows, issues, unreadable cells); a
sheet holding something Arrow cannot keep exactly (a column of mixed Python objects) is not
cached at all: `Uncachable`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from crmbook.io.reader import RawSheet
from crmbook.schema import Sheet
from crmbook.validation import Code, Issue, TypedSheet

FORMAT = 1  # bump when an entry's layout changes


class Uncachable(Exception):
    """The sheet holds values an entry cannot give back exactly."""


@dataclass
class LoadedSheet:
    """A sheet as the Book read and typed it (what Storage.load returns)."""

    typed: TypedSheet
    header: list[str]  # the headings as in the workbook (the storage's column layout)
    issues: list = field(default_factory=list)  # load issues (validation.Issue)
    unread: dict[str, pd.Series] = field(default_factory=dict)  # field -> cells kept as typed
    top_id: int | None = None  # the highest number among the records' ids


_code: str | None = None


def code_fingerprint() -> str:
    """A hash of crmbook's code: an entry made by other code is never used."""
    global _code
    if _code is None:
        digest = hashlib.blake2b(digest_size=16)
        digest.update(f"format {FORMAT}".encode())
        package = Path(__file__).resolve().parent.parent
        for path in sorted(package.rglob("*.py")):
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
        _code = digest.hexdigest()
    return _code


# ------------------------------------------------------------------ encoding


def encode_loaded(loaded: LoadedSheet) -> tuple[pa.Table, dict]:
    typed = loaded.typed
    columns = _columns(typed.frame)
    columns["rows"] = typed.rows.reset_index(drop=True)
    n = len(typed.frame)
    for i, values in enumerate(loaded.unread.values()):
        if not values.index.is_monotonic_increasing:
            raise Uncachable("unreadable cells out of order")
        mask = np.zeros(n, dtype=bool)
        mask[values.index.to_numpy(dtype=np.int64)] = True
        aligned = pd.Series(None, index=pd.RangeIndex(n), dtype=values.dtype)
        aligned[mask] = values.to_numpy()
        columns[f"u{i}"], columns[f"m{i}"] = _checked(aligned), pd.Series(mask)
    about = {
        "kind": "loaded",
        "columns": [str(c) for c in typed.frame.columns],
        "layout": list(typed.layout),
        "header": list(loaded.header),
        "header_row": int(typed.header_row),
        "issues": [_issue(i) for i in loaded.issues],
        "unread": list(loaded.unread),
        "unread_dtypes": [str(v.dtype) for v in loaded.unread.values()],
        "unread_names": [v.name for v in loaded.unread.values()],
        "top_id": loaded.top_id,
    }
    return _table(columns, n), about


def decode_loaded(table: pa.Table, about: dict, sheet: Sheet) -> LoadedSheet:
    frame = table.to_pandas()
    names = about["columns"]
    typed_frame = frame[[f"c{i}" for i in range(len(names))]].set_axis(names, axis=1)
    unread = {}
    for i, name in enumerate(about["unread"]):
        mask = frame[f"m{i}"].to_numpy(dtype=bool)
        values = frame[f"u{i}"][mask]
        values = values.astype(about["unread_dtypes"][i])
        unread[name] = values.rename(about["unread_names"][i])
    rows = frame["rows"].rename(None)
    typed = TypedSheet(sheet, typed_frame, rows, about["layout"], about["header_row"])
    issues = [Issue(Code(i[0]), *i[1:5], _value(i[5]), *i[6:]) for i in about["issues"]]
    return LoadedSheet(typed, about["header"], issues, unread, about["top_id"])


def encode_raw(raw: RawSheet) -> tuple[pa.Table, dict]:
    columns = _columns(raw.frame)
    columns["rows"] = raw.rows.reset_index(drop=True)
    about = {
        "kind": "raw",
        "name": raw.name,
        "columns": [str(c) for c in raw.frame.columns],
        "header": list(raw.header),
        "header_row": int(raw.header_row),
    }
    return _table(columns, len(raw.frame)), about


def decode_raw(table: pa.Table, about: dict) -> RawSheet:
    frame = table.to_pandas()
    names = about["columns"]
    values = frame[[f"c{i}" for i in range(len(names))]].set_axis(names, axis=1)
    rows = frame["rows"].rename(None)
    return RawSheet(about["name"], about["header_row"], about["header"], values, rows)


def _columns(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """The frame's columns by position (c0, c1, ...: headings may repeat or clash)."""
    return {f"c{i}": _checked(frame.iloc[:, i]) for i in range(frame.shape[1])}


def _checked(column: pd.Series) -> pd.Series:
    if column.dtype == object and not _plain_text(column):
        raise Uncachable(f"column {column.name!r} mixes kinds of values")
    return column.reset_index(drop=True)


def _plain_text(column: pd.Series) -> bool:
    """Whether an object column holds only text and blanks (Arrow gives those back as they were)."""
    values = column.dropna()
    return bool(values.map(type).eq(str).all()) if len(values) else column.isna().all()


def _table(columns: dict[str, pd.Series], n: int) -> pa.Table:
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n))
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as e:
        raise Uncachable(str(e)) from e


# ------------------------------------------------------------------ issue values as JSON


def _issue(issue: Issue) -> list:
    return [
        issue.code,
        issue.severity,
        issue.sheet,
        issue.row,
        issue.column,
        _tagged(issue.value),
        issue.message,
        issue.fix,
    ]


def _tagged(value: object) -> object:
    """A value as JSON that says its kind, so it comes back as the same kind of value."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, str):
        return value
    if value is pd.NA:
        return {"na": 1}
    if value is pd.NaT:
        return {"nat": 1}
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": value}
    if isinstance(value, float):
        return {"f": repr(value)}
    if isinstance(value, pd.Timestamp):
        return {"ts": value.isoformat()}
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if isinstance(value, dt.time):
        return {"t": value.isoformat()}
    raise Uncachable(f"a value of type {type(value).__name__}")


def _value(tagged: object) -> object:
    if not isinstance(tagged, dict):
        return tagged
    (kind, value), *_ = tagged.items()
    return {
        "na": lambda v: pd.NA,
        "nat": lambda v: pd.NaT,
        "b": bool,
        "i": int,
        "f": float,
        "ts": pd.Timestamp,
        "dt": dt.datetime.fromisoformat,
        "d": dt.date.fromisoformat,
        "t": dt.time.fromisoformat,
    }[kind](value)
