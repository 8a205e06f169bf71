"""The empty workbook `crmbook init` makes: structure, and the checked-in copy matches it."""

import zipfile
from pathlib import Path

import openpyxl

from crmbook.io.template import write_reference_template
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
    assert header == [v.name for v in SCHEMA.vocabularies]
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
