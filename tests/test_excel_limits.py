"""Excel's limits, enforced wherever records enter: the message names the field and the limit."""

from __future__ import annotations

import re

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

import crmbook
from crmbook.cli import main
from crmbook.errors import CrmbookError, RecordError
from crmbook.excel_limits import (
    MAX_CELL_CHARS,
    cell_length,
    clipped,
    sheet_name_problem,
    too_long,
)
from crmbook.languages import LANGUAGES, words
from crmbook.schema import SCHEMA

FITS = "Ш" * MAX_CELL_CHARS  # Cyrillic: one UTF-16 unit per letter
TOO_LONG = "x" * 40_000
EMOJI_OVER = "🙂" * (MAX_CELL_CHARS // 2 + 1)  # fewer characters than the limit, more units


@pytest.fixture
def book(tmp_path):
    book = crmbook.create(tmp_path / "shop.xlsx", user="tester")
    book.customers.add(name="Anna Schmidt")
    book.save()
    return book


def test_lengths_count_as_excel_counts():
    assert cell_length("Иванов") == 6
    assert cell_length("🙂") == 2
    assert too_long(pd.Series([FITS, TOO_LONG, EMOJI_OVER, None, 5], dtype=object)).tolist() == [
        False,
        True,
        True,
        False,
        False,
    ]
    assert too_long(pd.Series([FITS, TOO_LONG, None], dtype="str")).tolist() == [
        False,
        True,
        False,
    ]


def test_clipped_text_fits_in_a_cell():
    assert clipped("short") == "short"
    for text in (TOO_LONG, EMOJI_OVER):
        cut = clipped(text)
        assert cell_length(cut) <= MAX_CELL_CHARS and cut.endswith("…")


@pytest.mark.parametrize("text", [TOO_LONG, EMOJI_OVER])
def test_add_refuses_a_text_longer_than_a_cell_naming_field_and_limit(book, text):
    with pytest.raises(RecordError) as refused:
        book.customers.add(name="Boris", notes=text)
    (issue,) = refused.value.issues
    assert (issue.code, issue.column) == ("too-long", "notes")
    assert "32,767" in issue.message and "notes" in issue.message
    assert len(book.customers.df) == 1


def test_update_refuses_it_too(book):
    cid = book.customers.df["id"].iloc[0]
    with pytest.raises(RecordError, match="32,767"):
        book.customers.update(cid, company=TOO_LONG)
    assert pd.isna(book.customers.get(cid)["company"])


def test_the_cli_refuses_40000_characters_and_leaves_the_file_alone(book):
    before = book.path.read_bytes()
    result = CliRunner().invoke(
        main, ["add", "customer", str(book.path), "--name", "Boris", "--notes", TOO_LONG]
    )
    assert result.exit_code == 1
    assert "notes holds 40,000 characters; an Excel cell holds at most 32,767" in result.output
    assert "Traceback" not in result.output
    assert book.path.read_bytes() == before


def test_a_full_cell_of_cyrillic_is_kept_whole(book):
    """Exactly the limit fits, and a second reader sees every character."""
    cid = book.customers.add(name="Иванов Сергей", notes=FITS)
    book.save()
    assert crmbook.open(book.path).customers.get(cid)["notes"] == FITS
    rows = CalamineWorkbook.from_path(book.path).get_sheet_by_name("Customers").to_python()
    notes = rows[0].index("notes")
    assert rows[-1][notes] == FITS


def test_import_reports_the_source_row_of_a_text_too_long(book, tmp_path):
    source = tmp_path / "export.csv"
    pd.DataFrame({"Name": ["Dana Cohen", "דנה כהן"], "Notes": ["fine", TOO_LONG]}).to_csv(
        source, index=False
    )
    result = CliRunner().invoke(main, ["import", str(book.path), str(source), "--yes"])
    assert result.exit_code == 1
    assert re.search(r"│ 3\s+│ notes\s+│", result.output)  # the row as in the source file
    assert "40,000" in result.output and "32,767" in result.output
    assert len(crmbook.open(book.path).customers.df) == 1


def test_deleting_a_record_with_long_texts_keeps_the_log_within_a_cell(book):
    cid = book.customers.add(name="Boris", notes=FITS, company="Ш" * 30_000)
    book.save()
    book.customers.delete(cid)
    book.save()
    log = openpyxl.load_workbook(book.path, read_only=True)["Log"]
    longest = max(cell_length(str(c.value or "")) for row in log.iter_rows() for c in row)
    assert longest <= MAX_CELL_CHARS


def test_a_sheet_refuses_records_beyond_its_row_limit(book):
    book.storage.row_limit = 3  # stands in for Excel's 1,048,576: the same check, fewer rows
    book.customers.add(name="Boris")
    with pytest.raises(RecordError, match="at most 2 below its header"):
        book.customers.add(name="Carla")


def test_a_sheet_crmbook_saved_counts_its_blank_rows_toward_the_row_limit(book):
    book.customers.add(name="Boris")
    book.save(backups=0)
    wb = openpyxl.load_workbook(book.path)
    wb["Customers"].cell(5, 2, "Dora")  # typed by hand two rows below, a blank row between
    wb.save(book.path)
    book = crmbook.open(book.path, user="tester")
    book.customers.add(name="Emil")
    book.save(backups=0)  # crmbook writes the part again: its stamp knows the last row
    book = crmbook.open(book.path, user="tester")
    book.storage.row_limit = 7  # rows 2-6 taken below the header: room for one more
    book.customers.add(name="Fanny")
    with pytest.raises(RecordError, match="Customers would hold 7 records"):
        book.customers.add(name="Gus")


def test_a_written_sheet_refuses_a_text_longer_than_a_cell(book):
    book.write_sheet("Notes", pd.DataFrame({"note": ["fine", TOO_LONG]}))
    with pytest.raises(CrmbookError, match="column note: a text of 40,000 characters"):
        book.save()


@pytest.mark.parametrize(
    ("name", "words_in_problem"),
    [
        ("", "needs a name"),
        ("   ", "needs a name"),
        ("x" * 32, "at most 31"),
        ("Q1/Q2", "does not allow"),
        ("[draft]", "does not allow"),
        ("'quoted'", "apostrophe"),
        ("history", "reserves"),
    ],
)
def test_sheet_names_excel_refuses(name, words_in_problem):
    assert words_in_problem in sheet_name_problem(name)


def test_every_sheet_name_crmbook_writes_is_one_excel_accepts():
    for lang in LANGUAGES:
        labels = words(lang)
        for name in (*(s.name for s in SCHEMA.sheets), SCHEMA.lists_sheet, SCHEMA.meta_sheet):
            assert sheet_name_problem(labels.sheet(name)) is None, (lang, name)


def test_adding_one_by_one_to_a_book_excel_saved_reads_its_ids_once(tmp_path, monkeypatch):
    """The row limit and the next id both need the ids stored in a sheet Excel saved last
    (no stamp of crmbook's): they are read once, not again for every record added."""
    from crmbook.io.reader import Reader

    monkeypatch.setenv("CRMBOOK_NO_CACHE", "1")
    path = tmp_path / "crm.xlsx"
    book = crmbook.create(path)
    book.customers.add_many([{"name": f"Клиент {i}"} for i in range(5)])
    book.save(backups=0)
    openpyxl.load_workbook(path).save(path)  # Excel's part now
    read: list[str] = []
    real = Reader.column

    def column(self, sheet, *args, **kwargs):
        read.append(sheet)
        return real(self, sheet, *args, **kwargs)

    monkeypatch.setattr(Reader, "column", column)
    book = crmbook.open(path)
    added = [book.customers.add(name=f"Новый {i}") for i in range(5)]
    assert read.count("Customers") == 1
    book.save(backups=0)
    ids = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Customers").to_python()
    assert [r[0] for r in ids[1:]] == [f"C-{n:06d}" for n in range(1, 11)]
    assert added == [f"C-{n:06d}" for n in range(6, 11)]
