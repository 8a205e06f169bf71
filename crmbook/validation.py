"""Turn raw sheet values into typed frames, and every problem into an Issue.

People edit the workbook by hand, so reading is tolerant (text dates, numbers stored as text,
headers in another order or case, extra columns) and precise: a problem is reported with the
sheet, the row number Excel shows, the column, the value, what is wrong and how to fix it.
Nothing here raises for bad data; it all goes into a Report.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from email_validator import EmailNotValidError, validate_email

from crmbook.io.cells import EXCEL_FIRST_DATE, excel_dates
from crmbook.io.reader import RawSheet
from crmbook.languages import field_aliases
from crmbook.schema import TYPES, Field, Schema, Sheet
from crmbook.values import missing, missing_mask, yes_no

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Issue:
    """One problem at one place in the workbook."""

    code: str
    severity: str
    sheet: str
    row: int | None
    column: str | None
    value: object
    message: str
    fix: str

    @property
    def where(self) -> str:
        place = self.sheet
        if self.row is not None:
            place += f" row {self.row}"
        if self.column:
            place += f", column {self.column}"
        return place

    def __str__(self) -> str:
        shown = "" if missing(self.value) else f" [{self.value!s}]"
        return f"{self.severity.upper()} {self.where}{shown}: {self.message}. Fix: {self.fix}"


@dataclass
class Report:
    """Every issue found; valid means no errors (warnings are allowed)."""

    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_frame(self) -> pd.DataFrame:
        columns = [f.name for f in Issue.__dataclass_fields__.values()]
        return pd.DataFrame([asdict(i) for i in self.issues], columns=columns)

    def to_dicts(self) -> list[dict]:
        return [{**asdict(i), "value": _jsonable(i.value)} for i in self.issues]

    def summary(self) -> str:
        if not self.issues:
            return "No problems found."
        return f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)."

    def __str__(self) -> str:
        return "\n".join([*(str(i) for i in self.issues), self.summary()])


def _jsonable(value: object) -> object:
    if missing(value):
        return None
    if isinstance(value, dt.date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, str | int | float | bool) else str(value)


def header_key(text: str) -> str:
    """Headers match whatever the case, spacing or dashes: 'Consent E-mail ' -> consentemail."""
    return re.sub(r"[\s\-_]+", "", str(text).lower())


# ---------------------------------------------------------------- parsing one column


@dataclass
class Parsed:
    values: pd.Series
    bad: pd.Series  # bool mask of values that could not be read
    problem: str = ""
    fix: str = ""


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
    kind = "a date and time" if with_time else "a date"
    example = "2024-03-31 14:30" if with_time else "2024-03-31 or 31.03.2024"
    return Parsed(out, bad, f"not {kind}", f"type {kind} from 1900 on, such as {example}")


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
    else:
        numbers = raw.map(_as_number, na_action="ignore").astype(float)
    numbers[blank] = np.nan
    bad = numbers.isna() & ~blank
    if integer:
        fractional = numbers.notna() & (numbers % 1 != 0)
        bad |= fractional
        numbers[fractional] = np.nan
        return Parsed(
            numbers.astype("Int64"), bad, "not a whole number", "type a whole number such as 30"
        )
    return Parsed(numbers, bad, "not a number", "type a number such as 1250.50 (no letters)")


def parse_bool(raw: pd.Series, default: bool) -> Parsed:
    blank = missing_mask(raw)
    values = raw.map(yes_no, na_action="ignore")
    bad = values.isna() & ~blank
    return Parsed(
        values.where(values.notna(), default).astype(bool),
        bad,
        "not TRUE or FALSE",
        "type TRUE or FALSE (yes/no also work)",
    )


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


# ---------------------------------------------------------------- whole sheets


@dataclass
class TypedSheet:
    """A sheet's records as typed columns, plus what is needed to report and write back."""

    sheet: Sheet
    frame: pd.DataFrame  # schema columns first, then the user's own columns
    rows: pd.Series  # Excel row number per record (None for new ones)
    layout: list[str]  # frame column names in the order they stand in the sheet
    header_row: int = 1


