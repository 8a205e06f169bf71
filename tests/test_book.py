"""The Book facade: add, update, delete, ids, the change log and what a save writes."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import shutil
import uuid
import zipfile

import libreoffice
import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl.utils.escape import unescape

import crmbook
from crmbook import SCHEMA, RecordError
from crmbook.schema import Field, Sheet

ENTITIES = SCHEMA.entities
WITH_IDS = [s for s in ENTITIES if s.id_prefix]
T1 = dt.datetime(2024, 5, 1, 9, 30)
T2 = dt.datetime(2024, 6, 2, 17, 45)
T3 = dt.datetime(2024, 7, 3, 8, 0)

UNICODE = [
    "דוד כהן",
    "Пётр Ильич Чайковский",
    "Crème Brûlée, Zoë & Søren",
    "🎂 party 🎉👍🏽",
    "a  b\n  indented",
    "tab\there",
    "windows\r\nline",
    "bell\x07 and \x01 control",
    "_x0041_ looks like an escape",
    "<b>not &amp; markup</b>",
    "\u200f right-to-left mark",
]
FORMULA_LIKE = ["=cmd|' /C calc'!A0", "=1+1", "+1 555 0100", "-5", "@SUM(A1:A2)"]


def clock(book, moment: dt.datetime) -> None:
    """From now on book.now() is moment."""
    book.now = lambda: moment


# ---------------------------------------------------------------- comparing values


def plain(value: object, f: Field | None = None) -> object:
    """One value as a plain Python value, so two readers can be compared."""
    if value is None or value is pd.NA or value is pd.NaT or value == "":
        return False if f is not None and f.type == "bool" else None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, dt.date | pd.Timestamp):
        return pd.Timestamp(value).round("s").to_pydatetime()
    if isinstance(value, int | float | np.number):
        return float(value)
    return value


def reopened(path):
    return crmbook.open(path, user="tester")


def assert_openpyxl_reads_the_same(path, book=None, sheets=SCHEMA.sheets) -> None:
    """openpyxl, a second reader, sees the values crmbook reads in every sheet with records.

    openpyxl leaves Excel's _xHHHH_ escapes in inline strings undecoded; they are
    decoded here as Excel does.
    """
    mine = book is None
    book = reopened(path) if mine else book
    wb = openpyxl.load_workbook(path)
    for sheet in sheets:
        ws = wb[sheet.name]
        rows = [r for r in ws.iter_rows(values_only=True) if any(v not in (None, "") for v in r)]
        if len(rows) <= 1:
            continue
        typed = book.table(sheet.name).typed
        rows = rows[1:]
        assert len(rows) == len(typed.frame), sheet.name
        for row, (_, record) in zip(rows, typed.frame.iterrows(), strict=True):
            for position, name in enumerate(typed.layout):
                f = sheet.field(name) if sheet.has(name) else None
                theirs = row[position] if position < len(row) else None
                if isinstance(theirs, str):
                    theirs = unescape(theirs)
                    theirs = theirs.strip() if f is not None else theirs  # as typed by hand
                assert plain(theirs, f) == plain(record[name], f), (sheet.name, name, theirs)
    if mine:
        book.close()


def assert_same_records(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    for (_, a), (_, b) in zip(got.iterrows(), expected.iterrows(), strict=True):
        assert {k: plain(v) for k, v in a.items()} == {k: plain(v) for k, v in b.items()}


# ---------------------------------------------------------------- values from the schema

_counter = itertools.count(1)
OTHER = {
    "text": "changed text",
    "longtext": "changed\nnote",
    "email": "boris@example.org",
    "phone": "+44 20 7946 0000",
    "date": dt.date(2021, 6, 7),
    "datetime": dt.datetime(2021, 6, 7, 8, 15),
    "money": 99.99,
    "integer": 7,
    "bool": False,
    "tags": "new",
}


def other_value(book, sheet: Sheet, f: Field, make_record) -> object:
    """A valid value for f different from what make_record gives."""
    if f.ref:
        target = book.table(f.ref)
        return target.add(**make_record(book, target.sheet))
    if f.vocabulary:
        values = book.lists[f.vocabulary]
        return values[-1] if len(values) > 1 else "Jonas"
    if f.unique:
        return f"{sheet.entity} renamed {next(_counter)}"
    return OTHER.get(f.type, "other")


def same_value(got: object, wanted: object) -> bool:
    return plain(got) == plain(wanted)


# ---------------------------------------------------------------- add, update, delete


@pytest.mark.parametrize("sheet", ENTITIES, ids=lambda s: s.name)
def test_add_keeps_every_value_through_a_save(new_book, make_record, sheet):
    table = new_book.table(sheet.name)
    record = make_record(new_book, sheet)
    key = table.add(**record)
    for name, value in record.items():
        assert same_value(table.get(key)[name], value), name
    new_book.save()
    again = reopened(new_book.path).table(sheet.name).get(key)
    for name, value in record.items():
        assert same_value(again[name], value), name
    assert_openpyxl_reads_the_same(new_book.path)


@pytest.mark.parametrize("sheet", ENTITIES, ids=lambda s: s.name)
def test_update_changes_every_field_and_logs_each(new_book, make_record, sheet):
    table = new_book.table(sheet.name)
    key = table.add(**make_record(new_book, sheet))
    changes = {
        f.name: other_value(new_book, sheet, f, make_record)
        for f in sheet.fields
        if not f.auto and f.name != sheet.key
    }
    table.update(key, **changes)
    for name, value in changes.items():
        assert same_value(table.get(key)[name], value), name
    new_book.save()
    again = reopened(new_book.path)
    record = again.table(sheet.name).get(key)
    for name, value in changes.items():
        assert same_value(record[name], value), name
    log = again.log.df
    logged = log[(log["sheet"] == sheet.name) & (log["record"] == key) & log["field"].notna()]
    assert set(logged["field"]) == set(changes)
    assert_openpyxl_reads_the_same(new_book.path)


def test_update_many_changes_each_record_its_own_way(new_book):
    table = new_book.customers
    keys = table.add_many(
        [
            {"name": f"Клиент {i}", "city": "Berlin", "birthday": dt.date(1980, 1, 1 + i)}
            for i in range(6)
        ]
    )
    table.update_many(
        {
            keys[0]: {"city": "תל אביב", "contact_every_days": 30},
            keys[2]: {"city": "Berlin", "birthday": dt.date(1990, 5, 6)},  # city as it was
            keys[3]: {"city": None, "consent_email": True},
            keys[5]: {"name": "Клиент пять", "city": "Москва"},
        }
    )
    new_book.save()
    again = reopened(new_book.path).customers
    got = again.df.set_index("id").loc[keys]
    assert got["city"].fillna("").tolist() == [
        "תל אביב",
        "Berlin",
        "Berlin",
        "",
        "Berlin",
        "Москва",
    ]
    assert got["name"].tolist() == [f"Клиент {i}" for i in range(5)] + ["Клиент пять"]
    assert got["birthday"].dt.day.tolist() == [1, 2, 6, 4, 5, 6]
    assert (
        got["contact_every_days"].iloc[0] == 30 and got["contact_every_days"].iloc[1:].isna().all()
    )
    assert got["consent_email"].tolist() == [False, False, False, True, False, False]
    assert again.df.dtypes.equals(table.df.dtypes)
    log = reopened(new_book.path).log.df
    logged = log[log["field"].notna() & (log["field"] != "")]
    assert sorted(zip(logged["record"], logged["field"], strict=True)) == sorted(
        [
            (keys[0], "city"),
            (keys[0], "contact_every_days"),
            (keys[2], "birthday"),
            (keys[3], "city"),
            (keys[3], "consent_email"),
            (keys[5], "name"),
            (keys[5], "city"),
        ]
    )
    assert_openpyxl_reads_the_same(new_book.path)


@pytest.mark.parametrize("sheet", ENTITIES, ids=lambda s: s.name)
def test_delete_removes_one_record(new_book, make_record, sheet):
    table = new_book.table(sheet.name)
    first = table.add(**make_record(new_book, sheet))
    second = table.add(**make_record(new_book, sheet))
    table.delete(first)
    assert table.keys == {second}
    new_book.save()
    again = reopened(new_book.path).table(sheet.name)
    assert again.keys == {second}
    with pytest.raises(KeyError, match=str(first)):
        again.get(first)
    assert_openpyxl_reads_the_same(new_book.path)


def test_get_unknown_key_names_what_was_not_found(new_book):
    with pytest.raises(KeyError, match="no customer with id 'C-000404' in Customers"):
        new_book.customers.get("C-000404")


def test_tables_by_attribute_sheet_name_and_entity(new_book):
    assert new_book.customers is new_book.table("Customers") is new_book.table("customer")
    assert new_book.sales is new_book.table("sale")
    with pytest.raises(KeyError, match="known: customer"):
        new_book.table("unicorns")


# ---------------------------------------------------------------- ids


@pytest.mark.parametrize("sheet", WITH_IDS, ids=lambda s: s.name)
def test_ids_are_sequential_and_readable(new_book, make_record, sheet):
    table = new_book.table(sheet.name)
    keys = [table.add(**make_record(new_book, sheet)) for _ in range(3)]
    start = int(keys[0].split("-")[1])
    assert keys == [f"{sheet.id_prefix}-{n:06d}" for n in range(start, start + 3)]


def test_ids_are_never_reused_after_delete_nor_after_reopening(new_book):
    ids = [new_book.customers.add(name=n) for n in ("Anna", "Boris", "Carla")]
    new_book.customers.delete(ids[-1])
    assert new_book.customers.add(name="Dan") == "C-000004"
    new_book.customers.delete("C-000004")
    new_book.save()
    again = reopened(new_book.path)
    assert again.customers.add(name="Eva") == "C-000005"
    again.save()
    third = reopened(new_book.path)
    third.customers.delete("C-000005")
    third.save()
    assert reopened(new_book.path).customers.add(name="Fay") == "C-000006"


def test_many_records_at_once_get_consecutive_ids(new_book):
    ids = new_book.customers.add_many([{"name": f"Person {i}"} for i in range(5)])
    assert ids == [f"C-{n:06d}" for n in range(1, 6)]


def test_an_id_typed_in_excel_is_never_given_out_again(new_book):
    cid = new_book.customers.add(name="Anna")
    new_book.interactions.add(customer_id=cid, when=T1, channel="call")
    new_book.save()
    wb = openpyxl.load_workbook(new_book.path)
    ws = wb["Interactions"]
    ws.append(["I-000002", cid, T2, "visit"])
    ws.tables["Interactions"].ref = f"A1:J{ws.max_row}"
    wb.save(new_book.path)

    book = reopened(new_book.path)
    assert book.interactions.add(customer_id=cid, when=T3, channel="email") == "I-000003"
    book.save()
    again = reopened(new_book.path)
    assert sorted(again.interactions.keys) == ["I-000001", "I-000002", "I-000003"]
    assert again.validate().valid


def test_keep_ids_refuses_an_id_already_in_the_sheet(new_book):
    cid = new_book.customers.add(name="Anna")
    new_book.interactions.add(customer_id=cid, when=T1, channel="call")
    new_book.save()
    book = reopened(new_book.path)
    record = {"id": "I-000001", "customer_id": cid, "when": T2, "channel": "call"}
    with pytest.raises(RecordError, match="I-000001' already exists"):
        book.interactions.add_many([record], keep_ids=True)


# ---------------------------------------------------------------- stamps


def test_created_and_updated_stamps(new_book):
    clock(new_book, T1)
    cid = new_book.customers.add(name="Anna")
    assert new_book.customers.get(cid)["created"] == pd.Timestamp(T1)
    assert new_book.customers.get(cid)["updated"] == pd.Timestamp(T1)
    clock(new_book, T2)
    new_book.customers.update(cid, city="Paris")
    record = new_book.customers.get(cid)
    assert (record["created"], record["updated"]) == (pd.Timestamp(T1), pd.Timestamp(T2))
    new_book.save()
    record = reopened(new_book.path).customers.get(cid)
    assert (record["created"], record["updated"]) == (pd.Timestamp(T1), pd.Timestamp(T2))
    cells = openpyxl.load_workbook(new_book.path)["Customers"][2]
    columns = SCHEMA.sheet("Customers").columns
    assert cells[columns.index("created")].value == T1
    assert cells[columns.index("updated")].is_date


# ---------------------------------------------------------------- refused records


@pytest.fixture
def saved_book(new_book):
    new_book.customers.add(name="Anna")
    new_book.save()
    return reopened(new_book.path)


REFUSED = [
    pytest.param(
        "Customers",
        {"name": "X", "colour": "red"},
        ["has no column 'colour'", "columns are: id"],
        id="unknown-column",
    ),
    pytest.param(
        "Customers",
        {"name": "X", "birthday": "someday"},
        ["birthday", "not a date", "someday"],
        id="bad-date",
    ),
    pytest.param(
        "Customers",
        {"name": "X", "birthday": dt.date(1850, 1, 1)},
        ["birthday", "from 1900"],
        id="date-before-excel",
    ),
    pytest.param(
        "Customers",
        {"name": "X", "stage": "vip"},
        ["stage", "not in the 'stage' list", "prospect"],
        id="stage-not-in-list",
    ),
    pytest.param(
        "Customers",
        {"name": "X", "email": "x.example.com"},
        ["email", "not an email address"],
        id="bad-email",
    ),
    pytest.param("Customers", {"city": "Paris"}, ["name is required"], id="required"),
    pytest.param(
        "Customers",
        {"name": "X", "contact_every_days": "often"},
        ["not a whole number"],
        id="bad-integer",
    ),
    pytest.param(
        "Interactions",
        {"customer_id": "C-999999", "when": T1, "channel": "call"},
        ["customer_id", "C-999999", "no customer with this id"],
        id="unknown-customer",
    ),
    pytest.param(
        "Sales",
        {"customer_id": "C-000001", "date": "2024-01-01", "amount": "lots"},
        ["amount", "not a number", "lots"],
        id="bad-money",
    ),
]
GOOD = {
    "Customers": {"name": "Fixed"},
    "Interactions": {"customer_id": "C-000001", "when": T1, "channel": "call"},
    "Sales": {"customer_id": "C-000001", "date": "2024-01-01", "amount": 10},
}


@pytest.mark.parametrize(("sheet", "values", "words"), REFUSED)
def test_a_refused_record_changes_nothing(saved_book, sheet, values, words):
    table = saved_book.table(sheet)
    before = table.df.copy()
    meta = dict(saved_book.meta)
    with pytest.raises(RecordError) as refused:
        table.add(**values)
    message = str(refused.value)
    for word in words:
        assert word in message
    assert "Traceback" not in message
    assert message.startswith(sheet)
    pd.testing.assert_frame_equal(table.df, before)
    assert saved_book.meta == meta
    assert not saved_book.changed
    first = "C-000002" if sheet == "Customers" else f"{table.sheet.id_prefix}-000001"
    assert table.add(**GOOD[sheet]) == first  # the refused record used up no id


def test_refused_record_issues_are_data_too(saved_book):
    with pytest.raises(RecordError) as refused:
        saved_book.customers.add(name="X", stage="vip", birthday="31.02.2020")
    assert {(i.code, i.column) for i in refused.value.issues} == {("bad-date", "birthday")}


def test_a_refused_update_changes_nothing(saved_book):
    before = saved_book.customers.df.copy()
    for values in ({"birthday": "soon"}, {"colour": "red"}, {"id": "C-000009"}):
        with pytest.raises(RecordError):
            saved_book.customers.update("C-000001", **values)
    pd.testing.assert_frame_equal(saved_book.customers.df, before)
    assert not saved_book.changed


def test_duplicate_names_refused_where_the_name_is_the_key(new_book):
    new_book.sources.add(name="Fair 2024")
    with pytest.raises(RecordError, match="'Fair 2024' already exists"):
        new_book.sources.add(name="Fair 2024")


# ---------------------------------------------------------------- the change log


def log_rows(path) -> list[tuple]:
    ws = openpyxl.load_workbook(path)["Log"]
    return [r for r in ws.iter_rows(values_only=True)]


def test_every_change_is_in_the_log_sheet(new_book):
    clock(new_book, T1)
    cid = new_book.customers.add(name="Anna", city="Paris")
    clock(new_book, T2)
    new_book.customers.update(cid, city="Berlin")
    clock(new_book, T3)
    new_book.customers.delete(cid)
    new_book.save()
    header, *rows = log_rows(new_book.path)
    assert header == tuple(SCHEMA.sheet("Log").columns)
    assert rows[0] == (T1, "tester", "Customers", cid, None, None, "added")
    assert rows[1] == (T2, "tester", "Customers", cid, "city", "Paris", "Berlin")
    when, who, sheet, record, field, old, new = rows[2]
    assert (when, who, sheet, record, field, new) == (
        T3,
        "tester",
        "Customers",
        cid,
        None,
        "deleted",
    )
    assert "name=Anna" in old
    assert "city=Berlin" in old
    assert len(rows) == 3


def test_the_log_grows_with_each_save_and_its_table_with_it(new_book):
    cid = new_book.customers.add(name="Anna")
    new_book.save()
    book = reopened(new_book.path)
    book.user = "maria"
    book.customers.update(cid, stage="customer")
    book.save()
    rows = log_rows(new_book.path)[1:]
    assert [(r[1], r[4], r[5], r[6]) for r in rows] == [
        ("tester", None, None, "added"),
        ("maria", "stage", "prospect", "customer"),
    ]
    ws = openpyxl.load_workbook(new_book.path)["Log"]
    assert ws.tables["Log"].ref == "A1:G3"


# ---------------------------------------------------------------- text that looks like a formula


@pytest.mark.parametrize("text", FORMULA_LIKE)
def test_formula_like_text_stays_text(new_book, text):
    cid = new_book.customers.add(name=text, notes=text)
    other = new_book.customers.add(name="Anna")
    new_book.save()
    book = reopened(new_book.path)
    book.customers.update(other, company=text)  # a rewrite writes every row again
    book.save()
    ws = openpyxl.load_workbook(new_book.path)["Customers"]
    columns = SCHEMA.sheet("Customers").columns
    for row, column in ((2, "name"), (2, "notes"), (3, "company")):
        cell = ws.cell(row=row, column=columns.index(column) + 1)
        assert cell.data_type == "s"
        assert cell.value == text
    with zipfile.ZipFile(new_book.path) as z:
        assert b"<f>" not in z.read("xl/worksheets/sheet1.xml")
    assert reopened(new_book.path).customers.get(cid)["name"] == text


# ---------------------------------------------------------------- what the user typed is kept


def _add_own_columns(path) -> None:
    """The person adds columns of their own, with a date, a number and a flag."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Customers"]
    first = ws.max_column + 1
    for offset, title in enumerate(("Next visit", "Score", "Checked")):
        ws.cell(row=1, column=first + offset, value=title)
    visit = ws.cell(row=2, column=first, value=dt.datetime(2025, 1, 15))
    visit.number_format = "dd.mm.yyyy"
    ws.cell(row=2, column=first + 1, value=17.5)
    ws.cell(row=4, column=first + 2, value=True)
    ws["E2"] = "some day"  # Birthday of C-000001, unreadable
    wb.save(path)


