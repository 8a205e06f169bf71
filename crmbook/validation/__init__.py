"""Turn raw sheet values into typed frames, and every problem into an Issue.

People edit the workbook by hand, so reading is tolerant (text dates, numbers stored as text,
headers in another order or case, extra columns) and precise: a problem is reported with the
sheet, the row number Excel shows, the column, the value, what is wrong and how to fix it.
Nothing here raises for bad data; it all goes into a Report.

    codes.py    every issue code, its severity and wording (one registry)
    report.py   Issue, Report, and the Checker that collects them
    parsing.py  one column of typed-in values -> typed values
    sheets.py   a whole sheet: headers matched to fields, columns parsed
    rules.py    the rules records keep (required, lists, references...), one function each
"""

from crmbook.validation.codes import ERROR, WARNING, Code
from crmbook.validation.parsing import (
    Parsed,
    empty_column,
    parse_bool,
    parse_column,
    parse_date,
    parse_number,
    parse_text,
)
from crmbook.validation.report import Checker, Issue, Report
from crmbook.validation.rules import RULES, check_records
from crmbook.validation.sheets import (
    TypedSheet,
    canonical_choices,
    header_key,
    highest_id_number,
    isin,
    match_headers,
    type_sheet,
)

__all__ = [
    "ERROR",
    "RULES",
    "WARNING",
    "Checker",
    "Code",
    "Issue",
    "Parsed",
    "Report",
    "TypedSheet",
    "canonical_choices",
    "check_records",
    "empty_column",
    "header_key",
    "highest_id_number",
    "isin",
    "match_headers",
    "parse_bool",
    "parse_column",
    "parse_date",
    "parse_number",
    "parse_text",
    "type_sheet",
]
