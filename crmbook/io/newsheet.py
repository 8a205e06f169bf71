"""Add a sheet to an existing workbook at the part level.

A new sheet touches exactly the parts that must name it: its own worksheet part (and table
part, with the sheet's relationships), the workbook's sheet list and relationships,
[Content_Types].xml, and the styles part only when no cell style with a needed number
format exists yet. Every other part is copied by the writer byte for byte.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

import pandas as pd
from lxml import etree

from crmbook.errors import CrmbookError
from crmbook.excel_limits import (
    MAX_CELL_CHARS,
    MAX_ROWS,
    cell_length,
    sheet_name_problem,
    too_long,
)
from crmbook.io.cells import render_rows
from crmbook.io.package import MAIN_NS, PKG_REL_NS, REL_NS, Package
from crmbook.io.refs import column_letter

CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
TABLE_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.table+xml"
REL_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_TABLE_NAME_BAD = re.compile(r"[^A-Za-z0-9_.]")
_LOOKS_LIKE_REF = re.compile(r"^([A-Za-z]{1,3}\d+|[RrCc]\d*([RrCc]\d*)?)$")
TABLE_NAME = "displayName"


@functools.cache
def _builtin_ids() -> dict[str, int]:
    """Excel's built-in number formats by code (openpyxl imported only when writing one)."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS

    return {code: number for number, code in BUILTIN_FORMATS.items()}


@dataclass
class NewSheet:
    """A sheet crmbook writes whole: a header row, the frame's rows, optionally one table.

    formats: the number format of each column ("@" text, "yyyy-mm-dd"...; None: General).
    table: the Excel table's name, or None for plain cells.
    state: "visible", "hidden" (the person can show it) or "veryHidden" (only code can).
    """

    name: str
    frame: pd.DataFrame
    formats: list[str | None]
    widths: list[float]
    table: str | None = None
    state: str = "visible"
    freeze: str | None = "A2"


def check_sheet_name(name: str) -> str:
    """The name as Excel accepts it, or a CrmbookError saying what is wrong with it."""
    problem = sheet_name_problem(name)
    if problem:
        raise CrmbookError(problem)
    return name


def check_cells(new: NewSheet) -> None:
    """Refuse text longer than an Excel cell holds, naming the column and the limit."""
    for column in new.frame.columns:
        long = too_long(new.frame[column])
        if long.any():
            longest = max(cell_length(v) for v in new.frame[column][long])
            raise CrmbookError(
                f"{new.name}, column {column}: a text of {longest:,} characters does not fit "
                f"in an Excel cell (at most {MAX_CELL_CHARS:,}); shorten it"
            )


def table_name(wanted: str, taken: set[str]) -> str:
    """A valid Excel table name close to `wanted`, unique among `taken` (case-insensitive)."""
    base = _TABLE_NAME_BAD.sub("_", wanted.strip()) or "Table"
    if not re.match(r"[A-Za-z_]", base[0]) or _LOOKS_LIKE_REF.match(base):
        base = "_" + base
    base = base[:250]
    name, n = base, 2
    while name.lower() in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def frame_formats(frame: pd.DataFrame, known: dict[str, tuple[str, float]]) -> tuple[list, list]:
    """Number format and width per column: the schema's for known names, else by dtype."""
    formats, widths = [], []
    for name in frame.columns:
        series = frame[name]
        if str(name) in known:
            number_format, width = known[str(name)]
        elif pd.api.types.is_datetime64_any_dtype(series):
            stamps = series.dropna()
            timed = bool(len(stamps)) and bool((stamps != stamps.dt.normalize()).any())
            number_format = "yyyy-mm-dd hh:mm" if timed else "yyyy-mm-dd"
            width = 17 if timed else 12
        elif pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            number_format, width = "General", 10
        else:
            number_format = "@"
            sample = series.dropna().astype(str).head(1000)
            width = min(50, max(10, (sample.str.len().max() if len(sample) else 0) + 2))
        formats.append(number_format)
        widths.append(max(float(width), min(50.0, len(str(name)) + 4.0)))
    return formats, widths


