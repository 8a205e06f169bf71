"""One answer to "is this value missing?" and "does it say yes?", wherever it is asked."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from builders import TODAY, shop

from crmbook.analytics.segments import segment_customers
from crmbook.languages import NO_WORDS, YES_WORDS
from crmbook.validation import parse_bool
from crmbook.values import missing, missing_mask, plain, yes_no

NOTHING = [None, np.nan, float("nan"), pd.NA, pd.NaT, np.datetime64("NaT"), "", "   ", "\t\n"]
SOMETHING = [0, 0.0, False, "0", "-", " x ", pd.Timestamp("2024-01-01"), "Иванов", "לא"]


@pytest.mark.parametrize("value", NOTHING)
def test_missing_values(value):
    assert missing(value)


@pytest.mark.parametrize("value", SOMETHING)
def test_present_values(value):
    assert not missing(value)


@pytest.mark.parametrize("dtype", [object, "str"])
def test_a_column_agrees_with_each_value(dtype):
    values = ["", "  ", "Anna", None, "כן"]
    column = pd.Series(values, dtype=dtype)
    assert missing_mask(column).tolist() == [missing(v) for v in column]


def test_a_mixed_column_agrees_with_each_value():
    column = pd.Series([*NOTHING, *SOMETHING], dtype=object)
    assert missing_mask(column).tolist() == [True] * len(NOTHING) + [False] * len(SOMETHING)


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        ("ja", True),
        ("Ja", True),
        (" JA ", True),
        ("nee", False),
        ("да", True),
        ("нет", False),
        ("כן", True),
        ("לא", False),
        ("sì", True),
        (1, True),
        (0.0, False),
        (True, True),
        (np.bool_(False), False),
        ("maybe", None),
        (2, None),
        (None, None),
    ],
)
def test_yes_and_no_in_many_languages(value, answer):
    assert yes_no(value) is answer


def test_every_word_reads_one_way_only():
    assert not {w.casefold() for w in YES_WORDS} & {w.casefold() for w in NO_WORDS}


@pytest.mark.parametrize("word", [*YES_WORDS, *NO_WORDS])
def test_a_workbook_cell_and_a_segment_rule_read_each_word_alike(word):
    """What validation reads as yes, a segment rule on a yes/no column reads as yes too."""
    cell = parse_bool(pd.Series([word], dtype=object), default=False)
    assert not cell.bad.any()
    customers = shop()["Customers"]
    consented = set(customers.loc[customers["consent_email"], "id"])
    wanted = consented if bool(cell.values[0]) else set(customers["id"]) - consented
    frames = shop()
    chosen = segment_customers(frames, f"consent_email={word}", TODAY)
    assert set(chosen["id"]) == wanted


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.int64(7), 7),
        (np.float64(2.5), 2.5),
        (np.bool_(True), True),
        (pd.Timestamp("2026-03-01 09:30"), dt.datetime(2026, 3, 1, 9, 30)),
        (pd.NaT, None),
        (np.nan, None),
        ("   ", None),
        ("Сергей", "Сергей"),
    ],
)
def test_plain_gives_what_a_spreadsheet_writer_takes(value, expected):
    result = plain(value)
    assert result == expected
    assert type(result) is type(expected)
