"""migrate and export: a whole book to a database and back, nothing lost, nothing half-done."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_book import CUSTOMER, SALE, WHEN

import crmbook
from crmbook.errors import CrmbookError
from crmbook.schema import SCHEMA
from crmbook.sharing.migrate import copy_book

pytestmark = pytest.mark.postgres


def assert_same_records(a: crmbook.Book, b: crmbook.Book) -> None:
    """Every record of every sheet equal, with its dtype, in the same order."""
    for sheet in SCHEMA.entities:
        pd.testing.assert_frame_equal(
            a.table(sheet.name).df[sheet.columns].reset_index(drop=True),
            b.table(sheet.name).df[sheet.columns].reset_index(drop=True),
            obj=sheet.name,
        )
    assert a.lists == b.lists
    assert a.numbers("deal_stage") == b.numbers("deal_stage")


def test_the_demo_business_goes_to_a_database_and_back_without_loss(
    demo_workbook, database_url, tmp_path
):
    source = crmbook.open(demo_workbook)
    source.set_numbers("deal_stage", {"proposal": 0.45})  # the owner's own probability
    source.save()
    source = crmbook.open(demo_workbook)
    steps = []
    copied = copy_book(source, database_url, progress=lambda *step: steps.append(step))
    assert copied.records["Interactions"] == len(source.interactions.df) > 0
    assert ("Interactions", len(source.interactions.df), len(source.interactions.df)) in steps
    database = crmbook.open(database_url)
    assert_same_records(source, database)
    assert database.validate().valid
    engine = database.storage.engine  # the references are there after the bulk copy too
    referred = {fk["referred_table"] for fk in sa.inspect(engine).get_foreign_keys("sales")}
    assert referred == {"customers", "deals"}
    back = copy_book(database, tmp_path / "back.xlsx").book
    back = crmbook.open(back.path)  # read again from the file
    assert_same_records(source, back)
    for key in ("workbook_id", *(f"next_id.{s.name}" for s in SCHEMA.sheets if s.id_prefix)):
        assert back.meta[key] == source.meta[key], key
    log = back.table("Log").df
    assert len(log) == len(source.table("Log").df) + 2
    assert log["new"].iloc[-1] == f"copied from {database.location}"


def test_ids_given_out_before_the_move_are_not_given_again(demo_workbook, database_url):
    book = crmbook.open(demo_workbook)
    last = book.customers.add(name="Short-lived")
    book.save()
    book.customers.delete(last)
    book.save()
    copy_book(crmbook.open(demo_workbook), database_url)
    database = crmbook.open(database_url)
    assert database.customers.add(name="New") > last


def test_a_book_with_errors_is_not_copied(hand_edited, tmp_path):
    target = tmp_path / "crm.db"
    with pytest.raises(CrmbookError, match=r"error.*nothing was copied.*crmbook validate"):
        copy_book(crmbook.open(hand_edited.path), f"sqlite:///{target}")
    assert not target.exists()


def test_what_the_schema_does_not_describe_is_listed(demo_workbook, tmp_path):
    book = crmbook.open(demo_workbook)
    book.write_sheet("Calls to make", pd.DataFrame({"who": ["Anna"]}))
    book.save()
    copied = copy_book(crmbook.open(demo_workbook), f"sqlite:///{tmp_path / 'crm.db'}")
    assert copied.left_behind == ["sheet 'Calls to make'"]


def test_a_failed_copy_leaves_no_tables(demo_workbook, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    from crmbook.storage.sql import SqlStorage

    def broken(self, conn, sheet, frame, **_):
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(SqlStorage, "insert", broken)
    with pytest.raises(crmbook.SaveRefusedError, match="disk I/O error"):
        copy_book(crmbook.open(demo_workbook), url)
    assert sa.inspect(sa.create_engine(url)).get_table_names() == []


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    customers=st.lists(CUSTOMER, min_size=1, max_size=4),
    sales=st.lists(SALE, max_size=3),
    when=WHEN,
)
def test_random_records_survive_the_round_trip(tmp_path, customers, sales, when):
    """Whatever a workbook holds comes back from SQLite equal: text of any script, control
    characters, dates from 1900, amounts of any size, whole numbers up to a billion."""
    folder = tmp_path / uuid.uuid4().hex
    folder.mkdir()
    book = crmbook.create(folder / "a.xlsx", user="tester")
    ids = book.customers.add_many(customers)
    book.sales.add_many([{**s, "customer_id": ids[0]} for s in sales])
    book.interactions.add(customer_id=ids[-1], when=when, channel="visit")
    book.save()
    source = crmbook.open(folder / "a.xlsx")
    database = copy_book(source, f"sqlite:///{folder / 'a.db'}").book
    back = copy_book(crmbook.open(database.location), folder / "b.xlsx").book
    assert_same_records(source, crmbook.open(back.path))


def test_columns_of_the_users_own_go_to_the_database_and_back(
    demo_workbook, database_url, tmp_path
):
    """Columns added to a sheet (in Excel, or by import --keep) keep their values and kinds
    through workbook -> database -> workbook, and change in the database like any field."""
    import openpyxl

    book = crmbook.open(demo_workbook)
    first, second, third = book.customers.df["id"].iloc[:3]
    for column in ("Lieblingsfarbe", "Punkte", "Kunde seit", "VIP"):
        book.customers.add_column(column)
    book.customers.update(first, Lieblingsfarbe="Grün ✓", Punkte=42, VIP=True)
    book.customers.update(second, Punkte=2.5, **{"Kunde seit": pd.Timestamp("2019-04-01")})
    book.customers.update(third, Lieblingsfarbe="=1+1", VIP=False)
    book.save()
    source = crmbook.open(demo_workbook)
    copied = copy_book(source, database_url)
    assert copied.left_behind == []
    database = crmbook.open(database_url)
    customers = database.customers
    assert customers.user_columns == ["Lieblingsfarbe", "Punkte", "Kunde seit", "VIP"]
    kept = customers.df.set_index("id")
    assert kept.loc[first, ["Lieblingsfarbe", "Punkte", "VIP"]].tolist() == ["Grün ✓", 42, True]
    assert kept.loc[second, "Punkte"] == 2.5
    assert kept.loc[third, ["Lieblingsfarbe", "VIP"]].tolist() == ["=1+1", False]
    mine = source.customers.df.set_index("id")[customers.user_columns]
    for column in customers.user_columns:  # every value as the workbook had it
        assert kept[column].dropna().to_dict() == mine[column].dropna().to_dict(), column
    customers.update(first, Punkte=43, **{"Kunde seit": pd.Timestamp("2020-02-29 10:30")})
    customers.add(name="Neu im Buch", Lieblingsfarbe="Blau")
    database.save()
    again = crmbook.open(database_url).customers.get(first)
    assert again["Kunde seit"] == pd.Timestamp("2020-02-29 10:30") and again["Punkte"] == 43
    back = copy_book(crmbook.open(database_url), tmp_path / "back.xlsx").book
    sheet = openpyxl.load_workbook(back.path)["Customers"]  # read by another reader
    rows = sheet.iter_rows(values_only=True)
    header = list(next(rows))
    assert header[-4:] == ["Lieblingsfarbe", "Punkte", "Kunde seit", "VIP"]
    cells = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert (cells[first]["Lieblingsfarbe"], cells[first]["Punkte"], cells[first]["VIP"]) == (
        "Grün ✓",
        43,
        True,
    )
    assert cells[second]["Punkte"] == 2.5
    assert cells[third]["Lieblingsfarbe"] == "=1+1"  # text, never a formula
    newest = next(c for c in cells.values() if c["name"] == "Neu im Buch")
    assert newest["Lieblingsfarbe"] == "Blau"


def test_a_changed_value_of_a_users_column_is_not_overwritten_unseen(demo_workbook, tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    book = crmbook.open(demo_workbook)
    first = book.customers.df["id"].iloc[0]
    book.customers.add_column("Lieblingsfarbe")
    book.customers.update(first, Lieblingsfarbe="Rot")
    book.save()
    copy_book(crmbook.open(demo_workbook), url)
    mine, theirs = crmbook.open(url), crmbook.open(url)
    mine.customers.update(first, Lieblingsfarbe="Blau")
    theirs.customers.update(first, Lieblingsfarbe="Gelb")
    mine.save()
    with pytest.raises(crmbook.SaveRefusedError, match="Lieblingsfarbe of customer"):
        theirs.save()
    assert crmbook.open(url).customers.get(first)["Lieblingsfarbe"] == "Blau"
