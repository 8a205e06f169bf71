"""Save by rewriting only the sheets whose records changed.

An .xlsx is a zip of parts. Every part crmbook does not own (user sheets, charts, images,
pivot tables, comments, macros, styles) is copied unchanged. In an owned sheet only the
<sheetData> block is replaced (or appended to): its columns, formats, validations,
conditional formats and table definition stay as the user left them.
"""

from __future__ import annotations

import re
import struct
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from lxml import etree
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils import column_index_from_string, get_column_letter

from crmbook.errors import CrmbookError
from crmbook.excel_limits import MAX_ROWS
from crmbook.io.cells import escape, render_rows
from crmbook.io.newsheet import NewSheet, plan_new_sheets
from crmbook.io.package import MAIN_NS, Package, parse_xml

_SHEETDATA_OPEN = re.compile(rb"<(?:\w+:)?sheetData\s*(/?)>")
_SHEETDATA_CLOSE = re.compile(rb"</(?:\w+:)?sheetData>")
_ROW_CLOSE = re.compile(rb"</(?:\w+:)?row>")
_DIMENSION = re.compile(rb'(<(?:\w+:)?dimension\s+ref=")([^"]*)(")')
_ROW_NUMBER = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="(\d+)"')
_COL = re.compile(rb"<(?:\w+:)?col\b([^>]*)/?>")
_ATTR = re.compile(rb'(\w+)="([^"]*)"')
_TABLE_REF = re.compile(
    rb'(<(?:\w+:)?(?:table|autoFilter)\b[^>]*?\bref=")([A-Z]+)(\d+):([A-Z]+)(\d+)(")'
)
_CELL_STYLE = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})(\d+)"[^>]*?\bs="(\d+)"')
# Built-in number formats Excel shows as dates, with the East Asian ones openpyxl does not list.
_DATE_FORMAT_IDS = {*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)}

BIG_PART = 8 * 1024**2


@dataclass
class SheetChange:
    """What to write into one owned sheet.

    mode "rewrite" replaces every data row with `frame`; mode "append" keeps the rows
    already there and adds `frame` after them (the fast path for new records).
    formats: the number format each column's values need (None: any), so a date never lands
    in a column styled for numbers or the other way round.
    source_rows: in a rewrite, the Excel row each record stood on (None for new ones), so its
    cells keep their own style: a fill, the date format of a user's own column.
    added_columns: the last columns of `frame` are new to the sheet (a schema upgrade): their
    header cells are written and the sheet's table is widened to hold them.
    """

    mode: str
    frame: pd.DataFrame
    header_row: int = 1
    formats: list[str | None] | None = None
    source_rows: list[int | None] | None = None
    added_columns: list[str] | None = None
    added_widths: list[float] | None = None


@dataclass(frozen=True)
class CellFormats:
    """The number format of every cell style (cellXfs) in the workbook's styles part."""

    codes: tuple[str, ...] = ()
    dates: tuple[bool, ...] = ()

    @classmethod
    def of(cls, pkg: Package) -> CellFormats:
        rels = pkg.rels(pkg.workbook_part).values()
        part = next((target for kind, target in rels if kind == "styles"), None)
        if part is None or part not in pkg.infos:
            return cls()
        root = pkg.xml(part)
        custom = {
            int(n.get("numFmtId", "0")): n.get("formatCode", "")
            for n in root.iterfind(f"{{{MAIN_NS}}}numFmts/{{{MAIN_NS}}}numFmt")
        }
        ids = [
            int(xf.get("numFmtId", "0"))
            for xf in root.iterfind(f"{{{MAIN_NS}}}cellXfs/{{{MAIN_NS}}}xf")
        ]
        return cls(
            tuple(custom.get(i, BUILTIN_FORMATS.get(i, "General")) for i in ids),
            tuple(i in _DATE_FORMAT_IDS or is_date_format(custom.get(i, "General")) for i in ids),
        )

    def fits(self, style: int | None, wanted: str | None) -> bool:
        """Whether a cell of this style shows the values of a column wanting `wanted` right."""
        if wanted is None or wanted in ("@", "General"):
            return True
        shows_dates = style is not None and style < len(self.dates) and self.dates[style]
        return shows_dates == is_date_format(wanted)

    def style_for(self, wanted: str | None, current: int | None) -> int | None:
        """`current` if it fits, else a style with exactly `wanted`, else any style that fits."""
        if self.fits(current, wanted):
            return current
        if wanted in self.codes:
            return self.codes.index(wanted)
        return next((i for i in range(len(self.codes)) if self.fits(i, wanted)), current)


