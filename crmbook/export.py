"""Customer lists to take away: a segment as a workbook of its own, never the CRM workbook.

The file is new each time (written with xlsxwriter): one sheet holding one Excel table with
frozen header, the schema's number formats and widths. Text that looks like a formula stays
text, so a name typed as "=cmd|..." can never run in the receiver's Excel.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from crmbook.schema import SCHEMA, TYPES
from crmbook.values import plain

_FORBIDDEN_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")


def write_customer_list(
    frame: pd.DataFrame, path: str | os.PathLike, sheet_name: str = "Customers"
) -> Path:
    """Write customers (Customers columns and derived ones) to a new workbook at `path`."""
    import xlsxwriter

    path = Path(path)
    book = xlsxwriter.Workbook(
        path,
        {
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "remove_timezone": True,
        },
    )
    name = _FORBIDDEN_IN_SHEET_NAME.sub(" ", sheet_name).strip("' ")[:31] or "Customers"
    sheet = book.add_worksheet(name)
    columns = []
    for position, column in enumerate(frame.columns):
        number_format, width = _format(column, frame[column])
        style = book.add_format({"num_format": number_format})
        columns.append({"header": str(column), "format": style})
        sheet.set_column(position, position, width, style)
    data = [[plain(v) for v in row] for row in frame.itertuples(index=False)]
    sheet.add_table(
        0,
        0,
        max(len(data), 1),
        max(len(columns) - 1, 0),
        {
            "name": "Segment",
            "columns": columns,
            "data": data or None,
            "style": "Table Style Medium 2",
        },
    )
    sheet.freeze_panes(1, 0)
    book.close()
    return path


def _format(column: str, values: pd.Series) -> tuple[str, float]:
    """The schema's number format and width for a Customers column; else by the values."""
    sheet = SCHEMA.sheet("Customers")
    if sheet.has(column):
        field = sheet.field(column)
        return field.ftype.number_format, field.width
    if pd.api.types.is_datetime64_any_dtype(values):
        return TYPES["date"].number_format, TYPES["date"].width
    if pd.api.types.is_float_dtype(values):
        return TYPES["money"].number_format, max(TYPES["money"].width, len(column) + 4)
    return "General", max(12, len(column) + 4)
