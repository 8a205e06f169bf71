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
from pathlib import Path

from lxml import etree

from crmbook.errors import CrmbookError
from crmbook.io.newsheet import NewSheet, plan_new_sheets
from crmbook.io.package import MAIN_NS, Package, parse_xml
from crmbook.io.refs import column_letter, column_number
from crmbook.io.sheetpart import CellFormats, SheetChange, level, plan_sheet
from crmbook.io.stamp import carried

_TABLE_REF = re.compile(
    rb'(<(?:\w+:)?(?:table|autoFilter)\b[^>]*?\bref=")([A-Z]+)(\d+):([A-Z]+)(\d+)(")'
)

__all__ = ["SheetChange", "write_workbook"]


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
        sheets = {}
        last_row_of_table: dict[str, int] = {}
        widened: dict[str, SheetChange] = {}
        last_rows: dict[str, int] = {}
        formats = CellFormats.of(pkg)
        for name, change in changes.items():
            part = pkg.sheets[name].part
            sheets[part] = plan_sheet(pkg, part, change, formats)
            last_rows[name] = last_row = sheets[part].last_row
            for table in pkg.table_parts(part):
                last_row_of_table[table] = last_row
                if change.added_columns:
                    widened[table] = change
        for info in pkg.zip.infolist():
            if info.filename in plan.removed:
                continue
            if info.filename in sheets:
                sheets.pop(info.filename).write(out, pkg.zip, info)
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
    clone.extra = carried(info.extra)  # the part is unchanged: what crmbook knew of it holds
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
    out.writestr(clone, data, compresslevel=level(len(data)))


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


def _widen_table(xml: bytes, change: SheetChange) -> bytes:
    """Stretch a table over the columns added to its sheet, one tableColumn each."""
    root = parse_xml(xml, "table")
    ref = root.get("ref", "A1:A2")
    (start, end) = ref.split(":")
    end_col = re.sub(r"\d+", "", end)
    end_row = re.sub(r"[A-Z]+", "", end)
    width = change.frame.shape[1]
    if column_number(end_col) >= width:
        return xml
    columns = root.find(f"{{{MAIN_NS}}}tableColumns")
    ids = [int(c.get("id", "0")) for c in columns]
    names = list(change.frame.columns)
    names[width - len(change.added_columns) :] = change.added_columns  # as in the header cells
    first_new = column_number(end_col) + 1
    top_row = int(re.sub(r"[A-Z]+", "", start))
    for position in range(first_new, width + 1):
        ids.append(max(ids) + 1)
        el = etree.SubElement(columns, f"{{{MAIN_NS}}}tableColumn")
        el.set("id", str(ids[-1]))
        el.set("name", str(names[position - 1]))
    columns.set("count", str(len(columns)))
    new_ref = f"{start}:{column_letter(width)}{max(int(end_row), top_row + 1)}"
    root.set("ref", new_ref)
    auto = root.find(f"{{{MAIN_NS}}}autoFilter")
    if auto is not None:
        auto.set("ref", new_ref)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