def test_own_columns_and_unreadable_values_survive_an_update(hand_edited):
    _add_own_columns(hand_edited.path)
    book = reopened(hand_edited.path)
    own = ["Favourite colour", "Next visit", "Score", "Checked"]
    before = book.customers.df[own].copy()
    book.customers.update("C-000001", city="Berlin")
    book.save()
    again = reopened(hand_edited.path)
    assert_same_records(again.customers.df[own], before)
    assert again.customers.get("C-000001")["city"] == "Berlin"
    ws = openpyxl.load_workbook(hand_edited.path)["Customers"]
    header = [c.value for c in ws[1]]
    assert ws.cell(row=2, column=header.index("Birthday") + 1).value == "some day"
    assert ws.cell(row=2, column=header.index("Next visit") + 1).is_date
    assert ws.cell(row=2, column=header.index("Score") + 1).value == 17.5
    assert ws.cell(row=3, column=header.index("Checked") + 1).value is True
    bad = [i for i in again.validate().issues if i.code == "bad-date"]
    assert [(i.row, i.column, i.value) for i in bad] == [(2, "birthday", "some day")]


def test_a_rewrite_keeps_the_column_order_and_headers_the_person_chose(hand_edited):
    book = reopened(hand_edited.path)
    book.customers.update("C-000002", city="Moscow")
    book.save()
    ws = openpyxl.load_workbook(hand_edited.path)["Customers"]
    assert [c.value for c in ws[1]] == hand_edited.header


