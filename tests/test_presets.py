"""Contact exports of other applications, recognised by their headers and imported end to end.

The fixtures in tests/files/ are written the way each application writes them (see
tests/files/README.md for where each header list and quirk comes from): Outlook in the
Windows code page with its 0/0/00 empty dates, Google's " ::: " between several values,
Thunderbird's trailing comma, Mailchimp's quoted tags.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import crmbook
from crmbook.cli import main
from crmbook.sharing.presets import PRESETS, recognise
from crmbook.sharing.sources import open_source

FILES = Path(__file__).parent / "files"
NO_YEAR = "1904-"  # BIRTHDAY_WITHOUT_YEAR


def imported(tmp_path: Path, *names: str, book: Path | None = None) -> tuple[pd.DataFrame, str]:
    """Import fixture files one after the other; the customers by name and all the output."""
    path = book or crmbook.create(tmp_path / "crm.xlsx", user="tester").path
    output = ""
    for name in names:
        result = CliRunner().invoke(main, ["import", str(path), str(FILES / name), "--yes"])
        assert result.exit_code == 0, result.output
        output += result.output
    return crmbook.open(path).customers.df.set_index("name"), output


def day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


# file, the preset it is, {customer: {column: value}}
CASES = [
    (
        "google-contacts.csv",
        "Google Contacts CSV",
        {
            "Anna Petrova": {
                "email": "anna.petrova@acme.example",
                "other_emails": "a.petrova@acme.example (work), anna@home.example (home)",
                "phone": "+49 170 1234567",
                "other_phones": "+49 30 9876543 (work)",
                "company": "Acme GmbH",
                "job_title": "Buyer",
                "birthday": day("1985-03-14"),
                "city": "Berlin",
                "country": "Germany",
                "tags": "Customers, VIP",
                "notes": "Met at the Hannover fair",
            },
            "דנה כהן": {"birthday": day(NO_YEAR + "05-17"), "city": "תל אביב", "tags": "starred"},
            "Blumen Schmidt": {"kind": "company", "phone": "+49 40 555 0101", "tags": "Suppliers"},
        },
    ),
    (
        "google-contacts-before-2023.csv",
        "Google Contacts CSV (layout before 2023)",
        {
            "Сергей Иванов": {
                "email": "sergey@example.ru",
                "other_emails": "s.ivanov@work.example (work)",
                "phone": "+7 916 000-11-22",
                "other_phones": "+7 495 000-11-33 (mobile)",
                "company": "Stroy OOO",
                "job_title": "Director",
                "birthday": day("1979-11-02"),
                "city": "Москва",
                "tags": "Friends",
            },
            "Jan de Vries": {"birthday": day(NO_YEAR + "12-24"), "tags": None},
        },
    ),
    (
        "outlook-en.csv",
        "Outlook CSV (English)",
        {
            "José García": {
                "email": "jose@cafeole.example",
                "other_emails": "jose.garcia@home.example",
                "phone": "(206) 555-0199",
                "other_phones": "(206) 555-0100 (work)",
                "company": "Café Olé Ltd",
                "birthday": day("1980-05-17"),
                "city": "Seattle",
                "tags": "Customers, VIP",
            },
            "Zoë O'Brien": {"birthday": pd.NaT, "city": "Dublin", "phone": "+353 1 555 0123"},
        },
    ),
    (
        "outlook-de.csv",
        "Outlook CSV (German)",
        {
            "Jürgen Weiß": {
                "email": "juergen@baeckerei-weiss.example",
                "phone": "+49 171 2345678",
                "other_phones": "+49 89 123456 (work)",
                "company": "Bäckerei Weiß",
                "birthday": day("1975-05-17"),
                "city": "München",
                "country": "Deutschland",
                "tags": "Kunden, Stammkunde",
                "notes": "Liefert Brötchen",
            },
            "Grete Sommer": {"birthday": pd.NaT, "city": "Köln"},
        },
    ),
    (
        "outlook-nl.csv",
        "Outlook CSV (Dutch)",
        {
            "Sanne van Dijk": {
                "email": "sanne@bloemen.example",
                "phone": "+31 6 12345678",
                "birthday": day("1990-11-03"),
                "city": "Utrecht",
                "tags": "Klanten",
            },
            "Pieter Jansen": {"birthday": pd.NaT, "city": "Den Haag"},
        },
    ),
    (
        "outlook-it.csv",
        "Outlook CSV (Italian)",
        {
            "Giulia Bianchi": {
                "email": "giulia@pasticceria.example",
                "phone": "+39 347 1234567",
                "birthday": day("1982-12-24"),
                "city": "Torino",
                "tags": "Clienti",
                "notes": "Cliente dal 2019",
            },
            "Niccolò Ferrè": {"city": "Milano", "birthday": pd.NaT},
        },
    ),
    (
        "outlook-ru.csv",
        "Outlook CSV (Russian)",
        {
            "Сергей Викторович Иванов": {
                "email": "s.ivanov@romashka.ru",
                "other_emails": "sergey.ivanov@mail.ru",
                "phone": "+7 916 123-45-67",
                "other_phones": "+7 (495) 587-08-02 (work)",
                "company": 'ООО "Ромашка"',
                "job_title": "Генеральный директор",
                "birthday": day("1978-04-12"),
                "city": "Москва",
                "country": "Россия",
                "tags": "Клиенты, VIP",
                "notes": "Постоянный клиент, звонить после обеда",
            },
            "Ярослава Жукова": {"birthday": pd.NaT, "city": "Нижний Новгород"},
        },
    ),
    (
        "thunderbird.csv",
        "Thunderbird address book CSV",
        {
            "Ольга Смирнова": {
                "email": "olga@example.ru",
                "other_emails": "o.smirnova@work.example",
                "phone": "+7 921 555-02-02",
                "company": "Nevsky Trade",
                "job_title": "Accountant",
                "birthday": day("1988-07-09"),
                "city": "Санкт-Петербург",
            },
            "Tom Baker": {"birthday": day(NO_YEAR + "01-20"), "city": "Leeds"},
        },
    ),
    (
        "hubspot-contacts.csv",
        "HubSpot contacts export",
        {
            "Maria Lopez": {
                "stage": "customer",
                "company": "Lopez Viajes",
                "phone": "+34 91 123 4567",
                "other_phones": "+34 612 345 678 (mobile)",
                "city": "Madrid",
                "country": "Spain",
            },
            "Liam Chen": {"stage": "potential", "city": "Vancouver"},
            "Newsletter Reader": {"email": "newsletter.reader@example.org", "stage": "prospect"},
        },
    ),
    (
        "mailchimp-subscribed.csv",
        "Mailchimp audience export (subscribed)",
        {
            "Anna Petrova": {
                "consent_email": True,
                "consent_date": day("2024-03-14"),
                "tags": "Newsletter, Berlin",
                "birthday": day(NO_YEAR + "03-14"),
            },
            "Kim Lee": {"consent_email": True, "consent_date": day("2024-04-02")},
        },
    ),
    (
        "mailchimp-cleaned.csv",
        "Mailchimp audience export (cleaned)",
        {"Bounced Address": {"consent_email": False, "consent_date": pd.NaT}},
    ),
]


@pytest.mark.parametrize(("name", "preset", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_export_lands_in_the_right_columns(tmp_path, name, preset, expected):
    customers, output = imported(tmp_path, name)
    assert f"Recognised: {preset}." in output
    assert len(customers) == len(expected)
    for who, values in expected.items():
        for column, value in values.items():
            got = customers.loc[who, column]
            if value is None or value is pd.NaT:
                assert pd.isna(got), (who, column, got)
            else:
                assert got == value, (who, column, got)


def test_every_preset_has_a_fixture_and_fixtures_are_recognised_by_headers_alone():
    recognised = {recognise(open_source(p).frame.columns).name for p in FILES.glob("*.csv")}
    assert recognised == {p.name for p in PRESETS}


def test_columns_no_preset_reads_are_listed_as_skipped_with_their_counts(tmp_path):
    _, output = imported(tmp_path, "thunderbird.csv")
    assert "│ Custom 1 " in output and "(skipped)" in output
    assert "empty column(s) of thunderbird.csv hold nothing to import" in output


def test_keep_makes_a_skipped_column_a_column_of_the_sheet(tmp_path):
    path = crmbook.create(tmp_path / "crm.xlsx").path
    args = ["import", str(path), str(FILES / "thunderbird.csv"), "--keep", "Custom 1", "--yes"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "kept as its own column" in result.output
    customers = crmbook.open(path).customers.df.set_index("name")
    assert customers.loc["Ольга Смирнова", "Custom 1"] == "newsletter"


def test_map_dash_drops_a_column_the_preset_reads(tmp_path):
    path = crmbook.create(tmp_path / "crm.xlsx").path
    args = ["import", str(path), str(FILES / "hubspot-contacts.csv"), "--yes"]
    result = CliRunner().invoke(main, [*args, "--map", "Lifecycle Stage=-"])
    assert result.exit_code == 0, result.output
    stages = crmbook.open(path).customers.df["stage"]
    assert set(stages) == {"prospect"}  # the default, not HubSpot's


def test_unsubscribed_and_cleaned_turn_consent_off_for_existing_customers(tmp_path):
    customers, _ = imported(tmp_path, "mailchimp-subscribed.csv")
    path = tmp_path / "crm.xlsx"
    book = crmbook.open(path)
    book.customers.add(name="José García", email="jose@cafeole.example", consent_email=True)
    book.save()
    customers, output = imported(tmp_path, "mailchimp-unsubscribed.csv", book=path)
    assert "every record: consent_email = False" in output
    assert customers.loc["José García", "consent_email"] == False  # noqa: E712
    assert customers.loc["Anna Petrova", "consent_email"] == True  # noqa: E712


def test_a_newsletter_list_without_names_is_named_after_the_addresses(tmp_path):
    source = tmp_path / "list.csv"
    source.write_text("Email\nanna.petrova@example.com\nj_smith-jr@example.org\n", encoding="utf-8")
    path = crmbook.create(tmp_path / "crm.xlsx").path
    result = CliRunner().invoke(main, ["import", str(path), str(source), "--yes"])
    assert result.exit_code == 0, result.output
    assert "Anna Petrova" in result.output and "named after the email" in result.output
    names = set(crmbook.open(path).customers.df["name"])
    assert names == {"Anna Petrova", "J Smith Jr"}


def test_a_name_from_an_email_never_replaces_a_customers_name(tmp_path):
    path = crmbook.create(tmp_path / "crm.xlsx").path
    book = crmbook.open(path)
    book.customers.add(name="Anna Schmidt-Petrova", email="anna.petrova@example.com")
    book.save()
    source = tmp_path / "list.csv"
    source.write_text("Email\nANNA.PETROVA@example.com\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["import", str(path), str(source), "--yes"])
    assert result.exit_code == 0, result.output
    assert list(crmbook.open(path).customers.df["name"]) == ["Anna Schmidt-Petrova"]


def test_reimporting_the_same_export_changes_nothing(tmp_path):
    imported(tmp_path, "google-contacts.csv")
    path = tmp_path / "crm.xlsx"
    before = crmbook.open(path).customers.df.drop(columns=["updated"])
    _, output = imported(tmp_path, "google-contacts.csv", book=path)
    assert "0 new, 3 matching" in output
    after = crmbook.open(path).customers.df.drop(columns=["updated"])
    pd.testing.assert_frame_equal(before, after)


def test_a_replaced_email_moves_to_the_other_emails(tmp_path):
    path = crmbook.create(tmp_path / "crm.xlsx").path
    source = tmp_path / "a.csv"
    source.write_text("Name,Email\nDora Klein,dora@old.example\n", encoding="utf-8")
    CliRunner().invoke(main, ["import", str(path), str(source), "--yes"])
    (tmp_path / "dora.vcf").write_text(
        "BEGIN:VCARD\nVERSION:3.0\nFN:Dora Klein\nEMAIL:dora@new.example\nEND:VCARD\n"
    )
    result = CliRunner().invoke(main, ["import", str(path), str(tmp_path / "dora.vcf"), "--yes"])
    assert result.exit_code == 0, result.output
    dora = crmbook.open(path).customers.df.iloc[0]
    assert (dora["email"], dora["other_emails"]) == ("dora@new.example", "dora@old.example")
