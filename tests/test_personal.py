"""Personal data: export everything about one customer; erase or anonymise them."""

from __future__ import annotations

import json
import shutil
import warnings
import zipfile
from pathlib import Path

import libreoffice
import openpyxl
import pytest
from click.testing import CliRunner

import crmbook
from crmbook.cli import main


def _book(tmp_path):
    book = crmbook.create(tmp_path / "crm.xlsx", user="tester")
    anna = book.customers.add(
        name="Anna Schmidt", email="anna@example.com", phone="+49 30 1234567", city="Berlin"
    )
    boris = book.customers.add(
        name="Boris Ivanov", referred_by=anna, notes="friend of Anna Schmidt"
    )
    book.contacts.add(customer_id=anna, name="Karl Schmidt")
    book.interactions.add(
        customer_id=anna,
        when="2024-05-01 10:00",
        channel="call",
        summary="Anna Schmidt wants a quote",
    )
    book.interactions.add(
        customer_id=boris,
        when="2024-05-02 10:00",
        channel="call",
        summary="asked about anna@example.com",
    )
    deal = book.deals.add(customer_id=anna, title="Kitchen", amount=5000)
    book.sales.add(customer_id=anna, date="2024-05-03", amount=120.5, deal_id=deal)
    book.tasks.add(customer_id=anna, due="2024-06-01", title="call back")
    book.save()
    return book.path, anna, boris


