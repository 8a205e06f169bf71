"""Output at scale: a table for people stops after ROWS_SHOWN rows and says how many more
there are and how to see them all; --all, csv and json give every row."""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
import pytest
from click.testing import CliRunner

import crmbook
from crmbook.cli import ROWS_SHOWN, main
from crmbook.cli import common as cli_common

TODAY = dt.date(2026, 6, 15)
CUSTOMERS = 130  # each with one overdue task: more reminders than a table shows
HISTORY = 75  # interactions of the first customer: a history longer than a table shows


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def busy_book(tmp_path_factory):
    """A business with more of everything than one table shows; the task of customer n is
    n days overdue, so the most overdue come from the last customers."""
    path = tmp_path_factory.mktemp("busy") / "busy.xlsx"
    book = crmbook.create(path, user="tester")
    ids = book.customers.add_many(
        [
            {"name": f"Kunde {n:03d}", "city": "Berlin", "stage": "customer"}
            for n in range(1, CUSTOMERS + 1)
        ]
    )
    book.tasks.add_many(
        [
            {"customer_id": cid, "due": TODAY - dt.timedelta(days=n), "title": f"Call {n:03d}"}
            for n, cid in enumerate(ids, start=1)
        ]
    )
    book.interactions.add_many(
        [
            {
                "customer_id": ids[0],
                "when": dt.datetime(2025, 1, 1, 9) + dt.timedelta(days=n),
                "channel": "call",
                "summary": f"Call number {n:03d}",
            }
            for n in range(1, HISTORY + 1)
        ]
    )
    book.save(backups=0)
    return path


def table_lines(output: str, marker: str) -> list[str]:
    """The lines of a rich table that hold `marker` (one per record shown)."""
    return [line for line in output.splitlines() if marker in line and "│" in line]


def test_a_long_table_stops_and_says_how_to_see_every_row(busy_book):
    result = run("reminders", busy_book, "--today", TODAY)
    assert result.exit_code == 0, result.output
    shown = table_lines(result.output, "Call ")
    assert len(shown) == ROWS_SHOWN
    assert "Call 130" in shown[0] and "Call 081" in shown[-1]  # the most overdue first
    assert result.output.rstrip().splitlines()[-1] == (
        f"… {CUSTOMERS - ROWS_SHOWN} more rows not shown ({ROWS_SHOWN} of {CUSTOMERS}): "
        "add --all (or --format csv or json, for a program)."
    )


def test_all_csv_and_json_give_every_row(busy_book):
    every = run("reminders", busy_book, "--today", TODAY, "--all")
    assert len(table_lines(every.output, "Call ")) == CUSTOMERS
    assert "not shown" not in every.output
    csv = run("reminders", busy_book, "--today", TODAY, "--format", "csv")
    assert len(csv.output.strip().splitlines()) == CUSTOMERS + 1
    records = json.loads(run("reminders", busy_book, "--today", TODAY, "--format", "json").output)
    assert len(records) == CUSTOMERS


@pytest.mark.parametrize(
    ("command", "marker"),
    [
        (("segment", "{}", "city=Berlin"), "Kunde "),
        (("dormant", "{}", "--days", "30", "--today", "2030-01-01"), "Kunde "),
        (("find", "{}", "Kunde", "--limit", "100"), "Kunde "),
    ],
)
def test_every_command_that_lists_records_stops_the_same_way(busy_book, command, marker):
    args = [busy_book if part == "{}" else part for part in command]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert len(table_lines(result.output, marker)) == ROWS_SHOWN
    assert re.search(rf"… [\d,]+ more rows not shown \({ROWS_SHOWN} of [\d,]+\)", result.output)
    assert len(table_lines(run(*args, "--all").output, marker)) > ROWS_SHOWN


def test_a_long_history_on_the_card_shows_its_newest_entries(busy_book):
    first = crmbook.open(busy_book).customers.df["id"].iloc[0]
    result = run("card", busy_book, first, "--today", TODAY)
    assert result.exit_code == 0, result.output
    history = result.output[result.output.index("History") :]
    entries = HISTORY + 1  # the calls and the task, due last
    calls = table_lines(history, "Call number")
    assert len(calls) == ROWS_SHOWN - 1 and "Call 001" in table_lines(history, "│")[-1]
    assert f"Call number {entries - ROWS_SHOWN + 1:03d}" in calls[0]
    assert f"Call number {HISTORY:03d}" in calls[-1]
    assert f"… {entries - ROWS_SHOWN} earlier rows not shown ({ROWS_SHOWN} of {entries})" in (
        result.output
    )


def test_a_command_without_format_offers_only_all(tmp_path):
    source = tmp_path / "contacts.csv"
    rows = [f"Person {n},not-an-email-{n}" for n in range(120)]
    source.write_text("Name,E-mail\n" + "\n".join(rows) + "\n", encoding="utf-8")
    book = tmp_path / "shop.xlsx"
    crmbook.create(book).close()
    result = run("import", book, source, "--yes")
    assert result.exit_code == 1
    assert len(table_lines(result.output, "not-an-email")) == ROWS_SHOWN
    assert f"… 70 more rows not shown ({ROWS_SHOWN} of 120): add --all." in result.output
    every = run("import", book, source, "--yes", "--all")
    assert len(table_lines(every.output, "not-an-email")) == 120


def test_validate_shows_errors_before_warnings(tmp_path, monkeypatch):
    from crmbook.validation import Issue, Report

    warnings = [Issue("w", "warning", "Customers", n, "phone", "x", "odd", "") for n in range(60)]
    errors = [Issue("e", "error", "Customers", 900 + n, "email", "y", "bad", "") for n in range(3)]
    monkeypatch.setattr(crmbook.Book, "validate", lambda self: Report([*warnings, *errors]))
    book = tmp_path / "shop.xlsx"
    crmbook.create(book).close()
    result = run("validate", book)
    assert result.exit_code == 1
    rows = [line for line in result.output.splitlines() if "Customers" in line]
    assert [("error" in line) for line in rows[:4]] == [True, True, True, False]


def test_a_table_is_cut_before_any_cell_is_formatted(monkeypatch):
    """100,000 rows cost no more to print than 50: only the rows shown are formatted."""
    calls = []
    real = cli_common._cell
    monkeypatch.setattr(cli_common, "_cell", lambda value: calls.append(value) or real(value))
    frame = pd.DataFrame({"n": range(100_000), "rate": 0.5, "when": pd.Timestamp("2026-01-01")})

    @main.command("print-many")
    @cli_common.output_option
    def print_many(fmt):
        cli_common.emit_report(frame, fmt, title="Many")

    try:
        result = run("print-many")
    finally:
        main.commands.pop("print-many")
    assert result.exit_code == 0
    assert len(calls) == ROWS_SHOWN * 3
    assert "99,950 more rows not shown" in result.output
