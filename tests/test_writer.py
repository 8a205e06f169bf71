"""Fidelity: a workbook decorated in a spreadsheet application keeps every decoration.

The workbook is made by another application (xlsxwriter, as Excel would): crmbook's sheets
plus a chart, an image, comments, conditional formats, defined names, a user sheet with
formulas, a user column in Customers and a VBA project. After many add/update/delete + save
cycles, every part crmbook does not own is byte-identical and the owned sheets keep their
formatting.
"""

import base64
import datetime as dt
import re
import zipfile

import libreoffice
import openpyxl
import pandas as pd
import pytest
import xlsxwriter

import crmbook
from crmbook.errors import CrmbookError
from crmbook.io.package import Package
from crmbook.io.template import meta_rows
from crmbook.schema import SCHEMA
from crmbook.storage.state import BASE_SHEET, SAVES_SHEET

PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
USER_COLUMN = "Favourite colour"


def decorated_workbook(path, tmp_path):
    """crmbook's sheets written by xlsxwriter, plus the things people add in Excel."""
    (tmp_path / "logo.png").write_bytes(PNG_1X1)
    (tmp_path / "vbaProject.bin").write_bytes(b"\xd0\xcf\x11\xe0 not a real macro project")
    wb = xlsxwriter.Workbook(path)
    wb.add_vba_project(str(tmp_path / "vbaProject.bin"))
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    for sheet in SCHEMA.sheets:
        ws = wb.add_worksheet(sheet.name)
        headers = sheet.columns + ([USER_COLUMN] if sheet.name == "Customers" else [])
        data = []
        if sheet.name == "Customers":
            data = [["C-000001", "Dana Cohen", "person"] + [None] * (len(headers) - 4) + ["blue"]]
        ws.add_table(
            0,
            0,
            max(len(data), 1),
            len(headers) - 1,
            {
                "name": sheet.name,
                "columns": [{"header": h} for h in headers],
                **({"data": data} if data else {}),
            },
        )
        ws.freeze_panes(1, 1)
        ws.set_column(0, len(headers) - 1, 16)
        for i, f in enumerate(sheet.fields):
            if f.type == "date":
                ws.set_column(i, i, 12, date)
        if sheet.name == "Customers":
            red = wb.add_format({"bg_color": "#FFC7CE"})
            stage = sheet.columns.index("stage")
            ws.conditional_format(
                1,
                stage,
                1000,
                stage,
                {"type": "cell", "criteria": "==", "value": '"lost"', "format": red},
            )
            ws.data_validation(
                1,
                stage,
                1000,
                stage,
                {"validate": "list", "source": list(SCHEMA.vocabulary("stage").values)},
            )
            ws.write_comment(0, 1, "Full name, as the customer writes it")
    lists = wb.add_worksheet(SCHEMA.lists_sheet)
    for col, vocab in enumerate(SCHEMA.vocabularies):
        lists.write_column(0, col, [vocab.name, *vocab.values])
    meta = wb.add_worksheet(SCHEMA.meta_sheet)
    meta.hide()
    for row, (key, value) in enumerate([("key", "value"), *meta_rows(SCHEMA, "x1", _now())]):
        meta.write_row(row, 0, [key, value])
    mine = wb.add_worksheet("My analysis")
    mine.write_column(0, 0, ["Q1", "Q2", "Q3", "Q4"])
    mine.write_column(0, 1, [10, 20, 15, 30])
    mine.write_formula("D1", "=SUM(B1:B4)", None, 75)
    mine.write_formula("D2", "=COUNTA(Customers!A:A)-1", None, 1)
    chart = wb.add_chart({"type": "column"})
    chart.add_series(
        {
            "categories": "='My analysis'!$A$1:$A$4",
            "values": "='My analysis'!$B$1:$B$4",
            "name": "Bookings",
        }
    )
    mine.insert_chart("F2", chart)
    mine.insert_image("F20", str(tmp_path / "logo.png"))
    mine.write_comment("B1", "booked in January")
    wb.define_name("BookingTotal", "='My analysis'!$D$1")
    wb.close()


def _now():
    import datetime as dt

    return dt.datetime(2026, 1, 1)


def owned_parts(path):
    with Package(path) as pkg:
        owned = set()
        for name in (*SCHEMA.owned_sheet_names, BASE_SHEET, SAVES_SHEET):
            if name in pkg.sheets:
                part = pkg.sheets[name].part
                owned.add(part)
                owned.update(pkg.table_parts(part))
        return owned


