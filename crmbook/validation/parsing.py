"""Reading one column of what people typed into typed values, tolerantly.

Text dates in common formats, numbers stored as text with currency signs and thousands
separators, yes/no in many languages: all are read. What cannot be read is marked bad with
the issue code that says so; nothing here raises.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmbook.io.cells import EXCEL_FIRST_DATE, excel_dates
from crmbook.schema import Field
from crmbook.validation.codes import Code
from crmbook.values import missing_mask, yes_no


@dataclass
class Parsed:
    values: pd.Series
    bad: pd.Series  # bool mask of values that could not be read
    code: Code | None = None  # the issue each bad value is


def parse_text(raw: pd.Series) -> Parsed:
    if pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
        text = raw.astype("str").str.strip()
    else:
        text = raw.map(_as_text, na_action="ignore").astype("str")
    text = text.where(text.ne("") & raw.notna(), None).astype("str")
    return Parsed(text, pd.Series(False, index=raw.index))


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


_DATE_FORMATS_DAYFIRST = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d-%m-%Y",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%b %d %Y",
    "%d.%m.%y",
    "%d/%m/%y",
)
_DATE_FORMATS_MONTHFIRST = tuple(f.replace("%d/%m", "%m/%d") for f in _DATE_FORMATS_DAYFIRST)


def parse_date(raw: pd.Series, *, with_time: bool, dayfirst: bool = True) -> Parsed:
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    blank = missing_mask(raw)
    kinds = raw.map(type)
    is_date = kinds.isin([dt.date, dt.datetime, pd.Timestamp])
    if is_date.any():
        out[is_date] = pd.to_datetime(raw[is_date].map(pd.Timestamp)).astype("datetime64[us]")
    is_number = kinds.isin([float, int])
    if is_number.any():
        days = raw[is_number].astype(float)
        ok = (days >= 1) & (days < 2958466)
        out[ok[ok].index] = excel_dates(days[ok]).astype("datetime64[us]")
    is_text = kinds.map(lambda k: k is str).astype(bool) & ~blank
    if is_text.any():
        text = raw[is_text].str.strip()
        formats = _DATE_FORMATS_DAYFIRST if dayfirst else _DATE_FORMATS_MONTHFIRST
        for fmt in formats:
            todo = text[out[text.index].isna()]
            if todo.empty:
                break
            got = pd.to_datetime(todo, format=fmt, errors="coerce")
            got = got[got.notna()]
            out[got.index] = got.astype("datetime64[us]")
    out = out.dt.round("s") if with_time else out.dt.normalize()
    out[out < EXCEL_FIRST_DATE] = pd.NaT  # Excel cannot store it
    bad = out.isna() & ~blank
    return Parsed(out, bad, Code.BAD_DATETIME if with_time else Code.BAD_DATE)


_CURRENCY = re.compile(r"[\s\u00a0\u202f'’$€£₪₽¥]|EUR|USD|GBP|ILS|RUB|CHF", re.IGNORECASE)
_THOUSANDS_COMMA = re.compile(r"^-?\d{1,3}(,\d{3})+$")


def _as_number(value: object) -> float:
    if isinstance(value, bool):
        return np.nan
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return np.nan
    text = _CURRENCY.sub("", value.strip())
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()")
    if "," in text and "." in text:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        text = text.replace("." if decimal == "," else ",", "").replace(",", ".")
    elif "," in text:
        text = text.replace(",", "") if _THOUSANDS_COMMA.match(text) else text.replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        return np.nan
    return -number if negative else number


def parse_number(raw: pd.Series, *, integer: bool) -> Parsed:
    blank = missing_mask(raw)
    if pd.api.types.infer_dtype(raw, skipna=True) in ("floating", "integer", "mixed-integer-float"):
        numbers = pd.to_numeric(raw, errors="coerce").astype(float)
    else:  # a column of dates (fastexcel types it so) is mapped value by value too
        numbers = raw.astype(object).map(_as_number).astype(float)
    numbers[blank] = np.nan
    bad = numbers.isna() & ~blank
    if integer:
        fractional = numbers.notna() & (numbers % 1 != 0)
        bad |= fractional
        numbers[fractional] = np.nan
        return Parsed(numbers.astype("Int64"), bad, Code.BAD_INTEGER)
    return Parsed(numbers, bad, Code.BAD_MONEY)


def parse_bool(raw: pd.Series, default: bool) -> Parsed:
    blank = missing_mask(raw)
    values = raw.map(yes_no, na_action="ignore")
    bad = values.isna() & ~blank
    return Parsed(values.where(values.notna(), default).astype(bool), bad, Code.BAD_BOOL)


def _already_typed(f: Field, raw: pd.Series) -> Parsed | None:
    """Frames built in Python (demo, import, notebooks) skip the text parsing."""
    types = pd.api.types
    fine = pd.Series(False, index=raw.index)
    if f.type in ("date", "datetime") and types.is_datetime64_dtype(raw):
        if (raw < EXCEL_FIRST_DATE).any():
            return None  # parse_date reports what Excel cannot store
        values = raw.astype("datetime64[us]")
        return Parsed(values.dt.round("s") if f.type == "datetime" else values.dt.normalize(), fine)
    if f.type == "money" and types.is_numeric_dtype(raw) and not types.is_bool_dtype(raw):
        return Parsed(raw.astype(float), fine)
    if f.type == "integer" and types.is_integer_dtype(raw):
        return Parsed(raw.astype("Int64"), fine)
    if f.type == "bool" and types.is_bool_dtype(raw) and not raw.hasnans:
        return Parsed(raw.astype(bool), fine)
    return None


def parse_column(f: Field, raw: pd.Series, dayfirst: bool = True) -> Parsed:
    typed = _already_typed(f, raw)
    if typed is not None:
        return typed
    if f.type == "date":
        return parse_date(raw, with_time=False, dayfirst=dayfirst)
    if f.type == "datetime":
        return parse_date(raw, with_time=True, dayfirst=dayfirst)
    if f.type in ("money", "integer"):
        return parse_number(raw, integer=f.type == "integer")
    if f.type == "bool":
        return parse_bool(raw, bool(f.default))
    return parse_text(raw)


def empty_column(f: Field, length: int = 0) -> pd.Series:
    """A column of the right dtype with nothing in it."""
    return parse_column(f, pd.Series([None] * length, dtype=object)).values
