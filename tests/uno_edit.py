"""Run by the system python3 (it has LibreOffice's uno): edit cells of a workbook the way a
person does in LibreOffice Calc and save it as .xlsx again. Usage: uno_edit.py FILE EDITS,
EDITS a JSON list of [sheet, record id (column A), heading, value]; a value of null empties
the cell; a value is typed as a person types it (Calc turns 2024-05-01 into a
date, 42 into a number). An empty list just opens and re-saves the file.

Exits non-zero when LibreOffice does not open or save the file.
"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time

import uno
from com.sun.star.beans import PropertyValue


def _prop(name, value):
    prop = PropertyValue()
    prop.Name, prop.Value = name, value
    return prop


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
    port = 20000 + os.getpid() % 10000
    profile = tempfile.mkdtemp()
    office = subprocess.Popen(
        [
            "soffice",
            "--headless",
            "--invisible",
            "--norestore",
            f"-env:UserInstallation=file://{profile}",
            f"--accept=socket,host=127.0.0.1,port={port};urp;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    desktop = None
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", local
        )
        url = f"uno:socket,host=127.0.0.1,port={port};urp;StarOffice.ComponentContext"
        for _ in range(200):
            try:
                remote = resolver.resolve(url)
                break
            except Exception:
                time.sleep(0.3)
        desktop = remote.ServiceManager.createInstanceWithContext(
            "com.sun.star.frame.Desktop", remote
        )
        file_url = uno.systemPathToFileUrl(os.path.abspath(path))
        doc = desktop.loadComponentFromURL(file_url, "_blank", 0, (_prop("Hidden", True),))
        if doc is None:
            return 3
        for sheet, key, heading, value in json.loads(edits):
            _edit(doc, sheet, key, heading, value)
        doc.storeToURL(file_url, (_prop("FilterName", "Calc MS Excel 2007 XML"),))
        doc.close(True)
        return 0
    finally:
        if desktop is not None:
            with contextlib.suppress(Exception):
                desktop.terminate()
        try:
            office.wait(timeout=30)
        except subprocess.TimeoutExpired:
            office.kill()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
