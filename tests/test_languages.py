"""Workbooks in German, Dutch and Italian: labels in the file, one internal name in the library."""

import datetime as dt

import openpyxl
import pytest
from click.testing import CliRunner

import crmbook
from crmbook.cli import main
from crmbook.errors import CrmbookError
from crmbook.languages import FIELDS, LABELS, LANGUAGES, SHEETS, VALUES, words
from crmbook.schema import SCHEMA

OTHER = [lang for lang in LANGUAGES if lang != "en"]


def test_every_sheet_column_and_dropdown_value_has_a_label_in_every_language():
    for sheet in SCHEMA.sheets:
        assert sheet.name in SHEETS
        assert all(f.name in FIELDS for f in sheet.fields), sheet.name
    assert {SCHEMA.lists_sheet, SCHEMA.dashboard_sheet} <= set(SHEETS)
    for vocab in SCHEMA.vocabularies:
        assert all(v in VALUES for v in vocab.values), vocab.name
    for table in (SHEETS, FIELDS, VALUES):
        assert all(len(labels) == len(OTHER) for labels in table.values())


@pytest.mark.parametrize("lang", OTHER)
def test_labels_lead_back_to_one_internal_name(lang):
    w = words(lang)
    for vocab in SCHEMA.vocabularies:
        labels = [w.value(v).lower() for v in vocab.values]
        assert len(set(labels)) == len(labels), (lang, vocab.name)
        assert [LABELS[label] for label in labels] == list(vocab.values)
    for sheet in SCHEMA.sheets:
        headers = [w.field(c).lower() for c in sheet.columns]
        assert len(set(headers)) == len(headers), (lang, sheet.name)
    names = [w.sheet(n).lower() for n in SHEETS]
    assert len(set(names)) == len(names) and all(len(n) <= 31 for n in names)


@pytest.mark.parametrize("lang", OTHER)
def test_a_workbook_in_another_language_reads_and_writes_through_internal_names(tmp_path, lang):
    path = tmp_path / f"{lang}.xlsx"
    result = CliRunner().invoke(main, ["init", str(path), "--lang", lang])
    assert result.exit_code == 0, result.output
    w = words(lang)
    assert w.sheet("Customers") in result.output
    book = crmbook.open(path)
    cid = book.customers.add(name="Ada", stage="loyal", consent_email=True)
    book.tasks.add(customer_id=cid, due=dt.date(2026, 1, 5), title="call", status="open")
    book.save()
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == w.sheet("Customers")
    customers = wb[w.sheet("Customers")]
    header = [c.value for c in customers[1]]
    assert header == [w.field(c) for c in SCHEMA.sheet("Customers").columns]
    assert customers.cell(2, header.index(w.field("stage")) + 1).value == w.value("loyal")
    lists = wb[w.sheet("Lists")]
    stage = [c.value for c in lists[1]].index("stage") + 1
    assert lists.cell(2, stage).value == w.value("prospect")
    book = crmbook.open(path)
    assert book.customers.df["stage"].tolist() == ["loyal"]
    assert book.tasks.df["status"].tolist() == ["open"]
    assert book.lists["stage"] == list(SCHEMA.vocabulary("stage").values)
    assert book.validate().valid
    book.customers.update(cid, stage="promoter")
    book.save()
    cell = openpyxl.load_workbook(path)[w.sheet("Customers")]
    assert cell.cell(2, header.index(w.field("stage")) + 1).value == w.value("promoter")
    with pytest.raises(CrmbookError, match="own sheets"):
        book.write_sheet(w.sheet("Customers"), book.customers.df)


def test_headers_typed_in_another_language_are_understood(tmp_path):
    path = tmp_path / "mixed.xlsx"
    crmbook.create(path).close()
    wb = openpyxl.load_workbook(path)
    ws = wb["Customers"]
    header = [c.value for c in ws[1]]
    ws.cell(1, header.index("phone") + 1, "Telefono")
    ws.cell(1, header.index("city") + 1, "Ort")
    ws.append(["C-000001", "Bea", "person", None, None, "+39 06 123", None, "Roma"])
    wb.save(path)
    book = crmbook.open(path)
    record = book.customers.df.iloc[0]
    assert record["phone"] == "+39 06 123" and record["city"] == "Roma"
    assert not [i for i in book.validate().issues if i.code == "missing-column"]
