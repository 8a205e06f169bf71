"""A workbook made for an older schema is upgraded in place; a newer one is refused."""

import dataclasses
import datetime as dt
import zipfile

import libreoffice
import openpyxl
import pytest
from openpyxl.worksheet.table import TableColumn

import crmbook
from crmbook.errors import NotAWorkbookError
from crmbook.io.package import Package
from crmbook.io.template import write_template
from crmbook.schema import SCHEMA, Schema

USER_COLUMN = "Favourite colour"


def old_schema() -> Schema:
    """Schema version 0: no Segments sheet and no Customers.contact_every_days."""
    customers = SCHEMA.sheet("Customers")
    fields = tuple(f for f in customers.fields if f.name != "contact_every_days")
    sheets = tuple(
        dataclasses.replace(s, fields=fields) if s.name == "Customers" else s
        for s in SCHEMA.sheets
        if s.name != "Segments"
    )
    return Schema(version=0, sheets=sheets, vocabularies=SCHEMA.vocabularies)


@pytest.fixture
def old_book(tmp_path):
    """A version-0 workbook with one customer and a column of the user's own."""
    path = tmp_path / "old.xlsx"
    write_template(path, "old", dt.datetime(2025, 1, 1), schema=old_schema())
    wb = openpyxl.load_workbook(path)
    ws = wb["Customers"]
    width = ws.max_column
    ws.cell(1, width + 1, USER_COLUMN)
    ws.append(["C-000001", "Dana Cohen", "person"] + [None] * (width - 3) + ["blue"])
    table = ws.tables["Customers"]
    table.ref = f"A1:{openpyxl.utils.get_column_letter(width + 1)}2"
    table.autoFilter.ref = table.ref
    table.tableColumns.append(TableColumn(id=width + 1, name=USER_COLUMN))
    ws2 = wb["_crmbook"]
    for row in ws2.iter_rows(min_row=2):
        if row[0].value == "next_id.Customers":
            row[1].value = 2
    wb.save(path)
    return path


