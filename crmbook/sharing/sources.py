"""What people import, opened and made ready for the import plan (importer.py).

A source is a CSV or Excel export of another tool, or vCards: a .vcf file, a folder of them or
a zip of them. A CSV's encoding is found (UTF-8 with or without a byte-order mark, UTF-16 as
Excel writes "Unicode text", else the one-byte code page whose words it holds: Windows-1252 as
Outlook writes CSV in the West; Windows-1251, KOI8-R, KOI8-U or Mac-Cyrillic in Russian and
Ukrainian; codepages.py), and so is its delimiter. A file whose headers are
a known application's export is read as that application writes it (presets.py); any other
file gets the mapping guessed from its headers.

Nothing is dropped silently: every column that holds values is mapped, kept as a column of
the sheet's own (--keep), or listed as skipped with how many values it holds.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from crmbook.errors import CrmbookError
from crmbook.io.package import Package
from crmbook.schema import Sheet
from crmbook.sharing.codepages import NAMES, guess_code_page
from crmbook.sharing.contacts import contacts_frame
from crmbook.sharing.importer import JOINED, guess_mapping
from crmbook.sharing.presets import read_contacts, recognise
from crmbook.sharing.vcard import Cards, looks_like_vcard, read_vcards

WORKBOOKS = (".xlsx", ".xlsm")
# No contact export comes near these: a million contacts of 30 columns is about 300 MB, and
# one record (even 30 cells of Excel's 32,767 characters) stays far below a line of 16 MB.
MAX_SOURCE_BYTES = 1024**3
MAX_LINE_BYTES = 16 * 1024**2
DELIMITERS = (",", ";", "\t", "|")
VCARD_PROPERTIES = {
    "FN": "name",
    "N": "name (when there is no FN)",
    "ORG": "company",
    "TITLE": "job_title",
    "EMAIL": "email, other_emails",
    "TEL": "phone, other_phones",
    "BDAY": "birthday",
    "ADR": "city, country",
    "CATEGORIES": "tags",
    "NOTE": "notes",
    "X-ABSHOWAS": "kind (Apple's company cards)",
}
SKIPPED = "(skipped)"


@dataclass
class Source:
    """One source opened: a table of text columns, or the people of vCards."""

    name: str
    frame: pd.DataFrame | None = None
    cards: Cards | None = None


def open_source(path: str | os.PathLike) -> Source:
    """Open a CSV, an .xlsx, a .vcf, a folder of .vcf files or a zip of them."""
    path = Path(path)
    if not path.exists():
        raise CrmbookError(f"{path} does not exist")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".vcf" and p.is_file())
        if not files:
            raise CrmbookError(f"{path} is a folder without .vcf files; give a file to import")
        check_total(path.name, sum(file.stat().st_size for file in files))
        cards = Cards()
        for file in files:
            check_lines(file)
            read_vcards(decode(file.read_bytes(), file.name), file.name, cards)
        return Source(path.name, cards=cards)
    check_size(path)
    if path.suffix.lower() in WORKBOOKS:
        return Source(path.name, frame=_read_workbook(path))
    if zipfile.is_zipfile(path):
        return Source(path.name, cards=_read_zip(path))
    check_lines(path)
    text = decode(path.read_bytes(), path.name)
    if looks_like_vcard(text):
        return Source(path.name, cards=read_vcards(text, path.name))
    return Source(path.name, frame=read_csv_text(text, path.name))


def check_size(path: Path) -> None:
    """Refuse a file bigger than any contact export, before reading a byte of it."""
    check_total(path.name, path.stat().st_size)


def check_total(name: str, size: int) -> None:
    """Refuse a source (a file, a folder or a zip of vCards) bigger than any contact export."""
    if size > MAX_SOURCE_BYTES:
        raise CrmbookError(
            f"{name} holds {size / 1024**2:,.0f} MB, more than crmbook imports at once "
            f"({MAX_SOURCE_BYTES // 1024**2:,} MB); split it into smaller files"
        )


def check_lines(path: Path, opened: BinaryIO | None = None) -> None:
    """Refuse a text with a line longer than any record, reading it a piece at a time."""
    run = 0  # bytes since the last line break
    with opened or path.open("rb") as f:
        while chunk := f.read(1 << 20):
            *ended, going_on = chunk.replace(b"\r", b"\n").split(b"\n")
            for line in ended:
                if run + len(line) > MAX_LINE_BYTES:
                    break
                run = 0
            else:
                run += len(going_on)
                if run <= MAX_LINE_BYTES:
                    continue
            raise CrmbookError(
                f"{path.name} has a line longer than {MAX_LINE_BYTES // 1024**2} MB, longer "
                "than any record: it is not a contact export (or it is damaged); export it again"
            )


def _read_workbook(path: Path) -> pd.DataFrame:
    with Package(path):  # damaged, hostile or encrypted: refused before openpyxl sees it
        pass
    try:
        frame = pd.read_excel(path, dtype=object, engine="openpyxl")
    except Exception as e:  # openpyxl's errors for a damaged file vary: one clear line
        raise CrmbookError(
            f"{path.name}: cannot read it as an Excel workbook ({type(e).__name__}: "
            f"{str(e)[:100]}); open it in Excel and save it again, or export a CSV"
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_zip(path: Path) -> Cards:
    cards = Cards()
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted(
                (m for m in archive.infolist() if m.filename.lower().endswith(".vcf")),
                key=lambda m: m.filename,
            )
            if not members:
                raise CrmbookError(f"{path.name}: the zip holds no .vcf file")
            check_total(f"{path.name} unpacked", sum(m.file_size for m in members))
            for member in members:
                place = f"{path.name}/{member.filename}"
                check_lines(Path(place), archive.open(member))
                read_vcards(decode(archive.read(member), place), place, cards)
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError, zlib.error, UnicodeError) as e:
        raise CrmbookError(f"{path.name}: cannot read the zip ({e}); pack it again") from None
    return cards


def _not_in_code_page(
    place: str, data: bytes, code: str, error: UnicodeDecodeError
) -> CrmbookError:
    line = data.count(b"\n", 0, error.start) + 1
    byte = data[error.start : error.start + 1].hex()
    return CrmbookError(
        f"{place}, line {line}: byte 0x{byte} is no character in {NAMES[code]}, the code "
        "page the rest of the file is written in (a damaged or pasted character?); delete it "
        "there, or save the file as UTF-8 CSV"
    )


def decode(data: bytes, place: str) -> str:
    """The text of a file in the encodings contact exports use."""
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise CrmbookError(f"{place} is empty; export the contacts again")
    encodings = []
    if data.startswith(codecs.BOM_UTF8):
        encodings = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = ["utf-16"]
    elif b"\x00" in data[:4096]:
        head = data[:4096]
        zeros_odd, zeros_even = head[1::2].count(0), head[0::2].count(0)
        if max(zeros_odd, zeros_even) < len(head) // 4:
            raise CrmbookError(
                f"{place} is not a text file (it holds binary data); export it again as CSV"
            )
        encodings = ["utf-16-le" if zeros_odd > zeros_even else "utf-16-be"]
    else:
        encodings = ["utf-8", None]  # None: the code page its words suggest, when not UTF-8
    for encoding in encodings:
        code = encoding or guess_code_page(data)
        try:
            text = data.decode(code)
        except UnicodeDecodeError as error:
            if encoding is None:  # the code page of its words, but one byte is none of them
                raise _not_in_code_page(place, data, code, error) from error
            continue
        control = sum(1 for ch in text[:65536] if ord(ch) < 32 and ch not in "\t\r\n")
        if control > max(8, len(text[:65536]) // 100):
            raise CrmbookError(
                f"{place} is not a text file (it holds binary data); export it again as CSV"
            )
        return text
    raise CrmbookError(
        f"{place}: cannot read the text (not UTF-8, UTF-16, Windows-1252, Windows-1251, KOI8-R, "
        "KOI8-U or Mac-Cyrillic); save it as UTF-8 CSV"
    )


def read_csv_text(text: str, place: str) -> pd.DataFrame:
    """A CSV's columns as text, whatever its delimiter; one clear line when it is broken."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: _outside_quotes(first).count(d) for d in DELIMITERS}
    delimiter = max(counts, key=counts.get) if any(counts.values()) else ","
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            try:
                frame = _read_csv(text, delimiter)
            except pd.errors.ParserWarning:  # the first row has more values than headers
                _check_extra_values(text, delimiter, place)
                warnings.simplefilter("ignore", pd.errors.ParserWarning)
                frame = _read_csv(text, delimiter)  # only empty values past the last header
    except pd.errors.EmptyDataError:
        raise CrmbookError(f"{place} has no header row; export it again with headers") from None
    except (pd.errors.ParserError, csv.Error, ValueError) as e:
        raise CrmbookError(
            f"{place}: not a readable CSV ({str(e).strip().splitlines()[0][:120]}); check that "
            "row (a stray quote?) or export the file again"
        ) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    unnamed = [
        c for c in frame.columns if c.startswith("Unnamed: ") and not frame[c].str.strip().any()
    ]
    return frame.drop(columns=unnamed)  # a trailing delimiter after the last header


