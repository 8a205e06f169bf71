"""Create a new, empty crmbook workbook from the schema.

openpyxl is fine for this: the file is new, so there is nothing of the user's to lose.
Later saves never go through openpyxl (see writer.py).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo

from crmbook.excel_limits import MAX_ROWS
from crmbook.io.meta import meta_rows
from crmbook.languages import ENGLISH, Words, words
from crmbook.schema import SCHEMA, TYPES, Schema, Sheet

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def list_name(vocabulary: str) -> str:
    """The defined name a dropdown uses, e.g. list_stage."""
    return f"list_{vocabulary}"


def numbers_name(vocabulary: str, numbers: str) -> str:
    """The defined name of the numbers beside a list, e.g. list_deal_stage_probability: as
    many cells as the list has values, so formulas can pair them."""
    return f"{list_name(vocabulary)}_{numbers}"


def write_template(
    path: Path, workbook_id: str, now: dt.datetime, schema: Schema = SCHEMA, lang: str = "en"
) -> None:
    """Write an empty workbook: one Excel table per entity, Lists, Dashboard, change log.

    `lang` (en, de, nl, it) chooses the sheet names, headers and dropdown labels people see.
    """
    w = words(lang)
    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.creator = "crmbook"
    wb.properties.created = now
    wb.properties.modified = now
    for sheet in schema.entities:
        _table_sheet(wb, sheet, schema, w)
    _dashboard_sheet(wb, schema, w)
    _lists_sheet(wb, schema, w)
    for sheet in schema.sheets:
        if sheet.system:
            _table_sheet(wb, sheet, schema, w)
    meta = wb.create_sheet(schema.meta_sheet)
    meta.sheet_state = "hidden"
    meta.append(("key", "value"))
    for key, value in meta_rows(schema, workbook_id, now, w.lang):
        meta.append((key, value))
    wb.active = 0
    wb.save(path)


def _table_sheet(wb: Workbook, sheet: Sheet, schema: Schema, w: Words) -> None:
    ws = wb.create_sheet(w.sheet(sheet.name))
    ws.append([w.field(c) for c in sheet.columns])
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
        rows = f"{letter}2:{letter}{MAX_ROWS}"
        validation = _validation(f, schema, w)
        if validation is not None:
            validation.add(rows)
            ws.add_data_validation(validation)
    _highlights(ws, sheet, w)


@dataclass(frozen=True)
class Highlight:
    """A conditional format as data: on `sheet`, cells of `columns` whose row meets `rule`.

    `rule` is an Excel formula for the first data row, with {column} standing for that row's
    cell of a schema column (e.g. {status} -> $G2).
    """

    sheet: str
    columns: tuple[str, ...]
    rule: str
    fill: str | None = None
    font: str | None = None
    why: str = ""


OPEN_DEAL = '{stage}<>"won",{stage}<>"lost"'
HIGHLIGHTS = (
    Highlight(
        "Tasks",
        (),
        'AND({status}="open",ISNUMBER({due}),{due}<TODAY())',
        "FFC7CE",
        "9C0006",
        "open task overdue",
    ),
    Highlight(
        "Tasks",
        (),
        'AND({status}="open",ISNUMBER({due}),INT({due})=TODAY())',
        "FFEB9C",
        "9C5700",
        "open task due today",
    ),
    Highlight(
        "Deals",
        (),
        f"AND(ISNUMBER({{expected_close}}),{{expected_close}}<TODAY(),{OPEN_DEAL})",
        "FCE4D6",
        None,
        "open deal past its expected close",
    ),
    Highlight(
        "Customers",
        ("consent_email",),
        'AND({name}<>"",{consent_email}<>TRUE)',
        "EDEDED",
        "808080",
        "no consent to emails",
    ),
    Highlight(
        "Customers",
        ("consent_sms",),
        'AND({name}<>"",{consent_sms}<>TRUE)',
        "EDEDED",
        "808080",
        "no consent to SMS",
    ),
    Highlight(
        "Customers",
        ("consent_date",),
        'AND({name}<>"",{consent_email}<>TRUE,{consent_sms}<>TRUE)',
        "EDEDED",
        "808080",
        "no consent at all",
    ),
)


def highlight_formula(highlight: Highlight, sheet: Sheet, row: int = 2, w: Words = ENGLISH) -> str:
    """The rule with each {column} replaced by its cell in `row`, e.g. $G2."""
    cells = {f.name: f"${get_column_letter(i)}{row}" for i, f in enumerate(sheet.fields, start=1)}
    return _translated(highlight.rule, w).format(**cells)


def _translated(formula: str, w: Words) -> str:
    """Dropdown values quoted in a formula ("open") in the workbook's language.

    Each quoted string is taken in turn from the left, so an empty one ("") never pairs the
    quotes after it the wrong way; criteria such as ">=" are left as they are.
    """

    def value(m: re.Match) -> str:
        text = m.group(1)
        return f'"{w.value(text)}"' if text and not re.search(r"[&<>=]", text) else m.group(0)

    return re.sub(r'"([^"]*)"', value, formula)


def _highlights(ws, sheet: Sheet, w: Words) -> None:
    for highlight in HIGHLIGHTS:
        if highlight.sheet != sheet.name:
            continue
        if highlight.columns:
            letters = [get_column_letter(sheet.columns.index(n) + 1) for n in highlight.columns]
            ranges = " ".join(f"{letter}2:{letter}{MAX_ROWS}" for letter in letters)
        else:
            ranges = f"A2:{get_column_letter(len(sheet.fields))}{MAX_ROWS}"
        ws.conditional_formatting.add(
            ranges,
            FormulaRule(
                formula=[highlight_formula(highlight, sheet, w=w)],
                fill=PatternFill(bgColor=highlight.fill) if highlight.fill else None,
                font=Font(color=highlight.font) if highlight.font else None,
            ),
        )


def _validation(f, schema: Schema, w: Words) -> DataValidation | None:
    if f.vocabulary:
        vocab = schema.vocabulary(f.vocabulary)
        return DataValidation(
            type="list",
            formula1=list_name(f.vocabulary),
            allow_blank=True,
            errorStyle="warning" if vocab.open else "stop",
            errorTitle=f"{f.name}: not in the list",
            error=f"Pick a value from the list. To add a new one, add it to column "
            f"'{f.vocabulary}' of the {w.sheet(schema.lists_sheet)} sheet.",
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


def _lists_sheet(wb: Workbook, schema: Schema, w: Words) -> None:
    """One column per list; a list with numbers (the deal stages' probabilities) has them
    in the column after it, on the same rows."""
    lists_sheet = quote_sheetname(w.sheet(schema.lists_sheet))
    ws = wb.create_sheet(w.sheet(schema.lists_sheet))
    col = 0
    for vocab in schema.vocabularies:
        col += 1
        letter = get_column_letter(col)
        _list_column(ws, col, vocab.name, [w.value(v) for v in vocab.values])
        count = f"MAX(1,COUNTA({lists_sheet}!${letter}:${letter})-1)"
        wb.defined_names[list_name(vocab.name)] = DefinedName(
            list_name(vocab.name), attr_text=f"OFFSET({lists_sheet}!${letter}$2,0,0,{count},1)"
        )
        if vocab.numbers is not None:
            col += 1
            numbers = vocab.numbers
            _list_column(ws, col, w.field(numbers.name), list(numbers.defaults))
            ws.column_dimensions[get_column_letter(col)].number_format = numbers.number_format
            for row in range(2, len(numbers.defaults) + 2):
                ws.cell(row=row, column=col).number_format = numbers.number_format
            name = numbers_name(vocab.name, numbers.name)
            wb.defined_names[name] = DefinedName(
                name,
                attr_text=f"OFFSET({lists_sheet}!${get_column_letter(col)}$2,0,0,{count},1)",
            )
    ws.freeze_panes = "A2"


def _list_column(ws, col: int, heading: str, values: list) -> None:
    head = ws.cell(row=1, column=col, value=heading)
    head.font = Font(bold=True)
    head.fill = HEADER_FILL
    for row, value in enumerate(values, start=2):
        ws.cell(row=row, column=col, value=value)
    ws.column_dimensions[get_column_letter(col)].width = max(16, len(heading) + 4)


DASHBOARD_SOURCE_ROWS = 40
MONEY = TYPES["money"].number_format
PERCENT = "0.0%"


def _col(schema: Schema, sheet: str, column: str, w: Words) -> str:
    """A structured reference to a schema column, e.g. Customers[stage] (checked to exist)."""
    table = schema.sheet(sheet)
    table.field(column)
    header = re.sub(r"([\[\]#'])", r"'\1", w.field(column))
    return f"{table.name}[{header}]"


def dashboard_figures(
    schema: Schema, w: Words = ENGLISH
) -> list[tuple[str, list[tuple[str, str, str | None]]]]:
    """The dashboard as data: sections of (label, Excel formula, number format).

    The same figures as the Python analytics (overview, reminders, activity), so an owner who
    only opens Excel sees what `crmbook summary` prints.
    """

    def c(sheet: str, column: str) -> str:
        return _col(schema, sheet, column, w)

    last_monday = "(TODAY()-WEEKDAY(TODAY(),3)-7)"
    this_monday = "(TODAY()-WEEKDAY(TODAY(),3))"
    meetings = [
        f'COUNTIFS({c("Interactions", "channel")},"{channel}",'
        f'{c("Interactions", "when")},">="&{last_monday},'
        f'{c("Interactions", "when")},"<"&{this_monday}{{extra}})'
        for channel in ("meeting", "visit")
    ]
    held = "+".join(m.format(extra="") for m in meetings)
    won = "+".join(m.format(extra=f',{c("Interactions", "outcome")},"success"') for m in meetings)
    birthday = c("Customers", "birthday")
    sections = [
        (
            "Records",
            [(s.name, f"=COUNTA({c(s.name, s.key)})", None) for s in schema.entities if s.key],
        ),
        (
            "Customers by stage",
            [
                (stage, f'=COUNTIFS({c("Customers", "stage")},"{stage}")', None)
                for stage in schema.vocabulary("stage").values
            ],
        ),
        (
            "Tasks",
            [
                (
                    "Open tasks overdue",
                    f'=COUNTIFS({c("Tasks", "status")},"open",{c("Tasks", "due")},"<"&TODAY())',
                    None,
                ),
                (
                    "Open tasks due today",
                    f'=COUNTIFS({c("Tasks", "status")},"open",{c("Tasks", "due")},">="&TODAY(),'
                    f'{c("Tasks", "due")},"<"&(TODAY()+1))',
                    None,
                ),
            ],
        ),
        (
            "Customers",
            [
                (
                    "Birthdays this month",
                    f"=SUMPRODUCT(ISNUMBER({birthday})*(MONTH({birthday})=MONTH(TODAY())))",
                    None,
                ),
            ],
        ),
        (
            "Meetings last week (Monday to Sunday)",
            [
                ("Meetings and visits", f"={held}", None),
                ("Successful", f"={won}", None),
                ("Success rate", f'=IF(({held})=0,"",({won})/({held}))', PERCENT),
            ],
        ),
        (
            "Revenue",
            [("All sales", f"=SUM({c('Sales', 'amount')})", MONEY)],
        ),
    ]
    if schema.vocabulary("deal_stage").numbers is not None:
        sections.append((FORECAST_SECTION, _forecast_figures(schema, c)))
    return [
        (
            title,
            [
                (w.value(label) if title == "Customers by stage" else label, _translated(f, w), fmt)
                for label, f, fmt in figures
            ],
        )
        for title, figures in sections
    ]


FORECAST_SECTION = "Forecast: expected revenue (open amount x stage probability)"
FORECAST_MONTHS = ("This month", *("Next month", *(f"In {k} months" for k in range(2, 6))))


def _forecast_figures(schema: Schema, c) -> list[tuple[str, str, str | None]]:
    """All open deals weighted by their stage's probability (from the Lists sheet), then per
    month of expected close; a deal past its expected close counts in this month."""
    vocab = schema.vocabulary("deal_stage")
    stages = list_name(vocab.name)
    chance = numbers_name(vocab.name, vocab.numbers.name)
    open_ = f'{chance}*({stages}<>"won")*({stages}<>"lost")'
    amount, stage, close = c("Deals", "amount"), c("Deals", "stage"), c("Deals", "expected_close")

    def weighted(*criteria: str) -> str:
        return f"=SUMPRODUCT(SUMIFS({amount},{stage},{stages}{''.join(criteria)})*{open_})"

    figures = [("All open deals", weighted(), MONEY)]
    for k, label in enumerate(FORECAST_MONTHS):
        before = f',{close},"<"&(EOMONTH(TODAY(),{k})+1)'
        since = f',{close},">="&(EOMONTH(TODAY(),{k - 1})+1)' if k else ""
        figures.append((label, weighted(before, since), MONEY))
    return figures


def source_columns(schema: Schema, k: int, w: Words) -> list[tuple[str, str, str | None]]:
    """Row k of the sources table: the k-th source of the Sources sheet with its figures.

    The formulas hold "{r}" for their own row number.
    """

    def c(sheet: str, column: str) -> str:
        return _col(schema, sheet, column, w)

    name = "$A{r}"
    revenue = (
        f"SUMPRODUCT(SUMIFS({c('Sales', 'amount')},{c('Sales', 'customer_id')},"
        f"{c('Customers', 'id')})*({c('Customers', 'source')}={name}))"
    )
    return [
        ("Source", f'=IFERROR(INDEX({c("Sources", "name")},{k})&"","")', None),
        ("Customers", f'=IF({name}="","",COUNTIFS({c("Customers", "source")},{name}))', None),
        ("Revenue", f'=IF({name}="","",{revenue})', MONEY),
        (
            "Cost",
            f'=IF({name}="","",SUMIFS({c("Sources", "cost")},{c("Sources", "name")},{name}))',
            MONEY,
        ),
        ("ROI", f'=IF(OR({name}="",N($D{{r}})=0),"",($C{{r}}-$D{{r}})/$D{{r}})', PERCENT),
    ]


def _dashboard_sheet(wb: Workbook, schema: Schema, w: Words) -> None:
    """Live formulas over the tables, so an Excel-only owner sees the key figures."""
    ws = wb.create_sheet(w.sheet(schema.dashboard_sheet))
    ws["A1"] = "crmbook dashboard"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = "Live figures: Excel recalculates them from the sheets whenever they change."
    ws.column_dimensions["A"].width = 36
    for letter in "BCDE":
        ws.column_dimensions[letter].width = 14
    row = 4
    for title, figures in dashboard_figures(schema, w):
        ws.cell(row=row, column=1, value=title).font = Font(bold=True)
        row += 1
        for label, formula, number_format in figures:
            ws.cell(row=row, column=1, value=label)
            cell = ws.cell(row=row, column=2, value=formula)
            if number_format:
                cell.number_format = number_format
            row += 1
        row += 1
    ws.cell(row=row, column=1, value="Sources (all time)").font = Font(bold=True)
    row += 1
    for col, (header, _, _) in enumerate(source_columns(schema, 1, w), start=1):
        ws.cell(row=row, column=col, value=header).font = Font(bold=True)
    for k in range(1, DASHBOARD_SOURCE_ROWS + 1):
        row += 1
        for col, (_, formula, number_format) in enumerate(source_columns(schema, k, w), start=1):
            cell = ws.cell(row=row, column=col, value=formula.format(r=row))
            if number_format:
                cell.number_format = number_format


TEMPLATE_ID = "template"
TEMPLATE_TIME = dt.datetime(2026, 1, 1)


def write_reference_template(path: Path) -> None:
    """The checked-in empty template (fixed id and time, so it can be compared in tests)."""
    write_template(Path(path), workbook_id=TEMPLATE_ID, now=TEMPLATE_TIME)
