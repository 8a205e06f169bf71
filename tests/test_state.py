"""The save state by generation: what each save records, and what it leaves as it was."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import libreoffice
import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crmbook
from crmbook.schema import SCHEMA
from crmbook.storage import state
from crmbook.storage.hashes import column_hashes, short
from crmbook.storage.state import (
    BASE_SHEET,
    SAVES_SHEET,
    SaveState,
    decode_keys,
    encode_keys,
    frame_of,
    record_codes,
    record_rows,
)

USER = "tester"
FILES = Path(__file__).parent / "files"
CUSTOMERS = SCHEMA.sheet("Customers")


def _rows(path: Path, sheet: str) -> list[tuple]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(path, read_only=True)
    rows = list(wb[sheet].iter_rows(values_only=True))
    wb.close()
    return rows[1:]


def _book(path: Path, customers: int = 3) -> Path:
    book = crmbook.create(path, user=USER)
    book.customers.add_many([{"name": f"Customer {i}", "city": "Berlin"} for i in range(customers)])
    book.save()
    return path


# ---------------------------------------------------------------- the format


keys = st.one_of(
    st.builds(lambda n: f"C-{n:06d}", st.integers(0, 999_999)),
    st.text(min_size=1, max_size=12).map(str.strip).filter(bool),
)


@given(st.lists(keys, max_size=40, unique=True))
def test_keys_round_trip_as_text_with_numbered_runs(values):
    text = encode_keys(values)
    assert decode_keys(text) == values
    assert len(text) < 40 or len(encode_keys([f"C-{n:06d}" for n in range(1000)])) < 20


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4000), st.integers(1, 70), st.integers(0, 1000))
def test_records_round_trip_through_rows_of_bounded_cells(n, distinct, seed):
    rng = np.random.default_rng(seed)
    names = state.merged_fields(CUSTOMERS)
    codes = pd.DataFrame(
        {name: rng.integers(0, distinct, n) * 3001 % 2**15 for name in names},
        index=pd.Index([f"C-{i:06d}" for i in range(n)], dtype=object),
    )
    rows = record_rows("g1", "Customers", codes)
    assert all(len(cell) <= state.CELL for row in rows for cell in row)
    header = state.Generation("g1", "2026-01-01T00:00:00", USER).row()
    read = SaveState.read(frame_of([header, *rows]), frame_of([])).state_at()["Customers"]
    assert read.loc[codes.index, names].equals(codes.astype(np.int64))


# ---------------------------------------------------------------- what a save records


def test_a_save_that_adds_one_record_records_that_record_only(tmp_path):
    path = _book(tmp_path / "crm.xlsx", customers=500)
    base_before = _rows(path, BASE_SHEET)
    book = crmbook.open(path, user=USER)
    book.interactions.add(customer_id="C-000001", when="2026-01-05 10:00", channel="call")
    book.save()
    saves = _rows(path, SAVES_SHEET)
    assert _rows(path, BASE_SHEET) == base_before
    assert [r[1] for r in saves] == [None, "Interactions"]  # the generation and one record
    assert saves[1][3] == "I-000001" and len(saves[1][4]) == 3 * 9


def test_a_hand_edit_is_recorded_on_top_of_the_generation_it_follows(tmp_path):
    path = _book(tmp_path / "crm.xlsx")
    first = crmbook.open(path).storage.save_state().last
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(path)
    wb["Customers"]["H3"] = "Hamburg"  # C-000002's city, typed in Excel
    wb.save(path)

    book = crmbook.open(path, user=USER)
    book.customers.update("C-000003", city="Munich")
    book.save()

    saved = crmbook.open(path).storage.save_state()
    second = saved.last
    assert saved.generations[second].parents == (first,)
    recorded = [decode_keys(r[3]) for r in _rows(path, SAVES_SHEET) if r[1] == "Customers"]
    assert recorded == [["C-000002", "C-000003"]]
    then, now = saved.state_at(first)["Customers"], saved.state_at(second)["Customers"]
    city = short(column_hashes(pd.Series(["Berlin", "Hamburg"])))
    assert then.loc["C-000002", "city"] == city[0]  # what the first generation recorded stays
    assert now.loc["C-000002", "city"] == city[1]
    assert now.loc["C-000001"].equals(then.loc["C-000001"])


def test_deleted_records_leave_the_state_and_an_open_session_records_only_its_changes(tmp_path):
    path = _book(tmp_path / "crm.xlsx")
    book = crmbook.open(path, user=USER)
    book.customers.delete("C-000002")
    book.save()
    book.customers.update("C-000001", city="Paris")
    book.save()
    rows = [r for r in _rows(path, SAVES_SHEET) if r[1] == "Customers"]
    assert [(r[2] == state.DELETED, r[3]) for r in rows] == [
        (True, "C-000002"),
        (False, "C-000001"),
    ]
    now = crmbook.open(path).storage.save_state().state_at()["Customers"]
    assert sorted(now.index) == ["C-000001", "C-000003"]


def test_waiting_generations_move_to_the_base_sheet(tmp_path, monkeypatch):
    monkeypatch.setattr("crmbook.storage.workbook.MOVE_RECORDS", 4)
    path = _book(tmp_path / "crm.xlsx")
    book = crmbook.open(path, user=USER)
    for n in range(3):
        book.customers.add(name=f"New {n}")
        book.save()
    before = crmbook.open(path).storage.save_state()
    book.customers.add(name="One more")
    book.customers.add(name="And another")
    book.save()
    after = crmbook.open(path).storage.save_state()
    assert _rows(path, SAVES_SHEET) == []
    assert list(after.generations)[:-1] == list(before.generations)
    assert len(after.state_at()["Customers"]) == 8
    for gen in before.generations:
        assert after.state_at(gen)["Customers"].equals(before.state_at(gen)["Customers"])


def test_old_generations_are_compacted_to_the_state_they_left(monkeypatch):
    monkeypatch.setattr(state, "MOVE_RECORDS", 0)
    keys = pd.Index(["C-000001", "C-000002", "C-000003"], dtype=object)

    def codes(**columns: list[int]) -> pd.DataFrame:
        return pd.DataFrame(columns, index=keys[: len(next(iter(columns.values())))])

    def gen(name: str, days_ago: int, *parents: str) -> state.Generation:
        when = (pd.Timestamp("2026-11-30") - pd.Timedelta(days=days_ago)).isoformat()
        return state.Generation(name, when, USER, parents)

    rows = [gen("g1", 200).row(), *record_rows("g1", "Customers", codes(name=[1, 2, 3]))]
    rows += [gen("g2", 150, "g1").row()]  # every record again, a city now known (an upgrade)
    rows += record_rows("g2", "Customers", codes(name=[4, 5, 6], city=[7, 8, 9])[:1])
    rows += record_rows("g2", "Customers", codes(name=[4, 5, 6])[1:])
    rows += [gen("g3", 10, "g2").row(), *record_rows("g3", "Customers", codes(name=[10]))]
    before = SaveState.read(frame_of(rows), frame_of([]))

    moved = state.moved_rows(before, [], "2026-11-30")
    after = SaveState.read(moved, frame_of([]))
    assert list(after.generations) == ["g1", "g2", "g3"]
    assert not after.holds("g1") and after.holds("g2") and after.holds("g3")
    for gen_id in ("g2", "g3"):
        was, now = before.state_at(gen_id)["Customers"], after.state_at(gen_id)["Customers"]
        assert now.sort_index().equals(was.sort_index()), gen_id
    assert after.state_at("g2")["Customers"].loc["C-000002", "city"] == state.UNKNOWN
    assert len(moved) < len(rows)
    assert state.moved_rows(before, [], "2026-03-01").equals(frame_of(rows))  # nothing old yet


def test_state_sheets_are_very_hidden_and_not_among_the_sheets(tmp_path):
    path = _book(tmp_path / "crm.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb[BASE_SHEET].sheet_state == wb[SAVES_SHEET].sheet_state == "veryHidden"
    assert BASE_SHEET not in crmbook.open(path).sheet_names


def test_a_damaged_chunk_makes_its_records_unknown_not_the_book_unreadable(tmp_path):
    path = _book(tmp_path / "crm.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb[BASE_SHEET]
    for row in ws.iter_rows(min_row=2):
        if row[1].value == "Customers":
            row[4].value = row[4].value[:-2]
    wb.save(path)
    book = crmbook.open(path, user=USER)
    assert book.storage.save_state().state_at().get("Customers", pd.DataFrame()).empty
    book.customers.add(name="Dora")
    book.save()
    assert len(crmbook.open(path).customers.df) == 4


# ---------------------------------------------------------------- the format before generations


def test_a_book_with_the_earlier_fingerprints_moves_them_on_its_next_save(tmp_path):
    path = tmp_path / "old.xlsx"
    shutil.copyfile(FILES / "fingerprints-v1.xlsx", path)
    old = crmbook.open(path).storage.save_state()
    assert old.empty and "lineage.1" in old.legacy
    book = crmbook.open(path, user=USER)
    book.interactions.add(customer_id="C-000001", when="2026-06-03 09:00", channel="email")
    book.save()
    meta = crmbook.open(path).meta
    assert not [k for k in meta if k.startswith(("lineage", "fingerprint"))]
    new = crmbook.open(path).storage.save_state()
    assert new.legacy == old.legacy
    assert sorted(new.state_at()["Customers"].index) == ["C-000001", "C-000002", "C-000003"]


# ---------------------------------------------------------------- LibreOffice


@pytest.mark.libreoffice
@libreoffice.needs_libreoffice
def test_the_state_survives_libreoffice_saving_the_workbook(tmp_path):
    path = _book(tmp_path / "crm.xlsx", customers=50)
    book = crmbook.open(path, user=USER)
    book.customers.update("C-000007", birthday="1980-02-29", phone="0049 30 1234")
    book.interactions.add(customer_id="C-000001", when="2026-01-05 10:17", channel="call")
    book.save()
    before = crmbook.open(path).storage.save_state()
    resaved = libreoffice.convert([path], tmp_path) / "crm.xlsx"
    after = crmbook.open(resaved).storage.save_state()
    assert list(after.generations) == list(before.generations)
    for name, frame in before.state_at().items():
        assert after.state_at()[name].sort_index().equals(frame.sort_index())
    book = crmbook.open(resaved, user=USER)  # every field reads back with the same hash
    for sheet in ("Customers", "Interactions"):
        now = record_codes(SCHEMA.sheet(sheet), book.table(sheet).df)
        assert now.sort_index().equals(after.state_at()[sheet].sort_index())
    wb = openpyxl.load_workbook(resaved)  # LibreOffice has no very hidden sheets
    assert wb[BASE_SHEET].sheet_state == wb[SAVES_SHEET].sheet_state == "hidden"
    book.customers.add(name="After LibreOffice")
    book.save()
    assert len(crmbook.open(resaved).storage.save_state().state_at()["Customers"]) == 51
    wb = openpyxl.load_workbook(resaved)  # the next crmbook save hides them again
    assert wb[BASE_SHEET].sheet_state == wb[SAVES_SHEET].sheet_state == "veryHidden"