def parts(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _sheet_tail(xml: bytes) -> bytes:
    return xml[xml.index(b"</sheetData>") :]


def _sheet_head(xml: bytes) -> bytes:
    head = xml[: xml.index(b"<sheetData")]
    return re.sub(rb'<dimension ref="[^"]*"/>', b"", head)


@pytest.fixture
def decorated(tmp_path):
    """The decorated workbook after crmbook's first save (which adds its save state)."""
    path = tmp_path / "decorated.xlsm"
    decorated_workbook(path, tmp_path)
    book = crmbook.open(path)
    book.touch()
    book.save(backups=0)
    return path


def test_many_change_cycles_keep_every_part_crmbook_does_not_own(decorated):
    before = parts(decorated)
    owned = owned_parts(decorated)
    assert len(before) - len(owned) >= 15, "the workbook should carry many decorations"
    for cycle in range(4):
        book = crmbook.open(decorated)
        new = book.customers.add(name=f"Шимон {cycle}", email=f"s{cycle}@example.org")
        book.interactions.add(customer_id=new, when="2026-02-01 09:30", channel="visit")
        book.customers.update("C-000001", city=f"Haifa {cycle}")
        if cycle % 2:
            book.customers.delete(new)
        book.save()
        after = parts(decorated)
        assert set(after) == set(before)
        for name, data in before.items():
            if name not in owned:
                assert after[name] == data, f"{name} changed in cycle {cycle}"
    with Package(decorated) as pkg:
        part = pkg.sheets["Customers"].part
    assert _sheet_tail(after[part]) == _sheet_tail(before[part])  # validations, cond. formats
    assert _sheet_head(after[part]) == _sheet_head(before[part])  # widths, panes, col formats


def test_user_column_chart_image_comments_and_names_survive(decorated):
    book = crmbook.open(decorated)
    book.customers.update("C-000001", stage="customer")
    book.customers.add(name="Noa")
    book.save()
    wb = openpyxl.load_workbook(decorated, keep_vba=True)
    customers = wb["Customers"]
    header = [c.value for c in customers[1]]
    assert header[-1] == USER_COLUMN
    assert customers.cell(row=2, column=len(header)).value == "blue"
    assert customers.tables["Customers"].ref.endswith("3")
    assert customers["B1"].comment is not None
    mine = wb["My analysis"]
    assert len(mine._charts) == 1
    assert len(mine._images) == 1
    assert mine["D1"].value == "=SUM(B1:B4)"
    assert "BookingTotal" in wb.defined_names
    assert wb.vba_archive is not None and "xl/vbaProject.bin" in wb.vba_archive.namelist()
    assert crmbook.open(decorated).customers.df[USER_COLUMN].tolist()[0] == "blue"


@libreoffice.needs_libreoffice
def test_libreoffice_opens_the_saved_decorated_workbook(decorated, tmp_path):
    book = crmbook.open(decorated)
    book.customers.add(name="José Müller-Lüdenscheid", city="Köln")
    book.save()
    out = libreoffice.convert([str(decorated)], tmp_path)
    converted = openpyxl.load_workbook(next(out.glob("*.xlsx")))
    names = [r[1] for r in converted["Customers"].iter_rows(min_row=2, values_only=True)]
    assert "José Müller-Lüdenscheid" in names
    assert "My analysis" in converted.sheetnames


# ---------------------------------------------------------------- new sheets (Book.write_sheet)

NEW_SHEET_PARTS = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml"}


def _segment_frame():
    return pd.DataFrame(
        {
            "id": ["C-000001", "C-000002", "C-000003"],
            "name": ['=HYPERLINK("http://x")', "0042", "Zoë 🌷 שלום"],
            "amount": [1250.5, None, 3.0],
            "birthday": pd.to_datetime(["1980-02-29", None, "1899-12-31"]),
            "purchases": [3, 0, 12],
            "vip": [True, False, True],
        }
    )


def test_a_new_sheet_touches_only_the_parts_that_must_name_it(decorated):
    before = parts(decorated)
    with Package(decorated) as pkg:
        meta_part = pkg.sheets[SCHEMA.meta_sheet].part
        state_part = pkg.sheets[SAVES_SHEET].part  # the save's generation
    book = crmbook.open(decorated)
    book.write_sheet("Berlin VIPs", _segment_frame())
    book.save()
    after = parts(decorated)
    changed = {name for name in before if before[name] != after.get(name)}
    assert changed <= NEW_SHEET_PARTS | {meta_part, state_part, "xl/styles.xml"}
    added = set(after) - set(before)
    assert len(added) == 3 and {p.split("/")[1] for p in added} == {"worksheets", "tables"}
    with Package(decorated) as pkg:
        assert pkg.sheets["Berlin VIPs"].part in added
        assert list(pkg.sheets)[-1] == "Berlin VIPs"


def test_showing_or_hiding_sheets_changes_only_the_workbook_part(decorated, tmp_path):
    from crmbook.io.writer import write_workbook

    out = tmp_path / "hidden.xlsm"
    states = {"Competitors": "hidden", "Segments": "veryHidden", BASE_SHEET: "veryHidden"}
    write_workbook(decorated, out, {}, states=states)
    before, after = parts(decorated), parts(out)
    assert {name for name in before if before[name] != after[name]} == {"xl/workbook.xml"}
    wb = openpyxl.load_workbook(out)
    assert [wb[n].sheet_state for n in states] == ["hidden", "veryHidden", "veryHidden"]
    write_workbook(out, tmp_path / "shown.xlsm", {}, states={"Competitors": "visible"})
    assert openpyxl.load_workbook(tmp_path / "shown.xlsm")["Competitors"].sheet_state == "visible"


def test_a_new_sheet_holds_typed_values_and_text_stays_text(decorated):
    book = crmbook.open(decorated)
    book.write_sheet("Berlin VIPs", _segment_frame())
    book.save()
    wb = openpyxl.load_workbook(decorated)
    ws = wb["Berlin VIPs"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == tuple(_segment_frame().columns)
    assert rows[1][1] == '=HYPERLINK("http://x")' and ws["B2"].data_type == "s"
    assert rows[2][1] == "0042" and rows[3][1] == "Zoë 🌷 שלום"
    assert rows[1][2] == 1250.5 and ws["C2"].number_format == "#,##0.00"
    assert rows[1][3] == dt.datetime(1980, 2, 29) and ws["D2"].number_format == "yyyy-mm-dd"
    assert rows[1][4] == 3 and rows[1][5] is True
    (table,) = ws.tables.values()
    assert table.ref == "A1:F4" and [c.name for c in table.tableColumns] == list(rows[0])
    assert ws.freeze_panes == "A2"
    assert wb["My analysis"]["D1"].value == "=SUM(B1:B4)"


def test_a_crmbook_written_sheet_is_replaced_in_place_and_others_never(decorated):
    book = crmbook.open(decorated)
    book.write_sheet("List", _segment_frame())
    book.save()
    book = crmbook.open(decorated)
    with pytest.raises(CrmbookError, match="already"):
        book.write_sheet("List", _segment_frame())
    with pytest.raises(CrmbookError, match="not written by crmbook"):
        book.write_sheet("My analysis", _segment_frame(), replace=True)
    with pytest.raises(CrmbookError, match="crmbook's own sheets"):
        book.write_sheet("Customers", _segment_frame(), replace=True)
    with pytest.raises(CrmbookError, match="character"):
        book.write_sheet("a/b", _segment_frame())
    book.write_sheet("list", _segment_frame().head(1), replace=True, table=False)
    book.save()
    wb = openpyxl.load_workbook(decorated)
    assert wb.sheetnames.count("List") == 1 and wb["List"].max_row == 2
    assert not wb["List"].tables
    book = crmbook.open(decorated)
    book.write_sheet("List", _segment_frame(), replace=True)
    book.customers.add(name="Saved together")
    book.save()
    wb = openpyxl.load_workbook(decorated)
    assert wb["List"].max_row == 4 and list(wb["List"].tables) == ["List"]
    assert "Saved together" in crmbook.open(decorated).customers.df["name"].tolist()


def test_segment_to_sheet_writes_the_customers_into_the_crm_workbook(tmp_path):
    from click.testing import CliRunner

    from crmbook.cli import main

    path = tmp_path / "shop.xlsx"
    book = crmbook.create(path)
    book.customers.add(name="Anna", city="Berlin")
    book.customers.add(name="Ben", city="Köln")
    book.save()
    runner = CliRunner()
    for _ in range(2):  # a second run replaces the sheet it wrote
        result = runner.invoke(main, ["segment", str(path), "city=Berlin", "--to-sheet", "Berlin"])
        assert result.exit_code == 0, result.output
    assert "Wrote 1 customers to the sheet 'Berlin'" in result.output
    ws = openpyxl.load_workbook(path)["Berlin"]
    header = [c.value for c in ws[1]]
    assert ws.max_row == 2 and ws.cell(2, header.index("name") + 1).value == "Anna"


@pytest.mark.libreoffice
@libreoffice.needs_libreoffice
def test_libreoffice_opens_a_workbook_with_a_new_sheet(decorated, tmp_path):
    book = crmbook.open(decorated)
    book.write_sheet("Berlin VIPs", _segment_frame())
    book.save()
    out = libreoffice.convert([str(decorated)], tmp_path)
    ws = openpyxl.load_workbook(out / "decorated.xlsx")["Berlin VIPs"]
    assert ws["B2"].value == '=HYPERLINK("http://x")' and ws["B2"].data_type == "s"
    assert ws["B4"].value == "Zoë 🌷 שלום" and ws["C2"].value == 1250.5
