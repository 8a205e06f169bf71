"""Sheet parts written in deflate runs (io/appendable.py): a save that appends rows copies the
compressed rows already there and deflates only the new ones, and the result is a workbook
every reader opens; a part that is not as crmbook wrote it is written whole again."""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import libreoffice
import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

import crmbook
from crmbook.io.appendable import AppendablePart, crc32_combine, data_offset
from crmbook.io.package import Package
from crmbook.io.stamp import STAMP_ID, read_stamp


@given(st.binary(max_size=300), st.binary(max_size=300))
def test_crc32_combine_is_the_crc_of_the_joined_data(a: bytes, b: bytes):
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.binary(max_size=2000), max_size=4), min_size=1, max_size=5))
def test_runs_deflated_apart_inflate_as_one_part(tmp_path_factory, runs: list[list[bytes]]):
    path = tmp_path_factory.mktemp("runs") / "parts.zip"
    with zipfile.ZipFile(path, "w") as out:
        part = AppendablePart(out, zipfile.ZipInfo("a/part.xml"))
        for n, chunks in enumerate(runs):
            part.deflate(chunks, level=1 + n % 9, last=n == len(runs) - 1)
        part.close({"note": "x"})
        out.writestr("b.txt", b"after")
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        assert z.read("a/part.xml") == b"".join(b"".join(c) for c in runs)
        assert read_stamp(z.getinfo("a/part.xml"))["note"] == "x"
        assert z.read("b.txt") == b"after"


@pytest.fixture
def book_path(demo_workbook: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRMBOOK_NO_CACHE", "1")
    return demo_workbook


def add_call(path: Path, n: int) -> str:
    book = crmbook.open(path, user="tester")
    new = book.interactions.add(
        customer_id="C-000001",
        when=f"2026-06-{n % 28 + 1:02d} 10:00",
        channel="call",
        summary=f"call number {n}: Ünïcödé ✓ & <ok>",
    )
    book.save(backups=0)
    return new


def part_data(path: Path, sheet: str) -> tuple[bytes, dict | None]:
    """The sheet part's compressed bytes and its stamp."""
    with Package(path) as pkg:
        info = pkg.infos[pkg.sheets[sheet].part]
        pkg.zip.fp.seek(data_offset(pkg.zip, info))
        return pkg.zip.fp.read(info.compress_size), read_stamp(info)


def last_rows(path: Path, sheet: str, n: int) -> list[list]:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()
    return rows[-n:]


def test_an_append_copies_the_compressed_rows_already_there(book_path: Path):
    add_call(book_path, 1)  # the demo book was written before runs: written whole once
    before, stamp = part_data(book_path, "Interactions")
    head, rows = stamp["runs"]["head"][0], stamp["runs"]["rows"][0]
    add_call(book_path, 2)
    after, again = part_data(book_path, "Interactions")
    new_head = again["runs"]["head"][0]
    assert after[new_head : new_head + rows] == before[head : head + rows]
    assert again["runs"]["rows"][1] > stamp["runs"]["rows"][1]
    assert again["last_row"] == stamp["last_row"] + 1


def test_many_appends_leave_a_workbook_every_reader_opens(book_path: Path, tmp_path: Path):
    ids = [add_call(book_path, n) for n in range(6)]
    with zipfile.ZipFile(book_path) as z:
        assert z.testzip() is None
    got = last_rows(book_path, "Interactions", 6)
    assert [r[0] for r in got] == ids
    assert got[-1][7] == "call number 5: Ünïcödé ✓ & <ok>"
    assert [r[3] for r in last_rows(book_path, "Log", 6)] == ids
    wb = openpyxl.load_workbook(book_path)
    assert wb["Interactions"].max_row == len(crmbook.open(book_path).interactions.df) + 1
    assert wb["Interactions"].tables["Interactions"].ref.endswith(str(wb["Interactions"].max_row))
    report = crmbook.open(book_path).validate()
    assert report.valid, report


@libreoffice.needs_libreoffice
def test_libreoffice_opens_an_appended_workbook(book_path: Path, tmp_path: Path):
    ids = [add_call(book_path, n) for n in range(3)]
    out = libreoffice.convert([book_path], tmp_path)
    wb = openpyxl.load_workbook(out / book_path.name, read_only=True)
    rows = list(wb["Interactions"].iter_rows(values_only=True))
    assert [r[0] for r in rows[-3:]] == ids


def test_a_part_rewritten_by_another_tool_is_written_whole_again(book_path: Path):
    add_call(book_path, 1)
    wb = openpyxl.load_workbook(book_path)
    wb["Interactions"].append(["I-008000", "C-000001", None, "visit"])
    wb.save(book_path)  # no stamps any more
    assert part_data(book_path, "Interactions")[1] is None
    new = add_call(book_path, 2)
    assert [r[0] for r in last_rows(book_path, "Interactions", 2)] == ["I-008000", new]
    assert part_data(book_path, "Interactions")[1]["runs"]


def test_runs_that_do_not_match_the_part_are_not_trusted(book_path: Path, tmp_path: Path):
    """A stamp whose CRC-32 and sizes fit but whose runs lie (the part deflated again in one
    stream by a tool that kept the extra field): the append writes the part whole."""
    add_call(book_path, 1)
    part = Package(book_path).sheets["Interactions"].part
    forged = tmp_path / "forged.xlsx"
    with zipfile.ZipFile(book_path) as src, zipfile.ZipFile(forged, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            clone = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            clone.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(clone, data, compresslevel=9)
            if info.filename == part:
                stamp = read_stamp(info)
                stamp["csize"] = clone.compress_size
                text = json.dumps(stamp).encode()
                clone.extra = STAMP_ID.to_bytes(2, "little") + len(text).to_bytes(2, "little")
                clone.extra += text
    with Package(forged) as pkg:
        assert pkg.stamp(part) is not None  # it looks right...
    new = add_call(forged, 2)  # ...but its runs do not inflate to what it says
    with zipfile.ZipFile(forged) as z:
        assert z.testzip() is None
    assert last_rows(forged, "Interactions", 1)[0][0] == new
    assert (
        len(crmbook.open(forged).interactions.df)
        == len(crmbook.open(book_path).interactions.df) + 1
    )
