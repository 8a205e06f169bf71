"""Run by the system python3 (it has LibreOffice's uno): open a workbook in LibreOffice with a
password and print one cell. Usage: uno_open.py FILE PASSWORD SHEET CELL.

Exits non-zero when LibreOffice does not open the file (e.g. a wrong password).
"""

import contextlib
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


def main(path, password, sheet, cell):
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
        doc = desktop.loadComponentFromURL(
            uno.systemPathToFileUrl(os.path.abspath(path)),
            "_blank",
            0,
            (_prop("Hidden", True), _prop("Password", password)),
        )
        if doc is None:
            return 3
        print(doc.Sheets.getByName(sheet).getCellRangeByName(cell).getString())
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
    sys.exit(main(*sys.argv[1:5]))