def test_a_rewrite_writes_hand_typed_values_as_real_types(hand_edited):
    book = reopened(hand_edited.path)
    issues = {(i.code, i.column) for i in book.validate().issues} - {("missing-id", "id")}
    book.customers.update("C-000002", city="Moscow")
    book.sales.update("S-000002", product="Cut")
    book.save()
    again = reopened(hand_edited.path)
    assert {(i.code, i.column) for i in again.validate().issues} == issues
    ws = openpyxl.load_workbook(hand_edited.path)["Customers"]
    header = [c.value for c in ws[1]]
    boris = ws.cell(row=3, column=header.index("Birthday") + 1)
    assert boris.value == dt.datetime(2021, 3, 5)
    every = ws.cell(row=2, column=header.index("Contact every days") + 1)
    assert every.value == 30
    assert not every.is_date
    sales = openpyxl.load_workbook(hand_edited.path)["Sales"]
    assert sales["C2"].value == dt.datetime(2021, 3, 5)
    assert sales["D2"].value == 1200.5


# ---------------------------------------------------------------- round trips


def test_unicode_round_trips_unchanged(new_book):
    ids = [new_book.customers.add(name=text, notes=text, city=text) for text in UNICODE]
    new_book.save()
    book = reopened(new_book.path)
    for cid, text in zip(ids, UNICODE, strict=True):
        record = book.customers.get(cid)
        assert (record["name"], record["notes"], record["city"]) == (text, text, text)
    assert_openpyxl_reads_the_same(new_book.path)


