"""Create a new, empty crmbook workbook from the schema.

openpyxl is fine for this: the file is new, so there is nothing of the user's to lose.
Later saves never go through openpyxl (see writer.py).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo

from crmbook.schema import EXCEL_MAX_ROWS, SCHEMA, Schema, Sheet

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def list_name(vocabulary: str) -> str:
    """The defined name a dropdown uses, e.g. list_stage."""
    return f"list_{vocabulary}"


def meta_rows(schema: Schema, workbook_id: str, created: dt.datetime) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [
        ("schema_version", schema.version),
        ("workbook_id", workbook_id),
        ("created", created.isoformat(timespec="seconds")),
    ]
    rows += [(f"next_id.{s.name}", 1) for s in schema.sheets if s.id_prefix]
    return rows


def write_template(path: Path, workbook_id: str, now: dt.datetime, schema: Schema = SCHEMA) -> None:
    """Write an empty workbook: one Excel table per entity, Lists, Dashboard, change log."""
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.creator = "crmbook"
    wb.properties.created = now
    wb.properties.modified = now
    for sheet in schema.entities:
        _table_sheet(wb, sheet, schema)
    _dashboard_sheet(wb, schema)
    _lists_sheet(wb, schema)
    for sheet in schema.sheets:
        if sheet.system:
            _table_sheet(wb, sheet, schema)
    meta = wb.create_sheet(schema.meta_sheet)
    meta.sheet_state = "hidden"
    meta.append(("key", "value"))
    for key, value in meta_rows(schema, workbook_id, now):
        meta.append((key, value))
    wb.active = 0
    wb.save(path)


def _table_sheet(wb: Workbook, sheet: Sheet, schema: Schema) -> None:
    ws = wb.create_sheet(sheet.name)
    ws.append(sheet.columns)
    last = get_column_letter(len(sheet.fields))
    table = Table(displayName=sheet.name, ref=f"A1:{last}2")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = "B2" if sheet.id_prefix else "A2"
    for i, f in enumerate(sheet.fields, start=1):
        letter = get_column_letter(i)
        dim = ws.column_dimensions[letter]
        dim.width = f.width
        dim.number_format = f.ftype.number_format
        if f.type == "longtext":
            dim.alignment = Alignment(wrap_text=False, vertical="top")
        rows = f"{letter}2:{letter}{EXCEL_MAX_ROWS}"
        validation = _validation(f, schema)
        if validation is not None:
            validation.add(rows)
            ws.add_data_validation(validation)


def _validation(f, schema: Schema) -> DataValidation | None:
    if f.vocabulary:
        vocab = schema.vocabulary(f.vocabulary)
        return DataValidation(
            type="list",
            formula1=list_name(f.vocabulary),
            allow_blank=True,
            errorStyle="warning" if vocab.open else "stop",
            errorTitle=f"{f.name}: not in the list",
            error=f"Pick a value from the list. To add a new one, add it to column "
            f"'{f.vocabulary}' of the {schema.lists_sheet} sheet.",
            showErrorMessage=True,
        )
    if f.type == "bool":
        return DataValidation(
            type="list",
            formula1='"TRUE,FALSE"',
            allow_blank=True,
            showErrorMessage=True,
            errorTitle=f"{f.name}: TRUE or FALSE",
            error="Type TRUE or FALSE.",
        )
    return None


def _lists_sheet(wb: Workbook, schema: Schema) -> None:
    ws = wb.create_sheet(schema.lists_sheet)
    for col, vocab in enumerate(schema.vocabularies, start=1):
        letter = get_column_letter(col)
        head = ws.cell(row=1, column=col, value=vocab.name)
        head.font = Font(bold=True)
        head.fill = HEADER_FILL
        for row, value in enumerate(vocab.values, start=2):
            ws.cell(row=row, column=col, value=value)
        ws.column_dimensions[letter].width = max(16, len(vocab.name) + 4)
        ref = f"{quote_sheetname(schema.lists_sheet)}!${letter}$2"
        count = f"COUNTA({quote_sheetname(schema.lists_sheet)}!${letter}:${letter})-1"
        wb.defined_names[list_name(vocab.name)] = DefinedName(
            list_name(vocab.name), attr_text=f"OFFSET({ref},0,0,MAX(1,{count}),1)"
        )
    ws.freeze_panes = "A2"


def _dashboard_sheet(wb: Workbook, schema: Schema) -> None:
    """Live formulas over the tables, so an Excel-only owner sees the key figures."""
    ws = wb.create_sheet(schema.dashboard_sheet)
    ws["A1"] = "crmbook dashboard"
    ws["A1"].font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 32
    ws.column_dimensions["B"].width = 16
    row = 3
    for sheet in schema.entities:
        ws.cell(row=row, column=1, value=f"{sheet.name}")
        ws.cell(row=row, column=2, value=f"=COUNTA({sheet.name}[{sheet.key}])")
        row += 1
    row += 1
    ws.cell(row=row, column=1, value="Customers by stage").font = Font(bold=True)
    row += 1
    for stage in schema.vocabulary("stage").values:
        ws.cell(row=row, column=1, value=stage)
        ws.cell(row=row, column=2, value=f'=COUNTIFS(Customers[stage],"{stage}")')
        row += 1
    row += 1
    ws.cell(row=row, column=1, value="Revenue (all sales)")
    revenue = ws.cell(row=row, column=2, value="=SUM(Sales[amount])")
    revenue.number_format = "#,##0.00"
    row += 1
    ws.cell(row=row, column=1, value="Open tasks overdue")
    ws.cell(row=row, column=2, value='=COUNTIFS(Tasks[status],"open",Tasks[due],"<"&TODAY())')


TEMPLATE_ID = "template"
TEMPLATE_TIME = dt.datetime(2026, 1, 1)


def write_reference_template(path: Path) -> None:
    """The checked-in empty template (fixed id and time, so it can be compared in tests)."""
    write_template(Path(path), workbook_id=TEMPLATE_ID, now=TEMPLATE_TIME)
