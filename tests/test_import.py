"""Importing customers from other tools' exports: mapping, validation, upsert, confirmation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import crmbook
from crmbook.cli import main
from crmbook.schema import SCHEMA
from crmbook.sharing.importer import JOINED, guess_mapping

CUSTOMERS = SCHEMA.sheet("Customers")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["E-Mail", "Telefon", "Naam"], {"E-Mail": "email", "Telefon": "phone", "Naam": "name"}),
        (["Nome", "Cognome", "Azienda"], {"Nome": "name", "Azienda": "company"}),
        (
            ["Vorname", "Nachname", "Stadt"],
            {"Vorname": JOINED, "Nachname": JOINED, "Stadt": "city"},
        ),
        (
            ["First Name", "Last Name", "Email Address", "Favourite"],
            {"First Name": JOINED, "Last Name": JOINED, "Email Address": "email"},
        ),
    ],
)
def test_mapping_is_guessed_from_headers(headers, expected):
    assert guess_mapping(headers, CUSTOMERS) == expected


def _book(tmp_path: Path) -> Path:
    book = crmbook.create(tmp_path / "crm.xlsx", user="tester")
    book.customers.add(name="Anna Schmidt", email="anna@example.com", city="Berlin")
    book.customers.add(name="Boris Ivanov", phone="+49 30 1234567")
    book.save()
    return book.path


SOURCE = (
    "Vorname;Nachname;E-Mail;Telefon;Firma;Stadt;Geburtstag\n"
    "Anna;Schmidt;ANNA@example.com;;;Hamburg;\n"
    "Boris;Ivanov;;030 1234567;;Moskau;\n"
    "Jan;de Vries;jan@example.nl;+31 20 1234567;Acme BV;Amsterdam;31.03.1980\n"
)


def test_import_upserts_matches_and_adds_new(tmp_path):
    path = _book(tmp_path)
    source = tmp_path / "export.csv"
    source.write_text(SOURCE, encoding="utf-8")
    result = CliRunner().invoke(main, ["import", str(path), str(source), "--yes"])
    assert result.exit_code == 0, result.output
    assert "1 new, 2 matching existing records" in result.output
    customers = crmbook.open(path).customers.df.set_index("name")
    assert len(customers) == 3
    assert customers.loc["Anna Schmidt", "city"] == "Hamburg"
    assert customers.loc["Boris Ivanov", "city"] == "Moskau"
    assert customers.loc["Jan de Vries", "birthday"] == pd.Timestamp("1980-03-31")


def test_nothing_is_written_when_declined_or_on_errors(tmp_path):
    path = _book(tmp_path)
    before = path.read_bytes()
    source = tmp_path / "export.csv"
    source.write_text(SOURCE, encoding="utf-8")
    result = CliRunner().invoke(main, ["import", str(path), str(source)], input="n\n")
    assert result.exit_code == 0 and "Nothing was written." in result.output
    source.write_text(SOURCE + "Eva;Novak;eva.example.com;;;;\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["import", str(path), str(source), "--yes"])
    assert result.exit_code == 1
    assert "│ error    │ 5   │ email" in result.output
    assert path.read_bytes() == before


def test_map_option_overrides_the_guess(tmp_path):
    path = _book(tmp_path)
    source = tmp_path / "export.xlsx"
    pd.DataFrame({"Wer": ["Dora Klein"], "Ort": ["Bonn"], "Info": ["vip"]}).to_excel(
        source, index=False
    )
    args = ["import", str(path), str(source), "--map", "Wer=name", "--map", "Info=notes", "--yes"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    dora = crmbook.open(path).customers.df.set_index("name").loc["Dora Klein"]
    assert (dora["city"], dora["notes"]) == ("Bonn", "vip")


def test_rows_repeated_in_the_source_are_warned_about(tmp_path):
    path = _book(tmp_path)
    source = tmp_path / "export.csv"
    source.write_text("Name,Email\nDora Klein,dora@example.com\nD. Klein,DORA@example.com\n")
    result = CliRunner().invoke(main, ["import", str(path), str(source)], input="n\n")
    assert "row 2 has the same email" in result.output


def test_a_long_import_says_where_it_is(tmp_path):
    """Each step reports itself (an uncountable one with total 0), the updates record by
    record, so a progress bar can follow an import of tens of thousands of contacts."""
    from crmbook.sharing.importer import apply_import, plan_import

    book = crmbook.open(_book(tmp_path))
    source = pd.DataFrame(
        {"Name": ["Anna Schmidt", "Boris Ivanov", "Jan de Vries"], "Stadt": ["Bonn", "Kiel", None]}
    )
    mapping = guess_mapping(list(source.columns), CUSTOMERS)
    customers = book.customers.df
    steps = []
    plan = plan_import(
        source, mapping, CUSTOMERS, book.schema, customers, book.lists, {}, book.today(),
        progress=lambda *step: steps.append(step),
    )  # fmt: skip
    assert steps == [("Checking 3 rows", 0, 0), ("Matching with 2 customers", 0, 0)]
    steps.clear()
    apply_import(book, plan, CUSTOMERS, lambda *step: steps.append(step))
    assert steps == [
        ("Comparing matched records", 0, 2),
        ("Comparing matched records", 1, 2),
        ("Comparing matched records", 2, 2),
        ("Updating 2 records", 0, 0),
        ("Adding new records", 0, 1),
        ("Adding new records", 1, 1),
    ]


def test_the_progress_bars_stay_out_of_pipes(tmp_path):
    path = _book(tmp_path)
    source = tmp_path / "export.csv"
    source.write_text(SOURCE, encoding="utf-8")
    result = CliRunner().invoke(main, ["import", str(path), str(source), "--yes"])
    assert result.exit_code == 0, result.output
    assert not result.output.startswith("\n")  # not even an empty line of them
    for step in ("Reading", "Checking", "Matching", "Updating", "Saving"):
        assert step not in result.output