def test_spaces_around_text_are_trimmed_spaces_inside_kept(new_book):
    cid = new_book.customers.add(name="  Anna   Maria  ", notes=" line one \n line two ")
    new_book.save()
    record = reopened(new_book.path).customers.get(cid)
    assert record["name"] == "Anna   Maria"
    assert record["notes"] == "line one \n line two"


def test_every_type_round_trips_after_append_and_after_rewrite(new_book, make_record):
    clock(new_book, T1)
    for sheet in ENTITIES:
        new_book.table(sheet.name).add(**make_record(new_book, sheet))
    frames = {s.name: new_book.table(s.name).df.copy() for s in ENTITIES}
    new_book.save()
    book = reopened(new_book.path)
    clock(book, T1)
    for name, frame in frames.items():
        assert_same_records(book.table(name).df, frame)
    for sheet in ENTITIES:  # an update to the same value still rewrites the sheet
        table = book.table(sheet.name)
        key = sorted(table.keys)[0]
        first = next(f.name for f in sheet.fields if not f.auto and f.name != sheet.key)
        table.update(key, **{first: table.get(key)[first]})
    book.save()
    again = reopened(new_book.path)
    for name, frame in frames.items():
        assert_same_records(again.table(name).df, frame)
    assert_openpyxl_reads_the_same(new_book.path)


