"""The shared parts: the session (open in steps, change and save, refusals), the alert,
the progress bar, tables for people, and the import rule that keeps ipywidgets on top."""

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest
from widget_support import TODAY, fingerprint, open_in_excel, table_rows, text

import crmbook
from crmbook.errors import RecordError, SaveRefusedError
from crmbook.schema import SCHEMA
from crmbook.widgets import open_workbook
from crmbook.widgets._base import Alert, PagedTable, Pager, ProgressBar, frame_html, reported
from crmbook.widgets.session import WORKBOOK_VARIABLE, Session, workbook_path

pytest_plugins = ["widget_support"]  # the shop fixtures

PACKAGE = Path(crmbook.__file__).parent


def test_nothing_below_the_widgets_imports_ipywidgets():
    for path in PACKAGE.rglob("*.py"):
        if "widgets" in path.relative_to(PACKAGE).parts:
            continue
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+ipywidgets", source, re.M), path


def test_opening_shows_one_honest_step_per_sheet(shop):
    progress = ProgressBar()
    steps = []
    progress.label.observe(lambda c: steps.append(c["new"]), names="value")
    session = Session(shop, today=TODAY, steps=progress)
    sheets = [s.name for s in SCHEMA.entities]
    assert [s for s in steps if s.startswith("Reading")] == [f"Reading {n}…" for n in sheets]
    assert progress.bar.value == progress.bar.max == len(sheets) + 1
    customers = len(session.book.customers.df)
    assert text(progress.label.value) == f"Opened shop.xlsx: {customers:,} customers."
    assert progress.bar.layout.display == "none"  # done: the summary line stays


def test_a_save_shows_a_spinner_then_what_happened(session):
    progress = ProgressBar()
    shown = []
    progress.spinner.layout.observe(lambda c: shown.append(c["new"]), names="display")
    session.change(lambda book: book.customers.add(name="Spinner Test"), progress)
    assert shown == [None, "none"]  # shown while saving, hidden after
    assert text(progress.label.value) == "Saved shop.xlsx."


def test_change_is_all_or_nothing(session, shop):
    before = fingerprint(shop)
    heard = []
    session.on_change(lambda: heard.append(session.version))

    def half_done(book):
        book.customers.add(name="First of two")
        book.customers.add(name="")  # required name missing: RecordError

    with pytest.raises(RecordError):
        session.change(half_done)
    assert fingerprint(shop) == before
    assert "First of two" not in set(session.book.customers.df["name"])  # dropped, not pending

    open_in_excel(shop)
    with pytest.raises(SaveRefusedError, match=r"open in Excel.*nothing was saved"):
        session.change(lambda book: book.customers.add(name="Refused"))
    assert fingerprint(shop) == before
    assert not session.book.changed
    assert heard  # pages were told to show the workbook as it is


def test_the_alert_shows_words_not_markup():
    alert = Alert()
    alert.error("<b>shop.xlsx</b> is open\nin Excel")
    assert alert.kind == "error" and alert.text == "<b>shop.xlsx</b> is open\nin Excel"
    assert "&lt;b&gt;" in alert.value and "<br>" in alert.value and 'role="alert"' in alert.value
    alert.clear()
    assert alert.value == alert.text == alert.kind == ""


def test_handler_errors_go_to_the_alert_not_the_cell():
    alert = Alert()

    def refuse(_button=None):
        raise SaveRefusedError("shop.xlsx is open in Excel")

    def crash(_button=None):
        raise ZeroDivisionError("division by zero")

    reported(alert, refuse)()
    assert alert.kind == "error" and alert.text == "shop.xlsx is open in Excel"
    reported(alert, crash)()
    assert alert.text == "Something went wrong: ZeroDivisionError: division by zero"


def test_tables_are_written_for_people():
    frame = pd.DataFrame(
        {
            "next_date": [pd.Timestamp("2026-03-15"), pd.NaT],
            "when": [pd.Timestamp("2026-03-15 14:30"), pd.Timestamp("2026-03-16")],
            "amount": [1250.5, float("nan")],
            "consent_email": [True, False],
            "name": ["<script>x</script>", None],
        }
    )
    markup = frame_html(frame, max_rows=1)
    shown = text(markup)
    assert "next date" in shown and "2026-03-15 2026-03-15 14:30 1,250.50 yes" in shown
    assert "<script>" not in markup and table_rows(markup) == 1
    assert "Showing the first 1 of 2 rows." in shown
    assert "Nothing to show." in text(frame_html(frame.iloc[:0]))


def test_the_notebook_workbook_comes_from_the_environment_when_set(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    monkeypatch.chdir(project / "notebooks")
    monkeypatch.delenv(WORKBOOK_VARIABLE, raising=False)
    assert workbook_path("demo/shop.xlsx") == project / "demo" / "shop.xlsx"
    assert workbook_path(tmp_path / "own.xlsx") == tmp_path / "own.xlsx"
    monkeypatch.setenv(WORKBOOK_VARIABLE, str(tmp_path / "copy.xlsx"))
    assert workbook_path("demo/shop.xlsx") == tmp_path / "copy.xlsx"


def test_a_missing_workbook_is_filled_with_the_demo_business(tmp_path, monkeypatch):
    monkeypatch.setenv(WORKBOOK_VARIABLE, str(tmp_path / "new" / "shop.xlsx"))
    session = open_workbook("demo/shop.xlsx", today=dt.date(2026, 3, 15))
    assert session.path == tmp_path / "new" / "shop.xlsx"
    assert len(session.book.customers.df) > 100


def test_a_pager_turns_a_long_list_a_page_at_a_time():
    pager = Pager(page_rows=50, what="rows")
    turns = []
    pager.on_turn(lambda: turns.append(pager.page))
    pager.show(46_293)
    assert text(pager.label.value) == "rows 1–50 of 46,293"
    assert pager.previous_button.disabled and not pager.next_button.disabled
    pager.next_button.click()
    pager.next_button.click()
    assert text(pager.label.value) == "rows 101–150 of 46,293" and turns == [1, 2]
    pager.turn(10_000)
    assert text(pager.label.value) == "rows 46,251–46,293 of 46,293"
    assert pager.next_button.disabled and turns[-1] == pager.pages - 1 == 925
    pager.show(46_000, keep_page=True)  # the same list, a little shorter after a change
    assert pager.page == 919
    pager.show(120)  # another list starts on its first page
    assert pager.page == 0 and pager.layout.display is None
    pager.show(50)
    assert pager.layout.display == "none"  # one page: nothing to turn


def test_a_paged_table_holds_one_page_of_rows_however_long_the_list():
    frame = pd.DataFrame({"id": [f"C-{n:06d}" for n in range(1, 100_001)]})
    table = PagedTable(page_rows=50, what="customers")
    table.show(frame)
    assert table_rows(table.html.value) == 50 and "C-000050" in table.html.value
    table.pager.next_button.click()
    assert table_rows(table.html.value) == 50
    assert "C-000051" in table.html.value and "C-000050" not in table.html.value
    assert text(table.pager.label.value) == "customers 51–100 of 100,000"
    assert len(table.html.value) < 10_000
    table.show(frame.head(0), empty="Nobody.")
    assert text(table.html.value) == "Nobody."
    table.clear()
    assert table.html.value == ""
