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

import io
import random
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

import crmbook
from crmbook.cli import main

FILES = Path(__file__).parent / "files"
SEED = 2024
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name")  # stored twice on purpose


def _written(path: Path) -> Path:
    book = crmbook.create(path, user="fuzz")
    cid = book.customers.add(
        name="Иванов Сергей", email="ivanov@example.com", city="Москва", notes="=SUM(A1)"
    )
    book.customers.add(name="דנה כהן", company="Cohen & Co", consent_email="כן")
    book.interactions.add(customer_id=cid, when="2024-05-01 10:00", channel="call")
    book.save()
    return path


@pytest.fixture(scope="module", params=["written-by-crmbook", "saved-by-libreoffice"])
def original(request, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "written-by-crmbook":
        return _written(folder / "shop.xlsx")
    return Path(shutil.copy(FILES / "libreoffice-saved-book.xlsx", folder / "shop.xlsx"))


# ---------------------------------------------------------------- mutations


@dataclass
class Mutation:
    name: str
    data: bytes
    breaks: tuple[str, ...]  # the commands that must answer exit 2 ("validate", "add")


def _parts(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(info, z.read(info)) for info in z.infolist()]


def _zipped(parts: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in parts:
            z.writestr(info, data)
    return out.getvalue()


def _replaced(data: bytes, part: str, change) -> bytes:
    return _zipped([(i, change(d) if i.filename == part else d) for i, d in _parts(data)])


def _part_named(data: bytes, pattern: str) -> str:
    names = [i.filename for i, _ in _parts(data)]
    return next(n for n in names if re.fullmatch(pattern, n))


def _sheet_part(data: bytes, sheet: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        workbook = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(rf'name="{sheet}"[^>]*r:id="(\w+)"', workbook).group(1)
    target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="{rid}"', rels)
    target = (target.group(1) or target.group(2)).lstrip("/")
    return target if target.startswith("xl/") else f"xl/{target}"


def _xml_damage(rng: random.Random, xml: bytes) -> tuple[str, bytes]:
    kind = rng.choice(["cut", "garbage", "empty", "unclosed"])
    if kind == "cut":
        return kind, xml[: len(xml) // 2]
    if kind == "garbage":
        return kind, bytes(rng.randrange(256) for _ in range(300))
    if kind == "empty":
        return kind, b""
    return kind, xml.replace(b">", b"", 1)


def _flip_compressed(data: bytes, part: str, rng: random.Random) -> bytes:
    """Flip a byte inside one part's deflated data, as a bad disk or transfer would."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(part)
    header = data[info.header_offset : info.header_offset + 30]
    start = info.header_offset + 30 + int.from_bytes(header[26:28], "little")
    start += int.from_bytes(header[28:30], "little")
    spot = start + rng.randrange(max(info.compress_size, 1))
    return data[:spot] + bytes([data[spot] ^ 0x55]) + data[spot + 1 :]


def mutations(data: bytes) -> list[Mutation]:
    rng = random.Random(SEED)
    both = ("validate", "add")
    names = [i.filename for i, _ in _parts(data)]
    customers = _sheet_part(data, "Customers")
    read_by_add = [
        "xl/workbook.xml",
        "xl/_rels/workbook.xml.rels",
        "[Content_Types].xml",
        "xl/styles.xml",
        customers,
        _sheet_part(data, "_crmbook"),
        *[n for n in names if n.endswith("sharedStrings.xml")],
    ]
    found = []
    for cut in (len(data) // 3, len(data) - 22, 100):
        found.append(Mutation(f"file truncated to {cut} bytes", data[:cut], both))
    for part in read_by_add:
        kind, _ = _xml_damage(random.Random(part), b"")
        found.append(
            Mutation(
                f"{part}: {kind}",
                _replaced(data, part, lambda xml, p=part: _xml_damage(random.Random(p), xml)[1]),
                both,
            )
        )
    others = [n for n in names if n.endswith((".xml", ".rels")) and n not in read_by_add]
    for part in rng.sample(others, 4):
        found.append(
            Mutation(
                f"{part}: damaged XML",
                _replaced(data, part, lambda xml, p=part: _xml_damage(random.Random(p), xml)[1]),
                ("validate",),
            )
        )
    for part in [customers, *rng.sample(names, 3)]:
        found.append(
            Mutation(
                f"{part}: a flipped byte in its compressed data",
                _flip_compressed(data, part, rng),
                both if part == customers else ("validate",),
            )
        )
    twice = rng.choice(names)
    parts = _parts(data)
    found.append(
        Mutation(
            f"{twice} stored twice",
            _zipped([*parts, next((i, d[: len(d) // 2]) for i, d in parts if i.filename == twice)]),
            both,
        )
    )
    found.append(
        Mutation(
            "the workbook declared a Word document",
            _replaced(
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
            _zipped([(i, d) for i, d in parts if i.filename != customers]),
            both,
        )
    )
    shared = [n for n in names if n.endswith("sharedStrings.xml")]
    if shared:
        found.append(
            Mutation(
                "four billion shared strings claimed",
                _replaced(
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
            _replaced(data, customers, _far_value),
            both,
        )
    )
    found.append(
        Mutation(
            "an XML bomb's entity declaration",
            _replaced(
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
            _replaced(
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
    return found


def _far_value(xml: bytes) -> bytes:
    """A value typed in the last cell of the sheet, saved as Excel saves it."""
    xml = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', xml)
    far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>oops</t></is></c></row>'
    return xml.replace(b"</sheetData>", far + b"</sheetData>")


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
    data = _written(path).read_bytes()
    path.write_bytes(_replaced(data, _sheet_part(data, "Customers"), _far_value))
    result = _run("validate", path)
    assert result.exit_code == 2
    assert "'Customers' has a value in cell XFD1048576" in result.output
    assert "Ctrl+End" in result.output


def test_a_damaged_part_is_named(tmp_path):
    path = tmp_path / "shop.xlsx"
    data = _written(path).read_bytes()
    path.write_bytes(_flip_compressed(data, "xl/styles.xml", random.Random(SEED)))
    result = _run("validate", path)
    assert result.exit_code == 2 and "part xl/styles.xml" in result.output
