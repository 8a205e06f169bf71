"""A sheet part read as it inflates: its head, then its rows one at a time, then its tail.

The writer rewrites a big sheet through this, so the sheet's XML is never held whole in
memory: it inflates a megabyte at a time, hands each `<row>` over as bytes with its Excel
row number, and renumbers a row it copies to another place.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator

from crmbook.errors import CrmbookError

_CHUNK = 1 << 20
_SHEETDATA_OPEN = re.compile(rb"<(?:\w+:)?sheetData\s*(/?)>")
_SHEETDATA_CLOSE = re.compile(rb"</(?:\w+:)?sheetData>")
# A row is <row .../> or <row ...>...</row>, closed with its own prefix; rows do not nest.
_ROW_START = re.compile(rb"<(\w+:)?row\b")
_ROW_NUMBER = re.compile(rb'^<(?:\w+:)?row\b[^>]*?\br="(\d+)"')
_REFERENCE = re.compile(rb'(<(?:\w+:)?(?:row|c)\b[^>]*?\br=")([A-Z]*)\d+(")')


class SheetStream:
    """One pass over a sheet part: `head` (up to `<sheetData>`, exclusive), then `rows()`,
    then `tail` (after `</sheetData>`)."""

    def __init__(self, source: zipfile.ZipFile, part: str):
        self._file = source.open(part)
        self._buffer = b""
        self.tail = b""
        self.empty = False  # <sheetData/>: no rows at all
        while (opening := _SHEETDATA_OPEN.search(self._buffer)) is None:
            if not self._more():
                self.close()
                raise CrmbookError(
                    "a sheet without <sheetData> cannot be written; re-save it in Excel"
                )
        self.head = self._buffer[: opening.start()]
        self._buffer = self._buffer[opening.end() :]
        if opening.group(1):
            self.empty, self.tail, self._buffer = True, self._rest(), b""

    def rows(self) -> Iterator[tuple[int, bytes]]:
        """Each row's Excel number and XML, in the order they stand."""
        number = 0
        while not self.empty:
            closing = _SHEETDATA_CLOSE.search(self._buffer)
            end = closing.start() if closing else len(self._buffer)
            at = 0
            while (found := _whole_row(self._buffer, at, end)) is not None:
                row = self._buffer[found[0] : found[1]]
                numbered = _ROW_NUMBER.match(row)
                number = int(numbered.group(1)) if numbered else number + 1
                yield number, row
                at = found[1]
            if closing is not None and _ROW_START.search(self._buffer, at, end) is None:
                self._buffer = self._buffer[closing.end() :]
                self.tail, self._buffer = self._rest(), b""
                return
            self._buffer = self._buffer[at:]
            if not self._more():
                if closing is None:
                    raise CrmbookError("a sheet's <sheetData> is not closed: the file is damaged")
                raise CrmbookError("a sheet's row is not closed: the file is damaged")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SheetStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _more(self) -> bool:
        chunk = self._file.read(_CHUNK)
        self._buffer += chunk
        return bool(chunk)

    def _rest(self) -> bytes:
        rest = [self._buffer]
        while chunk := self._file.read(_CHUNK):
            rest.append(chunk)
        return b"".join(rest)


def _whole_row(buffer: bytes, at: int, end: int) -> tuple[int, int] | None:
    """Where the next whole row in buffer[at:end] starts and ends; None when none is whole.
    The end is found with bytes.find (a lazy regex over each row's cells took seconds on
    a 100,000-row sheet)."""
    if buffer.startswith(b"<row ", at, end):  # the next row right here, as crmbook writes it
        begin, after, closing = at, at + 4, b"</row>"
    else:
        start = _ROW_START.search(buffer, at, end)
        if start is None:
            return None
        begin, after = start.start(), start.end()
        closing = b"</" + (start.group(1) or b"") + b"row>"
    tag_end = buffer.find(b">", after, end)
    if tag_end < 0:
        return None
    if buffer[tag_end - 1] == ord("/"):
        return begin, tag_end + 1
    close = buffer.find(closing, tag_end, end)
    return None if close < 0 else (begin, close + len(closing))


def last_row_number(source: zipfile.ZipFile, part: str) -> int:
    """The number of a sheet's last row (0 when it has none), reading it through once."""
    with SheetStream(source, part) as stream:
        last = 0
        for last, _ in stream.rows():  # noqa: B007 (the last one is wanted)
            pass
    return last


def renumbered(row: bytes, number: int) -> bytes:
    """The row moved to Excel row `number`: its own and its cells' references."""
    digits = str(number).encode()
    return _own_renumbered(row, digits) or _REFERENCE.sub(
        lambda m: m.group(1) + m.group(2) + digits + m.group(3), row
    )


def _own_renumbered(row: bytes, digits: bytes) -> bytes | None:
    """renumbered() for a row as crmbook writes it (its number the first attribute of <row
    and of every <c>), cut at each cell with bytes.split instead of a regex calling back per
    cell; None for any other row. Text never holds "<", so every '<c r="' is a cell."""
    if not row.startswith(b'<row r="'):
        return None
    cells = row.split(b'<c r="')
    if len(cells) - 1 != row.count(b"<c "):
        return None
    head = cells[0]
    end = head.find(b'"', 8)
    old = head[8:end]
    if not old.isdigit():
        return None
    size = len(old)
    out = [b'<row r="' + digits + head[end:]]
    for cell in cells[1:]:
        end = cell.find(b'"')
        if end <= size or cell[end - size : end] != old:
            return None
        out.append(cell[: end - size] + digits + cell[end:])
    return b'<c r="'.join(out)