class Checker:
    """Collects issues for one workbook."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self.issues: list[Issue] = []

    def add(
        self, code: str, severity: str, sheet: str, row, column, value, message: str, fix: str
    ) -> None:
        self.issues.append(
            Issue(
                code,
                severity,
                sheet,
                None if row is None else int(row),
                column,
                value,
                message,
                fix,
            )
        )

    def add_many(
        self,
        code: str,
        severity: str,
        sheet: Sheet,
        rows: pd.Series,
        column: str,
        values: Iterable,
        message: str,
        fix: str,
    ) -> None:
        for row, value in zip(rows, values, strict=True):
            self.add(code, severity, sheet.name, row, column, value, message, fix)

    def report(self) -> Report:
        return Report(sorted(self.issues, key=_issue_order))


def _issue_order(issue: Issue) -> tuple:
    return (issue.severity != ERROR, issue.sheet, issue.row or 0, issue.column or "")


def type_sheet(sheet: Sheet, raw: RawSheet, checker: Checker, dayfirst: bool = True) -> TypedSheet:
    """Match headers to fields, parse every column, report unreadable values."""
    by_key: dict[str, Field] = {}
    for f in sheet.fields:
        by_key[header_key(f.name)] = f
        by_key[header_key(f.label)] = f
    for f in sheet.fields:  # the headers of a workbook in another language
        for alias in field_aliases(f.name):
            by_key.setdefault(header_key(alias), f)
    layout: list[str] = []
    seen: set[str] = set()
    columns: dict[str, pd.Series] = {}
    for position, header in enumerate(raw.header):
        f = by_key.get(header_key(header))
        name = f.name if f and f.name not in seen else header
        if name in seen:
            name = f"{header} ({position + 1})"
        seen.add(name)
        layout.append(name)
        columns[name] = (
            raw.frame.iloc[:, position] if len(raw.frame.columns) else pd.Series([], dtype=object)
        )
    typed: dict[str, pd.Series] = {}
    n = len(raw.rows)
    for f in sheet.fields:
        if f.name not in columns:
            if raw.header:
                severity = ERROR if f.required else WARNING
                checker.add(
                    "missing-column",
                    severity,
                    sheet.name,
                    raw.header_row,
                    f.name,
                    None,
                    f"the column '{f.name}' is missing",
                    f"add a column headed '{f.name}' to the table",
                )
            typed[f.name] = empty_column(f, n)
            continue
        parsed = parse_column(f, columns[f.name].reset_index(drop=True), dayfirst)
        if parsed.bad.any():
            checker.add_many(
                f"bad-{f.type}",
                ERROR,
                sheet,
                raw.rows[parsed.bad.to_numpy()],
                f.name,
                columns[f.name][parsed.bad.to_numpy()],
                parsed.problem,
                parsed.fix,
            )
        typed[f.name] = parsed.values
    for name in layout:
        if name not in typed:
            own = columns[name].reset_index(drop=True)
            typed[name] = own.where(own != "", None)  # an empty cell is missing, not ""
    frame = pd.DataFrame(typed, index=pd.RangeIndex(n))
    return TypedSheet(sheet, frame, raw.rows.reset_index(drop=True), layout, raw.header_row)


def canonical_choices(
    frame: pd.DataFrame, sheet: Sheet, vocabularies: dict[str, list[str]]
) -> None:
    """Write choice values in the spelling of the Lists sheet ('Customer ' -> 'customer')."""
    for f in sheet.fields:
        if f.vocabulary and f.name in frame:
            spelling = {v.strip().lower(): v for v in vocabularies.get(f.vocabulary, [])}
            col = frame[f.name]
            codes, uniques = pd.factorize(col)  # a few distinct values in many rows
            uniques = pd.Series(uniques, dtype=object)
            respelled = uniques.str.strip().str.lower().map(spelling)
            spelt = respelled.where(respelled.notna(), uniques).to_numpy(dtype=object)
            values = spelt[codes] if len(spelt) else np.full(len(col), None, dtype=object)
            values[codes < 0] = None
            frame[f.name] = pd.Series(values, index=col.index, dtype="str")


def isin(column: pd.Series, values: Iterable) -> pd.Series:
    """Series.isin through a hash index: pandas' Arrow-string isin loops in Python over values."""
    index = pd.Index(list(set(values)), dtype=object)
    return pd.Series(index.get_indexer(column.astype(object)) >= 0, index=column.index)


