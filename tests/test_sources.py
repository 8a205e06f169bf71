"""Opening what people import: encodings and delimiters found, broken files refused in one line."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from python_calamine import CalamineWorkbook

import crmbook
from crmbook.cli import main
from crmbook.sharing.sources import open_source

FILES = Path(__file__).parent / "files"


def test_a_csv_saved_by_excel_as_unicode_text_is_read(tmp_path):
    """Excel's "Unicode Text" is UTF-16 with a byte-order mark and tabs between the columns."""
    text = (FILES / "outlook-de.csv").read_text(encoding="cp1252").replace('","', '"\t"')
    source = tmp_path / "kontakte.txt"
    source.write_bytes(text.encode("utf-16"))
    frame = open_source(source).frame
    assert frame.loc[0, "Nachname"] == "Weiß" and frame.loc[0, "Ort geschäftlich"] == "München"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "not a text file"),
        (b"", "is empty"),
        (b'Name,Email\n"Anna,anna@example.com\n' + b"x" * 20, "not a readable CSV"),
    ],
    ids=["binary", "empty", "open-quote"],
)
def test_a_bad_source_gives_one_line_and_nothing_is_written(tmp_path, content, expected):
    path = crmbook.create(tmp_path / "crm.xlsx").path
    before = path.read_bytes()
    source = tmp_path / "export.csv"
    source.write_bytes(content)
    result = CliRunner().invoke(main, ["import", str(path), str(source), "--yes"])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and expected in result.output
    assert path.read_bytes() == before


