"""Hashes of field values that stay equal however Excel or LibreOffice stored the value.

The save state (storage/state.py) and merge (sharing/merge.py) compare records by hashes of
their fields. A value comes back from a workbook in many shapes: a date as a date or a
datetime a microsecond off (LibreOffice writes 15 significant digits), 7 as 7.0 or "7", text
with trailing spaces or Windows line ends. `canonical_column` turns a column into one text per
value that is the same for all of these, column-wise (no Python loop over clean columns);
`column_hashes` hashes those texts with pandas' SipHash (fixed key, so stable across runs and
machines; tests/test_hashes.py pins known values so a change would be noticed).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pandas.api.types import (
    infer_dtype,
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_numeric_dtype,
)

# A stored field hash: 15 bits as 3 characters of 5 bits. Deflate packs each character into
# about 5 bits, so the state of 100,000 customers and 500,000 interactions stays under a tenth
# of the file; an edit keeps its hash by chance once in 32,768 (merge.py says what follows).
SHORT_BITS = 15
BITS_PER_CHAR = 5
ALPHABET = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32
CHARS = SHORT_BITS // BITS_PER_CHAR  # characters of a stored hash
_DECODE = np.full(256, 255, dtype=np.uint8)
_DECODE[np.frombuffer(ALPHABET, dtype=np.uint8)] = np.arange(len(ALPHABET), dtype=np.uint8)
_ALPHABET = np.frombuffer(ALPHABET, dtype=np.uint8)
_MASK = np.uint32(2**BITS_PER_CHAR - 1)


def canonical_value(value: object) -> str:
    """One value's canonical text (the column-wise path gives the same for every type)."""
    return _one(value)


def canonical_column(column: pd.Series) -> np.ndarray:
    """Each value's canonical text: "" for a missing value, TRUE/FALSE, integers without a
    decimal point, other numbers rounded to 9 decimals, date-times to the second in ISO
    form, text stripped with \\n line ends."""
    if is_bool_dtype(column.dtype):
        return _booleans(column.to_numpy(dtype=object, na_value=None))
    if is_datetime64_any_dtype(column.dtype):
        return _datetimes(column)
    if is_numeric_dtype(column.dtype):
        return _numbers(column.to_numpy(dtype="float64", na_value=np.nan))
    values = column.to_numpy(dtype=object)
    kind = infer_dtype(values, skipna=True)
    if kind in ("string", "empty"):
        return _texts(values)
    return np.array([_one(v) for v in values], dtype=object)


def _texts(values: np.ndarray) -> np.ndarray:
    series = pd.Series(values, dtype=object)
    missing = series.isna().to_numpy()
    text = series.where(~missing, "").astype(str)
    if text.str.contains("\r", regex=False).any():
        text = text.str.replace("\r\n", "\n", regex=False).str.replace("\r", "\n", regex=False)
    return text.str.strip().to_numpy(dtype=object)


def _booleans(values: np.ndarray) -> np.ndarray:
    return np.array([_one(v) for v in values], dtype=object)


def _numbers(values: np.ndarray) -> np.ndarray:
    out = np.full(len(values), "", dtype=object)
    present = ~np.isnan(values)
    given = values[present]
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = np.where(np.abs(given) < 1e15, np.round(given, 9), given)
    whole = (rounded == np.floor(rounded)) & (np.abs(rounded) < 2**53)
    texts = np.empty(len(rounded), dtype=object)
    texts[whole] = rounded[whole].astype(np.int64).astype(str)
    texts[~whole] = rounded[~whole].astype(str)
    out[present] = texts
    return out


def _datetimes(column: pd.Series) -> np.ndarray:
    series = column
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_localize(None)
    stamps = series.dt.round("s").to_numpy(dtype="datetime64[s]")
    missing = np.isnat(stamps)
    out = np.datetime_as_string(stamps, unit="s").astype(object)
    out[missing] = ""
    return out


def _one(value: object) -> str:
    """The canonical text of a value of any type (columns of mixed types go one by one)."""
    if isinstance(value, str):  # as _texts() makes it, without a Series for one value
        return value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else str(_numbers(np.array([float(value)]))[0])
    if isinstance(value, dt.datetime | dt.date | np.datetime64):
        return str(_datetimes(pd.Series([pd.Timestamp(value)]))[0])
    return str(_texts(np.array([value], dtype=object))[0])


def column_hashes(column: pd.Series) -> np.ndarray:
    """A 64-bit hash of each value's canonical text (uint64). Only the distinct values are
    made canonical and hashed: most columns repeat a few values many times."""
    positions, uniques = pd.factorize(column, use_na_sentinel=True)
    texts = canonical_column(pd.Series(uniques, dtype=column.dtype))
    hashes = pd.util.hash_array(np.asarray([*texts, ""], dtype=object), categorize=False)
    return hashes[np.where(positions >= 0, positions, len(texts))]


def short(hashes: np.ndarray) -> np.ndarray:
    """The stored form of 64-bit hashes: their top SHORT_BITS bits (uint32)."""
    return (np.asarray(hashes, dtype=np.uint64) >> np.uint64(64 - SHORT_BITS)).astype(np.uint32)


def encode(codes: np.ndarray) -> str:
    """Short hashes as text, CHARS characters each (for a cell of the state sheet)."""
    codes = np.asarray(codes, dtype=np.uint32)
    digits = np.stack(
        [(codes >> np.uint32(BITS_PER_CHAR * (CHARS - 1 - i))) & _MASK for i in range(CHARS)],
        axis=1,
    )
    return _ALPHABET[digits].tobytes().decode("ascii")


def decode(text: str, n: int) -> np.ndarray | None:
    """The short hashes of `n` records from encode()'s text; None when it is not that."""
    raw = np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8)
    if len(raw) != n * CHARS:
        return None
    digits = _DECODE[raw]
    if (digits == 255).any():
        return None
    digits = digits.reshape(n, CHARS).astype(np.uint32)
    codes = np.zeros(n, dtype=np.uint32)
    for i in range(CHARS):
        codes = (codes << np.uint32(BITS_PER_CHAR)) | digits[:, i]
    return codes