def test_dates_at_the_edges_of_what_excel_stores(new_book):
    days = [dt.date(1900, 1, 1), dt.date(1900, 2, 28), dt.date(1900, 3, 1), dt.date(2099, 12, 31)]
    cid = new_book.customers.add(name="Anna")
    ids = [new_book.deals.add(customer_id=cid, title=str(d), expected_close=d) for d in days]
    new_book.save()
    book = reopened(new_book.path)
    assert [book.deals.get(i)["expected_close"] for i in ids] == [pd.Timestamp(d) for d in days]
    ws = openpyxl.load_workbook(new_book.path)["Deals"]
    column = SCHEMA.sheet("Deals").columns.index("expected_close") + 1
    assert [ws.cell(row=r, column=column).value.date() for r in range(2, 6)] == days


# ---------------------------------------------------------------- the property


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    path = tmp_path_factory.mktemp("blank") / "blank.xlsx"
    crmbook.create(path, user="tester").close()
    return path


TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cn")), max_size=25)
NAME = TEXT.filter(lambda s: s.strip() != "")
CUSTOMER = st.fixed_dictionaries(
    {"name": NAME},
    optional={
        "city": TEXT,
        "notes": TEXT,
        "email": st.from_regex(r"[a-z0-9]{1,8}@[a-z]{1,8}\.[a-z]{2,4}", fullmatch=True),
        "birthday": st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)),
        "consent_email": st.booleans(),
        "contact_every_days": st.integers(0, 10**9),
        "stage": st.sampled_from(SCHEMA.vocabulary("stage").values),
    },
)
SALE = st.fixed_dictionaries(
    {
        "date": st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31)),
        "amount": st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False),
    },
    optional={
        "product": TEXT,
        "promo_code": TEXT,
    },
)
WHEN = st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    customers=st.lists(CUSTOMER, min_size=1, max_size=4),
    sales=st.lists(SALE, max_size=3),
    when=WHEN,
)
@example(
    customers=[{"name": "None"}, {"name": "nan", "city": "_x0041_"}, {"name": "\x01\r\n"}],
    sales=[{"date": dt.date(1900, 1, 1), "amount": 0.1 + 0.2}],
    when=dt.datetime(1900, 3, 1),
)
def test_random_records_read_back_equal(blank, tmp_path, customers, sales, when):
    path = tmp_path / f"{uuid.uuid4().hex}.xlsx"
    shutil.copy(blank, path)
    book = crmbook.open(path, user="tester")
    ids = book.customers.add_many(customers)
    book.sales.add_many([{**s, "customer_id": ids[0]} for s in sales])
    book.interactions.add(customer_id=ids[-1], when=when, channel="visit")
    touched = [SCHEMA.sheet(name) for name in ("Customers", "Sales", "Interactions")]
    frames = {s.name: book.table(s.name).df.copy() for s in touched}
    book.save()
    again = crmbook.open(path, user="tester")
    for name, frame in frames.items():
        assert_same_records(again.table(name).df, frame)
    assert_openpyxl_reads_the_same(path, again, touched)