_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def _email_problem(value: str) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as e:
        return str(e)
    return ""


def check_records(
    typed: TypedSheet,
    checker: Checker,
    vocabularies: dict[str, list[str]],
    keys: dict[str, set[str]],
    today: dt.date,
) -> None:
    """Rules that need more than one value: required, vocabularies, references, uniqueness."""
    sheet, frame, rows = typed.sheet, typed.frame, typed.rows
    for f in sheet.fields:
        col = frame[f.name]
        present = col.notna()
        if f.required and not f.auto:
            absent = ~present
            if absent.any():
                checker.add_many(
                    "required",
                    ERROR,
                    sheet,
                    rows[absent],
                    f.name,
                    [None] * int(absent.sum()),
                    f"{f.name} is required",
                    f"fill in {f.name} ({TYPES[f.type].help})",
                )
        if not present.any():
            continue
        if f.type == "email":
            odd = present & ~col.str.match(_EMAIL_SHAPE).fillna(False).astype(bool)
            for row, value in zip(rows[odd], col[odd], strict=True):
                checker.add(
                    "bad-email",
                    ERROR,
                    sheet.name,
                    row,
                    f.name,
                    value,
                    f"not an email address ({_email_problem(value) or 'no domain'})",
                    "type an address such as anna@example.com, or clear the cell",
                )
        if f.type == "phone":
            digits = col[present].str.count(r"\d")
            odd = digits[(digits < 5) | (digits > 17)].index
            checker.add_many(
                "bad-phone",
                WARNING,
                sheet,
                rows[odd],
                f.name,
                col[odd],
                "does not look like a phone number",
                "type the number with its country code, e.g. +49 30 1234567",
            )
        if f.not_future:
            future = present & (col > pd.Timestamp(today))
            checker.add_many(
                "future-date",
                ERROR,
                sheet,
                rows[future],
                f.name,
                col[future].dt.date,
                f"{f.name} is in the future",
                "check the year; type the real date",
            )
        if f.vocabulary:
            allowed = {v.strip().lower() for v in vocabularies.get(f.vocabulary, [])}
            vocab_open = checker.schema.vocabulary(f.vocabulary).open
            unknown = present & ~isin(col.str.strip().str.lower(), allowed)
            if unknown.any():
                shown = ", ".join(vocabularies.get(f.vocabulary, [])[:12])
                checker.add_many(
                    "not-in-list",
                    WARNING if vocab_open else ERROR,
                    sheet,
                    rows[unknown],
                    f.name,
                    col[unknown],
                    f"not in the '{f.vocabulary}' list of the Lists sheet",
                    f"pick one of: {shown} - or add it to column '{f.vocabulary}' of Lists"
                    if shown
                    else f"add it to column '{f.vocabulary}' of the Lists sheet",
                )
        if f.ref:
            target = checker.schema.sheet(f.ref)
            known = keys.get(target.name, set())
            dangling = present & ~isin(col, known)
            checker.add_many(
                "unknown-reference",
                ERROR,
                sheet,
                rows[dangling],
                f.name,
                col[dangling],
                f"no {target.entity} with this {target.key} in {target.name}",
                f"use an existing {target.key} from the {target.name} sheet, "
                f"or add that record there first",
            )
        if f.unique:
            dup = present & col.duplicated(keep="first")
            for row, value in zip(rows[dup], col[dup], strict=True):
                first = rows[(col == value).to_numpy()].iloc[0]
                checker.add(
                    "duplicate",
                    ERROR,
                    sheet.name,
                    row,
                    f.name,
                    value,
                    f"{f.name} '{value}' is used twice (first on row {first})",
                    f"give each record its own {f.name}; crmbook assigns new ids "
                    "when you clear the cell",
                )
        if f.type == "id" and f.name == "id" and sheet.id_prefix:
            pattern = rf"^{sheet.id_prefix}-\d+$"
            odd = present & ~col.str.match(pattern).fillna(False).astype(bool)
            checker.add_many(
                "bad-id",
                ERROR,
                sheet,
                rows[odd],
                f.name,
                col[odd],
                f"not a {sheet.name} id",
                f"ids look like {sheet.id_prefix}-000123; clear the cell and "
                "crmbook assigns a new one",
            )