def write_workbook(
    source: Path,
    target: Path,
    changes: dict[str, SheetChange],
    new_sheets: Sequence[NewSheet] = (),
    parts: Mapping[str, bytes] | None = None,
    states: Mapping[str, str] | None = None,
) -> dict[str, int]:
    """Write `target` as `source` with the given sheets changed or added; nothing else differs.

    A new sheet whose name exists already replaces that sheet's cells and table in place.
    `parts`: other parts given whole (by part name), e.g. shared strings an erasure scrubbed.
    `states`: sheets to show or hide (name -> "visible", "hidden" or "veryHidden").
    Returns the last Excel row number of each changed sheet.
    """
    with Package(source) as pkg, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        missing = set(changes) - set(pkg.sheets)
        if missing:
            raise CrmbookError(f"the workbook has no sheet named {', '.join(sorted(missing))}")
        plan = plan_new_sheets(pkg, list(new_sheets), states)
        rewritten: dict[str, bytes] = {**(parts or {}), **plan.replaced}
        last_row_of_table: dict[str, int] = {}
        widened: dict[str, SheetChange] = {}
        last_rows: dict[str, int] = {}
        formats = CellFormats.of(pkg)
        for name, change in changes.items():
            part = pkg.sheets[name].part
            rewritten[part], last_row = _rewrite_sheet(pkg.read(part), change, formats)
            last_rows[name] = last_row
            for table in pkg.table_parts(part):
                last_row_of_table[table] = last_row
                if change.added_columns:
                    widened[table] = change
        for info in pkg.zip.infolist():
            if info.filename in plan.removed:
                continue
            if info.filename in rewritten:
                data = rewritten.pop(info.filename)
            elif info.filename in last_row_of_table:
                data = _retarget_table(pkg.read(info.filename), last_row_of_table[info.filename])
                if info.filename in widened:
                    data = _widen_table(data, widened[info.filename])
            else:
                _copy_part(pkg.zip, out, info)
                continue
            _write_part(out, info, data)
        for name, data in plan.added.items():
            _write_part(out, zipfile.ZipInfo(name, date_time=time.localtime()[:6]), data)
    return last_rows