def unique_headers(columns) -> list[str]:
    """Column names as table headers: text, non-empty, unique (Excel requires all three)."""
    out: list[str] = []
    seen: set[str] = set()
    for position, column in enumerate(columns, start=1):
        name = str(column).strip().replace("\n", " ") or f"Column{position}"
        candidate, n = name, 2
        while candidate.lower() in seen:
            candidate, n = f"{name} ({n})", n + 1
        seen.add(candidate.lower())
        out.append(candidate)
    return out


class _Styles:
    """Find (or add) a plain cell style for each number format a new sheet needs."""

    def __init__(self, pkg: Package):
        rels = pkg.rels(pkg.workbook_part).values()
        self.part = next((t for kind, t in rels if kind == "styles"), None)
        self.root = pkg.xml(self.part) if self.part and self.part in pkg.infos else None
        self.changed = False

    def style(self, number_format: str | None) -> int | None:
        if number_format in (None, "General") or self.root is None:
            return None
        ns = {"m": MAIN_NS}
        fmt_id = _builtin_ids().get(number_format)
        numfmts = self.root.find("m:numFmts", ns)
        if fmt_id is None:
            for n in self.root.iterfind("m:numFmts/m:numFmt", ns):
                if n.get("formatCode") == number_format:
                    fmt_id = int(n.get("numFmtId"))
        xfs = self.root.find("m:cellXfs", ns)
        if xfs is None:
            return None
        if fmt_id is not None:
            for i, xf in enumerate(xfs.iterfind("m:xf", ns)):
                plain = all(xf.get(k, "0") == "0" for k in ("fontId", "fillId", "borderId"))
                if int(xf.get("numFmtId", "0")) == fmt_id and plain and len(xf) == 0:
                    return i
        if fmt_id is None:
            if numfmts is None:
                numfmts = etree.Element(f"{{{MAIN_NS}}}numFmts")
                self.root.insert(0, numfmts)
            used = [int(n.get("numFmtId")) for n in numfmts]
            fmt_id = max([163, *used]) + 1
            etree.SubElement(
                numfmts, f"{{{MAIN_NS}}}numFmt", numFmtId=str(fmt_id), formatCode=number_format
            )
            numfmts.set("count", str(len(numfmts)))
        etree.SubElement(
            xfs,
            f"{{{MAIN_NS}}}xf",
            numFmtId=str(fmt_id),
            fontId="0",
            fillId="0",
            borderId="0",
            xfId="0",
            applyNumberFormat="1",
        )
        xfs.set("count", str(len(xfs)))
        self.changed = True
        return len(xfs) - 1

    def xml(self) -> bytes:
        return _serialize(self.root)


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _rels_part(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def _set_states(workbook: etree._Element, states: Mapping[str, str]) -> None:
    for entry in workbook.iter(f"{{{MAIN_NS}}}sheet"):
        state = states.get(entry.get("name"))
        if state == "visible":
            entry.attrib.pop("state", None)
        elif state is not None:
            entry.set("state", state)


def _free(pattern: str, taken: set[str]) -> str:
    n = 1
    while pattern.format(n) in taken:
        n += 1
    return pattern.format(n)


@dataclass
class Plan:
    """What the writer does for new sheets: parts to replace, add and leave out."""

    replaced: dict[str, bytes] = field(default_factory=dict)
    added: dict[str, bytes] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)


