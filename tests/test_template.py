"""The empty workbook `crmbook init` makes: structure, and the checked-in copy matches it."""

import datetime as dt
import re
import zipfile
from pathlib import Path

import libreoffice
import openpyxl
import pytest
from openpyxl.utils import get_column_letter

import crmbook
from crmbook.io.template import (
    HIGHLIGHTS,
    dashboard_figures,
    highlight_formula,
    write_reference_template,
)
from crmbook.languages import VALUES, words
from crmbook.schema import SCHEMA

CHECKED_IN = Path(__file__).parent.parent / "workbook_templates" / "crmbook-template.xlsx"


def test_checked_in_template_is_what_the_code_generates(tmp_path):
    fresh = tmp_path / "fresh.xlsx"
    write_reference_template(fresh)
    with zipfile.ZipFile(CHECKED_IN) as old, zipfile.ZipFile(fresh) as new:
        assert sorted(old.namelist()) == sorted(new.namelist())
        for name in new.namelist():
            if name == "docProps/core.xml":  # openpyxl stamps the save time here
                continue
            assert old.read(name) == new.read(name), f"{name} differs: run `make template`"


def test_every_entity_is_an_excel_table_with_header_freeze_and_formats():
    wb = openpyxl.load_workbook(CHECKED_IN)
    for sheet in SCHEMA.sheets:
        ws = wb[sheet.name]
        assert [c.value for c in ws[1]] == sheet.columns
        assert list(ws.tables) == [sheet.name]
        assert ws.freeze_panes in ("A2", "B2")
        for i, field in enumerate(sheet.fields, start=1):
            dim = ws.column_dimensions[openpyxl.utils.get_column_letter(i)]
            assert dim.width == field.width
            if field.type in ("date", "datetime", "money"):
                assert dim.number_format == field.ftype.number_format


def test_dropdowns_come_from_the_lists_sheet():
    wb = openpyxl.load_workbook(CHECKED_IN)
    lists = wb[SCHEMA.lists_sheet]
    header = [c.value for c in lists[1]]
    assert header == SCHEMA.lists_columns
    stage_column = [
        c.value for c in lists[openpyxl.utils.get_column_letter(header.index("stage") + 1)]
    ][1:]
    assert [v for v in stage_column if v] == list(SCHEMA.vocabulary("stage").values)
    formulas = {dv.formula1 for dv in wb["Customers"].data_validations.dataValidation}
    assert "list_stage" in formulas
    assert "OFFSET" in wb.defined_names["list_stage"].attr_text


def test_hidden_meta_sheet_has_version_and_counters():
    wb = openpyxl.load_workbook(CHECKED_IN)
    meta = wb[SCHEMA.meta_sheet]
    assert meta.sheet_state == "hidden"
    values = dict(meta.iter_rows(min_row=2, values_only=True))
    assert values["schema_version"] == SCHEMA.version
    assert values["next_id.Customers"] == 1


def test_conditional_formats_flag_overdue_tasks_late_deals_and_missing_consent():
    wb = openpyxl.load_workbook(CHECKED_IN)
    for highlight in HIGHLIGHTS:
        sheet = SCHEMA.sheet(highlight.sheet)
        rules = [
            (str(cf.sqref), rule.formula)
            for cf in wb[sheet.name].conditional_formatting
            for rule in cf.rules
        ]
        formula = highlight_formula(highlight, sheet)
        assert any(formula in f for _, f in rules), (highlight.why, rules)


def _in_sheet(highlight, row):
    """A highlight's rule for one row, written so a cell of another sheet can evaluate it."""
    sheet = SCHEMA.sheet(highlight.sheet)
    cells = {
        f.name: f"'{sheet.name}'!${get_column_letter(i)}{row}"
        for i, f in enumerate(sheet.fields, start=1)
    }
    return "=" + highlight.rule.format(**cells)


@pytest.mark.libreoffice
@libreoffice.needs_libreoffice
def test_highlight_rules_and_growing_dropdowns_as_libreoffice_computes_them(tmp_path):
    today = dt.date.today()
    path = tmp_path / "shop.xlsx"
    book = crmbook.create(path)
    anna = book.customers.add(name="Anna", consent_email=True)
    book.customers.add(name="Ben")
    past, future = today - dt.timedelta(days=3), today + dt.timedelta(days=3)
    tasks = [(past, "open"), (today, "open"), (future, "open"), (past, "done")]
    for due, status in tasks:
        book.tasks.add(due=due, title="call", status=status)
    deals = [(past, "proposal"), (past, "won"), (future, "new")]
    for close, stage in deals:
        book.deals.add(customer_id=anna, title="deal", stage=stage, expected_close=close)
    book.save()
    wb = openpyxl.load_workbook(path)
    lists = wb[SCHEMA.lists_sheet]
    stage_col = [c.value for c in lists[1]].index("stage") + 1
    stages = SCHEMA.vocabulary("stage").values
    lists.cell(len(stages) + 2, stage_col, "vip")  # what an owner types below the list
    check = wb.create_sheet("Check")
    check["A1"] = "=COUNTA(list_stage)"
    check["B1"] = "=INDEX(list_stage,COUNTA(list_stage))"
    by_why = {h.why: h for h in HIGHLIGHTS}
    wanted = {
        "open task overdue": [True, False, False, False],
        "open task due today": [False, True, False, False],
        "open deal past its expected close": [True, False, False],
        "no consent to emails": [False, True],
        "no consent at all": [False, True],
    }
    for col, (why, expected) in enumerate(wanted.items(), start=1):
        for i in range(len(expected)):
            check.cell(i + 2, col, _in_sheet(by_why[why], i + 2))
    wb.save(path)
    out = libreoffice.convert([str(path)], tmp_path)
    ws = openpyxl.load_workbook(out / path.name, data_only=True)["Check"]
    assert ws["A1"].value == len(stages) + 1 and ws["B1"].value == "vip"
    for col, (why, expected) in enumerate(wanted.items(), start=1):
        got = [ws.cell(i + 2, col).value for i in range(len(expected))]
        assert got == expected, why


@pytest.mark.parametrize("lang", ["de", "nl", "it"])
def test_every_dropdown_value_in_a_dashboard_formula_is_in_the_workbooks_language(lang):
    w = words(lang)
    for _, figures in dashboard_figures(SCHEMA, w):
        for label, formula, _ in figures:
            quoted = re.findall(r'"([^"]*)"', formula)
            english = [q for q in quoted if q in VALUES and w.value(q) != q]
            assert not english, (label, english)