def _read_csv(text: str, delimiter: str) -> pd.DataFrame:
    # index_col=False: a row with more values than headers never turns its first values into
    # the index (which would shift every column); rows after the first get a ParserError.
    return pd.read_csv(
        io.StringIO(text.lstrip("\ufeff")),
        sep=delimiter,
        dtype=str,
        keep_default_na=False,
        skip_blank_lines=True,
        index_col=False,
    )


def _check_extra_values(text: str, delimiter: str, place: str) -> None:
    """Values past the last header would be lost: name the line. A delimiter at the end of
    every row (some exports write one) leaves only empty values there, which is fine."""
    rows = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    header = next(rows, [])
    for row in rows:
        if any(value.strip() for value in row[len(header) :]):
            raise CrmbookError(
                f"{place}, line {rows.line_num}: {len(row)} values but {len(header)} headers; "
                "check that row (a stray delimiter or quote?) or export the file again"
            )


def _outside_quotes(line: str) -> str:
    return "".join(part for i, part in enumerate(line.split('"')) if i % 2 == 0)


# ---------------------------------------------------------------- ready for the plan


@dataclass
class Prepared:
    """A source ready for plan_import, and what the preview tells about its columns."""

    frame: pd.DataFrame
    mapping: dict[str, str]  # frame column -> field
    keep: list[str]  # frame columns kept as columns of the sheet's own
    rows: list[int] | None  # where each record stands in the source (None: CSV rows)
    preset: str | None  # the application whose export was recognised
    columns: pd.DataFrame  # source column, values it holds, what it becomes
    empty: int = 0  # source columns without any value
    places: dict[int, str] = field(default_factory=dict)  # row -> "file, line N" (vCards)
    note: str | None = None  # what every record gets, e.g. Mailchimp's consent


