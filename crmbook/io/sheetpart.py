"""One owned sheet part written: rows appended to what crmbook wrote, or the sheet written
again as its rows stream by.

Three ways, cheapest first. Rows appended to a part crmbook wrote last in runs (its stamp
holds): the compressed rows are copied, only the new ones deflated (io/appendable.py). Rows
appended to any other part, or a sheet written again: the part is read as it inflates
(io/rows.py) and written as it goes, never whole in memory; in a part crmbook wrote last, a
record that did not change keeps its row as it is (renumbered when rows before it went),
and only the records that changed are rendered again. Every part written here is written in
runs, so the next append is the cheap one.
"""

from __future__ import annotations

import itertools
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmbook.errors import CrmbookError
from crmbook.excel_limits import MAX_ROWS
from crmbook.io.appendable import AppendablePart, Run, Runs, crc32_combine, read_run
from crmbook.io.cells import escape, render_rows
from crmbook.io.package import MAIN_NS, Package
from crmbook.io.refs import column_letter, column_number
from crmbook.io.rows import SheetStream, last_row_number, renumbered
from crmbook.values import missing_mask

_ROW_CLOSE = re.compile(rb"</(?:\w+:)?row>")
_DIMENSION = re.compile(rb'(<(?:\w+:)?dimension\s+ref=")([^"]*)(")')
_ROW_NUMBER = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="(\d+)"')
_COL = re.compile(rb"<(?:\w+:)?col\b([^>]*)/?>")
_ATTR = re.compile(rb'(\w+)="([^"]*)"')
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_CELL_STYLE = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,3})(\d+)"[^>]*?\bs="(\d+)"')
# Built-in number formats Excel shows as dates, with the East Asian ones openpyxl does not list.
_DATE_FORMAT_IDS = {*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)}

