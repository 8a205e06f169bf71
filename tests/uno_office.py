"""Shared by the uno_*.py scripts (run by the system python3, which has LibreOffice's uno):
start a private headless LibreOffice and hand over its desktop, closed again afterwards."""

import contextlib
import os
import subprocess
import tempfile
import time

import uno
from com.sun.star.beans import PropertyValue


def prop(name, value):
    named = PropertyValue()
    named.Name, named.Value = name, value
    return named


@contextlib.contextmanager
def office_desktop():
    """LibreOffice's desktop, from a soffice of our own (own profile, own port)."""
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
        yield desktop
    finally:
        if desktop is not None:
            with contextlib.suppress(Exception):
                desktop.terminate()
        try:
            office.wait(timeout=30)
        except subprocess.TimeoutExpired:
            office.kill()