def plan_new_sheets(
    pkg: Package, sheets: list[NewSheet], states: Mapping[str, str] | None = None
) -> Plan:
    """The part changes that add (or replace, in place) each sheet in `sheets`.

    `states`: existing sheets to show or hide (name -> "visible", "hidden", "veryHidden"),
    e.g. a sheet another program turned from very hidden to hidden.
    """
    plan = Plan()
    states = {
        name: state
        for name, state in (states or {}).items()
        if name in pkg.sheets and pkg.sheets[name].state != state
    }
    workbook = pkg.xml(pkg.workbook_part) if sheets or states else None
    if not sheets:
        if workbook is not None:  # only showing or hiding: the workbook part alone changes
            _set_states(workbook, states)
            plan.replaced[pkg.workbook_part] = _serialize(workbook)
        return plan
    styles = _Styles(pkg)
    wb_rels_part = _rels_part(pkg.workbook_part)
    wb_rels = pkg.xml(wb_rels_part)
    types = pkg.xml("[Content_Types].xml")
    parts = set(pkg.infos)
    table_ids, table_names = _tables(pkg)
    table_names |= {
        (n.get("name") or "").lower() for n in workbook.iter(f"{{{MAIN_NS}}}definedName")
    }
    sheets_el = workbook.find(f"{{{MAIN_NS}}}sheets")
    names = [s.name.lower() for s in sheets]
    if len(set(names)) < len(names):
        raise CrmbookError("two new sheets of the same name in one save")
    existing = {name.lower(): sheet for name, sheet in pkg.sheets.items()}
    for new in sheets:
        check_sheet_name(new.name)
        check_cells(new)
        if len(new.frame) + 1 > MAX_ROWS:
            raise CrmbookError(
                f"{len(new.frame):,} rows do not fit on one sheet; Excel allows "
                f"{MAX_ROWS - 1:,} below the header"
            )
        old = existing.get(new.name.lower())
        sheet_rels: etree._Element | None = None
        if old is not None:
            part = old.part
            rels_part = _rels_part(part)
            if rels_part in parts:
                sheet_rels = pkg.xml(rels_part)
                tables = {rid: t for rid, (kind, t) in pkg.rels(part).items() if kind == "table"}
                for rel in list(sheet_rels):
                    if rel.get("Id") in tables:
                        gone = pkg.xml(tables[rel.get("Id")])
                        table_names -= {(gone.get(k) or "").lower() for k in ("name", TABLE_NAME)}
                        plan.removed.add(tables[rel.get("Id")])
                        _drop_override(types, tables[rel.get("Id")])
                        sheet_rels.remove(rel)
        else:
            part = _free("xl/worksheets/sheet{}.xml", parts | set(plan.added))
            rels_part = _rels_part(part)
            rid = _free("rId{}", {r.get("Id") for r in wb_rels})
            etree.SubElement(
                wb_rels,
                f"{{{PKG_REL_NS}}}Relationship",
                Id=rid,
                Type=REL_TYPE + "worksheet",
                Target="/" + part,
            )
            ids = [int(s.get("sheetId", "0")) for s in sheets_el]
            entry = etree.SubElement(sheets_el, f"{{{MAIN_NS}}}sheet", nsmap={"r": REL_NS})
            entry.set("name", new.name)
            entry.set("sheetId", str(max([0, *ids]) + 1))
            if new.state != "visible":
                entry.set("state", new.state)
            entry.set(f"{{{REL_NS}}}id", rid)
            _add_override(types, part, WORKSHEET_TYPE)
        headers = unique_headers(new.frame.columns)
        frame = new.frame.set_axis(headers, axis=1)
        table_rid = None
        if new.table:
            if sheet_rels is None:
                sheet_rels = etree.Element(
                    f"{{{PKG_REL_NS}}}Relationships", nsmap={None: PKG_REL_NS}
                )
            table_part = _free("xl/tables/table{}.xml", parts | set(plan.added))
            table_rid = _free("rId{}", {r.get("Id") for r in sheet_rels})
            etree.SubElement(
                sheet_rels,
                f"{{{PKG_REL_NS}}}Relationship",
                Id=table_rid,
                Type=REL_TYPE + "table",
                Target="/" + table_part,
            )
            name = table_name(new.table, table_names)
            table_names.add(name.lower())
            table_id = max([0, *table_ids]) + 1
            table_ids.add(table_id)
            plan.added[table_part] = _table_xml(table_id, name, headers, len(frame))
            plan.removed.discard(table_part)
            _add_override(types, table_part, TABLE_TYPE)
        styles_of = [styles.style(f) for f in new.formats]
        xml = _sheet_xml(new, frame, headers, styles_of, table_rid)
        if old is not None:
            plan.replaced[part] = xml
        else:
            plan.added[part] = xml
        if sheet_rels is not None:
            target = plan.replaced if rels_part in parts else plan.added
            target[rels_part] = _serialize(sheet_rels)
        parts |= {part}
    _set_states(workbook, states)
    plan.replaced[pkg.workbook_part] = _serialize(workbook)
    plan.replaced[wb_rels_part] = _serialize(wb_rels)
    plan.replaced["[Content_Types].xml"] = _serialize(types)
    if styles.changed:
        plan.replaced[styles.part] = styles.xml()
    for name in list(plan.removed):
        if name in plan.added:
            plan.removed.discard(name)
    return plan


