"""The file itself: unusable input is refused clearly, saves never clobber anyone's work."""

from __future__ import annotations

import datetime as dt
import os
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.chart import BarChart, Reference
from openpyxl.workbook.defined_name import DefinedName

import crmbook
from crmbook import NotAWorkbookError, SaveRefusedError, UnsafeWorkbookError
from crmbook.errors import CrmbookError
from crmbook.excel_limits import MAX_ROWS
from crmbook.io.safety import BACKUP_FOLDER
from crmbook.io.writer import SheetChange, write_workbook

# ---------------------------------------------------------------- files that are not workbooks


def _random(path: Path, good: bytes) -> None:
    path.write_bytes(os.urandom(4096))


def _truncated(path: Path, good: bytes) -> None:
    path.write_bytes(good[: len(good) // 2])


def _docx(path: Path, good: bytes) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("_rels/.rels", "<Relationships/>")
        z.writestr("word/document.xml", "<document/>")


def _empty(path: Path, good: bytes) -> None:
    path.write_bytes(b"")


def _encrypted(path: Path, good: bytes) -> None:
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(2048))


def _with_part(good: bytes, path: Path, name: str, write) -> None:
    """A copy of a good workbook with one part replaced or added."""
    source = path.with_suffix(".src")
    source.write_bytes(good)
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            if info.filename != name:
                out.writestr(info, src.read(info.filename))
        write(out)
    source.unlink()


def _zip_bomb(path: Path, good: bytes) -> None:
    def write(out: zipfile.ZipFile) -> None:
        with out.open("xl/media/zeros.bin", "w") as part:
            zeros = bytes(1024**2)
            for _ in range(200):
                part.write(zeros)

    _with_part(good, path, "xl/media/zeros.bin", write)


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "<sheets/>&lol2;</workbook>"
)


def _xml_bomb(path: Path, good: bytes) -> None:
    _with_part(good, path, "xl/workbook.xml", lambda out: out.writestr("xl/workbook.xml", LAUGHS))


def _xml_bomb_in_a_sheet(path: Path, good: bytes) -> None:
    sheet = "xl/worksheets/sheet1.xml"
    _with_part(good, path, sheet, lambda out: out.writestr(sheet, LAUGHS))


NOT_WORKBOOKS = [
    pytest.param(_random, NotAWorkbookError, ["not a zip file", "Save it from Excel"], id="random"),
    pytest.param(
        _truncated, NotAWorkbookError, ["damaged or truncated", "Restore the backup"], id="cut"
    ),
    pytest.param(_docx, NotAWorkbookError, ["not an Excel workbook", ".docx"], id="docx"),
    pytest.param(_empty, NotAWorkbookError, ["empty", "Restore the backup"], id="empty"),
    pytest.param(
        _encrypted, NotAWorkbookError, ["password-protected", "Remove the password"], id="ole2"
    ),
    pytest.param(
        _zip_bomb, UnsafeWorkbookError, ["zip bomb", "xl/media/zeros.bin", "200 MB"], id="zip-bomb"
    ),
    pytest.param(
        _xml_bomb, UnsafeWorkbookError, ["DTD", "xl/workbook.xml", "Re-save it"], id="xml-bomb"
    ),
    pytest.param(
        _xml_bomb_in_a_sheet, UnsafeWorkbookError, ["DTD", "sheet1.xml"], id="xml-bomb-in-sheet"
    ),
]


@pytest.fixture(scope="module")
def good_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("good") / "good.xlsx"
    crmbook.create(path, user="tester").close()
    return path.read_bytes()


def assert_clear(message: str, words: list[str]) -> None:
    for word in words:
        assert word in message
    assert "Traceback" not in message
    assert "\n" not in message
    assert len(message) < 400


@pytest.mark.parametrize(("make", "error", "words"), NOT_WORKBOOKS)
def test_a_file_that_is_not_a_usable_workbook_is_refused_and_left_alone(
    tmp_path, good_bytes, make, error, words
):
    path = tmp_path / "crm.xlsx"
    make(path, good_bytes)
    before = path.read_bytes(), path.stat().st_mtime_ns
    with pytest.raises(error) as refused:
        crmbook.open(path)
    assert_clear(str(refused.value), [path.name, *words])
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.xlsx"]


def test_a_folder(tmp_path):
    folder = tmp_path / "crm.xlsx"
    folder.mkdir()
    with pytest.raises(NotAWorkbookError) as refused:
        crmbook.open(folder)
    assert_clear(str(refused.value), ["is a folder", "path of the .xlsx"])


def test_a_missing_path(tmp_path):
    with pytest.raises(NotAWorkbookError) as refused:
        crmbook.open(tmp_path / "nowhere.xlsx")
    assert_clear(str(refused.value), ["nowhere.xlsx", "no such file", "crmbook init"])
    assert list(tmp_path.iterdir()) == []