def _copy_part(src: zipfile.ZipFile, out: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Copy a part's compressed bytes as they are: no inflate, no deflate, nothing altered.

    zipfile has no public call for this; it is what ZipFile.write does internally (local
    header, data, central-directory entry). Anything unusual falls back to a re-deflate.
    """
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        _write_part(out, info, src.read(info.filename))
        return
    src.fp.seek(info.header_offset)
    local = src.fp.read(zipfile.sizeFileHeader)
    fields = struct.unpack(zipfile.structFileHeader, local)
    skip = fields[zipfile._FH_FILENAME_LENGTH] + fields[zipfile._FH_EXTRA_FIELD_LENGTH]
    src.fp.seek(info.header_offset + zipfile.sizeFileHeader + skip)
    clone = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    clone.compress_type = info.compress_type
    clone.external_attr = info.external_attr
    clone.CRC, clone.compress_size, clone.file_size = info.CRC, info.compress_size, info.file_size
    clone.header_offset = out.fp.tell()
    zip64 = clone.file_size > zipfile.ZIP64_LIMIT or clone.compress_size > zipfile.ZIP64_LIMIT
    out.fp.write(clone.FileHeader(zip64))
    remaining = info.compress_size
    while remaining:
        chunk = src.fp.read(min(remaining, 1 << 20))
        if not chunk:
            raise CrmbookError(f"{info.filename} is truncated in the source workbook")
        out.fp.write(chunk)
        remaining -= len(chunk)
    out.filelist.append(clone)
    out.NameToInfo[clone.filename] = clone
    out.start_dir = out.fp.tell()
    out._didModify = True


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


def cell_styles(body: bytes) -> dict[int, dict[int, int]]:
    """The style each cell carries, by Excel row and column position (0 is column A)."""
    found: dict[int, dict[int, int]] = {}
    for letters, row, style in _CELL_STYLE.findall(body):
        found.setdefault(int(row), {})[column_index_from_string(letters.decode()) - 1] = int(style)
    return found


def _own_styles(
    change: SheetChange, body: bytes, styles: list[int | None], formats: CellFormats
) -> list[dict[int, int] | None] | None:
    """Per record, the cells whose own style differs from their column's and still fits."""
    if change.mode != "rewrite" or change.source_rows is None:
        return None
    found = cell_styles(body)
    wanted = change.formats or [None] * len(styles)
    own: list[dict[int, int] | None] = []
    for row in change.source_rows:
        cells = found.get(int(row)) if row is not None and row == row else None
        own.append(
            {
                i: style
                for i, style in cells.items()
                if i < len(styles) and style != styles[i] and formats.fits(style, wanted[i])
            }
            if cells
            else None
        )
    return own


def _rewrite_sheet(
    xml: bytes, change: SheetChange, formats: CellFormats = CellFormats()
) -> tuple[bytes, int]:
    opening = _SHEETDATA_OPEN.search(xml)
    if opening is None:
        raise CrmbookError("a sheet without <sheetData> cannot be written; re-save it in Excel")
    head = xml[: opening.start()]
    width = change.frame.shape[1]
    styles = [
        formats.style_for(wanted, style)
        for style, wanted in zip(
            column_styles(head, width), change.formats or [None] * width, strict=True
        )
    ]
    own = None
    if opening.group(1):  # <sheetData/>: nothing there yet
        kept, tail, last_kept = b"", xml[opening.end() :], 0
    else:
        closing = _SHEETDATA_CLOSE.search(xml, opening.end())
        if closing is None:
            raise CrmbookError("a sheet's <sheetData> is not closed: the file is damaged")
        body = xml[opening.end() : closing.start()]
        tail = xml[closing.end() :]
        kept = body if change.mode == "append" else _rows_through(body, change.header_row)
        if change.added_columns:
            kept = _add_header_cells(kept, change, width)
        last_kept = _last_row_number(kept)
        own = _own_styles(change, body, styles, formats)
    first = max(last_kept, change.header_row) + 1
    last = first + len(change.frame) - 1
    if last > MAX_ROWS:
        raise CrmbookError(
            f"this save would put {last:,} rows on one sheet; Excel allows {MAX_ROWS:,}. "
            "Move old records to an archive workbook or use the database backend."
        )
    new_rows = "".join(render_rows(change.frame, first, styles, own)).encode()
    last_row = max(last, last_kept)
    head = _set_dimension(head, last_row, width if change.added_columns else None)
    if change.added_columns:
        head = _add_cols(head, change, width, styles)
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


def _set_dimension(head: bytes, last_row: int, width: int | None = None) -> bytes:
    def replace(m: re.Match) -> bytes:
        ref = m.group(2).decode()
        start = ref.split(":")[0]
        end_col = re.sub(r"\d+", "", ref.split(":")[-1]) or "A"
        if width and column_index_from_string(end_col) < width:
            end_col = get_column_letter(width)
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


def _add_header_cells(kept: bytes, change: SheetChange, width: int) -> bytes:
    """Write the headers of columns new to the sheet at the end of its header row."""
    first = width - len(change.added_columns) + 1
    cells = "".join(
        f'<c r="{get_column_letter(first + i)}{change.header_row}" t="inlineStr">'
        f'<is><t xml:space="preserve">{escape(name)}</t></is></c>'
        for i, name in enumerate(change.added_columns)
    ).encode()
    for match in _ROW_NUMBER.finditer(kept):
        if int(match.group(1)) != change.header_row:
            continue
        start = kept.rfind(b"<", 0, match.end())
        tag_end = kept.index(b">", match.end())
        if kept[tag_end - 1 : tag_end] == b"/":  # <row r="1"/>: an empty header row
            opened = kept[start : tag_end - 1] + b">"
            return kept[:start] + opened + cells + b"</row>" + kept[tag_end + 1 :]
        close = _ROW_CLOSE.search(kept, tag_end)
        row = kept[start : close.start()]
        prefix = re.match(rb"<(\w+:)?", row).group(1) or b""
        if prefix:
            cells = cells.replace(b"<", b"<" + prefix).replace(b"<" + prefix + b"/", b"</" + prefix)
        row = re.sub(rb'\s(?:spans)="[^"]*"', b"", row[: tag_end - start]) + row[tag_end - start :]
        return kept[:start] + row + cells + kept[close.start() :]
    header = f'<row r="{change.header_row}">'.encode() + cells + b"</row>"
    return header + kept


def _add_cols(head: bytes, change: SheetChange, width: int, styles: list[int | None]) -> bytes:
    """Give the new columns the width (and number format) the schema declares."""
    first = width - len(change.added_columns) + 1
    widths = change.added_widths or [12.0] * len(change.added_columns)
    cols = "".join(
        f'<col min="{first + i}" max="{first + i}" width="{w:g}" customWidth="1"'
        + (f' style="{styles[first + i - 1]}"' if styles[first + i - 1] is not None else "")
        + "/>"
        for i, w in enumerate(widths)
    ).encode()
    taken = set()
    for match in _COL.finditer(head):
        attrs = {k.decode(): v.decode() for k, v in _ATTR.findall(match.group(1))}
        taken |= set(range(int(attrs.get("min", 0)), int(attrs.get("max", 0)) + 1))
    if taken & set(range(first, width + 1)):
        return head
    closing = re.search(rb"</(?:\w+:)?cols>", head)
    if closing:
        return head[: closing.start()] + cols + head[closing.start() :]
    anchor = re.search(rb"<(?:\w+:)?sheetFormatPr\b[^>]*>", head) or re.search(
        rb"</(?:\w+:)?sheetViews>", head
    )
    if anchor is None:
        return head
    return head[: anchor.end()] + b"<cols>" + cols + b"</cols>" + head[anchor.end() :]


def _widen_table(xml: bytes, change: SheetChange) -> bytes:
    """Stretch a table over the columns added to its sheet, one tableColumn each."""
    root = parse_xml(xml, "table")
    ref = root.get("ref", "A1:A2")
    (start, end) = ref.split(":")
    end_col = re.sub(r"\d+", "", end)
    end_row = re.sub(r"[A-Z]+", "", end)
    width = change.frame.shape[1]
    if column_index_from_string(end_col) >= width:
        return xml
    columns = root.find(f"{{{MAIN_NS}}}tableColumns")
    ids = [int(c.get("id", "0")) for c in columns]
    names = list(change.frame.columns)
    names[width - len(change.added_columns) :] = change.added_columns  # as in the header cells
    first_new = column_index_from_string(end_col) + 1
    top_row = int(re.sub(r"[A-Z]+", "", start))
    for position in range(first_new, width + 1):
        ids.append(max(ids) + 1)
        el = etree.SubElement(columns, f"{{{MAIN_NS}}}tableColumn")
        el.set("id", str(ids[-1]))
        el.set("name", str(names[position - 1]))
    columns.set("count", str(len(columns)))
    new_ref = f"{start}:{get_column_letter(width)}{max(int(end_row), top_row + 1)}"
    root.set("ref", new_ref)
    auto = root.find(f"{{{MAIN_NS}}}autoFilter")
    if auto is not None:
        auto.set("ref", new_ref)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
