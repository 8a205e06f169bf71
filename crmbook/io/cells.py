"""Turn DataFrame columns into SpreadsheetML cell XML, a column at a time.

Only values are written here; every formatting decision (number formats, widths,
validations) stays in the sheet's own XML, which the writer keeps.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from crmbook.io.refs import column_letter

EXCEL_EPOCH = pd.Timestamp("1899-12-30")
# Excel has no dates before 1900 and counts a 29 February 1900 that never was,
# so its serial numbers before 1 March 1900 (serial 61) are one day off.
EXCEL_FIRST_DATE = pd.Timestamp("1900-01-01")
LEAP_BUG_END = pd.Timestamp("1900-03-01")
# Besides the characters XML cannot hold, a carriage return (XML parsers turn \r\n into \n)
# and the underscore of text that itself looks like an escape ("_x0041_") are escaped.
_NEEDS_ESCAPE = re.compile(r"[&<>\x00-\x08\x0b\x0c\r\x0e-\x1f\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\r\x0e-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")


def escape(text: str) -> str:
    """XML-escape text; characters XML cannot hold become Excel's _xHHHH_ escapes."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _ILLEGAL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def excel_serial(value: dt.date | dt.datetime | pd.Timestamp) -> float:
    stamp = pd.Timestamp(value)
    days = (stamp - EXCEL_EPOCH) / pd.Timedelta(days=1)
    return days - 1 if stamp < LEAP_BUG_END else days


def excel_dates(days: pd.Series) -> pd.Series:
    """The dates of Excel serial numbers (the inverse of excel_serial), to the microsecond.

    Counted in microseconds: nanoseconds from 1899 overflow after the year 2192, and Excel's
    dates run to 9999.
    """
    shifted = days.where(days >= 61, days + 1).to_numpy(dtype=float)
    micros = np.round(shifted * 86_400_000_000).astype("int64").astype("timedelta64[us]")
    epoch = EXCEL_EPOCH.to_datetime64().astype("datetime64[us]")
    return pd.Series(epoch + micros, index=days.index)


def _number(x: float) -> str:
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _serials(series: pd.Series) -> list[str | None]:
    days = (series - EXCEL_EPOCH) / pd.Timedelta(days=1)
    days = days.where(~(series < LEAP_BUG_END), days - 1)
    return [None if np.isnan(d) else _number(d) for d in days.to_numpy(dtype=float)]


def _text_cell(ref: str, style: str, text: str) -> str:
    return (
        f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{escape(text)}</t></is></c>'
    )


def _any_cell(ref: str, style: str, value: object) -> str:
    """One value of unknown type (user columns, object columns)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, str):
        return _text_cell(ref, style, value) if value != "" else ""
    if isinstance(value, bool | np.bool_):
        return f'<c r="{ref}"{style} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float | np.integer | np.floating):
        if np.isnan(value):
            return ""
        return f'<c r="{ref}"{style}><v>{_number(value)}</v></c>'
    if isinstance(value, dt.date | pd.Timestamp):
        return f'<c r="{ref}"{style}><v>{_number(excel_serial(value))}</v></c>'
    if isinstance(value, dt.time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second
        return f'<c r="{ref}"{style}><v>{_number(seconds / 86400)}</v></c>'
    return _text_cell(ref, style, str(value))


def column_cells(series: pd.Series, letter: str, rows: list[str], styles: list[str]) -> list[str]:
    """Cell XML for every row of one column ('' where the cell is empty)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        values = _serials(series)
        return [
            "" if v is None else f'<c r="{letter}{r}"{s}><v>{v}</v></c>'
            for v, r, s in zip(values, rows, styles, strict=True)
        ]
    if pd.api.types.is_bool_dtype(series) and not series.hasnans:
        return [
            f'<c r="{letter}{r}"{s} t="b"><v>{int(v)}</v></c>'
            for v, r, s in zip(series.to_numpy(), rows, styles, strict=True)
        ]
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        return [
            "" if np.isnan(v) else f'<c r="{letter}{r}"{s}><v>{_number(v)}</v></c>'
            for v, r, s in zip(values, rows, styles, strict=True)
        ]
    return [
        _any_cell(f"{letter}{r}", s, v)
        for v, r, s in zip(series.astype(object).to_numpy(), rows, styles, strict=True)
    ]


def _style(index: int | None) -> str:
    return "" if index is None else f' s="{index}"'


def _cell_styles(
    column: int, style: int | None, own_styles: list[dict[int, int] | None] | None, n: int
) -> list[str]:
    """The style attribute of each cell of one column."""
    default = _style(style)
    if own_styles is None:
        return [default] * n
    return [_style(own[column]) if own and column in own else default for own in own_styles]


def render_rows(
    frame: pd.DataFrame,
    numbers: Sequence[int],
    styles: list[int | None],
    own_styles: list[dict[int, int] | None] | None = None,
) -> Iterator[str]:
    """Yield one <row> element per frame row, each at its Excel row in `numbers`.

    Cells take their column's style, unless own_styles gives a row's cell one of its own.
    """
    rows = [str(n) for n in numbers]
    columns = [
        column_cells(
            frame.iloc[:, i],
            column_letter(i + 1),
            rows,
            _cell_styles(i, styles[i], own_styles, len(rows)),
        )
        for i in range(frame.shape[1])
    ]
    for r, cells in zip(
        rows, zip(*columns, strict=True) if columns else [()] * len(rows), strict=True
    ):
        yield f'<row r="{r}">{"".join(cells)}</row>'
