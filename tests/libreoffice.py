"""LibreOffice headless, the independent spreadsheet application our workbooks must open in."""

import shutil
import subprocess
from pathlib import Path

import pytest

needs_libreoffice = pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed"
)


def convert(paths, tmp_path: Path, to: str = "xlsx", timeout: int = 180) -> Path:
    """Open each workbook in LibreOffice and save it as `to` (recalculating every formula).

    Returns the folder holding the converted files (same names, new extension). Each call gets
    its own profile folder so parallel runs never collide.
    """
    out = tmp_path / "libreoffice"
    subprocess.run(
        [
            "soffice",
            "--headless",
            f"-env:UserInstallation=file://{tmp_path}/lo-profile",
            "--convert-to",
            to,
            "--outdir",
            str(out),
            *map(str, paths),
        ],
        check=True,
        capture_output=True,
        timeout=timeout,
    )
    return out