BIG_PART = 8 * 1024**2
LARGE_PART = 2 * 1024**3  # a part that may pass 4 GB gets zip64 sizes
BATCH = 2000  # records rendered (or stored rows handed on) at a time


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
    unchanged: in a rewrite, per record whether it is as it was read: its stored row is
    copied as it is when crmbook wrote the part last (it rendered that row itself).
    """

    mode: str
    frame: pd.DataFrame
    header_row: int = 1
    formats: list[str | None] | None = None
    source_rows: list[int | None] | None = None
    added_columns: list[str] | None = None
    added_widths: list[float] | None = None
    unchanged: list[bool] | None = None
    facts: dict | None = None  # remembered beside the written part (io/stamp.py)


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
        from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format  # saving only

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
        from openpyxl.styles.numbers import is_date_format

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


def level(size: int) -> int:
    """zlib's fastest level for big parts (they are most of a save's time), else the default."""
    return 1 if size > BIG_PART else 6


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
        found.setdefault(int(row), {})[column_number(letters.decode()) - 1] = int(style)
    return found


def own_styles(
    row: bytes | None, styles: list[int | None], wanted: list[str | None], formats: CellFormats
) -> dict[int, int] | None:
    """The cells of a stored row whose own style differs from their column's and still fits
    the values (a fill, the date format of a user's own column): kept when it is rewritten."""
    cells = next(iter(cell_styles(row).values()), None) if row else None
    if not cells:
        return None
    own = {
        i: style
        for i, style in cells.items()
        if i < len(styles) and style != styles[i] and formats.fits(style, wanted[i])
    }
    return own or None


def plan_sheet(pkg: Package, part: str, change: SheetChange, formats: CellFormats):
    """How to write the part: _Appended when it can, else _Streamed."""
    return _appended(pkg, part, change, formats) or _streamed(pkg, part, change, formats)


@dataclass
class _Appended:
    """New rows for a sheet part crmbook wrote in runs: its compressed rows are copied as they
    are, the new rows deflated after them; only the (small) head and tail are deflated again."""

    head: bytes
    rows: bytes
    tail: bytes
    last_row: int
    facts: dict | None
    before: Runs

    def write(self, out: zipfile.ZipFile, source: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        before = self.before
        large = info.file_size + len(self.rows) > LARGE_PART
        part = AppendablePart(out, info, large=large)
        head = part.deflate([self.head])
        kept = part.copy(source, info, before.head.compressed, before.rows)
        new = part.deflate([self.rows])
        rows = Run(
            kept.compressed + new.compressed,
            kept.size + new.size,
            crc32_combine(kept.crc, new.crc, new.size),
        )
        tail = part.deflate([self.tail], last=True)
        part.close(_stamped(self.facts, Runs(head, rows, tail, self.last_row)))


def _stamped(facts: dict | None, runs: Runs) -> dict:
    return {**(facts or {}), **runs.facts()}


def _appended(
    pkg: Package, part: str, change: SheetChange, formats: CellFormats
) -> _Appended | None:
    """New rows for a part crmbook wrote last, without inflating its rows; None when the
    part is not as crmbook wrote it (or the change needs more than rows appended)."""
    if change.mode != "append" or change.added_columns:
        return None
    info = pkg.infos[part]
    before = Runs.of(pkg.stamp(part))
    if before is None:
        return None
    try:
        head = read_run(pkg.zip, info, 0, before.head)
        tail = read_run(pkg.zip, info, before.head.compressed + before.rows.compressed, before.tail)
    except (ValueError, zlib.error, OSError):
        return None
    whole = crc32_combine(
        crc32_combine(before.head.crc, before.rows.crc, before.rows.size),
        before.tail.crc,
        before.tail.size,
    )
    if whole != info.CRC or not head.endswith(b"<sheetData>"):
        return None
    styles = _column_styles(head, change, formats)
    first = max(before.last_row, change.header_row) + 1
    rows, last = _new_rows(change, first, styles, None)
    last_row = max(last, before.last_row)
    head = _set_dimension(head, last_row)
    return _Appended(head, rows, tail, last_row, change.facts, before)


def _column_styles(head: bytes, change: SheetChange, formats: CellFormats) -> list[int | None]:
    """The style each column's new cells take: the column's own, if it fits the values."""
    width = change.frame.shape[1]
    return [
        formats.style_for(wanted, style)
        for style, wanted in zip(
            column_styles(head, width), change.formats or [None] * width, strict=True
        )
    ]


def _new_rows(change: SheetChange, first: int, styles: list[int | None], own) -> tuple[bytes, int]:
    """The frame's rows as XML from row `first` on, and the last row's number."""
    last = first + len(change.frame) - 1
    _check_rows(last)
    return "".join(
        render_rows(change.frame, range(first, first + len(change.frame)), styles, own)
    ).encode(), last


def _level_for(info: zipfile.ZipInfo, change: SheetChange) -> int:
    return level(info.file_size + 200 * change.frame.size)


@dataclass
class _Streamed:
    """A part read as it inflates and written as it goes (io/rows.py)."""

    part: str
    change: SheetChange
    formats: CellFormats
    first: int  # the Excel row of the frame's first record
    last_row: int
    verbatim: bool  # the part is as crmbook wrote it: unchanged records keep their rows
    styles: list[int | None]
    monotonic: bool  # the records stand in the order of their rows as read

    def write(self, out: zipfile.ZipFile, source: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        change = self.change
        width = change.frame.shape[1]
        own_styles_of = None if self.monotonic else self._own_styles_of_all(source)
        with SheetStream(source, self.part) as stream:
            head = _set_dimension(
                stream.head, self.last_row, width if change.added_columns else None
            )
            if change.added_columns:
                head = _add_cols(head, change, width, self.styles)
            large = info.file_size + 200 * change.frame.size > LARGE_PART
            part = AppendablePart(out, info, large=large)
            head_run = part.deflate([head + b"<sheetData>"])
            rows = part.deflate(self._rows(stream, own_styles_of), _level_for(info, change))
            tail = part.deflate([b"</sheetData>" + stream.tail], last=True)
        part.close(_stamped(change.facts, Runs(head_run, rows, tail, self.last_row)))

    def _rows(self, stream: SheetStream, own_styles_of: dict | None) -> Iterator[bytes]:
        change = self.change
        rows = stream.rows()
        kept, first_data = [], None
        for number, row in rows:
            if number > change.header_row:
                first_data = (number, row)
                break
            kept.append(row)
        kept = b"".join(kept)
        if change.added_columns:
            kept = _add_header_cells(kept, change, change.frame.shape[1])
        yield kept
        stored = _chain(first_data, rows)
        if change.mode == "append":
            yield from (row for _, row in stored)
            yield from self._render(0, len(change.frame), [None] * len(change.frame))
            return
        yield from self._rewritten(stored, own_styles_of)
        for _ in stored:  # the rows of records gone, up to the tail
            pass

    def _rewritten(self, stored, own_styles_of: dict | None) -> Iterator[bytes]:
        """Every record in order: a stored row copied when its record did not change (and
        crmbook wrote it), else rendered from the record. Records to render are rendered
        BATCH at a time even when kept rows stand between them (one at a time, an update
        of every ninth customer took minutes)."""
        change = self.change
        wanted = change.formats or [None] * len(self.styles)
        sources = change.source_rows or [None] * len(change.frame)
        unchanged = change.unchanged if self.verbatim and change.unchanged else None
        run: list[bytes | None] = []  # kept rows, and None where a record is rendered
        chosen: list[int] = []  # the records to render, in order
        own: list[dict[int, int] | None] = []  # their own styles
        at: tuple[int, bytes] | None = None  # the stored row the stream is at
        for i, source in enumerate(sources):
            row = None
            if source is not None and source == source and own_styles_of is None:
                at = _advance(stored, at, int(source))
                row = at[1] if at is not None and at[0] == int(source) else None
            if unchanged is not None and unchanged[i] and _keepable(row):
                target = self.first + i
                run.append(row if int(source) == target else renumbered(row, target))
            else:
                run.append(None)
                chosen.append(i)
                if own_styles_of is not None:
                    own.append(own_styles_of.get(source) if source == source else None)
                else:
                    own.append(own_styles(row, self.styles, wanted, self.formats))
            if len(chosen) >= BATCH or len(run) >= 8 * BATCH:
                yield self._filled(run, chosen, own)
                run, chosen, own = [], [], []
        yield self._filled(run, chosen, own)

    def _filled(self, run: list[bytes | None], chosen: list[int], own: list) -> bytes:
        """The run of rows with each None replaced by its record's rendered row."""
        frame = self.change.frame.iloc[chosen]
        numbers = [self.first + i for i in chosen]
        rendered = (r.encode() for r in render_rows(frame, numbers, self.styles, own))
        return b"".join(row if row is not None else next(rendered) for row in run)

    def _render(self, start: int, stop: int, own: list) -> Iterator[bytes]:
        if stop > start:
            frame = self.change.frame.iloc[start:stop]
            numbers = range(self.first + start, self.first + stop)
            yield "".join(render_rows(frame, numbers, self.styles, own)).encode()

    def _own_styles_of_all(self, source: zipfile.ZipFile) -> dict[int, dict[int, int]]:
        """The own styles of every stored row, when the records do not stand in the order of
        their rows: one pass first (only the few cells with a style of their own are kept)."""
        wanted = self.change.formats or [None] * len(self.styles)
        found = {}
        with SheetStream(source, self.part) as stream:
            for number, row in stream.rows():
                own = own_styles(row, self.styles, wanted, self.formats)
                if own:
                    found[number] = own
        return found


def _keepable(row: bytes | None) -> bool:
    """Whether a stored row can be copied as it is: not a row with a formula, which a row
    typed in Excel may hold (a stamped part can still hold Excel's rows when crmbook only
    appended to it): its references would not move with the row, and a shared formula's
    other cells would lose it if its first cell were rendered. crmbook's own rows hold none."""
    return row is not None and (b"<f" not in row or not _FORMULA.search(row))


def _chain(first, rest) -> Iterator[tuple[int, bytes]]:
    if first is not None:
        yield first
    yield from rest


def _advance(stored: Iterator[tuple[int, bytes]], at, number: int):
    """The stored row numbered `number`, moving on from `at` (None when there is none)."""
    while at is None or at[0] < number:
        at = next(stored, None)
        if at is None:
            return None
    return at


def _streamed(pkg: Package, part: str, change: SheetChange, formats: CellFormats) -> _Streamed:
    with SheetStream(pkg.zip, part) as stream:
        styles = _column_styles(stream.head, change, formats)
        last_kept = 0
        for number, _ in stream.rows():
            if number > change.header_row:
                break
            last_kept = number
    if change.mode == "append":
        last_kept = last_row_number(pkg.zip, part)
    first = max(last_kept, change.header_row) + 1
    last = first + len(change.frame) - 1
    _check_rows(last)
    sources = [int(r) for r in change.source_rows or () if r is not None and r == r]
    monotonic = all(a < b for a, b in itertools.pairwise(sources))
    return _Streamed(
        part,
        change,
        formats,
        first,
        max(last, last_kept),
        Runs.of(pkg.stamp(part)) is not None and _kept_rows_lack_nothing(change),
        styles,
        monotonic,
    )


def _kept_rows_lack_nothing(change: SheetChange) -> bool:
    """Whether no record kept as it was has a value in a column new to the sheet: an
    import's own columns are filled only for the records it changed (the stored rows of the
    others are right as they are, new empty cells are not written), an upgrade's defaults
    may fill every record (then every row is rendered again)."""
    if not change.added_columns:
        return True
    if change.unchanged is None:
        return False
    added = change.frame.iloc[:, -len(change.added_columns) :]
    kept = added[np.asarray(change.unchanged, dtype=bool)]
    return all(missing_mask(kept.iloc[:, i]).all() for i in range(kept.shape[1]))


def _check_rows(last: int) -> None:
    if last > MAX_ROWS:
        raise CrmbookError(
            f"this save would put {last:,} rows on one sheet; Excel allows {MAX_ROWS:,}. "
            "Move old records to an archive workbook or use the database backend."
        )


def _set_dimension(head: bytes, last_row: int, width: int | None = None) -> bytes:
    def replace(m: re.Match) -> bytes:
        ref = m.group(2).decode()
        start = ref.split(":")[0]
        end_col = re.sub(r"\d+", "", ref.split(":")[-1]) or "A"
        if width and column_number(end_col) < width:
            end_col = column_letter(width)
        return m.group(1) + f"{start}:{end_col}{max(last_row, 1)}".encode() + m.group(3)

    return _DIMENSION.sub(replace, head, count=1)


def _add_header_cells(kept: bytes, change: SheetChange, width: int) -> bytes:
    """Write the headers of columns new to the sheet at the end of its header row."""
    first = width - len(change.added_columns) + 1
    cells = "".join(
        f'<c r="{column_letter(first + i)}{change.header_row}" t="inlineStr">'
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
