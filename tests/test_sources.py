"""Opening what people import: encodings and delimiters found, broken files refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

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
        ("Name;Email\nДора;dora@example.com\n".encode("koi8-r"), None),
    ],
    ids=["binary", "empty", "open-quote", "koi8-r"],
)
def test_a_bad_source_gives_one_line_and_nothing_is_written(tmp_path, content, expected):
    path = crmbook.create(tmp_path / "crm.xlsx").path
    before = path.read_bytes()
    source = tmp_path / "export.csv"
    source.write_bytes(content)
    result = CliRunner().invoke(main, ["import", str(path), str(source), "--yes"])
    if expected is None:  # a legacy code page reads as Windows-1252: wrong letters, no crash
        assert result.exit_code == 0, result.output
        return
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