def test_a_database_keeps_the_other_emails_in_columns_of_its_own(tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    crmbook.create(url).close()
    args = ["import", url, str(FILES / "google-contacts.csv"), "--keep", "Address 1 - Street"]
    result = CliRunner().invoke(main, [*args, "--yes"])
    assert result.exit_code == 0, result.output
    anna = crmbook.open(url).customers.df.set_index("name").loc["Anna Petrova"]
    assert anna["notes"] == "Met at the Hannover fair"
    assert anna["other_emails"] == "a.petrova@acme.example (work), anna@home.example (home)"
    assert anna["other_phones"] == "+49 30 9876543 (work)"
    assert anna["job_title"] == "Buyer"
    assert anna["Address 1 - Street"] == "Hauptstr. 1"


# ---------------------------------------------------------------- sources no export looks like


def _import(tmp_path, source: Path):
    path = crmbook.create(tmp_path / "crm.xlsx").path
    before = path.read_bytes()
    result = CliRunner().invoke(main, ["import", str(path), str(source), "--yes"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result, path.read_bytes() == before


def _imported(tmp_path, source: Path) -> pd.DataFrame:
    """The customers an import of `source` into a new book wrote, by name; their names as
    calamine, an independent reader, finds them in the saved file too."""
    result, _ = _import(tmp_path, source)
    assert result.exit_code == 0, result.output
    people = crmbook.open(tmp_path / "crm.xlsx").customers.df.set_index("name")
    rows = CalamineWorkbook.from_path(str(tmp_path / "crm.xlsx")).get_sheet_by_name("Customers")
    assert [r[1] for r in rows.to_python()[1:]] == list(people.index)
    return people


def test_a_2_gb_file_is_refused_before_a_byte_is_read(tmp_path):
    source = tmp_path / "contacts.csv"
    with source.open("wb") as f:  # sparse: no disk space, no time
        f.write(b"Name,Email\n")
        f.truncate(2 * 1024**3)
    result, unchanged = _import(tmp_path, source)
    assert result.exit_code == 2 and unchanged
    assert result.output.count("\n") == 1 and "2,048 MB" in result.output


def test_one_endless_line_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    source = tmp_path / "contacts.csv"
    with source.open("wb") as f:
        f.write(b"Name,Email\n" + b"x" * (17 * 1024**2))
    whole = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: _never(p) if p == source else whole(p))
    result, unchanged = _import(tmp_path, source)
    assert result.exit_code == 2 and unchanged
    assert result.output.count("\n") == 1 and "longer than 16 MB" in result.output


def test_a_2_gb_vcard_in_a_folder_is_refused_before_a_byte_is_read(tmp_path):
    folder = tmp_path / "phone"
    folder.mkdir()
    (folder / "a.vcf").write_text("BEGIN:VCARD\nVERSION:3.0\nFN:Anna\nEND:VCARD\n")
    with (folder / "b.vcf").open("wb") as f:  # one line of 2 GB, sparse: no disk, no time
        f.write(b"BEGIN:VCARD\nNOTE:")
        f.truncate(2 * 1024**3)
    result, unchanged = _import(tmp_path, folder)
    assert result.exit_code == 2 and unchanged
    assert result.output.count("\n") == 1 and "phone holds 2,048 MB" in result.output


def _zip_of_vcards(path: Path, card: bytes, claimed: int | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("contacts.vcf", card)
    if claimed is not None:  # the central directory claims another unpacked size
        data = bytearray(path.read_bytes())
        central = data.rindex(b"PK\x01\x02")
        data[central + 24 : central + 28] = claimed.to_bytes(4, "little")
        path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("card", "claimed", "expected"),
    [
        (b"BEGIN:VCARD\nVERSION:3.0\nFN:Anna\nEND:VCARD\n", 4 * 1024**3 - 1, "4,096 MB"),
        (b"BEGIN:VCARD\nNOTE:" + b"x" * (17 * 1024**2), None, "longer than 16 MB"),
    ],
    ids=["claims-4-gb", "one-17-mb-line"],
)
def test_a_zip_of_vcards_too_big_is_refused_in_one_line(tmp_path, card, claimed, expected):
    source = _zip_of_vcards(tmp_path / "contacts.zip", card, claimed)
    result, unchanged = _import(tmp_path, source)
    assert result.exit_code == 2 and unchanged
    assert result.output.count("\n") == 1 and expected in result.output


def _never(path: Path) -> bytes:
    raise AssertionError(f"{path} was read whole at once")


@pytest.mark.parametrize(
    ("content", "name"),
    [
        ("Name\tEmail\nДора Клейн\tdora@example.com\n".encode("utf-16-le"), "Дора Клейн"),
        ("Name;Email\nJosé Müller;jose@example.com\n".encode("cp1252"), "José Müller"),
        ("Name;Email\nИван Петров;ivan@example.ru\n".encode("cp1251"), "Иван Петров"),
        ("Name;Email\nFrançois Lefèvre;f@example.fr\n".encode("latin-1"), "François Lefèvre"),
        ("Name;Email\nДора;dora@example.com\n".encode("koi8-r"), "Дора"),
        ("Name;Email\nДора Клейн;dora@example.com\n".encode("mac-cyrillic"), "Дора Клейн"),
        (b'Name,Notes\n"=HYPERLINK(""http://x"")",hi\n', '=HYPERLINK("http://x")'),
    ],
    ids=["utf-16-without-bom", "cp1252", "cp1251", "latin-1", "koi8-r", "mac-cyrillic", "formula"],
)
def test_encodings_people_save_in_are_read(tmp_path, content, name):
    source = tmp_path / "contacts.csv"
    source.write_bytes(content)
    result, _ = _import(tmp_path, source)
    assert result.exit_code == 0, result.output
    assert crmbook.open(tmp_path / "crm.xlsx").customers.df["name"].tolist() == [name]


@pytest.mark.parametrize(
    "content",
    [
        random.Random(7).randbytes(50_000),
        b"PK\x03\x04" + random.Random(8).randbytes(5_000),
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2_000),
    ],
    ids=["binary-garbage", "broken-zip", "old-xls-or-encrypted"],
)
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_garbage_under_any_name_gives_one_line(tmp_path, content, suffix):
    source = tmp_path / f"contacts{suffix}"
    source.write_bytes(content)
    result, unchanged = _import(tmp_path, source)
    assert result.exit_code == 2 and unchanged, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")


def test_a_delimiter_at_the_end_of_every_row_is_read(tmp_path):
    source = tmp_path / "contacts.csv"
    source.write_text("Name;Email\nAnna Petrova;anna@example.com;\nBob Stone;bob@example.com;\n")
    result, _ = _import(tmp_path, source)
    assert result.exit_code == 0, result.output
    customers = crmbook.open(tmp_path / "crm.xlsx").customers.df
    assert customers["email"].tolist() == ["anna@example.com", "bob@example.com"]


def test_a_byte_the_files_code_page_has_no_character_for_is_named_with_its_line(tmp_path):
    """2,100 Russian contacts in Windows-1251, then a damaged byte it has no character for:
    the line and byte are named and nothing is written (the guess looks at the first lines
    only; the file read in the Western code page would have garbled every name)."""
    source = tmp_path / "contacts.csv"
    rows = "".join(f"Сергей Иванов {n};s{n}@example.ru\n" for n in range(2100))
    source.write_bytes(("Имя;Email\n" + rows).encode("cp1251") + b"\x98;x@example.ru\n")
    result, unchanged = _import(tmp_path, source)
    assert result.exit_code == 2 and unchanged
    assert result.output == (
        "error: contacts.csv, line 2102: byte 0x98 is no character in Windows-1251, the code page "
        "the rest of the file is written in (a damaged or pasted character?); delete it "
        "there, or save the file as UTF-8 CSV\n"
    )


def test_values_past_the_last_header_are_named_with_their_line(tmp_path):
    """Found by test_fuzz.py: such a row used to turn its first values into pandas' index."""
    source = tmp_path / "contacts.csv"
    source.write_text('Name;Email\n"Petrova; Anna";anna@example.com;Berlin\nBob;bob@example.com\n')
    result, unchanged = _import(tmp_path, source)
    assert result.exit_code == 2 and unchanged
    assert result.output == (
        "error: contacts.csv, line 2: 3 values but 2 headers; check that row (a stray "
        "delimiter or quote?) or export the file again\n"
    )


@pytest.mark.parametrize("code", ["cp1251", "koi8-u"])
def test_a_ukrainian_export_in_windows_1251_or_koi8_u_imports_with_the_right_letters(
    tmp_path, code
):
    """Ukrainian contacts under Ukrainian headers, saved by Windows (1251, CRLF) or a Unix
    mail client (KOI8-U, LF): і, ї, є and ґ as typed, every column found."""
    people = _imported(tmp_path, FILES / "code-pages" / f"contacts-uk-{code}.csv")
    assert list(people.index) == [
        "Олександр Шевченко",
        "Ївга Їжакевич",
        "Євгенія Коваленко",
        "Ґанна Бойко",
        "Богдан Ткачук",
    ]
    first = people.loc["Олександр Шевченко"]
    assert first["company"] == 'ТОВ "Ґудзик"' and first["city"] == "Київ"
    assert first["country"] == "Україна" and first["email"] == "o.shevchenko@gudzyk.ua"
    assert first["phone"] == "+380 (44) 123-45-67"
    assert first["birthday"] == pd.Timestamp("1979-08-24")
    assert first["notes"] == "Постійний клієнт, дзвонити після обіду"
    assert people.loc["Ґанна Бойко", "city"] == "Івано-Франківськ"
    assert people.loc["Ґанна Бойко", "notes"] == "Просила рахунок до п'ятниці; оплата безготівкою"
    assert people.loc["Ївга Їжакевич", "email"] == "yivha@ukr.net"


@pytest.mark.parametrize("code", ["cp1251", "koi8-r", "mac-cyrillic"])
def test_a_russian_export_in_any_cyrillic_code_page_imports_with_the_right_letters(tmp_path, code):
    """The same Russian contacts saved by Windows (1251, CRLF), a Unix mail client (KOI8-R,
    LF) and Excel for Mac (Mac-Cyrillic, CR line ends): every letter as typed."""
    people = _imported(tmp_path, FILES / "code-pages" / f"contacts-ru-{code}.csv")
    assert list(people.index) == [
        "Сергей Иванов",
        "Екатерина Александрова",
        "Юрий Щукин",
        "Ярослава Жукова",
        "Фёдор Шаляпин",
    ]
    sergey = people.loc["Сергей Иванов"]
    assert sergey["company"] == 'ООО "Ромашка"' and sergey["city"] == "Москва"
    assert sergey["email"] == "s.ivanov@romashka.ru" and sergey["phone"] == "+7 (495) 587-08-02"
    assert sergey["birthday"] == pd.Timestamp("1978-04-12")
    assert people.loc["Ярослава Жукова", "company"] == 'ЗАО "Эх, Ёлка"'
    assert people.loc["Ярослава Жукова", "notes"] == "Просила счёт до пятницы; оплата по безналу"
    assert people.loc["Екатерина Александрова", "city"] == "Санкт-Петербург"
