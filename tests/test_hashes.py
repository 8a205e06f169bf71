"""Canonical text and hashes of field values: equal however a spreadsheet stored the value."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmbook.storage.hashes import (
    canonical_column,
    canonical_value,
    column_hashes,
    decode,
    encode,
    short,
)


@pytest.mark.parametrize(
    "shapes",
    [
        (7, 7.0, "7", np.int64(7), pd.Series([7], dtype="Int64")[0]),
        (1250.5, np.float64(1250.5), "1250.5", 1250.5000000000002),
        (dt.date(1980, 2, 29), pd.Timestamp("1980-02-29"), dt.datetime(1980, 2, 29)),
        (
            pd.Timestamp("2024-05-01 10:17"),
            pd.Timestamp("2024-05-01 10:16:59.999998"),  # LibreOffice's 15 digits
            pd.Timestamp("2024-05-01 10:17:00.000001"),
            np.datetime64("2024-05-01T10:17:00"),
        ),
        ("Haifa", " Haifa ", "Haifa\t"),
        ("line one\nline two", "line one\r\nline two", "line one\rline two"),
        (None, np.nan, pd.NaT, pd.NA, "", "   "),
        (True, np.bool_(True), "TRUE"),
        ("Борис Иванов", " Борис Иванов"),
        ("דנה לוי 🌷", "דנה לוי 🌷 "),
    ],
)
def test_one_value_in_any_shape_has_one_canonical_text_and_hash(shapes):
    texts = {canonical_value(v) for v in shapes}
    assert len(texts) == 1, texts
    hashes = {int(column_hashes(pd.Series([v], dtype=object))[0]) for v in shapes}
    assert len(hashes) == 1


def test_typed_columns_hash_like_their_values_one_by_one():
    columns = [
        pd.Series([1, None, 3], dtype="Int64"),
        pd.Series([1.5, np.nan, 3.0]),
        pd.Series([True, None, False], dtype="boolean"),
        pd.Series(pd.to_datetime(["2024-05-01 10:17", None, "1990-01-01 00:00"])),
        pd.Series(["a ", None, "b"], dtype="str"),
        pd.Series(["x", 2, dt.date(2024, 5, 1)], dtype=object),
    ]
    for column in columns:
        one_by_one = [canonical_value(v) for v in column.astype(object)]
        assert list(canonical_column(column)) == one_by_one
        singles = [int(column_hashes(pd.Series([v], dtype=object))[0]) for v in column]
        assert [int(h) for h in column_hashes(column)] == singles


def test_hashes_are_pinned():
    """The stored state depends on these staying the same across pandas versions."""
    codes = short(column_hashes(pd.Series(["Anna", "", "Berlin", None])))
    assert codes.tolist() == [26512, 3126, 20340, 3126]
    assert encode(codes[:2]) == "SWG31P"


texts = st.one_of(st.none(), st.text(max_size=20), st.integers(), st.floats(allow_nan=False))


@given(st.lists(texts, max_size=30))
def test_the_column_path_agrees_with_single_values(values):
    column = pd.Series(values, dtype=object)
    assert list(canonical_column(column)) == [canonical_value(v) for v in values]


@given(st.lists(st.integers(0, 2**15 - 1), max_size=50))
def test_short_hashes_round_trip_as_text(codes):
    array = np.array(codes, dtype=np.uint32)
    text = encode(array)
    assert len(text) == 3 * len(codes)
    assert decode(text, len(codes)).tolist() == codes
    assert decode(text + "x", len(codes)) is None
