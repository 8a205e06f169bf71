"""The SQL storage: the same Book on SQLite and PostgreSQL, with a database's guarantees."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

import crmbook
from crmbook.errors import CrmbookError, NotAWorkbookError, RecordError, SaveRefusedError
from crmbook.storage.sql import database_url as sql_url
from crmbook.storage.sql import make_engine

pytestmark = pytest.mark.postgres


def _engine(url: str) -> sa.Engine:
    """An engine as crmbook makes it (SQLite checks references only when told to)."""
    return make_engine(sql_url(url))


def test_a_new_database_keeps_records_like_a_workbook(database_url, new_book):
    db = crmbook.create(database_url, user="anna")
    for book in (db, new_book):
        cid = book.customers.add(
            name="אבי כהן", email="avi@example.co.il", birthday="1980-02-29", stage="customer"
        )
        book.interactions.add(customer_id=cid, when="2026-03-01 10:30", channel="call")
        book.sales.add(customer_id=cid, date="2026-03-02", amount="1.250,50")
        book.save()
    again = crmbook.open(database_url)
    for sheet in ("Customers", "Interactions", "Sales"):
        columns = [c for c in again.table(sheet).df.columns if c not in ("created", "updated")]
        pd.testing.assert_frame_equal(
            again.table(sheet).df[columns], crmbook.open(new_book.path).table(sheet).df[columns]
        )
    assert again.customers.get("C-000001")["name"] == "אבי כהן"
    assert again.sales.df["amount"].tolist() == [1250.5]
    assert again.validate().valid


def test_the_tables_carry_keys_references_and_checks(database_url):
    crmbook.create(database_url).close()
    inspector = sa.inspect(_engine(database_url))
    assert inspector.get_pk_constraint("customers")["constrained_columns"] == ["id"]
    assert inspector.get_pk_constraint("sources")["constrained_columns"] == ["name"]
    references = {
        (fk["constrained_columns"][0], fk["referred_table"])
        for fk in inspector.get_foreign_keys("interactions")
    }
    assert references == {("customer_id", "customers")}
    checks = {c["name"] for c in inspector.get_check_constraints("interactions")}
    assert "ck_interactions_channel_channel" in checks
    engine = _engine(database_url)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # closed vocabulary
        conn.execute(
            sa.text(
                "INSERT INTO customers (id, name, stage, row_no) VALUES ('C-1', 'x', 'guru', 1)"
            )
        )
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # a missing customer
        conn.execute(
            sa.text(
                'INSERT INTO interactions (id, customer_id, "when", channel, row_no) '
                "VALUES ('I-1', 'C-404', '2026-01-01', 'call', 1)"
            )
        )


def test_two_people_changing_different_fields_both_win(database_url):
    setup = crmbook.create(database_url, user="setup")
    cid = setup.customers.add(name="Sergey Ivanov", city="Berlin", phone="+49 30 1234567")
    setup.save()
    anna, ben = crmbook.open(database_url, user="anna"), crmbook.open(database_url, user="ben")
    anna.customers.update(cid, city="Haifa")
    ben.customers.update(cid, phone="+972 4 555 1234")
    anna.save()
    ben.save()
    record = crmbook.open(database_url).customers.get(cid)
    assert (record["city"], record["phone"]) == ("Haifa", "+972 4 555 1234")
    log = crmbook.open(database_url).table("Log").df
    changes = log[log["field"].isin(["city", "phone"])]
    assert changes[["who", "field", "old", "new"]].values.tolist() == [
        ["anna", "city", "Berlin", "Haifa"],
        ["ben", "phone", "+49 30 1234567", "+972 4 555 1234"],
    ]


def test_the_same_field_changed_twice_refuses_the_second_save_whole(database_url):
    setup = crmbook.create(database_url, user="setup")
    cid = setup.customers.add(name="Sergey Ivanov", city="Berlin")
    setup.save()
    anna, ben = crmbook.open(database_url, user="anna"), crmbook.open(database_url, user="ben")
    anna.customers.update(cid, city="Haifa")
    ben.customers.add(name="Олег Петров")  # in the same save as the refused change
    ben.customers.update(cid, city="Eilat")
    anna.save()
    with pytest.raises(SaveRefusedError, match=f"city of customer {cid} changed"):
        ben.save()
    after = crmbook.open(database_url)
    assert after.customers.get(cid)["city"] == "Haifa"
    assert "Олег Петров" not in set(after.customers.df["name"])


def test_ids_are_never_given_twice_even_to_two_people_at_once(database_url):
    crmbook.create(database_url).close()
    anna, ben = crmbook.open(database_url, user="anna"), crmbook.open(database_url, user="ben")
    first = anna.customers.add(name="Anna's customer")
    second = ben.customers.add(name="Ben's customer")
    assert first != second
    ben.save()
    anna.save()
    book = crmbook.open(database_url)
    book.customers.delete(second)
    book.save()
    again = crmbook.open(database_url)
    assert again.customers.add(name="later") not in {first, second}


def test_a_referenced_record_cannot_be_deleted_and_nothing_is_saved(database_url):
    book = crmbook.create(database_url)
    cid = book.customers.add(name="Anna")
    book.interactions.add(customer_id=cid, when="2026-01-05 09:00", channel="email")
    book.save()
    book = crmbook.open(database_url)
    book.customers.update(cid, city="Wien")
    book.customers.delete(cid)
    with pytest.raises(CrmbookError, match=r"nothing was saved.*re-point"):
        book.save()
    record = crmbook.open(database_url).customers.get(cid)
    assert pd.isna(record["city"])


def test_a_database_is_not_limited_to_excel_rows(database_url, monkeypatch):
    book = crmbook.create(database_url)
    assert book.storage.row_limit is None
    with pytest.raises(RecordError, match="column 'colour'"):
        book.customers.add(name="x", colour="red")


def test_lists_and_their_checks_follow_set_list_on_postgresql(postgres_url):
    book = crmbook.create(postgres_url)
    book.set_list("channel", [*book.lists["channel"], "whatsapp"])
    book.set_list("owner", ["Dana", "Юлия"])
    cid = book.customers.add(name="Anna", owner="Юлия")
    book.save()
    book = crmbook.open(postgres_url)
    assert book.lists["owner"] == ["Dana", "Юлия"]
    book.interactions.add(customer_id=cid, when="2026-01-05 09:00", channel="whatsapp")
    book.save()
    assert crmbook.open(postgres_url).interactions.df["channel"].tolist() == ["whatsapp"]


def test_what_cannot_be_opened_says_why(tmp_path, database_url):
    with pytest.raises(NotAWorkbookError, match="does not exist; make the database first"):
        crmbook.open(f"sqlite:///{tmp_path / 'missing.db'}")
    empty = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{empty}").connect().close()
    with pytest.raises(NotAWorkbookError, match=r"no crmbook tables.*crmbook migrate"):
        crmbook.open(f"sqlite:///{empty}")
    crmbook.create(database_url).close()
    with pytest.raises(CrmbookError, match="holds crmbook tables already"):
        crmbook.create(database_url)
    with _engine(database_url).begin() as conn:
        conn.execute(sa.text("UPDATE crmbook_meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(NotAWorkbookError, match="newer crmbook"):
        crmbook.open(database_url)


def test_a_database_is_saved_where_it_is(database_url, tmp_path):
    book = crmbook.create(database_url)
    book.customers.add(name="Anna")
    with pytest.raises(CrmbookError, match="crmbook export"):
        book.save(tmp_path / "copy.xlsx")


def test_a_sheet_written_from_python_becomes_a_table(database_url):
    book = crmbook.create(database_url)
    book.write_sheet("VIP list", pd.DataFrame({"id": ["C-000001"], "since": [dt.date(2026, 1, 1)]}))
    book.save()
    assert "VIP list" in sa.inspect(_engine(database_url)).get_table_names()


def test_writers_saving_at_the_same_moment_both_keep_their_fields(database_url):
    """Two people (threads, each with its own connection) save changes to one customer over
    and over at the same time: none is refused and each one's last value stays."""
    import threading

    setup = crmbook.create(database_url, user="setup")
    cid = setup.customers.add(name="Sergey Ivanov")
    setup.save()
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(user: str, field: str) -> None:
        try:
            book = crmbook.open(database_url, user=user)
            start.wait()
            for n in range(15):
                book.customers.update(cid, **{field: f"{user} {n}"})
                book.save()
        except BaseException as e:  # reported by the test, not lost in the thread
            errors.append(e)

    threads = [
        threading.Thread(target=writer, args=("anna", "city")),
        threading.Thread(target=writer, args=("ben", "notes")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    record = crmbook.open(database_url).customers.get(cid)
    assert (record["city"], record["notes"]) == ("anna 14", "ben 14")
    log = crmbook.open(database_url).table("Log").df
    assert len(log[log["field"].isin(["city", "notes"])]) == 30


def test_a_server_that_cannot_be_reached_is_named_with_the_reason(tmp_path):
    url = "postgresql://nobody:secret@127.0.0.1:1/shop"
    with pytest.raises(NotAWorkbookError, match=r"cannot open postgresql://nobody:\*\*\*@") as e:
        crmbook.open(url)
    assert "secret" not in str(e.value) and "refused" in str(e.value)
    with pytest.raises(CrmbookError, match="cannot reach the database"):
        crmbook.create(url)
