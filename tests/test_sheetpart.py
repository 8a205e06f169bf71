"""Writing one owned sheet part (io/sheetpart.py): a sheet written again streams its rows,
keeps the rows of records that did not change as crmbook wrote them, renders the others,
and gives every reader the records the Book holds."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import libreoffice
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

import crmbook
from crmbook.io import sheetpart
from crmbook.io.package import Package
from crmbook.io.writer import SheetChange, write_workbook

USER = "tester"


@pytest.fixture(autouse=True)
def no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMBOOK_NO_CACHE", "1")


def sheet_xml(path: Path, sheet: str = "Customers") -> bytes:
    with Package(path) as pkg:
        return pkg.read(pkg.sheets[sheet].part)


def row_xml(xml: bytes, number: int) -> bytes:
    return re.search(rb'<row r="%d"[^>]*>.*?</row>' % number, xml, re.S).group()


def shop(path: Path, n: int = 6) -> list[str]:
    book = crmbook.create(path, user=USER)
    ids = book.customers.add_many([{"name": f"Customer {i}", "city": "Berlin"} for i in range(n)])
    book.save(backups=0)
    return ids


def test_unchanged_rows_are_kept_and_changed_ones_rendered(tmp_path: Path):
    path = tmp_path / "crm.xlsx"
    ids = shop(path)
    before = sheet_xml(path)
    book = crmbook.open(path, user=USER)
    book.customers.update(ids[2], city="Paris")
    book.save(backups=0)
    after = sheet_xml(path)
    assert row_xml(after, 2) == row_xml(before, 2)  # the first record, as crmbook wrote it
    assert row_xml(after, 7) == row_xml(before, 7)
    assert b"Paris" in row_xml(after, 4) and b"Paris" not in row_xml(before, 4)


def test_a_deleted_record_moves_the_rows_after_it_up(tmp_path: Path):
    path = tmp_path / "crm.xlsx"
    ids = shop(path)
    book = crmbook.open(path, user=USER)
    book.customers.delete(ids[1])
    book.save(backups=0)
    xml = sheet_xml(path)
    numbers = [int(n) for n in re.findall(rb'<row r="(\d+)"', xml)]
    assert numbers == list(range(1, 7))
    for number in numbers:  # every cell of a row names that row
        cells = {int(n) for n in re.findall(rb'<c r="[A-Z]+(\d+)"', row_xml(xml, number))}
        assert cells == {number}
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Customers").to_python()
    assert [r[0] for r in rows[1:]] == [i for i in ids if i != ids[1]]
    assert openpyxl.load_workbook(path)["Customers"].tables["Customers"].ref == "A1:U6"


def test_a_sheet_written_again_is_never_read_whole(tmp_path: Path, monkeypatch):
    path = tmp_path / "crm.xlsx"
    ids = shop(path)
    book = crmbook.open(path, user=USER)
    book.customers.delete(ids[0])
    real = Package.read

    def read(self, part):
        assert not re.fullmatch(r"xl/worksheets/sheet\d+\.xml", part), f"{part} read whole"
        return real(self, part)

    monkeypatch.setattr(Package, "read", read)
    book.save(backups=0)
    monkeypatch.setattr(Package, "read", real)
    assert crmbook.open(path).customers.keys == set(ids[1:])


def test_records_out_of_the_order_of_their_rows(tmp_path: Path):
    """The writer does not rely on records standing in the order of their rows."""
    path = tmp_path / "crm.xlsx"
    shop(path, 3)
    frame = crmbook.open(path).customers.df.iloc[[2, 0, 1]].reset_index(drop=True)
    change = SheetChange("rewrite", frame, source_rows=[4, 2, 3], unchanged=[True] * 3)
    out = tmp_path / "out.xlsx"
    write_workbook(path, out, {"Customers": change})
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("Customers").to_python()
    assert [r[1] for r in rows[1:]] == ["Customer 2", "Customer 0", "Customer 1"]


def test_scattered_updates_rendered_together_keep_order_rows_and_own_styles(
    tmp_path: Path, monkeypatch
):
    """Records to render are rendered a batch at a time with kept rows between them: every
    fourth record changed, batches of three, a bold cell typed by hand on a changed row."""
    monkeypatch.setattr("crmbook.io.sheetpart.BATCH", 3)
    path = tmp_path / "crm.xlsx"
    ids = shop(path, 40)
    by_hand = openpyxl.load_workbook(path)
    by_hand["Customers"]["H6"].font = openpyxl.styles.Font(bold=True)  # the city of ids[4]
    by_hand.save(path)
    book = crmbook.open(path, user=USER)  # every row written by crmbook again
    book.customers.update_many({key: {"notes": "seen"} for key in ids})
    book.save(backups=0)
    before = sheet_xml(path)
    book = crmbook.open(path, user=USER)
    book.customers.update_many({key: {"city": f"Город {i}"} for i, key in enumerate(ids[::4])})
    book.customers.delete(ids[10])
    held = book.customers.df.copy()
    book.save(backups=0)
    after = sheet_xml(path)
    for position, key in enumerate(i for i in ids if i != ids[10]):
        number = position + 2
        if ids.index(key) % 4 and ids.index(key) < 10:
            assert row_xml(after, number) == row_xml(before, number), key
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Customers").to_python()
    assert [r[0] for r in rows[1:]] == held["id"].tolist()
    assert [r[7] for r in rows[1:]] == held["city"].tolist()
    assert openpyxl.load_workbook(path)["Customers"]["H6"].font.bold
    assert openpyxl.load_workbook(path)["Customers"]["H6"].value == "Город 1"


def test_a_column_of_your_own_filled_for_a_few_records_keeps_the_other_rows(
    tmp_path: Path, monkeypatch
):
    """An import adds its own columns and fills them for the records it matched: only those
    are rendered again, the other records' rows are kept as they are (a new empty cell is
    not written). Rendering every row made a 20,000-contact import's save three times
    slower."""
    path = tmp_path / "crm.xlsx"
    ids = shop(path, 8)
    before = sheet_xml(path)
    book = crmbook.open(path, user=USER)
    book.customers.add_column("Должность")
    book.customers.update_many({ids[1]: {"Должность": "Директор"}, ids[6]: {"city": "Rome"}})
    rendered = []
    real = sheetpart.render_rows

    def render_rows(frame, numbers, *args):
        rendered.extend(k for k in frame.iloc[:, 0] if str(k) in ids)  # the Customers rows
        return real(frame, numbers, *args)

    monkeypatch.setattr(sheetpart, "render_rows", render_rows)
    book.save(backups=0)
    assert rendered == [ids[1], ids[6]]
    after = sheet_xml(path)
    for position in (0, 2, 3, 4, 5, 7):
        assert row_xml(after, position + 2) == row_xml(before, position + 2), ids[position]
    assert "Директор".encode() in row_xml(after, 3)
    sheet = openpyxl.load_workbook(path)["Customers"]
    assert sheet["V1"].value == "Должность" and sheet["V3"].value == "Директор"
    assert sheet["V2"].value is None and sheet["H8"].value == "Rome"
    assert sheet.tables["Customers"].ref == "A1:V9"
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Customers").to_python()
    assert [r[21] for r in rows] == ["Должность", "", "Директор", "", "", "", "", "", ""]
    again = crmbook.open(path).customers.df.set_index("id")
    assert again.loc[ids[1], "Должность"] == "Директор" and again["Должность"].notna().sum() == 1


def test_a_formula_typed_in_excel_never_points_at_another_row_after_a_deletion(tmp_path: Path):
    """Formulas typed by hand in a column of one's own, then a record added (crmbook appends
    to Excel's rows and stamps the part), then the first record deleted: a row moved up
    keeps no formula whose references stayed behind (it read the next customer's name)."""
    path = tmp_path / "crm.xlsx"
    ids = shop(path, 5)
    by_hand = openpyxl.load_workbook(path)
    sheet = by_hand["Customers"]
    sheet["V1"] = "Greeting"
    for row in range(2, 7):
        sheet[f"V{row}"] = f'=B{row}&"!"'
    by_hand.save(path)
    for change in ("add", "delete"):
        book = crmbook.open(path, user=USER)
        if change == "add":
            book.customers.add(name="Новый", city="Rome")
        else:
            book.customers.delete(ids[0])
        book.save(backups=0)
    sheet = openpyxl.load_workbook(path)["Customers"]
    for row in range(2, sheet.max_row + 1):
        greeting = sheet[f"V{row}"].value
        assert not (isinstance(greeting, str) and greeting.startswith("=")) or (
            f"B{row}&" in greeting
        ), (row, greeting)
    assert [sheet[f"B{row}"].value for row in range(2, 7)] == [
        "Customer 1",
        "Customer 2",
        "Customer 3",
        "Customer 4",
        "Новый",
    ]
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Customers").to_python()
    assert [r[0] for r in rows[1:]] == [*ids[1:], "C-000006"]


# ---------------------------------------------------------------- random edits

_edit = st.one_of(
    st.tuples(st.just("update"), st.integers(0, 20), st.sampled_from(["Paris", "Köln", "", "=x"])),
    st.tuples(st.just("delete"), st.integers(0, 20), st.none()),
    st.tuples(st.just("add"), st.integers(0, 20), st.sampled_from(["New", "Ünï", "a & b"])),
)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.lists(_edit, min_size=1, max_size=4), min_size=1, max_size=3))
def test_random_edits_saved_again_and_again_read_back_as_the_book_held_them(
    tmp_path_factory, saves
):
    path = tmp_path_factory.mktemp("edits") / "crm.xlsx"
    shop(path, 8)
    for edits in saves:
        book = crmbook.open(path, user=USER)
        for kind, n, value in edits:
            keys = sorted(book.customers.keys)
            if kind == "add":
                book.customers.add(name=value, city="Rome")
            elif keys and kind == "update":
                book.customers.update(keys[n % len(keys)], city=value)
            elif keys:
                book.customers.delete(keys[n % len(keys)])
        held = book.customers.df.copy()
        book.save(backups=0)
        again = crmbook.open(path).customers.df
        pd.testing.assert_frame_equal(
            again.reset_index(drop=True), held.reset_index(drop=True), check_dtype=False
        )
        with zipfile.ZipFile(path) as z:
            assert z.testzip() is None


@libreoffice.needs_libreoffice
def test_libreoffice_opens_a_sheet_written_again(tmp_path: Path):
    path = tmp_path / "crm.xlsx"
    ids = shop(path)
    book = crmbook.open(path, user=USER)
    book.customers.delete(ids[0])
    book.customers.update(ids[3], city="Paris")
    book.save(backups=0)
    out = libreoffice.convert([path], tmp_path)
    rows = list(openpyxl.load_workbook(out / path.name)["Customers"].iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == ids[1:]
    assert rows[3][7] == "Paris"
