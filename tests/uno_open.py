"""Run by the system python3 (it has LibreOffice's uno): open a workbook in LibreOffice with a
password and print one cell. Usage: uno_open.py FILE PASSWORD SHEET CELL.

Exits non-zero when LibreOffice does not open the file (e.g. a wrong password).
"""

import os
import sys

import uno
from uno_office import office_desktop, prop


def main(path, password, sheet, cell):
    with office_desktop() as desktop:
        doc = desktop.loadComponentFromURL(
            uno.systemPathToFileUrl(os.path.abspath(path)),
            "_blank",
            0,
            (prop("Hidden", True), prop("Password", password)),
        )
        if doc is None:
            return 3
        print(doc.Sheets.getByName(sheet).getCellRangeByName(cell).getString())
        doc.close(True)
        return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
