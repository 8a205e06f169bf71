"""Reading what people typed: tolerant of habits, precise about mistakes."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
import pytest

import crmbook
from crmbook import SCHEMA, Issue, Report
from crmbook.io.reader import RawSheet
from crmbook.validation import (
    Checker,
    Code,
    header_key,
    parse_bool,
    parse_date,
    parse_number,
    type_sheet,
)


@pytest.fixture(scope="module")
def edited(hand_edited_master):
    """The hand-edited workbook, opened and validated once; tests only read it."""
    book = crmbook.open(hand_edited_master.path)
    yield book, book.validate()
    book.close()


def where(issue: Issue) -> tuple[str, str, int | None, str | None]:
    return (issue.code, issue.sheet, issue.row, issue.column)


# ---------------------------------------------------------------- each mistake, once, in place


def test_every_mistake_is_reported_exactly_once_where_excel_shows_it(edited, hand_edited_master):
    _, report = edited
    found = [where(i) for i in report.issues]
    assert sorted(found) == sorted(hand_edited_master.problems)


@pytest.mark.parametrize(
    ("code", "severity", "value", "words"),
    [
        ("missing-id", "warning", None, "C-000008"),
        ("duplicate", "error", "C-000002", "row 4"),
        ("bad-email", "error", "eva.example.com", "@"),
        ("future-date", "error", None, "future"),
        ("not-in-list", "error", "vip", "stage"),
        ("required", "error", None, "name is required"),
        ("unknown-reference", "error", "C-999999", "no customer"),
    ],
)
def test_each_issue_says_what_is_wrong_and_how_to_fix_it(edited, code, severity, value, words):
    _, report = edited
    (issue,) = [i for i in report.issues if i.code == code]
    assert issue.severity == severity
    if value is not None:
        assert issue.value == value
    assert words in issue.message
    assert len(issue.fix) > 10
    assert issue.where in str(issue)
    assert issue.fix in str(issue)


def test_future_birthday_shows_the_date_typed(edited, hand_edited_master):
    _, report = edited
    (issue,) = [i for i in report.issues if i.code == "future-date"]
    assert issue.value == hand_edited_master.future


def test_not_in_list_fix_names_the_allowed_values(edited):
    _, report = edited
    (issue,) = [i for i in report.issues if i.code == "not-in-list"]
    assert "prospect" in issue.fix
    assert "Lists" in issue.fix


def test_report_is_not_valid_and_counts_errors_and_warnings(edited):
    _, report = edited
    assert not report.valid
    assert len(report.errors) == 6
    assert len(report.warnings) == 1
    assert report.summary() == "6 error(s), 1 warning(s)."
    assert str(report).endswith(report.summary())


def test_errors_come_before_warnings_in_sheet_and_row_order(edited):
    _, report = edited
    severities = [i.severity for i in report.issues]
    assert severities == sorted(severities, key=lambda s: s != "error")
    customer_rows = [i.row for i in report.errors if i.sheet == "Customers"]
    assert customer_rows == sorted(customer_rows)


def test_report_as_a_frame(edited):
    _, report = edited
    frame = report.to_frame()
    assert list(frame.columns) == [
        "code",
        "severity",
        "sheet",
        "row",
        "column",
        "value",
        "message",
        "fix",
    ]
    assert len(frame) == len(report.issues)
    assert set(frame["code"]) == {code for code, *_ in frame.itertuples(index=False)}
    assert frame.loc[frame["code"] == "bad-email", "row"].tolist() == [9]


def test_empty_report_frame_has_the_same_columns():
    frame = Report().to_frame()
    assert frame.empty
    assert list(frame.columns) == list(Issue.__dataclass_fields__)


def test_report_as_dicts_is_json_ready(edited):
    import json

    _, report = edited
    json.dumps(report.to_dicts())


def test_missing_id_is_written_on_the_next_save(hand_edited):
    book = crmbook.open(hand_edited.path)
    assert "missing-id" in {i.code for i in book.validate().issues}
    book.save()
    again = crmbook.open(hand_edited.path)
    row = again.customers.df.set_index("name").loc["Carla Rossi"]
    assert row["id"] == "C-000008"
    assert "missing-id" not in {i.code for i in again.validate().issues}


# ---------------------------------------------------------------- tolerated habits


def test_tolerated_habits_produce_no_issue_on_the_rows_that_have_them(edited):
    _, report = edited
    clean_rows = {("Customers", 2), ("Customers", 4), ("Interactions", 2), ("Sales", 2)}
    clean_rows.add(("Sales", 3))
    assert [i for i in report.issues if (i.sheet, i.row) in clean_rows] == []


def test_hand_typed_values_come_out_typed(edited):
    book, _ = edited
    anna = book.customers.df.set_index("id").loc["C-000001"]
    assert anna["name"] == "Anna Schmidt"
    assert anna["email"] == "anna@example.com"
    assert anna["birthday"] == pd.Timestamp("1990-03-31")
    assert anna["consent_date"] == pd.Timestamp("2021-03-05")
    assert anna["consent_email"] is True or anna["consent_email"] == True  # noqa: E712
    assert anna["stage"] == "customer"
    assert anna["contact_every_days"] == 30
    boris = book.customers.df.set_index("id").loc["C-000002"].iloc[0]
    assert boris["birthday"] == pd.Timestamp("2021-03-05")
    assert boris["stage"] == "loyal"


def test_columns_have_real_types(edited):
    book, _ = edited
    dtypes = book.customers.df.dtypes
    assert pd.api.types.is_datetime64_any_dtype(dtypes["birthday"])
    assert pd.api.types.is_datetime64_any_dtype(dtypes["created"])
    assert pd.api.types.is_bool_dtype(dtypes["consent_email"])
    assert pd.api.types.is_integer_dtype(dtypes["contact_every_days"])
    assert pd.api.types.is_string_dtype(dtypes["name"])
    sales = book.sales.df
    assert pd.api.types.is_float_dtype(sales["amount"])
    assert sales["amount"].tolist() == [1200.5, 99.0]
    assert sales["date"].tolist() == [pd.Timestamp("2021-03-05")] * 2
    assert sales["product"].tolist() == ["Haircut", "Colour"]


def test_schema_columns_first_in_schema_order_then_the_users_own(edited):
    book, _ = edited
    columns = list(book.customers.df.columns)
    assert columns == [*SCHEMA.sheet("Customers").columns, "Favourite colour"]
    assert book.customers.df["Favourite colour"].tolist()[:2] == ["green", "blue"]


def test_users_own_column_reads_blank_cells_as_missing(edited):
    book, _ = edited
    colour = book.customers.df["Favourite colour"]
    assert colour.isna().sum() == len(colour) - 2


def test_text_datetime_and_typed_choice_in_interactions(edited):
    book, _ = edited
    first = book.interactions.df.iloc[0]
    assert first["when"] == pd.Timestamp("2021-03-05 14:30")
    assert first["channel"] == "call"


def test_blank_rows_are_skipped_but_row_numbers_stay_true(edited):
    book, _ = edited
    assert len(book.customers.df) == 8
    assert book.customers.typed.rows.tolist() == [2, 4, 7, 8, 9, 10, 11, 12]
    assert book.interactions.typed.rows.tolist() == [2, 4]


def test_a_fresh_workbook_is_valid(new_book):
    report = new_book.validate()
    assert report.valid
    assert report.issues == []
    assert report.summary() == "No problems found."


# ---------------------------------------------------------------- missing sheets and columns


def test_missing_sheet_is_one_error(new_book):
    path = new_book.path
    wb = openpyxl.load_workbook(path)
    del wb["Competitors"]
    wb.save(path)
    report = crmbook.open(path).validate()
    assert [where(i) for i in report.issues] == [("missing-sheet", "Competitors", None, None)]
    assert "Competitors" in report.issues[0].message
    assert not report.valid


def test_a_missing_customers_sheet_is_one_error_not_one_per_reference(new_book):
    for name in ("Anna", "Boris"):
        cid = new_book.customers.add(name=name)
        new_book.interactions.add(customer_id=cid, when="2024-05-01 10:00", channel="call")
        new_book.sales.add(customer_id=cid, date="2024-05-02", amount=10)
    new_book.save()
    wb = openpyxl.load_workbook(new_book.path)
    del wb["Customers"]
    wb.save(new_book.path)
    report = crmbook.open(new_book.path).validate()
    assert [where(i) for i in report.issues] == [("missing-sheet", "Customers", None, None)]


def test_missing_required_column_is_an_error_optional_one_a_warning(new_book):
    path = new_book.path
    wb = openpyxl.load_workbook(path)
    ws = wb["Sales"]
    ws.delete_cols(SCHEMA.sheet("Sales").columns.index("product") + 1)
    ws.delete_cols(SCHEMA.sheet("Sales").columns.index("amount") + 1)
    for table in list(ws.tables):
        del ws.tables[table]
    wb.save(path)
    report = crmbook.open(path).validate()
    found = {(i.code, i.severity, i.sheet, i.row, i.column) for i in report.issues}
    assert found == {
        ("missing-column", "error", "Sales", 1, "amount"),
        ("missing-column", "warning", "Sales", 1, "product"),
    }


def test_a_number_column_read_as_dates_is_reported_not_a_crash(new_book):
    """fastexcel reads a column of an empty text and a date as dates (both missing): a
    number field read so is reported, not a crash of the whole open."""
    new_book.customers.add_many([{"name": "Anna"}, {"name": "Boris"}])
    new_book.save(backups=0)
    wb = openpyxl.load_workbook(new_book.path)
    ws = wb["Customers"]
    column = SCHEMA.sheet("Customers").columns.index("contact_every_days") + 1
    ws.cell(2, column, "")
    ws.cell(3, column, dt.datetime(2020, 2, 4, 18, 9, 33))
    wb.save(new_book.path)
    book = crmbook.open(new_book.path)
    assert book.customers.df["contact_every_days"].isna().all()
    found = {(i.code, i.row, i.column) for i in book.validate().issues}
    assert ("bad-integer", 3, "contact_every_days") in found


def test_missing_list_column_warns_and_falls_back_to_defaults(new_book):
    path = new_book.path
    wb = openpyxl.load_workbook(path)
    ws = wb["Lists"]
    column = [c.value for c in ws[1]].index("outcome") + 1
    ws.delete_cols(column)
    wb.save(path)
    book = crmbook.open(path)
    report = book.validate()
    assert [where(i) for i in report.issues] == [("missing-list", "Lists", 1, "outcome")]
    assert report.valid
    assert book.lists["outcome"] == list(SCHEMA.vocabulary("outcome").values)


def test_a_value_added_to_lists_is_accepted(new_book):
    path = new_book.path
    wb = openpyxl.load_workbook(path)
    ws = wb["Lists"]
    column = [c.value for c in ws[1]].index("stage") + 1
    ws.cell(row=ws.max_row + 1, column=column, value="VIP")
    wb.save(path)
    book = crmbook.open(path)
    cid = book.customers.add(name="Anna", stage="vip")
    assert book.customers.get(cid)["stage"] == "VIP"
    assert book.validate().valid


# ---------------------------------------------------------------- Unicode


def test_unicode_values_and_headers_are_read_unchanged(new_book):
    path = new_book.path
    wb = openpyxl.load_workbook(path)
    ws = wb["Customers"]
    header = [c.value for c in ws[1]]
    values = {
        "id": "C-000001",
        "name": "דוד כהן",
        "city": "Москва",
        "company": "Crème Brûlée GmbH",
        "notes": "🎂 birthday 🎉",
        "email": "ana@exämple.de",
    }
    ws.append([values.get(h) for h in header])
    ws.cell(row=1, column=len(header) + 1, value="Любимый цвет")
    ws.cell(row=2, column=len(header) + 1, value="зелёный")
    wb.save(path)
    book = crmbook.open(path)
    record = book.customers.get("C-000001")
    for name, value in values.items():
        assert record[name] == value
    assert record["Любимый цвет"] == "зелёный"
    assert book.validate().valid


def test_unicode_mistake_is_reported_with_its_value(new_book):
    path = new_book.path
    wb = openpyxl.load_workbook(path)
    ws = wb["Customers"]
    header = [c.value for c in ws[1]]
    ws.append([{"id": "C-000001", "name": "Ольга", "stage": "клиент"}.get(h) for h in header])
    wb.save(path)
    (issue,) = crmbook.open(path).validate().issues
    assert where(issue) == ("not-in-list", "Customers", 2, "stage")
    assert issue.value == "клиент"
    assert "клиент" in str(issue)


# ---------------------------------------------------------------- the parsers, one value at a time


@pytest.mark.parametrize(
    "header",
    ["consent_email", "Consent Email", "CONSENT_EMAIL", " consent email ", "Consent-E-mail"],
)
def test_header_spellings_match(header):
    assert header_key(header) == header_key("consent_email")


def test_header_keys_of_a_sheet_never_collide():
    for sheet in SCHEMA.sheets:
        keys = [header_key(f.name) for f in sheet.fields]
        assert len(keys) == len(set(keys)), sheet.name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("31.03.1990", "1990-03-31"),
        ("March 5, 2021", "2021-03-05"),
        ("2021-03-05", "2021-03-05"),
        ("5 March 2021", "2021-03-05"),
        ("05/03/2021", "2021-03-05"),
        (" 2021-03-05 ", "2021-03-05"),
        (dt.date(2021, 3, 5), "2021-03-05"),
        (dt.datetime(2021, 3, 5, 12, 0), "2021-03-05"),
        (44260.0, "2021-03-05"),
    ],
)
def test_dates_typed_in_common_ways(text, expected):
    parsed = parse_date(pd.Series([text], dtype=object), with_time=False)
    assert not parsed.bad.any()
    assert parsed.values[0] == pd.Timestamp(expected)


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (59.0, "1900-02-28"),
        (44260.25, "2021-03-05 06:00"),
        (117894.5, "2222-10-12 12:00"),
        (2958465.75, "9999-12-31 18:00"),
    ],
)
def test_excel_serial_numbers_read_across_excels_whole_date_range(serial, expected):
    parsed = parse_date(pd.Series([serial], dtype=object), with_time=True)
    assert not parsed.bad.any()
    assert parsed.values[0] == pd.Timestamp(expected)


def test_month_first_dates_when_asked():
    parsed = parse_date(pd.Series(["03/05/2021"], dtype=object), with_time=False, dayfirst=False)
    assert parsed.values[0] == pd.Timestamp("2021-03-05")


@pytest.mark.parametrize("text", ["31.02.2021", "soon", "2021-13-01", "12"])
def test_unreadable_dates_are_bad(text):
    parsed = parse_date(pd.Series([text], dtype=object), with_time=False)
    assert parsed.bad.tolist() == [True]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 200,50", 1200.5),
        ("1,200.50", 1200.5),
        ("1.200,50", 1200.5),
        ("1,200", 1200.0),
        ("12,5", 12.5),
        ("€ 99", 99.0),
        ("(15.00)", -15.0),
        (" 42 ", 42.0),
        (42, 42.0),
        ("1\u00a0200", 1200.0),
    ],
)
def test_numbers_stored_as_text(text, expected):
    parsed = parse_number(pd.Series([text], dtype=object), integer=False)
    assert not parsed.bad.any()
    assert parsed.values[0] == expected


@pytest.mark.parametrize("text", ["twelve", "1.2.3", True])
def test_unreadable_numbers_are_bad(text):
    assert parse_number(pd.Series([text], dtype=object), integer=False).bad.tolist() == [True]


def test_fractional_whole_number_is_bad():
    parsed = parse_number(pd.Series(["30", "7.5"], dtype=object), integer=True)
    assert parsed.bad.tolist() == [False, True]
    assert parsed.values[0] == 30


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("yes", True), ("TRUE", True), ("да", True), ("כן", True), (0, False)],
)
def test_booleans_in_many_words(value, expected):
    parsed = parse_bool(pd.Series([value], dtype=object), default=False)
    assert not parsed.bad.any()
    assert bool(parsed.values[0]) is expected


def test_bad_values_are_reported_with_row_and_typed_value():
    columns = SCHEMA.sheet("Sales").columns
    frame = pd.DataFrame(
        [["S-000001", "C-000001", "someday", "lots"], ["S-000002", "C-000001", "2021-03-05", "10"]],
        columns=columns[:4],
        dtype=object,
    )
    raw = RawSheet("Sales", 1, columns[:4], frame, pd.Series([2, 4]))
    checker = Checker(SCHEMA)
    typed = type_sheet(SCHEMA.sheet("Sales"), raw, checker)
    found = {(i.code, i.row, i.column, i.value) for i in checker.issues if i.code[:4] == "bad-"}
    assert found == {("bad-date", 2, "date", "someday"), ("bad-money", 2, "amount", "lots")}
    assert typed.frame["amount"].tolist()[1] == 10.0


def test_header_below_blank_rows_keeps_true_row_numbers(new_book):
    path = new_book.path
    wb = openpyxl.load_workbook(path)
    ws = wb["Competitors"]
    ws.insert_rows(1, 2)
    ws.append(["Acme", "cheap", None, None])
    ws.append([None] * 4)
    ws.append(["Bolt", None, "slow", None])
    ws.tables["Competitors"].ref = "A3:D7"
    wb.save(path)
    book = crmbook.open(path)
    typed = book.competitors.typed
    assert typed.header_row == 3
    assert typed.rows.tolist() == [4, 6]
    assert book.competitors.df["name"].tolist() == ["Acme", "Bolt"]
    assert book.validate().valid


# ---------------------------------------------------------------- the issue codes


def test_issue_codes_keep_the_values_programs_read():
    """`validate --format json` prints these codes; they never change."""
    assert {str(code) for code in Code} == {
        "missing-sheet",
        "missing-column",
        "missing-list",
        "schema-upgrade",
        "bad-date",
        "bad-datetime",
        "bad-money",
        "bad-integer",
        "bad-bool",
        "bad-probability",
        "required",
        "too-long",
        "bad-email",
        "bad-phone",
        "future-date",
        "not-in-list",
        "unknown-reference",
        "duplicate",
        "bad-id",
        "missing-id",
        "repeated",
        "name-from-email",
    }


@pytest.mark.parametrize("code", list(Code))
def test_every_code_has_a_severity_and_words(code):
    assert code.severity in ("error", "warning")
    assert code.message and code.fix
    assert code == str(code)  # compares equal to its text, as programs see it
