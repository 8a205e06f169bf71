"""vCards in and out: the files phones and mail programs write, and what crmbook writes back.

Fixtures (tests/files/README.md says where each quirk comes from): iphone.vcf (3.0, item1.EMAIL
with X-ABLabel, X-APPLE-OMIT-YEAR, a folded base64 PHOTO, a company card), android.vcf (2.1,
quoted-printable UTF-8 with a soft line break, a 2.1 photo ended by a blank line, an emoji),
gmail.vcf (Google's 3.0, --MM-DD birthday, myContacts), outlook.vcf (2.1 in Windows-1252,
quoted-printable without CHARSET, LABEL), vcard4-utf16.vcf (4.0 saved as UTF-16).
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import vobject
from click.testing import CliRunner

import crmbook
from crmbook.cli import main

FILES = Path(__file__).parent / "files"


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def imported(tmp_path: Path, source: Path) -> tuple[pd.DataFrame, str]:
    path = crmbook.create(tmp_path / "crm.xlsx", user="tester").path
    result = run("import", path, source, "--yes")
    assert result.exit_code == 0, result.output
    return crmbook.open(path).customers.df.set_index("name"), result.output


CARDS = {
    "iphone.vcf": {
        "Dana Cohen": {
            "email": "dana@acme.example",
            "other_emails": "dana.cohen@home.example (home)",
            "phone": "+972 50-123-4567",
            "other_phones": "+972 52-765-4321 (mobile)",
            "company": "Acme Ltd",
            "job_title": "Sales manager",
            "birthday": pd.Timestamp("1904-05-17"),
            "city": "Tel Aviv",
            "country": "Israel",
            "tags": "Customers, VIP",
            "notes": "Met at the fair, 2023\nAsks for invoices by email",
        },
        "Schmidt Gartenbau": {"kind": "company", "phone": "+49 40 555 0202"},
    },
    "android.vcf": {
        "Анна Петрова": {
            "email": "anna.petrova@example.ru",
            "other_emails": "a.petrova@acme.example (work)",
            "phone": "+7 916 123-45-67",
            "other_phones": "+7 495 123-45-67 (home)",
            "birthday": pd.Timestamp("1985-03-14"),
            "city": "Москва",
            "country": "Россия",
        },
        "Kim Lee 🌸": {"phone": "+1 555 0100"},
    },
    "gmail.vcf": {
        "Jan de Vries": {
            "email": "jan@vries.example",
            "other_emails": "jan.devries@example.nl",
            "phone": "+31 6 87654321",
            "company": "De Vries Bouw",
            "job_title": "Owner",
            "birthday": pd.Timestamp("1904-12-24"),
            "city": "Amsterdam",
            "tags": "Suppliers",
        }
    },
    "outlook.vcf": {
        "Hans Müller": {
            "email": "hans.mueller@mueller.example",
            "phone": "+49 30 1234567",
            "other_phones": "+49 171 7654321 (mobile)",
            "company": "Müller GmbH",
            "job_title": "Geschäftsführer",
            "birthday": pd.Timestamp("1970-01-01"),
            "city": "Berlin",
            "notes": "Reid’s place: orders for the café\r\nCall before noon",
        }
    },
    "vcard4-utf16.vcf": {
        "Émile Zola": {
            "email": "emile@zola.example",
            "phone": "+33-1-23-45-67-89",
            "birthday": pd.Timestamp("1904-04-02"),
            "city": "Paris",
            "tags": "Writers",
            "notes": "Prefers letters",
        }
    },
}


@pytest.mark.parametrize("name", list(CARDS))
def test_each_writers_vcards_land_in_the_right_columns(tmp_path, name):
    customers, output = imported(tmp_path, FILES / name)
    assert "Recognised: vCard" in output
    assert set(customers.index) == set(CARDS[name])
    for who, values in CARDS[name].items():
        for column, value in values.items():
            assert customers.loc[who, column] == value, (who, column)


def test_photos_and_unread_properties_are_listed_as_skipped(tmp_path):
    _, output = imported(tmp_path, FILES / "iphone.vcf")
    for line in ("│ PHOTO ", "│ URL "):
        assert any(row.startswith(line) and "(skipped)" in row for row in output.splitlines())


def test_a_folder_and_a_zip_of_vcards(tmp_path):
    folder = tmp_path / "cards"
    folder.mkdir()
    for name in ("iphone.vcf", "android.vcf"):
        shutil.copy(FILES / name, folder / name)
    customers, _ = imported(tmp_path, folder)
    assert len(customers) == 4
    archive = tmp_path / "contacts.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name in ("gmail.vcf", "outlook.vcf"):
            z.write(FILES / name, f"export/{name}")
    (tmp_path / "crm.xlsx").unlink()
    customers, _ = imported(tmp_path, archive)
    assert set(customers.index) == {"Jan de Vries", "Hans Müller"}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ((FILES / "garbage.vcf").read_bytes(), "garbage.vcf, line 4: cannot read the vCard"),
        (b"", "is empty"),
        (b"\x00\x01\x02\xff" * 300, "not a text file"),
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Half a card\r\n", "cannot read the vCard"),
    ],
    ids=["no-colon-line", "empty", "binary", "cut-off"],
)
def test_a_broken_vcard_gives_one_line_and_writes_nothing(tmp_path, content, expected):
    path = crmbook.create(tmp_path / "crm.xlsx").path
    before = path.read_bytes()
    source = tmp_path / "garbage.vcf"
    source.write_bytes(content)
    result = run("import", path, source, "--yes")
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and expected in result.output
    assert "Traceback" not in result.output
    assert path.read_bytes() == before


def test_vcard_export_of_the_demo_book_reimports_to_the_same_customers(demo_workbook, tmp_path):
    out = tmp_path / "demo.vcf"
    result = run("export", demo_workbook, "--format", "vcard", "--out", out)
    assert result.exit_code == 0, result.output
    customers = crmbook.open(demo_workbook).customers.df
    cards = list(vobject.readComponents(out.read_text(encoding="utf-8")))  # an independent read
    assert len(cards) == len(customers)
    again = run("import", demo_workbook, out, "--yes")
    assert again.exit_code == 0, again.output
    assert f"0 new, {len(customers)} matching" in again.output
    assert "Added 0 and updated 0" in again.output
    fresh, _ = imported(tmp_path, out)
    columns = ["name", "kind", "email", "phone", "birthday", "city", "country", "tags", "notes"]
    pd.testing.assert_frame_equal(
        fresh.reset_index()[columns], customers[columns].reset_index(drop=True)
    )
