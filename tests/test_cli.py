"""The command line as a user meets it: exit codes, messages, and what lands in the workbook."""

import contextlib
import json
import sqlite3

import libreoffice
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

import crmbook
from crmbook.cli import main
from crmbook.schema import SCHEMA


@pytest.fixture
def run():
    def invoke(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def book_path(tmp_path, run):
    path = tmp_path / "shop.xlsx"
    assert run("init", path).exit_code == 0
    return path


def test_init_creates_a_workbook_and_refuses_to_overwrite(tmp_path, run):
    path = tmp_path / "new.xlsx"
    result = run("init", path)
    assert result.exit_code == 0
    assert "Created" in result.output
    assert set(openpyxl.load_workbook(path).sheetnames) >= {s.name for s in SCHEMA.sheets}
    again = run("init", path)
    assert again.exit_code == 2
    assert "already exists" in again.output
    assert run("init", path, "--force").exit_code == 0


def test_add_customer_then_find_it(book_path, run):
    result = run(
        "add",
        "customer",
        book_path,
        "--name",
        "Иванов Сергей Викторович",
        "--email",
        "sergey@example.ru",
        "--phone",
        "+7 495 123-45-67",
        "--consent-email",
        "yes",
        "--user",
        "olga",
    )
    assert result.exit_code == 0, result.output
    assert "Added customer C-000001" in result.output
    found = run("find", book_path, "иванов", "--format", "json")
    assert found.exit_code == 0
    assert json.loads(found.output)[0]["id"] == "C-000001"
    by_phone = run("find", book_path, "495 123", "--format", "csv")
    assert "C-000001" in by_phone.output
    log = crmbook.open(book_path).table("Log").df
    assert log["who"].tolist() == ["olga"]


def test_add_interaction_needs_an_existing_customer(book_path, run):
    before = book_path.read_bytes()
    result = run(
        "add",
        "interaction",
        book_path,
        "--customer-id",
        "C-000404",
        "--when",
        "2026-01-05 10:00",
        "--channel",
        "call",
    )
    assert result.exit_code == 1
    assert "customer_id" in result.output and "Customers" in result.output
    assert book_path.read_bytes() == before


def test_add_refuses_a_bad_value_and_says_how_to_fix_it(book_path, run):
    before = book_path.read_bytes()
    result = run("add", "customer", book_path, "--name", "Anna", "--birthday", "next year")
    assert result.exit_code == 1
    assert "birthday" in result.output and "2024-03-31" in result.output
    assert book_path.read_bytes() == before


def test_add_refuses_while_excel_has_the_file_open(book_path, run):
    lock = book_path.with_name("~$" + book_path.name)
    lock.write_bytes(b"owner")
    result = run("add", "customer", book_path, "--name", "Anna")
    assert result.exit_code == 2
    assert "open in Excel" in result.output
    assert run("add", "customer", book_path, "--name", "Anna", "--force").exit_code == 0


def test_validate_clean_book_exits_zero(book_path, run):
    result = run("validate", book_path)
    assert result.exit_code == 0
    assert "No problems found." in result.output


def test_validate_reports_errors_with_place_and_exit_one(book_path, run):
    wb = openpyxl.load_workbook(book_path)
    ws = wb["Customers"]
    ws.append(["C-000001", "Anna", "person", None, "anna.example.com"])
    wb.save(book_path)
    result = run("validate", book_path, "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["valid"] is False
    (issue,) = [i for i in report["issues"] if i["code"] == "bad-email"]
    assert (issue["sheet"], issue["row"], issue["column"]) == ("Customers", 2, "email")
    table = run("validate", book_path)
    assert "anna.example.com" in table.output and "1 error(s)" in table.output


def test_unusable_file_gives_one_clear_error(tmp_path, run):
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"this is not a workbook")
    for command in (["validate"], ["find"], ["summary"]):
        args = [*command, junk] + (["x"] if command == ["find"] else [])
        result = run(*args)
        assert result.exit_code == 2
        assert result.output.startswith("error:")
        assert "Traceback" not in result.output


def _contacts_someone_typed(path):
    """An ordinary workbook of contacts, as people keep them before they meet crmbook."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Kontakte 2024"
    ws.append(["Name", "E-Mail", "Telefon", "Geburtstag"])
    ws.append(["Иванов Сергей", "ivanov@example.com", "+7 495 123-45-67", "31.03.1980"])
    ws.append(['=HYPERLINK("x")', "dana@example.com", None, None])
    wb.create_sheet("Notizen").append(["call Dana back"])
    wb.save(path)
    return path


def _assert_not_a_book_answer(result, path):
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"error: {path.name} is a workbook but not a crmbook book")
    assert "'Kontakte 2024'" in line
    assert line.endswith(f"crmbook import BOOK {path}")


def test_a_workbook_crmbook_did_not_make_gets_one_sentence_suggesting_import(tmp_path, run):
    path = _contacts_someone_typed(tmp_path / "contacts.xlsx")
    before = path.read_bytes()
    for command in (["validate"], ["summary"], ["add", "customer"]):
        args = [*command, path] + (["--name", "Anna"] if command[0] == "add" else [])
        _assert_not_a_book_answer(run(*args), path)
    assert path.read_bytes() == before


@pytest.mark.libreoffice
@libreoffice.needs_libreoffice
def test_a_libreoffice_sheet_of_contacts_gets_the_same_answer(tmp_path, run):
    made = _contacts_someone_typed(tmp_path / "contacts.xlsx")
    path = libreoffice.convert([made], tmp_path, "xlsx") / made.name
    _assert_not_a_book_answer(run("validate", path), path)


def test_summary_counts_records(book_path, run):
    run("add", "customer", book_path, "--name", "Anna")
    result = run("summary", book_path, "--format", "json")
    figures = {row["figure"]: row["value"] for row in json.loads(result.output)}
    assert figures["customers"] == 1
    assert figures["customers at stage prospect"] == 1


def test_demo_as_of_a_day_counts_from_that_day(tmp_path, run):
    path = tmp_path / "shop.xlsx"
    result = run("demo", path, "--customers", 60, "--today", "2026-03-15")
    assert result.exit_code == 0, result.output
    book = crmbook.open(path)
    assert len(book.customers.df) == 60
    assert book.customers.df["created"].max() < pd.Timestamp("2026-03-16")
    tasks = book.tasks.df
    overdue = ((tasks["status"] == "open") & (tasks["due"] < pd.Timestamp("2026-03-15"))).sum()
    shown = {
        cells[1].strip(): cells[2].strip()
        for cells in (line.split("│") for line in result.output.splitlines())
        if len(cells) == 4
    }
    assert shown["open tasks overdue"] == f"{overdue:,}"  # counted from that day, too


@pytest.fixture(scope="module")
def demo_in_new_folder(tmp_path_factory):
    """`crmbook demo x/shop.xlsx` where folder x does not exist yet: made, like mkdir -p."""
    path = tmp_path_factory.mktemp("demo") / "not" / "yet" / "shop.xlsx"
    result = CliRunner().invoke(main, ["demo", str(path), "--customers", "20"])
    assert result.exit_code == 0, result.output
    return path


def test_demo_makes_the_folder_it_writes_into(demo_in_new_folder):
    assert openpyxl.load_workbook(demo_in_new_folder, read_only=True)["Customers"].max_row == 21
    assert (demo_in_new_folder.parent / "crmbook.toml").exists()


def _first_line(path):
    return path.read_bytes().decode("utf-8-sig").splitlines()[0]


def _tables(path):
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()


@pytest.mark.parametrize(
    ("command", "name", "opened"),
    [
        (["init", "{out}"], "new.xlsx", lambda p: openpyxl.load_workbook(p).sheetnames[0]),
        (["report", "all", "{book}", "--out", "{out}"], "report.xlsx", openpyxl.load_workbook),
        (["export", "{book}", "--out", "{out}"], "copy.xlsx", openpyxl.load_workbook),
        (["export", "{book}", "{out}", "--format", "vcard"], "phone.vcf", _first_line),
        (["export", "{book}", "--out", "{out}", "--format", "google-csv"], "g.csv", _first_line),
        (["ics", "{book}", "--out", "{out}"], "tasks.ics", _first_line),
        (["segment", "{book}", "--csv", "{out}"], "segment.csv", _first_line),
        (["share", "{book}", "--out", "{out}"], "shared.xlsx", openpyxl.load_workbook),
        (["merge", "{book}", "{book}", "--out", "{out}"], "merged.xlsx", openpyxl.load_workbook),
        (["migrate", "{book}", "sqlite:///{out}"], "shop.db", _tables),
    ],
)
def test_a_file_written_into_a_new_folder_makes_the_folder(
    demo_in_new_folder, tmp_path, run, command, name, opened
):
    out = tmp_path / "new" / "folder" / name
    args = [a.format(book=demo_in_new_folder, out=out) for a in command]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert opened(out)  # read back by openpyxl, or its first line as text


@pytest.mark.parametrize("command", [["init"], ["demo"], ["report", "all", "{book}", "--out"]])
def test_a_file_where_a_folder_should_be_is_one_clear_error(
    demo_in_new_folder, tmp_path, run, command
):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    out = tmp_path / "notes.txt" / "shop.xlsx"
    result = run(*[a.format(book=demo_in_new_folder) for a in command], out)
    assert result.exit_code == 2
    assert f"{tmp_path / 'notes.txt'} is a file, not a folder" in result.output
    assert "Traceback" not in result.output
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["init"],
        ["demo"],
        ["summary"],
        ["validate"],
        ["find"],
        ["add"],
        *[["add", s.entity] for s in SCHEMA.entities],
    ],
)
def test_every_command_has_help(run, command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_add_options_come_from_the_schema(run):
    help_text = run("add", "deal", "--help").output
    for field in SCHEMA.sheet("Deals").fields:
        if not field.auto:
            assert f"--{field.name.replace('_', '-')}" in help_text
    assert "negotiation" in help_text