def _tables(pkg: Package) -> tuple[set[int], set[str]]:
    ids, names = set(), set()
    for name in pkg.infos:
        if name.startswith("xl/tables/") and name.endswith(".xml"):
            root = pkg.xml(name)
            ids.add(int(root.get("id", "0")))
            names |= {(root.get(k) or "").lower() for k in ("name", "displayName")}
    return ids, names


def _add_override(types: etree._Element, part: str, content_type: str) -> None:
    _drop_override(types, part)
    etree.SubElement(types, f"{{{CT_NS}}}Override", PartName="/" + part, ContentType=content_type)


def _drop_override(types: etree._Element, part: str) -> None:
    for el in list(types):
        if el.get("PartName") == "/" + part:
            types.remove(el)


def _table_xml(table_id: int, name: str, headers: list[str], rows: int) -> bytes:
    ref = f"A1:{column_letter(len(headers))}{max(rows, 1) + 1}"
    columns = "".join(
        f"<tableColumn id={quoteattr(str(i))} name={quoteattr(h)}/>"
        for i, h in enumerate(headers, start=1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<table xmlns="{MAIN_NS}" id="{table_id}" name={quoteattr(name)} '
        f'displayName={quoteattr(name)} ref="{ref}" headerRowCount="1" totalsRowShown="0">'
        f'<autoFilter ref="{ref}"/><tableColumns count="{len(headers)}">{columns}</tableColumns>'
        '<tableStyleInfo name="TableStyleMedium2" showFirstColumn="0" showLastColumn="0" '
        'showRowStripes="1" showColumnStripes="0"/></table>'
    ).encode()


def _sheet_xml(
    new: NewSheet,
    frame: pd.DataFrame,
    headers: list[str],
    styles: list[int | None],
    table_rid: str | None,
) -> bytes:
    width = max(len(headers), 1)
    last = max(len(frame), 1) + 1
    head = pd.DataFrame([headers], columns=headers, dtype=object)
    rows = "".join(render_rows(head, [1], [None] * len(headers)))
    rows += "".join(render_rows(frame, range(2, len(frame) + 2), styles))
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"'
        + (f' style="{s}"' if s is not None else "")
        + "/>"
        for i, (w, s) in enumerate(zip(new.widths, styles, strict=True), start=1)
    )
    pane = ""
    if new.freeze:
        pane = (
            f'<pane ySplit="1" topLeftCell="{new.freeze}" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/>'
        )
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
        f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">',
        f'<dimension ref="A1:{column_letter(width)}{last}"/>',
        f'<sheetViews><sheetView workbookViewId="0">{pane}</sheetView></sheetViews>',
        '<sheetFormatPr defaultRowHeight="15"/>',
        f"<cols>{cols}</cols>" if cols else "",
        f"<sheetData>{rows}</sheetData>",
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>',
        f'<tableParts count="1"><tablePart r:id="{table_rid}"/></tableParts>' if table_rid else "",
        "</worksheet>",
    ]
    return "".join(parts).encode()
