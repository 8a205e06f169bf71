"""Fuzzy search: typos, initials, other alphabets, emails and phones, with exact scores.

A customer's score is the mean over the query's words of each word's best match among the
customer's words (name, company, email name part): 100 for the same word, 90 for a prefix or
an initial, the rapidfuzz ratio for a typo (0 below 70). A matching email or phone scores on
its own; the higher score counts.
"""

import datetime as dt
import json

import pandas as pd
import pytest
from builders import customer, sheet
from click.testing import CliRunner

from crmbook.analytics.find import (
    AmbiguousCustomer,
    CustomerIndex,
    find_customers,
    fold,
    phone_digits,
    phone_digits_column,
    resolve_customer,
    words,
)
from crmbook.cli import main
from crmbook.demo import build_demo_book
from crmbook.errors import RecordError

IVANOV, IVANOV_RU, ANNA, ZOE, DAVID, PETER, JOSE = (f"C-00000{i}" for i in range(1, 8))


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return sheet(
        "Customers",
        [
            customer(1, "Ivanov Sergey V.", email="ivanov.sv@mail.ru", phone="+7 495 123-45-67"),
            customer(
                2,
                "Иванов Сергей Викторович",
                email="sergey.ivanov@mail.ru",
                phone="+7 (495) 123 45 67",
            ),
            customer(
                3,
                "Anna Schmidt",
                company="Nordwind Logistics GmbH",
                email="anna@nordwind.de",
                phone="+49 30 1234567",
            ),
            customer(4, "Zoë Ørsted", email="zoe@example.com", phone="0049 40 7654321"),
            customer(5, "דוד כהן", email="david.cohen@example.co.il", phone="+972 3 555 1234"),
            customer(6, "Peter Evans", company="Silverline B.V.", email="pe@silverline.nl"),
            customer(7, "José Müller-Lüdenscheid", phone="030 9876543"),
        ],
    )


def found(customers, text, **kwargs) -> list[tuple[str, int]]:
    hits = find_customers(customers, text, **kwargs)
    return list(zip(hits["id"], hits["score"], strict=True))


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Иванов Сергей", "ivanov sergey"),
        ("Zoë Ørsted", "zoe orsted"),
        ("Müller-Lüdenscheid", "muller-ludenscheid"),
        ("Straße", "strasse"),
        ("דוד", "dvd"),
        (None, ""),
    ],
)
def test_fold_transliterates_to_lower_case_ascii(text, folded):
    assert fold(text) == folded


def test_words_drop_punctuation():
    assert words("Ivanov S. V.") == ["ivanov", "s", "v"]


@pytest.mark.parametrize(
    ("phone", "digits"),
    [
        ("+7 495 123-45-67", "74951234567"),
        ("+7 (495) 123 45 67", "74951234567"),
        ("0049 40 7654321", "49407654321"),
        ("+44 (0)20 7946 0958", "442079460958"),
        ("+49 030 1234567", "49301234567"),
        ("030 1234567", "301234567"),
        ("+49 30 1234567 ext. 12", "49301234567"),
        (None, ""),
    ],
)
def test_phone_digits_are_e164_digits(phone, digits):
    assert phone_digits(phone) == digits
    assert phone_digits_column(pd.Series([phone], dtype="str")).tolist() == [digits]


def test_a_national_number_is_read_in_the_region_given():
    assert phone_digits("030 1234567", region="DE") == "49301234567"


def test_initials_find_the_full_name_in_both_alphabets(customers):
    # ivanov 100, s -> sergey 90 (initial), v -> "v" 100 / viktorovich 90
    assert found(customers, "Ivanov S. V.") == [(IVANOV, 97), (IVANOV_RU, 93)]
    assert found(customers, "Иванов С. В.") == [(IVANOV, 97), (IVANOV_RU, 93)]


def test_initials_alone_do_not_match_every_s_v(customers):
    # Peter Evans of Silverline B.V. has an S and a V, but no word like "ivanov".
    assert PETER not in [i for i, _ in found(customers, "Ivanov S. V.")]


def test_full_name_finds_the_entry_typed_with_initials(customers):
    # viktorovich -> "v" counts as its initial (90)
    assert found(customers, "Ivanov Sergey Viktorovich") == [(IVANOV_RU, 100), (IVANOV, 97)]


