"""crmbook export --format vcard|google-csv|outlook-csv: each file read by an independent reader,
and imported again it gives the same people (Hebrew, Cyrillic, emoji, several emails and
phones, birthdays with and without year, companies)."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
import vobject
from click.testing import CliRunner

import crmbook
from crmbook.cli import main
from crmbook.sharing.contacts import unlabelled
from crmbook.sharing.presets import recognise

PEOPLE = [
    {
        "name": "דנה כהן",
        "email": "dana@example.co.il",
        "other_emails": "dana@work.example (work), d.cohen@example.org (home)",
        "phone": "+972 50-123-4567",
        "other_phones": "+972 3-555-0101 (work)",
        "birthday": "1904-05-17",
        "city": "תל אביב",
        "country": "Israel",
        "tags": "vip, newsletter",
        "job_title": "מנהלת",
        "notes": "Line one; with, commas\nline two",
    },
    {
        "name": "Иванов Сергей Викторович",
        "email": "sergey@example.ru",
        "phone": "+7 916 000-11-22",
        "birthday": "1979-11-02",
        "city": "Москва",
        "company": "Строй ООО",
    },
    {"name": "Mia 🌸 Tanaka", "email": "mia@example.jp", "birthday": "1904-02-29"},
    {"name": "Acme Trading", "kind": "company", "phone": "+49 30 1234567", "city": "Berlin"},
]
COMPARED = ["name", "kind", "company", "email", "phone", "birthday", "city", "country", "notes"]


@pytest.fixture
def book_path(tmp_path: Path) -> Path:
    book = crmbook.create(tmp_path / "crm.xlsx", user="tester")
    for column in ("other_emails", "other_phones", "job_title"):
        book.customers.add_column(column)
    book.customers.add_many(PEOPLE)
    book.save()
    return book.path


def export(book_path: Path, fmt: str, out: Path, *more: str) -> str:
    result = CliRunner().invoke(
        main, ["export", str(book_path), "--format", fmt, "--out", str(out), *more]
    )
    assert result.exit_code == 0, result.output
    return result.output


def values(cell: object) -> set[str]:
    return {v for v, _ in unlabelled(cell)}


@pytest.mark.parametrize("fmt", ["vcard", "google-csv", "outlook-csv"])
def test_exported_contacts_import_again_as_the_same_people(book_path, tmp_path, fmt):
    out = tmp_path / f"contacts.{'vcf' if fmt == 'vcard' else 'csv'}"
    assert "Wrote 4 customers" in export(book_path, fmt, out)
    if fmt == "vcard":
        cards = list(vobject.readComponents(out.read_text(encoding="utf-8")))
        assert [c.fn.value for c in cards] == [p["name"] for p in PEOPLE]
    else:
        with out.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 4 and recognise(rows[0].keys()) is not None
    original = crmbook.open(book_path).customers.df.set_index("name", drop=False)
    fresh = crmbook.create(tmp_path / "fresh.xlsx")
    fresh.close()
    result = CliRunner().invoke(main, ["import", str(fresh.path), str(out), "--yes"])
    assert result.exit_code == 0, result.output
    again = crmbook.open(fresh.path).customers.df.set_index("name", drop=False)
    pd.testing.assert_frame_equal(again[COMPARED], original[COMPARED], check_dtype=False)
    for name in original.index:
        for column in ("other_emails", "other_phones"):
            assert values(again.at[name, column]) == values(original.at[name, column])
        assert set(str(again.at[name, "tags"]).split(", ")) == set(
            str(original.at[name, "tags"]).split(", ")
        )
    same = CliRunner().invoke(main, ["import", str(book_path), str(out), "--yes"])
    assert "0 new, 4 matching" in same.output and "updated 0" in same.output, same.output


def test_a_segment_or_rules_choose_who_is_exported(book_path, tmp_path):
    out = tmp_path / "berlin.vcf"
    assert "Wrote 1 customers" in export(book_path, "vcard", out, "--rules", "city=Berlin")
    assert "FN:Acme Trading" in out.read_text(encoding="utf-8")


def test_export_refuses_to_overwrite_and_a_workbook_export_takes_no_segment(book_path, tmp_path):
    out = tmp_path / "x.vcf"
    out.write_text("mine")
    result = CliRunner().invoke(main, ["export", str(book_path), "--format", "vcard", str(out)])
    assert result.exit_code == 2 and "exists" in result.output and out.read_text() == "mine"
    result = CliRunner().invoke(
        main, ["export", str(book_path), str(tmp_path / "copy.xlsx"), "--rules", "city=Berlin"]
    )
    assert result.exit_code == 2 and "copies the whole book" in result.output
