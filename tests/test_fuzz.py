"""Random damage on a fixed budget: what the named damage of test_integrity.py misses.

test_integrity.py damages each part of a real workbook in the ways issue 15 names. Here a
seeded random generator picks the part and the damage inside it (a flipped bit, a cut, bytes
inserted, an attribute or a value made absurd, a tag dropped, an element repeated), so the
part often stays well-formed XML and reaches the readers and the rules behind them. Each
damaged book goes to one command (validate, add, summary, or import as a source); every
export in tests/files is damaged the same way, or saved in another code page, and imported.

Whatever happens, no traceback: the command works, reports issues (exit 1), or answers with
exit 2 and one line, leaving the files as they were. The seeds and case counts are fixed, so
every run sees the same cases; raise CASES locally to search further.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from damage_support import parts, random_damage, written, zipped

import crmbook
from crmbook.cli import main

FILES = Path(__file__).parent / "files"
CASES = 20  # damaged workbooks per original, and damaged sources
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name")


@pytest.fixture(scope="module", params=["written-by-crmbook", "saved-by-libreoffice"])
def original(request, tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp(request.param)
    if request.param == "written-by-crmbook":
        return written(folder / "shop.xlsx").read_bytes()
    return (FILES / "libreoffice-saved-book.xlsx").read_bytes()


@pytest.fixture(scope="module")
def empty_book(tmp_path_factory) -> bytes:
    return crmbook.create(tmp_path_factory.mktemp("empty") / "crm.xlsx").path.read_bytes()


def _damaged(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """One to three random changes inside one part, or (now and then) to the file's bytes."""
    if rng.random() < 0.1:
        spot = rng.randrange(len(data))
        return f"byte {spot} of the file flipped", _flip(data, spot)
    entries = parts(data)
    position = rng.randrange(len(entries))
    info, part = entries[position]
    said = []
    for _ in range(rng.randint(1, 3)):
        what, part = random_damage(rng, part)
        said.append(what)
    entries[position] = (info, part)
    return f"{info.filename}: {'; '.join(said)}", zipped(entries)


def _flip(data: bytes, spot: int) -> bytes:
    return data[:spot] + bytes([data[spot] ^ 0xFF]) + data[spot + 1 :]


def _answer(args: list[object], what: str, *unchanged: Path):
    """Run the CLI; no traceback, and a refusal is one line with the files untouched."""
    before = [p.read_bytes() for p in unchanged]
    result = CliRunner().invoke(main, [str(a) for a in args])
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, f"{what}: {args[0]} crashed with {result.exception!r}"
    assert result.exit_code in (0, 1, 2), f"{what}: {result.output}"
    if result.exit_code == 2:
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{what}: {result.output}"
        assert [p.read_bytes() for p in unchanged] == before, f"{what}: a file changed"
    return result


def test_randomly_damaged_workbooks_never_show_a_traceback(original, empty_book, tmp_path):
    rng = random.Random(15)
    path, target = tmp_path / "shop.xlsx", tmp_path / "crm.xlsx"
    for _ in range(CASES):
        what, data = _damaged(rng, original)
        path.write_bytes(data)
        command = rng.choice(["validate", "add", "summary", "import"])
        if command == "import":
            target.write_bytes(empty_book)
            _answer(["import", target, path, "--yes"], what, target, path)
        elif command == "add":
            _answer(["add", "customer", path, "--name", "Anna Fuzz"], what, path)
        else:
            _answer([command, path], what, path)


# ---------------------------------------------------------------- sources to import

# The code pages people's exports are saved in besides UTF-8: Excel's "Unicode Text" without
# its byte-order mark, Windows Cyrillic and Western, Latin-1, KOI8-R, a Mac's Cyrillic.
ENCODINGS = ["utf-16-le", "utf-16-be", "cp1251", "cp1252", "latin-1", "koi8-r", "mac-cyrillic"]
EXTRA_PEOPLE = "\nИван Петров,ivan@example.ru,Москва\nJosé Núñez,jose@example.com,Málaga\n"


def _damaged_source(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    kind = rng.choice(["bytes", "cut", "junk", "zeros", "encoding", "quote", "repeat"])
    spot = rng.randrange(len(data))
    if kind == "bytes":
        for spot in rng.sample(range(len(data)), rng.randint(1, 20)):
            data = data[:spot] + bytes([rng.randrange(256)]) + data[spot + 1 :]
        return "random bytes replaced", data
    if kind == "cut":
        return f"cut at {spot}", data[:spot]
    if kind == "junk":
        junk = rng.randbytes(rng.randint(1, 200))
        return f"binary junk at {spot}", data[:spot] + junk + data[spot:]
    if kind == "zeros":
        return f"zero bytes at {spot}", data[:spot] + bytes(rng.randint(1, 50)) + data[spot:]
    if kind == "quote":
        return f"a stray quote at {spot}", data[:spot] + b'"' + data[spot:]
    if kind == "repeat":
        lines = data.splitlines(keepends=True)
        line = rng.randrange(len(lines))
        repeated = [*lines[:line], *[lines[line]] * 30, *lines[line:]]
        return f"line {line + 1} repeated", b"".join(repeated)
    encoding = rng.choice(ENCODINGS)
    text = _text(data) + EXTRA_PEOPLE
    return f"saved as {encoding}", text.encode(encoding, errors="replace")


def _text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def test_randomly_damaged_sources_never_show_a_traceback(empty_book, tmp_path):
    rng = random.Random(1551)
    exports = sorted(p for p in FILES.iterdir() if p.suffix in (".csv", ".vcf"))
    target = tmp_path / "crm.xlsx"
    for _ in range(CASES):
        export = rng.choice(exports)
        what, data = _damaged_source(rng, export.read_bytes())
        source = tmp_path / f"contacts{rng.choice([export.suffix, '.csv', '.txt'])}"
        source.write_bytes(data)
        target.write_bytes(empty_book)
        _answer(["import", target, source, "--yes"], f"{export.name}, {what}", target, source)
        source.unlink()
