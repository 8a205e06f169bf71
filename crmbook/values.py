"""What a value means, whoever asks: whether it is missing, and whether it says yes or no.

Reading a workbook, checking a record, filtering a segment, importing a file and filling a
form all need these answers, and must all give the same one: a cell holding only spaces is as
empty as a blank cell, and "ja" means yes in a segment rule as much as in a workbook.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from crmbook.languages import NO_WORDS, YES_WORDS

_YES = {w.casefold() for w in YES_WORDS}
_NO = {w.casefold() for w in NO_WORDS}


def missing(value: object) -> bool:
    """No value at all: None, NaN, NaT, pandas' NA, or text of nothing but spaces."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    if isinstance(value, np.datetime64 | np.timedelta64):
        return bool(np.isnat(value))
    return False


def plain(value: object) -> object:
    """A frame's value as the plain Python value a spreadsheet writer takes: None for a
    missing one, datetime for a Timestamp, int/float/bool for numpy's scalars."""
    if missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def missing_mask(column: pd.Series) -> pd.Series:
    """missing() for every value of a column at once."""
    mask = column.isna()
    if not len(column):
        return mask.astype(bool)
    if pd.api.types.is_object_dtype(column.dtype):
        spaces = column.map(lambda v: isinstance(v, str) and not v.strip(), na_action="ignore")
        return mask | spaces.eq(True)
    if pd.api.types.is_string_dtype(column.dtype):
        return mask | column.str.strip().eq("").fillna(False).astype(bool)
    return mask.astype(bool)


def yes_no(value: object) -> bool | None:
    """True or False for a value that says yes or no in any language crmbook reads
    (TRUE, 1, x, ja, да, כן...), None for anything else."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in _YES:
            return True
        if word in _NO:
            return False
    return None
