"""Password-protected copies: written encrypted, read and re-encrypted with the password."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import msoffcrypto
import openpyxl
import pytest
from click.testing import CliRunner

import crmbook
from crmbook.cli import main
from crmbook.errors import NotAWorkbookError
from crmbook.sharing.protect import WrongPasswordError, is_encrypted

SYSTEM_PYTHON = "/usr/bin/python3"


def _book(tmp_path: Path) -> Path:
    book = crmbook.create(tmp_path / "crm.xlsx", user="tester")
    book.customers.add(name="Anna Schmidt", email="anna@example.com")
    book.save()
    return book.path


def test_share_writes_an_encrypted_copy_that_opens_with_the_password(tmp_path):
    path = _book(tmp_path)
    out = tmp_path / "shared.xlsx"
    result = CliRunner().invoke(
        main, ["share", str(path), "--out", str(out), "--password", "sesam"]
    )
    assert result.exit_code == 0, result.output
    assert is_encrypted(out) and not is_encrypted(path)
    plain = io.BytesIO()
    office = msoffcrypto.OfficeFile(out.open("rb"))
    office.load_key(password="sesam", verify_password=True)
    office.decrypt(plain)  # an independent reader: msoffcrypto + openpyxl
    assert openpyxl.load_workbook(plain)["Customers"]["B2"].value == "Anna Schmidt"


def test_open_with_password_reads_and_saves_encrypted(tmp_path):
    path = _book(tmp_path)
    out = tmp_path / "shared.xlsx"
    CliRunner().invoke(main, ["share", str(path), "--out", str(out), "--password", "sesam"])
    book = crmbook.open(out, password="sesam", user="tester")
    assert book.customers.df["name"].tolist() == ["Anna Schmidt"]
    book.customers.add(name="Boris Ivanov")
    book.save()
    assert is_encrypted(out)
    again = crmbook.open(out, password="sesam")
    assert again.customers.df["name"].tolist() == ["Anna Schmidt", "Boris Ivanov"]


def test_wrong_or_missing_password_is_a_clear_error(tmp_path):
    path = _book(tmp_path)
    out = tmp_path / "shared.xlsx"
    CliRunner().invoke(main, ["share", str(path), "--out", str(out), "--password", "sesam"])
    with pytest.raises(WrongPasswordError, match="wrong password"):
        crmbook.open(out, password="Sesam")
    with pytest.raises(NotAWorkbookError, match="password-protected"):
        crmbook.open(out)


def test_shared_copies_merge_without_base(tmp_path):
    path = _book(tmp_path)
    out = tmp_path / "copy.xlsx"
    CliRunner().invoke(main, ["share", str(path), "--out", str(out)])
    for file, city in ((path, "Berlin"), (out, "Bonn")):
        wb = openpyxl.load_workbook(file)
        ws = wb["Customers"]
        column = [c.value for c in ws[1]].index("city" if file == path else "email") + 1
        ws.cell(2, column).value = city if file == path else "anna@bonn.example"
        wb.save(file)
    merged = tmp_path / "merged.xlsx"
    result = CliRunner().invoke(main, ["merge", str(path), str(out), "--out", str(merged)])
    assert result.exit_code == 0, result.output
    anna = crmbook.open(merged).customers.df.iloc[0]
    assert (anna["city"], anna["email"]) == ("Berlin", "anna@bonn.example")


@pytest.mark.libreoffice
@pytest.mark.skipif(
    shutil.which("soffice") is None
    or subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True).returncode,
    reason="needs LibreOffice (soffice) and its Python bridge (uno) to open the file",
)
def test_libreoffice_opens_the_encrypted_copy_with_the_password(tmp_path):
    path = _book(tmp_path)
    out = tmp_path / "shared.xlsx"
    CliRunner().invoke(main, ["share", str(path), "--out", str(out), "--password", "sesam"])
    script = str(Path(__file__).with_name("uno_open.py"))
    opened = subprocess.run(
        [SYSTEM_PYTHON, script, str(out), "sesam", "Customers", "B2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert opened.stdout.strip() == "Anna Schmidt", opened.stderr
    refused = subprocess.run(
        [SYSTEM_PYTHON, script, str(out), "wrong", "Customers", "B2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode != 0 and "Anna" not in refused.stdout


def test_an_encrypted_copy_merges_with_its_password(tmp_path):
    path = _book(tmp_path)
    out = tmp_path / "shared.xlsx"
    CliRunner().invoke(main, ["share", str(path), "--out", str(out), "--password", "sesam"])
    book = crmbook.open(out, password="sesam", user="colleague")
    book.customers.update("C-000001", city="Bonn")
    book.save()
    merged = tmp_path / "merged.xlsx"
    args = ["merge", str(path), str(out), "--out", str(merged)]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 2 and "give its password" in refused.output
    result = CliRunner().invoke(main, [*args, "--password", "sesam"])
    assert result.exit_code == 0, result.output
    assert crmbook.open(merged).customers.df["city"].tolist() == ["Bonn"]