def prepare(
    source: Source,
    sheet: Sheet,
    maps: tuple[str, ...] = (),
    keep: tuple[str, ...] = (),
    user_columns: bool = True,
) -> Prepared:
    """Map a source onto `sheet`: a recognised export by its preset, vCards by their
    properties, anything else by its headers; then --map COLUMN=field and --keep COLUMN."""
    if source.cards is not None:
        return _prepared_cards(source, sheet, maps, keep, user_columns)
    frame = source.frame
    given = _maps(maps, frame, source.name)
    for column in keep:
        _check_column(column, frame, source.name, "--keep")
    preset = recognise(frame.columns) if sheet.name == "Customers" else None
    if preset is None:
        mapping = guess_mapping(list(frame.columns), sheet)
        for column, target in given:
            mapping.pop(column, None)
            if target != "-":
                mapping = {c: f for c, f in mapping.items() if f != target}
                mapping[column] = target
        becomes = {c: "name" if f == JOINED else f for c, f in mapping.items()}
        return Prepared(frame, mapping, list(keep), None, None, *_report(frame, becomes, keep))
    dropped = [c for c, target in given if target == "-"]
    rows = list(frame.index + 2)
    contacts = read_contacts(frame.drop(columns=dropped), preset, rows)
    out = contacts_frame(contacts, user_columns)
    out.index = frame.index
    becomes = {c: t for c, t in preset.targets(frame.columns).items() if c not in dropped}
    for column, target in given:
        if target != "-":
            out[target] = frame[column].replace("", None)
            becomes[column] = target
    for column in keep:
        out[column] = frame[column].replace("", None)
    mapping = {c: c for c in out.columns if sheet.has(c)}
    kept = [c for c in out.columns if not sheet.has(c)]
    given_to_all = ", ".join(f"{k} = {v}" for k, v in preset.constants.items())
    columns, empty = _report(frame, becomes, keep)
    return Prepared(
        out,
        mapping,
        kept,
        None,
        preset.name,
        columns,
        empty,
        note=f"every record: {given_to_all}" if given_to_all else None,
    )


