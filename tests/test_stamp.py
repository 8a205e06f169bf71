"""What crmbook remembers beside the parts it wrote (io/stamp.py): adding a record to a
sheet crmbook saved last reads none of the sheet, and a part anyone else changed is read
again, so an id typed by hand is never given out twice."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import libreoffice
import openpyxl
import pytest
from python_calamine import CalamineWorkbook

import crmbook
from crmbook.io.package import Package
from crmbook.io.reader import Reader


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(what, sheet) for every read of a sheet's cells, header or column."""
    seen: list[tuple[str, str]] = []
    for what in ("sheet", "column", "header"):
        real = getattr(Reader, what)

        def spy(self, name, *args, _real=real, _what=what, **kwargs):
            seen.append((_what, name))
            return _real(self, name, *args, **kwargs)

        monkeypatch.setattr(Reader, what, spy)
    return seen


@pytest.fixture
def book_path(demo_workbook: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRMBOOK_NO_CACHE", "1")  # what is tested here needs no cache
    return demo_workbook


def add_call(path: Path, when: str = "2026-06-15 10:00") -> str:
    book = crmbook.open(path, user="tester")
    new = book.interactions.add(customer_id="C-000001", when=when, channel="call")
    book.save(backups=0)
    return new


def interactions_part(path: Path) -> str:
    with Package(path) as pkg:
        return pkg.sheets["Interactions"].part


def test_adding_to_a_sheet_crmbook_saved_last_reads_none_of_it(book_path: Path, reads):
    first = add_call(book_path)  # the first save through this crmbook stamps the parts
    reads.clear()
    second = add_call(book_path, "2026-06-16 10:00")
    assert [r for r in reads if r[1] in ("Interactions", "Log")] == []
    assert int(second[2:]) == int(first[2:]) + 1
    with Package(book_path) as pkg:
        stamp = pkg.stamp(pkg.sheets["Interactions"].part)
    assert stamp["top_id"] == int(second[2:])
    assert stamp["columns"][:3] == ["id", "customer_id", "when"]


def test_an_id_typed_by_hand_after_the_save_is_never_given_out(book_path: Path):
    add_call(book_path)
    wb = openpyxl.load_workbook(book_path)
    wb["Interactions"].append(["I-004242", "C-000001", None, "call"])
    wb.save(book_path)  # openpyxl writes every part anew: no stamp survives
    assert add_call(book_path) == "I-004243"


def test_a_stamp_on_a_part_someone_else_changed_is_ignored(book_path: Path, tmp_path: Path):
    """A tool that keeps the extra fields of a part it rewrites: the CRC-32 tells."""
    add_call(book_path)
    part = interactions_part(book_path)
    changed = tmp_path / "changed.xlsx"
    with zipfile.ZipFile(book_path) as src, zipfile.ZipFile(changed, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == part:
                row = b'<row r="9999"><c r="A9999" t="inlineStr"><is><t>I-007777</t></is></c></row>'
                data = re.sub(rb"</sheetData>", row + b"</sheetData>", data)
            out.writestr(info, data)  # the ZipInfo with its extra fields, stamp included
    with zipfile.ZipFile(changed) as z:
        assert b"top_id" in z.getinfo(part).extra
    with Package(changed) as pkg:
        assert pkg.stamp(part) is None
    assert add_call(changed) == "I-007778"


@libreoffice.needs_libreoffice
def test_stamped_workbooks_open_everywhere(book_path: Path, tmp_path: Path):
    add_call(book_path)
    last = add_call(book_path, "2026-06-16 10:00")
    with zipfile.ZipFile(book_path) as z:
        assert z.testzip() is None
        assert b"top_id" in z.getinfo(interactions_part(book_path)).extra
    sheet = CalamineWorkbook.from_path(str(book_path)).get_sheet_by_name("Interactions")
    assert sheet.to_python()[-1][:2] == [last, "C-000001"]
    wb = openpyxl.load_workbook(book_path, read_only=True)
    assert list(wb["Interactions"].iter_rows(values_only=True))[-1][:2] == (last, "C-000001")
    wb.close()
    out = libreoffice.convert([book_path], tmp_path)
    again = openpyxl.load_workbook(out / book_path.name, read_only=True)
    assert list(again["Interactions"].iter_rows(values_only=True))[-1][:2] == (last, "C-000001")


def test_a_copied_part_keeps_its_stamp(book_path: Path):
    add_call(book_path)
    part = interactions_part(book_path)
    with Package(book_path) as pkg:
        before = pkg.stamp(part)
    book = crmbook.open(book_path, user="tester")
    book.customers.add(name="Only Customers Change")
    book.save(backups=0)
    with Package(book_path) as pkg:
        assert pkg.stamp(part) == before


def test_a_save_compares_with_the_save_state_only_sheets_someone_else_wrote(
    book_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Finding hand edits compares every record with the save state; a sheet whose part
    crmbook wrote last (its stamp holds) cannot hold one, so an open session's save skips it."""
    from crmbook.storage import state

    compared: list[int] = []
    real = state.changed_codes
    monkeypatch.setattr(
        state, "changed_codes", lambda now, before: compared.append(len(now)) or real(now, before)
    )

    def save_with_every_sheet_read() -> None:
        book = crmbook.open(book_path, user="tester")
        for sheet in crmbook.SCHEMA.entities:
            assert len(book.table(sheet.name).df.columns)
        book.interactions.add(customer_id="C-000001", when="2026-06-15 10:00", channel="call")
        book.save(backups=0)

    save_with_every_sheet_read()  # the first save through this crmbook stamps the parts
    compared.clear()
    save_with_every_sheet_read()
    assert compared == []
    wb = openpyxl.load_workbook(book_path)
    wb["Customers"]["B2"] = "Edited By Hand"
    wb.save(book_path)  # openpyxl writes every part anew: no stamp survives
    save_with_every_sheet_read()
    assert compared  # the hand edit is looked for (and found) again
