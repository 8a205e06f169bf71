"""What an Excel workbook can hold, declared once.

Excel (and LibreOffice, and every reader that follows the file format) refuses or silently
cuts what goes beyond these; crmbook refuses it first, naming the field and the limit.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

MAX_ROWS = 1_048_576  # rows on one sheet, the header row included
MAX_CELL_CHARS = 32_767  # characters in one cell
MAX_SHEET_NAME = 31  # characters in a sheet name
SHEET_NAME_FORBIDDEN = "[]:*?/\\"
RESERVED_SHEET_NAMES = ("History",)  # Excel keeps it for its change tracking

_FORBIDDEN = re.compile("[" + re.escape(SHEET_NAME_FORBIDDEN) + "]")


def clipped(text: str) -> str:
    """Text cut to what one cell holds, for crmbook's own records of it (the change log)."""
    if cell_length(text) <= MAX_CELL_CHARS:
        return text
    units = text.encode("utf-16-le")[: 2 * (MAX_CELL_CHARS - 1)]
    return units.decode("utf-16-le", errors="ignore") + "…"


def cell_length(text: str) -> int:
    """The length Excel counts: UTF-16 units, so an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


def too_long(values: pd.Series) -> pd.Series:
    """Which values are text longer than one cell holds."""
    if pd.api.types.is_object_dtype(values.dtype):
        points = np.fromiter((len(v) if isinstance(v, str) else 0 for v in values), np.int64)
    elif pd.api.types.is_string_dtype(values.dtype):
        points = values.str.len().fillna(0).to_numpy(dtype=np.int64)
    else:
        points = np.zeros(len(values), dtype=np.int64)
    long = points > MAX_CELL_CHARS // 2  # shorter texts fit even if every character is an emoji
    if long.any():
        long[long] = [cell_length(v) > MAX_CELL_CHARS for v in values.to_numpy()[long]]
    return pd.Series(long, index=values.index)


def sheet_name_problem(name: str) -> str | None:
    """What Excel would object to in `name` as a sheet name, or None when it is fine."""
    if not name or not name.strip():
        return "a sheet needs a name"
    if len(name) > MAX_SHEET_NAME:
        return (
            f"sheet name {name!r} has {len(name)} characters; Excel allows at most {MAX_SHEET_NAME}"
        )
    if _FORBIDDEN.search(name) or name.startswith("'") or name.endswith("'"):
        shown = " ".join(SHEET_NAME_FORBIDDEN)
        return (
            f"sheet name {name!r} has a character Excel does not allow in sheet names "
            f"({shown} or a leading/trailing apostrophe)"
        )
    if name.casefold() in {n.casefold() for n in RESERVED_SHEET_NAMES}:
        return f"Excel reserves the sheet name {name!r}; choose another"
    return None