def test_typos_are_forgiven(customers):
    # ivnaov ~ ivanov 83.3, sergei ~ sergey 83.3; ties go to the closer whole name
    assert found(customers, "Ivnaov Sergei") == [(IVANOV, 83), (IVANOV_RU, 83)]
    # nordwnd ~ nordwind 93.3
    assert found(customers, "Nordwnd") == [(ANNA, 93)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("schmidt", [(ANNA, 100)]),
        ("nordwind logistics", [(ANNA, 100)]),
        ("Zoe Orsted", [(ZOE, 100)]),
        ("ørsted", [(ZOE, 100)]),
        ("Jose Muller", [(JOSE, 100)]),
        ("Lüdensch", [(JOSE, 90)]),
        ("דוד כהן", [(DAVID, 100)]),
        ("David Cohen", [(DAVID, 100)]),
        ("serg", [(IVANOV, 90), (IVANOV_RU, 90)]),
        ("xyzzy", []),
        ("", []),
    ],
)
def test_names_companies_and_other_alphabets(customers, text, expected):
    assert found(customers, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ANNA@nordwind.de", [(ANNA, 100)]),
        ("anna@nordwnd.de", [(ANNA, 97)]),  # ratio of the whole address
        ("@mail.ru", [(IVANOV_RU, 100), (IVANOV, 100)]),
        ("example.co", [(ZOE, 90), (DAVID, 90)]),  # part of an address
    ],
)
def test_emails(customers, text, expected):
    assert found(customers, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("495 123 45 67", [(IVANOV, 100), (IVANOV_RU, 100)]),
        ("+7 495 123-45-68", [(IVANOV, 91), (IVANOV_RU, 91)]),  # one digit off
        ("(030) 1234567", [(ANNA, 100)]),
        ("+49 40 765 43 21", [(ZOE, 100)]),
        ("030 9876543", [(JOSE, 100)]),
        ("5551234", [(DAVID, 100)]),
    ],
)
def test_phones_in_any_format(customers, text, expected):
    assert found(customers, text) == expected


def test_hits_keep_the_customer_columns_and_the_limit(customers):
    hits = find_customers(customers, "ivanov", limit=1)
    assert list(hits.columns) == [*customers.columns, "score"]
    assert hits["id"].tolist() == [IVANOV]


def test_an_index_answers_many_queries_and_an_empty_book_none():
    index = CustomerIndex(sheet("Customers", [customer(1, "Anna"), customer(2, "Anne")]))
    assert index.find("anna")["id"].tolist() == ["C-000001", "C-000002"]
    assert index.find("anne")["id"].tolist() == ["C-000002", "C-000001"]
    assert find_customers(sheet("Customers"), "anna").empty


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C-000003", ANNA),
        (" c-000003 ", ANNA),
        ("Anna Schmidt", ANNA),
        ("Ivanov Sergey V.", IVANOV),
        ("Zoe", ZOE),
    ],
)
def test_resolve_an_id_or_a_name(customers, text, expected):
    assert resolve_customer(customers, text) == expected


def test_resolve_refuses_to_guess(customers):
    with pytest.raises(AmbiguousCustomer) as caught:
        resolve_customer(customers, "Ivanov S. V.")
    assert caught.value.candidates["id"].tolist() == [IVANOV, IVANOV_RU]
    assert str(caught.value) == "2 customers match 'Ivanov S. V.'; give one of their ids"
    with pytest.raises(RecordError, match="no customer matches 'xyzzy'"):
        resolve_customer(customers, "xyzzy")


# ---------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def demo_book(tmp_path_factory):
    path = tmp_path_factory.mktemp("find") / "shop.xlsx"
    build_demo_book(path, customers=60, today=dt.date(2026, 6, 15)).close()
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_cli_find_by_initials_in_the_demo_book(demo_book):
    result = run("find", demo_book, "Ivanov S. V.", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["name"], r["score"]) for r in rows] == [
        ("Ivanov Sergey V.", 97),
        ("Иванов Сергей Викторович", 93),
    ]
    assert list(rows[0]) == ["score", "id", "name", "company", "email", "phone", "city", "stage"]


def test_cli_find_table_limit_and_no_hit(demo_book):
    table = run("find", demo_book, "Иванов", "--limit", "1")
    assert "Customers matching 'Иванов'" in table.stdout
    assert table.stdout.count("Ivanov Sergey V.") + table.stdout.count("Иванов Сергей") == 1
    assert run("find", demo_book, "xyzzy").stdout == "No customer matches 'xyzzy'.\n"
