"""Fast value reading with python-calamine: raw frames that remember Excel row numbers.

Nothing is typed or judged here; validation.py does that, so every problem can be reported
with the row number a person sees in Excel.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook

from crmbook.errors import NotAWorkbookError


@dataclass
class RawSheet:
    """The values of one sheet below its header row, as typed, blank rows dropped."""

    name: str
    header_row: int
    header: list[str]
    frame: pd.DataFrame  # object columns named as in the sheet
    rows: pd.Series  # Excel row number of each frame row

    @classmethod
    def empty(cls, name: str) -> RawSheet:
        return cls(name, 1, [], pd.DataFrame(), pd.Series([], dtype="int64"))


class Reader:
    """Opens the workbook once and hands out sheets on demand (calamine reads lazily)."""

    def __init__(self, path: Path, data: bytes | None = None):
        try:
            if data is not None:
                self.workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
            else:
                self.workbook = CalamineWorkbook.from_path(str(path))
        except Exception as e:  # calamine raises its own error types for every kind of damage
            raise NotAWorkbookError(
                f"{path} cannot be read as a workbook ({e}). "
                "Restore the backup copy or re-save it from Excel."
            ) from e
        self.path = path
        self.sheet_names = list(self.workbook.sheet_names)

    def values(self, name: str) -> list[list]:
        try:
            return self.workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except Exception as e:
            raise NotAWorkbookError(
                f"{self.path}: sheet {name!r} cannot be read ({e}); "
                "the file is damaged. Restore a backup."
            ) from e

    def sheet(self, name: str) -> RawSheet:
        return to_raw_sheet(name, self.values(name))

    def close(self) -> None:
        self.workbook.close()


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def to_raw_sheet(name: str, values: list[list]) -> RawSheet:
    """Find the header (first non-blank row) and keep the non-blank rows below it."""
    header_index = next(
        (i for i, row in enumerate(values) if not all(_is_blank(v) for v in row)), None
    )
    if header_index is None:
        return RawSheet.empty(name)
    raw_header = values[header_index]
    while raw_header and _is_blank(raw_header[-1]):
        raw_header = raw_header[:-1]
    width = len(raw_header)
    header = [
        str(h).strip() if not _is_blank(h) else f"(column {get_column_letter(i + 1)})"
        for i, h in enumerate(raw_header)
    ]
    body = values[header_index + 1 :]
    keep = [i for i, row in enumerate(body) if not all(_is_blank(v) for v in row[:width])]
    rows = pd.Series([header_index + 2 + i for i in keep], dtype="int64")
    if width == 0:
        frame = pd.DataFrame(index=range(len(keep)))
    else:
        data = [(body[i] + [""] * width)[:width] for i in keep] if keep else []
        frame = pd.DataFrame(data, columns=range(width), dtype=object)
        frame.columns = header
    return RawSheet(name, header_index + 1, header, frame, rows)
