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


SYSTEM_PYTHON = "/usr/bin/python3"  # the Python that has LibreOffice's bridge (uno)

needs_uno = pytest.mark.skipif(
    shutil.which("soffice") is None
    or not Path(SYSTEM_PYTHON).exists()
    or subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True).returncode,
    reason="needs LibreOffice (soffice) and its Python bridge (uno) to edit a file in it",
)


def edit(path: Path, edits: list[tuple[str, str, str, object]] = (), timeout: int = 180) -> None:
    """Type values into cells in LibreOffice Calc and save the workbook there, as a person
    does: each edit is (sheet, record id in column A, heading, value); none just re-saves."""
    import json

    script = Path(__file__).with_name("uno_edit.py")
    done = subprocess.run(
        [SYSTEM_PYTHON, str(script), str(path), json.dumps([list(e) for e in edits])],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
