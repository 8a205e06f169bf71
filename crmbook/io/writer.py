"""Save by rewriting only the sheets whose records changed.

An .xlsx is a zip of parts. Every part crmbook does not own (user sheets, charts, images,
pivot tables, comments, macros, styles) is copied unchanged. In an owned sheet only the
<sheetData> block is replaced (or appended to): its columns, formats, validations,
conditional formats and table definition stay as the user left them.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crmbook.errors import CrmbookError
from crmbook.io.cells import render_rows
from crmbook.io.package import Package
from crmbook.schema import EXCEL_MAX_ROWS

_SHEETDATA_OPEN = re.compile(rb"<(?:\w+:)?sheetData\s*(/?)>")
_SHEETDATA_CLOSE = re.compile(rb"</(?:\w+:)?sheetData>")
_DIMENSION = re.compile(rb'(<(?:\w+:)?dimension\s+ref=")([^"]*)(")')
_ROW_NUMBER = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="(\d+)"')
_COL = re.compile(rb"<(?:\w+:)?col\b([^>]*)/?>")
_ATTR = re.compile(rb'(\w+)="([^"]*)"')
_TABLE_REF = re.compile(
    rb'(<(?:\w+:)?(?:table|autoFilter)\b[^>]*?\bref=")([A-Z]+)(\d+):([A-Z]+)(\d+)(")'
)

BIG_PART = 8 * 1024**2


@dataclass
class SheetChange:
    """What to write into one owned sheet.

    mode "rewrite" replaces every data row with `frame`; mode "append" keeps the rows
    already there and adds `frame` after them (the fast path for new records).
    """

    mode: str
    frame: pd.DataFrame
    header_row: int = 1


def write_workbook(source: Path, target: Path, changes: dict[str, SheetChange]) -> dict[str, int]:
    """Write `target` as `source` with the given sheets changed; nothing else differs.

    Returns the last Excel row number of each changed sheet.
    """
    with Package(source) as pkg, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        missing = set(changes) - set(pkg.sheets)
        if missing:
            raise CrmbookError(f"the workbook has no sheet named {', '.join(sorted(missing))}")
        rewritten: dict[str, bytes] = {}
        last_row_of_table: dict[str, int] = {}
        last_rows: dict[str, int] = {}
        for name, change in changes.items():
            part = pkg.sheets[name].part
            rewritten[part], last_row = _rewrite_sheet(pkg.read(part), change)
            last_rows[name] = last_row
            for table in pkg.table_parts(part):
                last_row_of_table[table] = last_row
        for info in pkg.zip.infolist():
            if info.filename in rewritten:
                data = rewritten.pop(info.filename)
            elif info.filename in last_row_of_table:
                data = _retarget_table(pkg.read(info.filename), last_row_of_table[info.filename])
            else:
                data = pkg.read(info.filename)
            _write_part(out, info, data)
    return last_rows


def _write_part(out: zipfile.ZipFile, info: zipfile.ZipInfo, data: bytes) -> None:
    clone = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    clone.compress_type = zipfile.ZIP_DEFLATED
    clone.external_attr = info.external_attr
    out.writestr(clone, data, compresslevel=1 if len(data) > BIG_PART else 6)


def column_styles(head: bytes, width: int) -> list[int | None]:
    """The style index of each column from <cols>, so new cells look like the column."""
    styles: list[int | None] = [None] * width
    for match in _COL.finditer(head):
        attrs = {k.decode(): v.decode() for k, v in _ATTR.findall(match.group(1))}
        if "style" not in attrs:
            continue
        lo, hi = int(attrs.get("min", 0)), int(attrs.get("max", 0))
        for col in range(max(lo, 1), min(hi, width) + 1):
            styles[col - 1] = int(attrs["style"])
    return styles


def _rewrite_sheet(xml: bytes, change: SheetChange) -> tuple[bytes, int]:
    opening = _SHEETDATA_OPEN.search(xml)
    if opening is None:
        raise CrmbookError("a sheet without <sheetData> cannot be written; re-save it in Excel")
    head = xml[: opening.start()]
    styles = column_styles(head, change.frame.shape[1])
    if opening.group(1):  # <sheetData/>: nothing there yet
        kept, tail, last_kept = b"", xml[opening.end() :], 0
    else:
        closing = _SHEETDATA_CLOSE.search(xml, opening.end())
        if closing is None:
            raise CrmbookError("a sheet's <sheetData> is not closed: the file is damaged")
        body = xml[opening.end() : closing.start()]
        tail = xml[closing.end() :]
        kept = body if change.mode == "append" else _rows_through(body, change.header_row)
        last_kept = _last_row_number(kept)
    first = max(last_kept, change.header_row) + 1
    last = first + len(change.frame) - 1
    if last > EXCEL_MAX_ROWS:
        raise CrmbookError(
            f"this save would put {last:,} rows on one sheet; Excel allows {EXCEL_MAX_ROWS:,}. "
            "Move old records to an archive workbook or use the database backend."
        )
    new_rows = "".join(render_rows(change.frame, first, styles)).encode()
    last_row = max(last, last_kept)
    head = _set_dimension(head, last_row)
    data = b"".join([head, b"<sheetData>", kept, new_rows, b"</sheetData>", tail])
    return data, last_row


def _rows_through(body: bytes, header_row: int) -> bytes:
    """The leading rows up to and including the header, byte for byte."""
    end = 0
    for match in _ROW_NUMBER.finditer(body):
        if int(match.group(1)) > header_row:
            return body[: match.start()]
        end = match.start()
    if end == 0 and not body.strip():
        return b""
    return body


def _last_row_number(body: bytes) -> int:
    for size in (1 << 16, len(body)):
        numbers = _ROW_NUMBER.findall(body[-size:])
        if numbers:
            return int(numbers[-1])
    return 0


def _set_dimension(head: bytes, last_row: int) -> bytes:
    def replace(m: re.Match) -> bytes:
        ref = m.group(2).decode()
        start = ref.split(":")[0]
        end_col = re.sub(r"\d+", "", ref.split(":")[-1]) or "A"
        return m.group(1) + f"{start}:{end_col}{max(last_row, 1)}".encode() + m.group(3)

    return _DIMENSION.sub(replace, head, count=1)


def _retarget_table(xml: bytes, last_row: int) -> bytes:
    """Stretch the table (and its autofilter) to the new last row; an empty table keeps one."""

    def replace(m: re.Match) -> bytes:
        top = int(m.group(3))
        end = max(last_row, top + 1)
        return (
            m.group(1)
            + m.group(2)
            + m.group(3)
            + b":"
            + m.group(4)
            + str(end).encode()
            + m.group(6)
        )

    return _TABLE_REF.sub(replace, xml)
