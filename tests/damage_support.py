"""Ways to damage a real workbook, shared by test_integrity.py (each named damage, part by
part) and test_fuzz.py (damage picked by a seeded random generator)."""

from __future__ import annotations

import io
import random
import re
import zipfile
from pathlib import Path

import crmbook


def written(path: Path) -> Path:
    """A small book written by crmbook: Cyrillic, Hebrew, a formula typed as text."""
    book = crmbook.create(path, user="fuzz")
    cid = book.customers.add(
        name="Иванов Сергей", email="ivanov@example.com", city="Москва", notes="=SUM(A1)"
    )
    book.customers.add(name="דנה כהן", company="Cohen & Co", consent_email="כן")
    book.interactions.add(customer_id=cid, when="2024-05-01 10:00", channel="call")
    book.save()
    return path


def parts(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(info, z.read(info)) for info in z.infolist()]


def zipped(entries: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in entries:
            z.writestr(info, data)
    return out.getvalue()


def replaced(data: bytes, part: str, change) -> bytes:
    return zipped([(i, change(d) if i.filename == part else d) for i, d in parts(data)])


def sheet_part(data: bytes, sheet: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        workbook = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(rf'name="{sheet}"[^>]*r:id="(\w+)"', workbook).group(1)
    target = re.search(rf'Id="{rid}"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Id="{rid}"', rels)
    target = (target.group(1) or target.group(2)).lstrip("/")
    return target if target.startswith("xl/") else f"xl/{target}"


def xml_damage(rng: random.Random, xml: bytes) -> tuple[str, bytes]:
    """Damage that makes XML unreadable: cut, garbage, emptied or a tag left unclosed."""
    kind = rng.choice(["cut", "garbage", "empty", "unclosed"])
    if kind == "cut":
        return kind, xml[: len(xml) // 2]
    if kind == "garbage":
        return kind, bytes(rng.randrange(256) for _ in range(300))
    if kind == "empty":
        return kind, b""
    return kind, xml.replace(b">", b"", 1)


def flip_compressed(data: bytes, part: str, rng: random.Random) -> bytes:
    """Flip a byte inside one part's deflated data, as a bad disk or transfer would."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = z.getinfo(part)
    header = data[info.header_offset : info.header_offset + 30]
    start = info.header_offset + 30 + int.from_bytes(header[26:28], "little")
    start += int.from_bytes(header[28:30], "little")
    spot = start + rng.randrange(max(info.compress_size, 1))
    return data[:spot] + bytes([data[spot] ^ 0x55]) + data[spot + 1 :]


def far_value(xml: bytes) -> bytes:
    """A value typed in the last cell of the sheet, saved as Excel saves it."""
    xml = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', xml)
    far = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>oops</t></is></c></row>'
    return xml.replace(b"</sheetData>", far + b"</sheetData>")


# Values an attribute or a cell may be given by other software, a hand edit or a bad disk.
ABSURD = [b"", b"-1", b"0", b"99999999", b"4294967296", b"abc", b"A0", b"XFD1048577", b"1e308"]
ABSURD_TEXT = [b"abc", b"-5", b"99999999999", b"1e400", b"", b"TRUE", b"#REF!", b"2024-13-45"]


def random_damage(rng: random.Random, xml: bytes) -> tuple[str, bytes]:
    """One random change inside a part that may leave it well-formed: a flipped bit, a cut,
    bytes inserted, an attribute or a value made absurd, a tag dropped or an element repeated."""
    kind = rng.choice(["bit", "cut", "insert", "attribute", "value", "drop", "repeat"])
    if not xml:
        return "unchanged (empty part)", xml
    if kind == "bit":
        spot = rng.randrange(len(xml))
        return f"bit flipped at {spot}", _put(
            xml, spot, spot + 1, bytes([xml[spot] ^ 1 << rng.randrange(8)])
        )
    if kind == "cut":
        spot = rng.randrange(len(xml) + 1)
        return f"cut at {spot}", xml[:spot]
    if kind == "insert":
        spot = rng.randrange(len(xml) + 1)
        junk = rng.choice([b"<x>", b"</row>", b'<c r="A1">', b"\x00", b"&bogus;", rng.randbytes(8)])
        return f"{junk!r} inserted at {spot}", _put(xml, spot, spot, junk)
    pattern = {
        "attribute": rb'\b[\w:]+="([^"]*)"',
        "value": rb">([^<]+)<",
        "drop": rb"(<[^>]+>)",
        "repeat": rb"(<(row|c|si|sheet|Override|Relationship)\b[^>]*?(?:/>|>.*?</\2>))",
    }[kind]
    found = list(re.finditer(pattern, xml, re.S))
    if not found:
        return "unchanged", xml
    m = rng.choice(found)
    if kind == "attribute":
        new = rng.choice(ABSURD)
    elif kind == "value":
        new = rng.choice(ABSURD_TEXT)
    elif kind == "repeat":
        new = m.group(1) * 2
    else:
        new = b""
    return f"{m.group(0)[:40]!r} -> {new[:20]!r}", _put(xml, m.start(1), m.end(1), new)


def _put(data: bytes, start: int, end: int, new: bytes) -> bytes:
    return data[:start] + new + data[end:]
