"""Fast value reading with fastexcel (calamine in Rust, Arrow columns): raw frames that
remember Excel row numbers.

Clean columns arrive already typed (dates, numbers, booleans); a column holding mixed values
(a text date among real dates) arrives as text and validation.py reads it tolerantly. Nothing
is judged here, so every problem can be reported with the row number a person sees in Excel.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import fastexcel
import pandas as pd

from crmbook.errors import NotAWorkbookError
from crmbook.io.integrity import DAMAGE, check_sheet_extent, damage, reading
from crmbook.values import missing, missing_mask

# fastexcel logs a warning for every empty column ("falling back to string"); that is normal here.
logging.getLogger("fastexcel").setLevel(logging.ERROR)

_FIRST_VALUE_CELL = re.compile(
    rb'<(?:\w+:)?c\b[^>]*?\br="[A-Z]+(\d+)"[^>]*?(?<!/)>\s*'
    rb"(?:<(?:\w+:)?f\b[^>]*>[^<]*</(?:\w+:)?f>\s*)?<(?:\w+:)?(?:v|is)\b"
)


@dataclass
class RawSheet:
    """The values of one sheet below its header row, blank rows dropped."""

    name: str
    header_row: int
    header: list[str]
    frame: pd.DataFrame  # columns named as in the sheet, in sheet order
    rows: pd.Series  # Excel row number of each frame row

    @classmethod
    def empty(cls, name: str) -> RawSheet:
        return cls(name, 1, [], pd.DataFrame(), pd.Series([], dtype="int64"))


class Reader:
    """Opens the workbook once and hands out sheets on demand."""

    def __init__(self, path: Path, sheet_parts: dict[str, str] | None = None):
        self.path = Path(path)
        self.sheet_parts = sheet_parts or {}
        with _fastexcel(self.path):
            self.excel = fastexcel.read_excel(str(self.path))
        self.sheet_names = list(self.excel.sheet_names)

    def sheet(self, name: str, *, header_only: bool = False, text: bool = False) -> RawSheet:
        """The sheet's values; with text=True every column as text, whatever it looks like."""
        self._check_extent(name)
        try:
            with _fastexcel(self.path, name):
                frame = self.excel.load_sheet_by_name(
                    name, n_rows=0 if header_only else None, dtypes="string" if text else None
                )
                frame = frame.to_pandas()
        except NotAWorkbookError as e:
            said = str(e.__cause__).lower()  # what fastexcel says of a sheet without cells
            if "empty" in said or "no data" in said:
                return RawSheet.empty(name)
            raise
        if frame.shape[1] == 0:
            return RawSheet.empty(name)
        header_row = self._first_value_row(name)
        header = [_header_text(c) for c in frame.columns]
        frame.columns = header
        blank = pd.Series(True, index=frame.index)
        for position in range(frame.shape[1]):
            blank &= missing_mask(frame.iloc[:, position])
        rows = pd.Series(range(header_row + 1, header_row + 1 + len(frame)), dtype="int64")
        keep = ~blank.to_numpy()
        return RawSheet(
            name,
            header_row,
            header,
            frame[keep].reset_index(drop=True),
            rows[keep].reset_index(drop=True),
        )

    def header(self, name: str) -> tuple[list[str], int]:
        """The header row's texts and Excel row number, without parsing the rows below.

        openpyxl's streaming mode stops after the first non-blank row; fastexcel would
        parse the whole sheet first.
        """
        with _openpyxl(self.path, self.sheet_parts.get(name)):
            return self._header(name)

    def _header(self, name: str) -> tuple[list[str], int]:
        import openpyxl  # only here: importing it costs every command a quarter second

        workbook = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        try:
            for row in workbook[name].iter_rows():
                values = [c.value for c in row]
                if not all(map(missing, values)):
                    while values and missing(values[-1]):
                        values.pop()
                    header = [f"__UNNAMED__{i}" if missing(v) else v for i, v in enumerate(values)]
                    return [_header_text(h) for h in header], row[0].row
        finally:
            workbook.close()
        return [], 1

    def column(self, name: str, position: int) -> pd.Series:
        """One column's values below the header (for keys), skipping the other columns."""
        self._check_extent(name)
        with _fastexcel(self.path, name):
            values = self.excel.load_sheet_by_name(name, use_columns=[position]).to_pandas()
        values = values.iloc[:, 0]
        return values[values.notna()].astype("str").str.strip()

    def _first_value_row(self, name: str) -> int:
        """Excel's row number of the first cell holding a value (where the data range starts)."""
        part = self.sheet_parts.get(name)
        if part is None:
            return 1
        with reading(self.path, part), zipfile.ZipFile(self.path) as z, z.open(part) as f:
            seen = b""
            while chunk := f.read(1 << 16):
                seen = seen[-4096:] + chunk
                match = _FIRST_VALUE_CELL.search(seen)
                if match:
                    return int(match.group(1))
        return 1

    def _check_extent(self, name: str) -> None:
        part = self.sheet_parts.get(name)
        if part is not None:
            with reading(self.path, part), zipfile.ZipFile(self.path) as z:
                check_sheet_extent(self.path, z, z.getinfo(part), name)

    def close(self) -> None:
        self.excel = None


@contextmanager
def _fastexcel(path: Path, sheet: str | None = None) -> Iterator[None]:
    """fastexcel's errors, and the panics of the Rust reader beneath it, as one clear line."""
    try:
        yield
    except Exception as e:  # fastexcel raises its own error types for every kind of damage
        raise _unreadable(path, sheet, e) from e
    except BaseException as e:  # a Rust panic arrives as pyo3's PanicException
        if type(e).__name__ != "PanicException":
            raise
        raise _unreadable(path, sheet, e) from e


@contextmanager
def _openpyxl(path: Path, part: str | None) -> Iterator[None]:
    """openpyxl's streaming reader meets damage as XML, zip, type or lookup errors."""
    try:
        yield
    except (*DAMAGE, KeyError, TypeError, ValueError, IndexError) as e:
        raise damage(path, part, e) from e


def _unreadable(path: Path, sheet: str | None, error: BaseException) -> NotAWorkbookError:
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    where = f"the sheet {sheet!r} " if sheet else ""
    return NotAWorkbookError(
        f"{Path(path).name}: {where}cannot be read ({reason}); the file is damaged. "
        "Restore the backup copy or re-save it from Excel."
    )


def _header_text(column: object) -> str:
    text = str(column).strip()
    if text.startswith("__UNNAMED__"):
        return f"(column {int(text.removeprefix('__UNNAMED__')) + 1})"
    return text
