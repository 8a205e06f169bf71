"""A whole sheet as typed columns: headers matched to fields, every column parsed.

Headers match whatever their case, spacing or language; the user's own columns are kept in
place; every value that cannot be read becomes an issue at the row Excel shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmbook.io.reader import RawSheet
from crmbook.languages import field_aliases
from crmbook.schema import Field, Sheet
from crmbook.validation.codes import ERROR, WARNING, Code
from crmbook.validation.parsing import empty_column, parse_column
from crmbook.validation.report import Checker


def header_key(text: str) -> str:
    """Headers match whatever the case, spacing or dashes: 'Consent E-mail ' -> consentemail."""
    return re.sub(r"[\s\-_]+", "", str(text).lower())


@dataclass
class TypedSheet:
    """A sheet's records as typed columns, plus what is needed to report and write back."""

    sheet: Sheet
    frame: pd.DataFrame  # schema columns first, then the user's own columns
    rows: pd.Series  # Excel row number per record (None for new ones)
    layout: list[str]  # frame column names in the order they stand in the sheet
    header_row: int = 1


def match_headers(sheet: Sheet, header: list[str]) -> list[str]:
    """The sheet's columns by field name (in any language, any case), a person's own by
    its heading (numbered when it repeats)."""
    by_key: dict[str, Field] = {}
    for f in sheet.fields:
        by_key[header_key(f.name)] = f
        by_key[header_key(f.label)] = f
    for f in sheet.fields:  # the headers of a workbook in another language
        for alias in field_aliases(f.name):
            by_key.setdefault(header_key(alias), f)
    layout: list[str] = []
    seen: set[str] = set()
    for position, heading in enumerate(header):
        f = by_key.get(header_key(heading))
        name = f.name if f and f.name not in seen else heading
        if name in seen:
            name = f"{heading} ({position + 1})"
        seen.add(name)
        layout.append(name)
    return layout


def type_sheet(sheet: Sheet, raw: RawSheet, checker: Checker, dayfirst: bool = True) -> TypedSheet:
    """Match headers to fields, parse every column, report unreadable values."""
    layout = match_headers(sheet, raw.header)
    columns: dict[str, pd.Series] = {
        name: raw.frame.iloc[:, position] if len(raw.frame.columns) else pd.Series([], dtype=object)
        for position, name in enumerate(layout)
    }
    typed: dict[str, pd.Series] = {}
    n = len(raw.rows)
    for f in sheet.fields:
        if f.name not in columns:
            if raw.header:
                severity = ERROR if f.required else WARNING
                checker.add(
                    Code.MISSING_COLUMN, sheet.name, raw.header_row, f.name, severity=severity
                )
            typed[f.name] = empty_column(f, n)
            continue
        parsed = parse_column(f, columns[f.name].reset_index(drop=True), dayfirst)
        if parsed.bad.any():
            bad = parsed.bad.to_numpy()
            checker.add_many(parsed.code, sheet, raw.rows[bad], f.name, columns[f.name][bad])
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


def highest_id_number(ids: pd.Series) -> int | None:
    """The largest number ending an id ("C-000123" -> 123), None when no id ends in one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.utf8_trim_whitespace(pa.Array.from_pandas(ids.dropna().astype("str")))
    digits = pc.struct_field(pc.extract_regex(text, r"(?P<n>\d+)$"), [0])  # RE2, in C++
    top = pc.max(pc.cast(digits, pa.float64())).as_py()
    return None if top is None else int(top)
