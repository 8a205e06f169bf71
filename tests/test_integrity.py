"""Broken workbooks never show a traceback: real workbooks, damaged part by part.

Two real workbooks are mutated: one written by crmbook, one saved by LibreOffice
(tests/files/libreoffice-saved-book.xlsx: a crmbook book opened and saved by LibreOffice
Calc, with its shared strings and its own styles). Each mutation damages one part the way
disks, mail gateways and half-finished downloads do: flipped bytes in the compressed data,
truncation, malformed or emptied XML, a part stored twice, wrong content types, absurd
shared-string counts, a value typed far outside the table, a DTD.

For each mutated file `crmbook validate` and `crmbook add customer` either work, or answer
with exit 2, one line and the file byte for byte as it was. Damage to what a command reads
must get that answer. A fixed seed keeps the run the same everywhere.
"""

from __future__ import annotations

import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from damage_support import (
    far_value,
    flip_compressed,
    parts,
    replaced,
    sheet_part,
    written,
    xml_damage,
    zipped,
)

from crmbook.cli import main

FILES = Path(__file__).parent / "files"
SEED = 2024
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name")  # stored twice on purpose


@pytest.fixture(scope="module", params=["written-by-crmbook", "saved-by-libreoffice"])
def original(request, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "written-by-crmbook":
        return written(folder / "shop.xlsx")
    return Path(shutil.copy(FILES / "libreoffice-saved-book.xlsx", folder / "shop.xlsx"))


# ---------------------------------------------------------------- mutations


@dataclass
class Mutation:
    name: str
    data: bytes
    breaks: tuple[str, ...]  # the commands that must answer exit 2 ("validate", "add")


def _part_named(data: bytes, pattern: str) -> str:
    names = [i.filename for i, _ in parts(data)]
    return next(n for n in names if re.fullmatch(pattern, n))


def mutations(data: bytes) -> list[Mutation]:
    rng = random.Random(SEED)
    both = ("validate", "add")
    names = [i.filename for i, _ in parts(data)]
    customers = sheet_part(data, "Customers")
    read_by_add = [
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "[Content_Types].xml",
        "xl/styles.xml",
        customers,
        sheet_part(data, "_crmbook"),
        *[n for n in names if n.endswith("sharedStrings.xml")],
    ]
    found = []
    for cut in (len(data) // 3, len(data) - 22, 100):
        found.append(Mutation(f"file truncated to {cut} bytes", data[:cut], both))
    for part in read_by_add:
        kind, _ = xml_damage(random.Random(part), b"")
        found.append(
            Mutation(
                f"{part}: {kind}",
                replaced(data, part, lambda xml, p=part: xml_damage(random.Random(p), xml)[1]),
                both,
            )
        )
    others = [n for n in names if n.endswith((".xml", ".rels")) and n not in read_by_add]
    for part in rng.sample(others, 4):
        found.append(
            Mutation(
                f"{part}: damaged XML",
                replaced(data, part, lambda xml, p=part: xml_damage(random.Random(p), xml)[1]),
                ("validate",),
            )
        )
    for part in [customers, *rng.sample(names, 3)]:
        found.append(
            Mutation(
                f"{part}: a flipped byte in its compressed data",
                flip_compressed(data, part, rng),
                both if part == customers else ("validate",),
            )
        )
    twice = rng.choice(names)
    entries = parts(data)
    half = next((i, d[: len(d) // 2]) for i, d in entries if i.filename == twice)
    found.append(
        Mutation(
            f"{twice} stored twice",
            zipped([*entries, half]),
            both,
        )
    )
    found.append(
        Mutation(
            "the workbook declared a Word document",
            replaced(
                data,
                "[Content_Types].xml",
                lambda xml: re.sub(
                    rb"spreadsheetml\.sheet\.main\+xml",
                    b"wordprocessingml.document.main+xml",
                    xml,
                ),
            ),
            both,
        )
    )
    found.append(
        Mutation(
            "the Customers sheet's part deleted",
            zipped([(i, d) for i, d in entries if i.filename != customers]),
            both,
        )
    )
    shared = [n for n in names if n.endswith("sharedStrings.xml")]
    if shared:
        found.append(
            Mutation(
                "four billion shared strings claimed",
                replaced(
                    data,
                    shared[0],
                    lambda xml: re.sub(rb'uniqueCount="\d+"', b'uniqueCount="4294967295"', xml),
                ),
                both,
            )
        )
    found.append(
        Mutation(
            "a value typed in cell XFD1048576 of Customers",
            replaced(data, customers, far_value),
            both,
        )
    )
    found.append(
        Mutation(
            "an XML bomb's entity declaration",
            replaced(
                data,
                "xl/workbook.xml",
                lambda xml: b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + xml.split(b"?>", 1)[-1],
            ),
            both,
        )
    )
    found.append(
        Mutation(
            "a dimension claiming the whole grid (harmless)",
            replaced(
                data,
                customers,
                lambda xml: re.sub(
                    rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', xml
                ),
            ),
            (),
        )
    )
    for _ in range(3):
        spot = rng.randrange(len(data))
        flipped = data[:spot] + bytes([data[spot] ^ 0xFF]) + data[spot + 1 :]
        found.append(Mutation(f"byte {spot} of the file flipped", flipped, ()))
    entry = data.rindex(b"PK\x01\x02")  # the last part's entry in the zip's directory
    flags = bytes([data[entry + 8], data[entry + 9] | 0x08])  # its name says it is UTF-8
    not_utf8 = data[: entry + 8] + flags + data[entry + 10 : entry + 46] + b"\x8d"
    not_utf8 += data[entry + 47 :]
    found.append(Mutation("a part's name in the zip's directory not UTF-8", not_utf8, both))
    return found


# ---------------------------------------------------------------- the test


def _run(*args: object):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{args[0]} crashed: {result.exception!r}"
    )
    assert result.exit_code in (0, 1, 2), result.output
    return result


def _check_refusal(result, path: Path, before: bytes, what: str) -> None:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{what}: {result.output}"
    assert "Traceback" not in result.output
    assert path.read_bytes() == before, f"{what}: the file changed"


def test_every_damaged_part_gets_one_line_and_the_file_stays_as_it_was(original, tmp_path):
    path = tmp_path / "shop.xlsx"
    for mutation in mutations(original.read_bytes()):
        path.write_bytes(mutation.data)
        before = mutation.data
        checked = _run("validate", path)
        if "validate" in mutation.breaks or checked.exit_code == 2:
            assert checked.exit_code == 2, f"{mutation.name}: validate said {checked.output}"
            _check_refusal(checked, path, before, f"validate, {mutation.name}")
        added = _run("add", "customer", path, "--name", "Anna Fuzz")
        if "add" in mutation.breaks or added.exit_code == 2:
            assert added.exit_code == 2, f"{mutation.name}: add said {added.output}"
            _check_refusal(added, path, before, f"add, {mutation.name}")
        elif added.exit_code == 0:  # the damage was somewhere add never reads: not made worse
            again = _run("validate", path)
            assert (again.exit_code == 2) == (checked.exit_code == 2), mutation.name


def test_the_original_workbooks_are_fine(original):
    assert _run("validate", original).exit_code == 0


def test_a_value_far_outside_the_table_is_named_with_its_cell(tmp_path):
    path = tmp_path / "shop.xlsx"
    data = written(path).read_bytes()
    path.write_bytes(replaced(data, sheet_part(data, "Customers"), far_value))
    result = _run("validate", path)
    assert result.exit_code == 2
    assert "'Customers' has a value in cell XFD1048576" in result.output
    assert "Ctrl+End" in result.output


def test_a_damaged_part_is_named(tmp_path):
    path = tmp_path / "shop.xlsx"
    data = written(path).read_bytes()
    path.write_bytes(flip_compressed(data, "xl/styles.xml", random.Random(SEED)))
    result = _run("validate", path)
    assert result.exit_code == 2 and "part xl/styles.xml" in result.output


def test_an_id_counter_that_is_not_a_number_is_named_with_its_row(tmp_path):
    """Found by test_fuzz.py: shared strings out of place put a text in next_id.Customers."""
    path = written(tmp_path / "shop.xlsx")
    workbook = openpyxl.load_workbook(path)
    notes = workbook["_crmbook"]
    row = next(r for r in notes.iter_rows() if r[0].value == "next_id.Customers")
    row[1].value = "fingerprint_fields.Customers"
    workbook.save(path)
    before = path.read_bytes()
    for command in (["validate", path], ["add", "customer", path, "--name", "Anna"]):
        result = _run(*command)
        assert result.exit_code == 2 and path.read_bytes() == before
        assert result.output.strip() == (
            f"error: shop.xlsx: crmbook's hidden sheet '_crmbook', row {row[0].row}: "
            "next_id.Customers should be the next id number to give out, not "
            "'fingerprint_fields.Customers'; type one more than the highest id of that sheet "
            "beside it, or restore the backup copy of the book"
        )
