"""Run by the system python3 (it has LibreOffice's uno): edit cells of a workbook the way a
person does in LibreOffice Calc and save it as .xlsx again. Usage: uno_edit.py FILE EDITS,
EDITS a JSON list of [sheet, record id (column A), heading, value]; a value of null empties
the cell; a value is typed as a person types it (Calc turns 2024-05-01 into a
date, 42 into a number). An empty list just opens and re-saves the file.

Exits non-zero when LibreOffice does not open or save the file.
"""

import json
import os
import sys

import uno
from uno_office import office_desktop, prop


def _edit(doc, sheet_name, key, heading, value):
    sheet = doc.Sheets.getByName(sheet_name)
    cursor = sheet.createCursor()
    cursor.gotoEndOfUsedArea(False)
    last_row, last_col = cursor.RangeAddress.EndRow, cursor.RangeAddress.EndColumn
    headings = [sheet.getCellByPosition(c, 0).getString() for c in range(last_col + 1)]
    col = headings.index(heading)
    for row in range(1, last_row + 1):
        if sheet.getCellByPosition(0, row).getString() == key:
            cell = sheet.getCellByPosition(col, row)
            if value is None:
                cell.setString("")
            else:
                cell.setFormula(str(value))  # as typed: Calc reads dates and numbers in it
            return
    raise SystemExit(f"{sheet_name} has no record {key}")


def main(path, edits):
    with office_desktop() as desktop:
        file_url = uno.systemPathToFileUrl(os.path.abspath(path))
        doc = desktop.loadComponentFromURL(file_url, "_blank", 0, (prop("Hidden", True),))
        if doc is None:
            return 3
        for sheet, key, heading, value in json.loads(edits):
            _edit(doc, sheet, key, heading, value)
        doc.storeToURL(file_url, (prop("FilterName", "Calc MS Excel 2007 XML"),))
        doc.close(True)
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