def test_unusable_input_errors_are_crmbook_errors():
    assert issubclass(UnsafeWorkbookError, NotAWorkbookError)
    assert issubclass(NotAWorkbookError, CrmbookError)
    assert issubclass(SaveRefusedError, CrmbookError)


# ---------------------------------------------------------------- saves that would clobber work


@pytest.fixture
def book(new_book):
    new_book.customers.add(name="Anna")
    new_book.save()
    book = crmbook.open(new_book.path, user="tester")
    book.customers.add(name="Boris")
    return book


@pytest.mark.parametrize(
    ("lock", "app"), [("~$crm.xlsx", "Excel"), (".~lock.crm.xlsx#", "LibreOffice")]
)
def test_save_refuses_while_excel_or_libreoffice_has_the_file_open(book, lock, app):
    (book.path.parent / lock).write_text("someone")
    before = book.path.read_bytes()
    with pytest.raises(SaveRefusedError) as refused:
        book.save()
    assert_clear(str(refused.value), [f"open in {app}", lock, "nothing was saved", "--force"])
    assert book.path.read_bytes() == before
    book.save(force=True)
    assert crmbook.open(book.path).customers.keys == {"C-000001", "C-000002"}


def test_save_refuses_when_the_file_changed_on_disk(book):
    wb = openpyxl.load_workbook(book.path)
    wb["Customers"]["H2"] = "Paris"  # Anna's city, typed in Excel meanwhile
    wb.save(book.path)
    before = book.path.read_bytes()
    with pytest.raises(SaveRefusedError) as refused:
        book.save()
    assert_clear(str(refused.value), ["changed on disk", "nothing was saved", "merge"])
    assert book.path.read_bytes() == before
    book.save(force=True)  # new records go onto the newer file; its edits stay
    again = crmbook.open(book.path)
    assert again.customers.keys == {"C-000001", "C-000002"}
    assert again.customers.get("C-000001")["city"] == "Paris"


def test_a_book_saves_again_after_its_own_save(book):
    book.save()
    book.customers.add(name="Carla")
    book.save()
    assert len(crmbook.open(book.path).customers.df) == 3


def test_save_keeps_rotating_backups_and_leaves_nothing_else(book):
    folder = book.path.parent
    versions = [book.path.read_bytes()]
    for name in ("Carla", "Dan", "Eva", "Fay"):
        book.save(backups=3)
        versions.append(book.path.read_bytes())
        book.customers.add(name=name)
    backups = folder / BACKUP_FOLDER
    assert sorted(p.name for p in backups.iterdir()) == ["crm.1.xlsx", "crm.2.xlsx", "crm.3.xlsx"]
    assert (backups / "crm.1.xlsx").read_bytes() == versions[-2]
    assert (backups / "crm.2.xlsx").read_bytes() == versions[-3]
    assert (backups / "crm.3.xlsx").read_bytes() == versions[-4]
    assert sorted(p.name for p in folder.iterdir()) == sorted([BACKUP_FOLDER, "crm.xlsx"])


def test_a_failed_save_leaves_the_old_file_and_no_debris(book, monkeypatch):
    import crmbook.storage.workbook as book_module

    def broken(source, target, changes, *new_sheets):
        Path(target).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(book_module, "write_workbook", broken)
    before = book.path.read_bytes()
    files = sorted(book.path.parent.rglob("*"))
    with pytest.raises(OSError, match="disk full"):
        book.save()
    assert book.path.read_bytes() == before
    assert sorted(book.path.parent.rglob("*")) == files


def test_saving_under_another_name_leaves_the_original(book, tmp_path):
    original = book.path.read_bytes()
    copy = book.save(tmp_path / "copy.xlsx")
    assert book.path == copy
    assert (tmp_path / "crm.xlsx").read_bytes() == original
    assert crmbook.open(copy).customers.keys == {"C-000001", "C-000002"}


# ---------------------------------------------------------------- what a save leaves alone


OWNED_BY_THE_CHANGE = {
    "Customers",  # the sheet the records went to
    "Log",  # the change log
    "_crmbook",  # the id counters
    "_crmbook_saves",  # the save state: this save's generation
}


def _user_additions(path: Path) -> None:
    """What a person adds in Excel: a sheet with formulas and a chart, a defined name."""
    wb = openpyxl.load_workbook(path)
    ws = wb.create_sheet("My figures")
    ws.append(["month", "visits", "double"])
    for month, visits in enumerate([12, 18, 9], start=1):
        ws.append([month, visits, f"=B{month + 1}*2"])
    ws["E1"] = "=COUNTA(Customers[id])"
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=4), titles_from_data=True)
    ws.add_chart(chart, "E3")
    wb.defined_names["my_visits"] = DefinedName("my_visits", attr_text="'My figures'!$B$2:$B$4")
    wb.save(path)


