"""A sheet part read as it inflates (io/rows.py), whatever wrote it."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from crmbook.errors import CrmbookError
from crmbook.io import rows as rows_module
from crmbook.io.rows import SheetStream, last_row_number, renumbered

HEAD = b'<worksheet xmlns="m"><dimension ref="A1:B3"/>'
ROWS = [
    (1, b'<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c></row>'),
    (2, b'<row r="2" spans="1:2"><c r="A2" s="3"><v>1</v></c><c r="B2"><v>2</v></c></row>'),
    (3, b"<row><c><v>3</v></c></row>"),  # no number: the one after the last
    (7, b'<row r="7"/>'),
    (
        8,
        b'<x:row r="8"><x:c r="A8" t="inlineStr">'
        b'<x:is><x:t>&lt;row r="9"&gt;</x:t></x:is></x:c></x:row>',
    ),
]
TAIL = b"<pageMargins/></worksheet>"


def part(tmp_path: Path, xml: bytes) -> zipfile.ZipFile:
    path = tmp_path / "sheet.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("sheet.xml", xml)
    return zipfile.ZipFile(path)


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
def test_head_rows_and_tail_in_any_chunking(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(rows_module, "_CHUNK", chunk)
    xml = HEAD + b"<sheetData>" + b"".join(r for _, r in ROWS) + b"</sheetData>" + TAIL
    with SheetStream(part(tmp_path, xml), "sheet.xml") as stream:
        assert stream.head == HEAD
        assert list(stream.rows()) == ROWS
        assert stream.tail == TAIL


def test_an_empty_sheet(tmp_path):
    with SheetStream(part(tmp_path, HEAD + b"<sheetData/>" + TAIL), "sheet.xml") as stream:
        assert stream.empty and list(stream.rows()) == [] and stream.tail == TAIL
    assert last_row_number(part(tmp_path, HEAD + b"<sheetData/>" + TAIL), "sheet.xml") == 0


def test_the_last_row_number(tmp_path):
    xml = HEAD + b"<sheetData>" + b"".join(r for _, r in ROWS) + b"</sheetData>" + TAIL
    assert last_row_number(part(tmp_path, xml), "sheet.xml") == 8


@pytest.mark.parametrize(
    "xml",
    [
        HEAD + TAIL,  # no sheetData
        HEAD + b"<sheetData>" + ROWS[0][1],  # never closed
        HEAD + b'<sheetData><row r="1"><c r="A1"></sheetData>' + TAIL,  # a row never closed
    ],
)
def test_a_damaged_sheet_is_refused_clearly(tmp_path, xml):
    with (
        pytest.raises(CrmbookError, match=r"damaged|sheetData"),
        SheetStream(part(tmp_path, xml), "sheet.xml") as stream,
    ):
        list(stream.rows())


def test_a_row_moves_with_its_cells():
    row = b'<row r="12" spans="1:3"><c r="A12" s="1"><v>1</v></c><c r="AB12"><v>2</v></c></row>'
    assert renumbered(row, 7) == (
        b'<row r="7" spans="1:3"><c r="A7" s="1"><v>1</v></c><c r="AB7"><v>2</v></c></row>'
    )


def test_a_row_whose_text_holds_markup_characters(tmp_path):
    """Text may hold > and /> unescaped: a row ends at its own closing tag, not before."""
    rows = [
        b'<row r="2"><c r="A2" t="inlineStr"><is><t>a/> b > c</t></is></c></row>',
        b'<row r="3" spans="1:1"><c r="A3"><v>3</v></c></row>',
    ]
    xml = HEAD + b"<sheetData>" + b"".join(rows) + b"</sheetData>" + TAIL
    with SheetStream(part(tmp_path, xml), "sheet.xml") as stream:
        assert list(stream.rows()) == [(2, rows[0]), (3, rows[1])]


@pytest.mark.parametrize(
    ("row", "moved"),
    [
        (  # as crmbook writes it; text that looks like a reference stays
            b'<row r="12"><c r="A12" s="12" t="inlineStr"><is><t>A12" r="B12" &lt;c r="C12"'
            b'</t></is></c><c r="XFD12"><v>12</v></c></row>',
            b'<row r="7"><c r="A7" s="12" t="inlineStr"><is><t>A12" r="B12" &lt;c r="C12"'
            b'</t></is></c><c r="XFD7"><v>12</v></c></row>',
        ),
        (  # the reference not first, as another program may write it
            b'<row spans="1:2" r="12"><c s="1" r="A12"><v>1</v></c><c r="B12"/></row>',
            b'<row spans="1:2" r="7"><c s="1" r="A7"><v>1</v></c><c r="B7"/></row>',
        ),
        (
            b'<x:row r="12"><x:c r="A12"><x:v>1</x:v></x:c></x:row>',
            b'<x:row r="7"><x:c r="A7"><x:v>1</x:v></x:c></x:row>',
        ),
        (b'<row r="12"/>', b'<row r="7"/>'),
    ],
)
def test_a_row_moves_with_its_cells_however_it_was_written(row, moved):
    assert renumbered(row, 7) == moved