# ---------------------------------------------------------------- LibreOffice, a third reader


@pytest.mark.libreoffice
@libreoffice.needs_libreoffice
def test_libreoffice_reads_the_customers_sheet_the_same(new_book, tmp_path):
    names = [*UNICODE[:4], *FORMULA_LIKE]
    for i, name in enumerate(names):
        clock(new_book, T1 + dt.timedelta(minutes=7 * i))  # whole minutes stay whole
        new_book.customers.add(
            name=name,
            birthday=dt.date(1980, 1, 1) + dt.timedelta(days=400 * i),
            consent_email=i % 2 == 0,
            contact_every_days=i * 10,
            stage="loyal",
        )
    new_book.save()
    out = libreoffice.convert(
        [str(new_book.path)],
        tmp_path,
        to="csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,1",
    )
    (produced,) = out.glob("*.csv")
    with produced.open(encoding="utf-8", newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header == SCHEMA.sheet("Customers").columns
    frame = reopened(new_book.path).customers.df
    assert len(rows) == len(frame)
    assert frame["created"].iloc[-1] == pd.Timestamp(T1 + dt.timedelta(minutes=7 * 8))
    for row, (_, record) in zip(rows, frame.iterrows(), strict=True):
        theirs = dict(zip(header, row, strict=True))
        assert theirs["id"] == record["id"]
        assert theirs["name"] == record["name"]
        assert pd.Timestamp(theirs["birthday"]) == record["birthday"]
        assert pd.Timestamp(theirs["created"]) == record["created"]
        assert theirs["consent_email"] == str(record["consent_email"]).upper()
        assert int(theirs["contact_every_days"]) == record["contact_every_days"]
        assert theirs["stage"] == "loyal"


def test_a_column_of_ones_own_is_added_filled_and_kept(tmp_path):
    book = crmbook.create(tmp_path / "crm.xlsx", user="tester")
    first = book.customers.add(name="Anna", email="anna@example.com")
    book.save()
    book = crmbook.open(book.path)
    book.customers.add_column("other_emails")
    second = book.customers.add(name="Boris", other_emails="b@home.example (home)")
    book.customers.update(first, other_emails="a@home.example")
    with pytest.raises(crmbook.errors.CrmbookError, match="cannot be a column of your own"):
        book.customers.add_column("E-mail")
    book.save()
    again = crmbook.open(book.path).customers.df.set_index("id")
    assert again.loc[first, "other_emails"] == "a@home.example"
    assert again.loc[second, "other_emails"] == "b@home.example (home)"
    sheet = openpyxl.load_workbook(book.path)["Customers"]  # an independent reader
    last = sheet.cell(1, sheet.max_column)
    assert last.value == "other_emails"
    assert sheet.tables["Customers"].ref.endswith(f"{last.column_letter}3")