def _parts_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _owned_parts(path: Path) -> set[str]:
    """The parts of the sheets the change touches, and their tables."""
    from crmbook.io.package import Package

    with Package(path) as pkg:
        parts = set()
        for name in OWNED_BY_THE_CHANGE:
            part = pkg.sheets[name].part
            parts |= {part, *pkg.table_parts(part)}
        return parts


@pytest.mark.parametrize("change", ["append", "rewrite"])
def test_a_save_keeps_every_part_it_does_not_own_byte_for_byte(new_book, change):
    path = new_book.path
    new_book.customers.add(name="Anna")
    new_book.save()
    _user_additions(path)
    before = _parts_of(path)

    book = crmbook.open(path, user="tester")
    book.customers.add(name="Boris")
    if change == "rewrite":
        book.customers.update("C-000001", city="Paris")
    book.save()

    after = _parts_of(path)
    assert list(after) == list(before)
    owned = _owned_parts(path)
    for name, data in before.items():
        if name not in owned:
            assert after[name] == data, f"{name} changed"
    assert {n for n in owned if after[n] != before[n]} == owned
    assert any(name.startswith("xl/charts/chart") for name in after)
    wb = openpyxl.load_workbook(path)
    assert wb["My figures"]["C2"].value == "=B2*2"
    assert "my_visits" in wb.defined_names


def test_a_save_keeps_the_sheet_formatting_of_owned_sheets(new_book):
    path = new_book.path
    new_book.customers.add(name="Anna")
    new_book.save()
    book = crmbook.open(path, user="tester")
    book.customers.update("C-000001", city="Paris")
    book.save()
    ws = openpyxl.load_workbook(path)["Customers"]
    assert ws.freeze_panes == "B2"
    assert ws.column_dimensions["G"].number_format == "yyyy-mm-dd"
    assert any("list_stage" in (dv.formula1 or "") for dv in ws.data_validations.dataValidation)


# ---------------------------------------------------------------- the table grows with its rows


def table_ref(path: Path, sheet: str = "Customers") -> tuple[str, str]:
    ws = openpyxl.load_workbook(path)[sheet]
    table = ws.tables[sheet]
    return table.ref, table.autoFilter.ref if table.autoFilter else table.ref


def test_the_table_ref_follows_the_rows(new_book):
    path = new_book.path
    assert table_ref(path) == ("A1:U2", "A1:U2")
    new_book.customers.add_many([{"name": n} for n in ("Anna", "Boris", "Carla")])
    new_book.save()
    assert table_ref(path) == ("A1:U4", "A1:U4")
    book = crmbook.open(path, user="tester")
    book.customers.add_many([{"name": n} for n in ("Dan", "Eva")])
    book.save()
    assert table_ref(path) == ("A1:U6", "A1:U6")
    book.customers.delete("C-000002")
    book.save()
    assert table_ref(path) == ("A1:U5", "A1:U5")
    for key in sorted(book.customers.keys):
        book.customers.delete(key)
    book.save()
    assert table_ref(path) == ("A1:U2", "A1:U2")
    assert crmbook.open(path).customers.df.empty


def test_the_dimension_follows_the_rows(new_book):
    new_book.customers.add_many([{"name": n} for n in ("Anna", "Boris")])
    new_book.save()
    with zipfile.ZipFile(new_book.path) as z:
        assert b'<dimension ref="A1:U3"/>' in z.read("xl/worksheets/sheet1.xml")


def test_a_save_past_excels_last_row_is_refused(new_book, tmp_path):
    change = SheetChange("append", pd.DataFrame({"a": ["x", "y"]}), MAX_ROWS - 1)
    with pytest.raises(CrmbookError, match="Excel allows 1,048,576"):
        write_workbook(new_book.path, tmp_path / "out.xlsx", {"Customers": change})


def test_new_records_go_below_the_last_row_of_a_hand_edited_sheet(hand_edited):
    book = crmbook.open(hand_edited.path, user="tester")
    book.interactions.add(customer_id="C-000001", when="2024-05-01 10:00", channel="visit")
    book.save()
    ws = openpyxl.load_workbook(hand_edited.path)["Interactions"]
    assert [c.value for c in ws[1]][:4] == ["id", "customer_id", "WHEN", "channel"]
    visit = dt.datetime(2024, 5, 1, 10, 0)
    assert [c.value for c in ws[5]][:4] == ["I-000003", "C-000001", visit, "visit"]
    assert ws["A3"].value is None  # the person's blank row stays
    assert ws.tables["Interactions"].ref == "A1:J5"