def parts(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_validate_explains_the_upgrade_instead_of_missing_things(old_book):
    book = crmbook.open(old_book)
    assert book.upgrade is not None and book.upgrade.sheets == ["Segments"]
    assert book.upgrade.columns == {"Customers": ["contact_every_days"]}
    report = book.validate()
    codes = {i.code for i in report.issues}
    assert "schema-upgrade" in codes
    assert not codes & {"missing-column", "missing-sheet"}
    (issue,) = [i for i in report.issues if i.code == "schema-upgrade"]
    assert "version 0" in issue.message and "Segments" in issue.message
    assert "contact_every_days to Customers" in issue.message
    assert "Nothing is removed" in issue.message


def test_the_next_save_adds_the_sheet_and_the_column_and_keeps_everything(old_book):
    before = parts(old_book)
    book = crmbook.open(old_book)
    book.customers.add(name="Eli Levi", contact_every_days=30)
    book.table("Segments").add(name="Berlin", rules="city=Berlin")
    book.save()
    after = parts(old_book)
    with Package(old_book) as pkg:
        touched = {pkg.sheets[n].part for n in ("Customers", "Log", "_crmbook")}
        for name in ("Customers", "Log"):
            touched |= set(pkg.table_parts(pkg.sheets[name].part))
    touched |= {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml"}
    for name, data in before.items():
        if name not in touched:
            assert after[name] == data, f"{name} changed"
    book = crmbook.open(old_book)
    assert book.upgrade is None and book.meta["schema_version"] == SCHEMA.version
    customers = book.customers.df
    assert customers["name"].tolist() == ["Dana Cohen", "Eli Levi"]
    assert customers[USER_COLUMN].tolist()[0] == "blue"
    assert customers["contact_every_days"].tolist()[1] == 30
    assert book.table("Segments").df["rules"].tolist() == ["city=Berlin"]
    assert not [i for i in book.validate().issues if i.severity == "error"]
    log = book.table("Log").df
    assert (log["field"] == "schema_version").any()
    wb = openpyxl.load_workbook(old_book)
    ws = wb["Customers"]
    header = [c.value for c in ws[1]]
    assert header[-2:] == [USER_COLUMN, "contact_every_days"]
    table = ws.tables["Customers"]
    assert [c.name for c in table.tableColumns] == header
    assert table.ref == f"A1:{openpyxl.utils.get_column_letter(len(header))}3"
    assert list(wb["Segments"].tables) == ["Segments"]


def test_a_save_without_changes_upgrades_too(old_book):
    crmbook.open(old_book).save()
    book = crmbook.open(old_book)
    assert book.upgrade is None and "Segments" in book.sheet_names
    assert book.customers.df["contact_every_days"].isna().all()


def test_a_workbook_from_a_newer_crmbook_is_refused(old_book):
    wb = openpyxl.load_workbook(old_book)
    for row in wb["_crmbook"].iter_rows(min_row=2):
        if row[0].value == "schema_version":
            row[1].value = SCHEMA.version + 1
    wb.save(old_book)
    before = old_book.read_bytes()
    with pytest.raises(NotAWorkbookError, match=r"newer crmbook .*Update crmbook"):
        crmbook.open(old_book)
    assert old_book.read_bytes() == before


@pytest.mark.libreoffice
@libreoffice.needs_libreoffice
def test_libreoffice_opens_the_upgraded_workbook(old_book, tmp_path):
    crmbook.open(old_book).save()
    out = libreoffice.convert([str(old_book)], tmp_path)
    wb = openpyxl.load_workbook(out / "old.xlsx")
    assert "Segments" in wb.sheetnames
    assert [c.value for c in wb["Customers"][1]][-1] == "contact_every_days"
    assert wb["Customers"]["B2"].value == "Dana Cohen"


def test_a_german_workbook_is_upgraded_in_german(tmp_path):
    path = tmp_path / "alt.xlsx"
    write_template(path, "old", dt.datetime(2025, 1, 1), schema=old_schema(), lang="de")
    book = crmbook.open(path)
    assert book.upgrade.sheets == ["Segments"]
    book.customers.add(name="Jörg", contact_every_days=7, stage="loyal")
    book.save()
    wb = openpyxl.load_workbook(path)
    assert "Segmente" in wb.sheetnames and "Segments" not in wb.sheetnames
    ws = wb["Kunden"]
    header = [c.value for c in ws[1]]
    assert header[-1] == "Kontakt alle Tage"
    assert [c.name for c in ws.tables["Customers"].tableColumns] == header
    assert [c.value for c in wb["Segmente"][1]] == ["Name", "Regeln", "Notizen"]
    book = crmbook.open(path)
    assert book.customers.df["contact_every_days"].tolist() == [7]
    assert book.customers.df["stage"].tolist() == ["loyal"]


def version_2_schema() -> Schema:
    """Schema version 2: no probability column beside the deal stages on the Lists sheet."""
    vocabularies = tuple(dataclasses.replace(v, numbers=None) for v in SCHEMA.vocabularies)
    return Schema(version=2, sheets=SCHEMA.sheets, vocabularies=vocabularies)


def test_the_lists_sheet_gains_the_stage_probabilities(tmp_path):
    path = tmp_path / "v2.xlsx"
    write_template(path, "old", dt.datetime(2025, 1, 1), schema=version_2_schema())
    wb = openpyxl.load_workbook(path)
    wb["Lists"]["N1"] = "Region"  # a list of the owner's own
    wb["Lists"]["N2"] = "North"
    wb.save(path)
    book = crmbook.open(path)
    assert book.upgrade.lists == ["probability"]
    assert "adds the column probability to Lists" in book.upgrade.note
    assert book.numbers("deal_stage") == SCHEMA.vocabulary("deal_stage").default_numbers()
    assert {i.code for i in book.validate().issues} == {"schema-upgrade"}
    book.save()

    ws = openpyxl.load_workbook(path)["Lists"]
    header = [c.value for c in ws[1]]
    assert header[-2:] == ["Region", "probability"] and ws["N2"].value == "North"
    stages, chance = header.index("deal_stage"), header.index("probability")
    rows = [(r[stages].value, r[chance].value) for r in ws.iter_rows(min_row=2, max_row=7)]
    assert rows == list(SCHEMA.vocabulary("deal_stage").default_numbers().items())
    book = crmbook.open(path)
    assert book.upgrade is None and book.validate().issues == []