def _prepared_cards(
    source: Source, sheet: Sheet, maps: tuple[str, ...], keep: tuple[str, ...], user_columns: bool
) -> Prepared:
    if sheet.name != "Customers":
        raise CrmbookError(f"vCards hold people: import {source.name} into customers")
    if maps or keep:
        raise CrmbookError(
            "--map and --keep take columns of a CSV or Excel file; a vCard's properties are "
            "read as listed in the preview"
        )
    cards = source.cards
    frame = contacts_frame(cards.contacts, user_columns)
    rows = [c.row for c in cards.contacts]
    shown = [
        {"column": name, "values": n, "becomes": VCARD_PROPERTIES[name]}
        for name, n in sorted(
            cards.read.items(), key=lambda kv: list(VCARD_PROPERTIES).index(kv[0])
        )
    ] + [
        {"column": name, "values": n, "becomes": SKIPPED}
        for name, n in sorted(cards.skipped.items())
    ]
    return Prepared(
        frame,
        {c: c for c in frame.columns if sheet.has(c)},
        [c for c in frame.columns if not sheet.has(c)],
        rows,
        f"vCard ({len(cards.contacts)} cards)",
        pd.DataFrame(shown, columns=["column", "values", "becomes"]),
        places=cards.places,
    )


def _maps(maps: tuple[str, ...], frame: pd.DataFrame, name: str) -> list[tuple[str, str]]:
    out = []
    for item in maps:
        column, sep, target = item.partition("=")
        if not sep or not target.strip():
            raise CrmbookError(f"--map {item!r}: write COLUMN=field (or COLUMN=- to skip it)")
        out.append((_check_column(column.strip(), frame, name, "--map"), target.strip()))
    return out


def _check_column(column: str, frame: pd.DataFrame, name: str, option: str) -> str:
    if column not in frame.columns:
        raise CrmbookError(
            f"{option} {column!r}: {name} has no such column; its columns are "
            + ", ".join(frame.columns)
        )
    return column


def _report(
    frame: pd.DataFrame, becomes: dict[str, str], keep: tuple[str, ...] | list[str]
) -> tuple[pd.DataFrame, int]:
    """Each source column holding values: how many, and what becomes of them."""
    rows, empty = [], 0
    for column in frame.columns:
        values = int(frame[column].astype("string").str.strip().fillna("").ne("").sum())
        if not values:
            empty += 1
            continue
        target = becomes.get(column) or ("kept as its own column" if column in keep else SKIPPED)
        rows.append({"column": column, "values": values, "becomes": target})
    return pd.DataFrame(rows, columns=["column", "values", "becomes"]), empty