def test_export_writes_json_and_xlsx_and_logs(tmp_path):
    path, anna, _ = _book(tmp_path)
    result = CliRunner().invoke(
        main, ["person", "export", str(path), anna, "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "out" / f"{anna}.json").read_text(encoding="utf-8"))
    assert data["Customers"][0]["email"] == "anna@example.com"
    assert len(data["Interactions"]) == 1 and data["Sales"][0]["amount"] == 120.5
    assert data["Referred customers"][0]["name"] == "Boris Ivanov"
    wb = openpyxl.load_workbook(tmp_path / "out" / f"{anna}.xlsx")
    assert {"Customers", "Contacts", "Sales", "Log"} <= set(wb.sheetnames)
    log = crmbook.open(path).table("Log").df
    assert "personal data exported" in log["new"].tolist()


def _everything(path) -> str:
    wb = openpyxl.load_workbook(path)
    return " ".join(
        str(c.value)
        for ws in wb.worksheets
        if ws.title != "_crmbook"
        for row in ws.iter_rows()
        for c in row
        if c.value is not None
    )


@pytest.mark.parametrize("anonymise", [False, True])
def test_erase_removes_the_person_and_keeps_sales(tmp_path, anonymise):
    path, anna, boris = _book(tmp_path)
    args = ["person", "erase", str(path), anna, "--yes"] + (["--anonymise"] if anonymise else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    book = crmbook.open(path)
    text = _everything(path)
    for trace in ("Anna Schmidt", "anna@example.com", "+49 30 1234567", "Karl Schmidt"):
        assert trace not in text
    assert book.sales.df["amount"].sum() == 120.5
    assert book.deals.df["amount"].sum() == 5000
    customers = book.customers.df.set_index("id")
    owner = book.sales.df["customer_id"].iloc[0]
    if anonymise:
        assert owner == anna and customers.loc[anna, "name"] == f"anonymised {anna}"
        assert customers.loc[anna, "city"] == "Berlin"
        assert book.interactions.df["summary"].isna().sum() == 0
    else:
        assert anna not in customers.index and customers.loc[owner, "name"] == "(erased customers)"
        assert book.interactions.df["customer_id"].tolist() == [boris]
        assert book.tasks.df.empty and book.contacts.df.empty
    log = book.table("Log").df
    assert f"personal data {'anonymised' if anonymise else 'erased'}" in log["new"].tolist()


# ---------------------------------------------------------------- nothing of the person left


PERSON = {"name": "Мирьям Коэн", "email": "miriam.cohen@example.org", "phone": "+972 52 1234567"}


def _traces(folder: Path, texts: list[str]) -> list[str]:
    """Every file under `folder` (the parts of each workbook unzipped) that holds a text."""
    found = []
    wanted = [t.encode("utf-8") for t in texts] + [t.lower().encode("utf-8") for t in texts]
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                parts = {f"{path.name}:{n}": z.read(n) for n in z.namelist()}
        else:
            parts = {path.name: path.read_bytes()}
        found += [name for name, data in parts.items() if any(w in data for w in wanted)]
    return found


def _book_with_history(path: Path) -> str:
    """The person in a workbook saved many times, edited through crmbook and by hand."""
    book = crmbook.create(path, user="tester")
    person = book.customers.add(name="Miriam Kohn", city="Haifa")
    book.customers.add(name="Other Person", notes=f"met via {PERSON['email']}")
    book.save()
    book = crmbook.open(path, user="tester")
    book.customers.update(person, **PERSON)  # the log keeps the old and new values
    book.interactions.add(customer_id=person, when="2026-05-01 10:00", channel="call")
    book.save()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(path)
    wb.create_sheet("Calls to make").append([PERSON["name"], PERSON["phone"]])  # shared strings
    wb.save(path)
    book = crmbook.open(path, user="tester")
    book.deals.add(customer_id=person, title=f"Kitchen for {PERSON['name']}", amount=5000)
    book.save()
    return person


def test_after_erase_the_person_is_nowhere_in_the_workbook_its_backups_or_caches(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "office"
    folder.mkdir()
    path = folder / "crm.xlsx"
    person = _book_with_history(path)
    crmbook.open(path).customers.df  # noqa: B018 -- a read that may fill the cache
    texts = list(PERSON.values())
    assert _traces(folder, texts) and list((folder / ".crmbook-backups").iterdir())

    result = CliRunner().invoke(main, ["person", "erase", str(path), person, "--yes"])
    assert result.exit_code == 0, result.output
    assert _traces(folder, texts) == []
    assert not (tmp_path / "cache").exists() or _traces(tmp_path / "cache", texts) == []
    book = crmbook.open(path)
    assert person not in set(book.customers.df["id"])
    assert book.deals.df["title"].tolist() == ["Kitchen for [erased]"]
    assert openpyxl.load_workbook(path)["Calls to make"]["A1"].value == "[erased]"
    log = book.table("Log").df
    assert "personal data erased" in log["new"].tolist()
    assert (log["old"].str.contains(r"\[erased\]") | log["new"].str.contains(r"\[erased\]")).any()


@pytest.mark.libreoffice
@libreoffice.needs_libreoffice
def test_erase_after_libreoffice_saved_the_workbook(tmp_path):
    """LibreOffice keeps every text in the shared strings, the erased person's too."""
    folder = tmp_path / "office"
    folder.mkdir()
    path = folder / "crm.xlsx"
    person = _book_with_history(path)
    shutil.copyfile(libreoffice.convert([path], tmp_path) / "crm.xlsx", path)
    with zipfile.ZipFile(path) as z:
        assert PERSON["name"].encode() in z.read("xl/sharedStrings.xml")
    result = CliRunner().invoke(main, ["person", "erase", str(path), person, "--yes"])
    assert result.exit_code == 0, result.output
    assert _traces(folder, list(PERSON.values())) == []


def test_erase_leaves_nothing_of_the_person_in_the_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("CRMBOOK_CACHE_DIR", str(cache))
    path, anna, _ = _book(tmp_path)

    def read_every_sheet() -> None:  # each sheet parsed and cached
        book = crmbook.open(path)
        assert all(len(book.table(s.name).df) >= 0 for s in crmbook.SCHEMA.entities)
        book.close()

    read_every_sheet()

    def traces() -> list[str]:
        text = b"".join(p.read_bytes() for p in cache.rglob("*") if p.is_file())
        return [t for t in ("Anna Schmidt", "anna@example.com") if t.encode() in text]

    assert traces()
    result = CliRunner().invoke(main, ["person", "erase", str(path), anna, "--yes"])
    assert result.exit_code == 0, result.output
    assert traces() == []
    read_every_sheet()  # what is cached again is the erased book
    assert traces() == []


def test_an_erase_with_the_cache_turned_off_still_empties_it(tmp_path, monkeypatch):
    """The cache filled by an earlier run, the erasure run with --no-cache: the person's
    cached values go all the same."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("CRMBOOK_CACHE_DIR", str(cache))
    monkeypatch.delenv("CRMBOOK_NO_CACHE", raising=False)  # --no-cache sets it: undone after
    path, anna, _ = _book(tmp_path)
    book = crmbook.open(path)
    frames = [book.table(s.name).df for s in crmbook.SCHEMA.entities]  # parsed and cached
    assert "Anna Schmidt" in frames[0]["name"].tolist()
    book.close()
    assert any(b"Anna Schmidt" in p.read_bytes() for p in cache.rglob("*") if p.is_file())
    result = CliRunner().invoke(main, ["--no-cache", "person", "erase", str(path), anna, "--yes"])
    assert result.exit_code == 0, result.output
    assert not [p for p in cache.rglob("*") if p.is_file() and b"Anna" in p.read_bytes()]
