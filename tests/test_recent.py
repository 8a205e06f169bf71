"""What `crmbook app` remembers: the workbooks opened lately, in the user's config folder."""

import json

import pytest

from crmbook.recent import (
    KEPT,
    RECENT_FILE,
    config_dir,
    demo_workbook,
    last_workbook,
    recent_workbooks,
    remember_workbook,
)


@pytest.fixture(autouse=True)
def own_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def workbook(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    return path


def test_nothing_remembered_yet(tmp_path):
    assert recent_workbooks() == [] and last_workbook() is None
    assert config_dir() == tmp_path / "config" / "crmbook"
    assert demo_workbook() == tmp_path / "data" / "crmbook" / "demo" / "shop.xlsx"


def test_the_last_opened_comes_first_once(tmp_path, monkeypatch):
    first, second = workbook(tmp_path, "a.xlsx"), workbook(tmp_path, "b.xlsx")
    remember_workbook(first)
    remember_workbook(second)
    monkeypatch.chdir(tmp_path)
    remember_workbook("a.xlsx")  # a relative name is kept as the full path
    assert recent_workbooks() == [str(first), str(second)]
    assert last_workbook() == str(first)


def test_only_the_latest_are_kept_and_vanished_files_are_left_out(tmp_path):
    paths = [workbook(tmp_path, f"shop-{n}.xlsx") for n in range(KEPT + 3)]
    for path in paths:
        remember_workbook(path)
    assert recent_workbooks() == [str(p) for p in reversed(paths)][:KEPT]
    paths[-1].unlink()
    assert last_workbook() == str(paths[-2])


def test_database_urls_are_remembered_but_never_a_password(tmp_path):
    remember_workbook("sqlite:///shop.db")
    remember_workbook("postgresql://crm:s3cret@dbhost/shop")
    remember_workbook("postgresql://crm@dbhost/shop")
    assert recent_workbooks() == ["postgresql://crm@dbhost/shop", "sqlite:///shop.db"]
    assert "s3cret" not in (config_dir() / RECENT_FILE).read_text()


@pytest.mark.parametrize("content", ["{not json", '["a list"]', '{"recent": [1, null]}', ""])
def test_a_damaged_list_counts_as_empty_and_is_written_anew(tmp_path, content):
    config_dir().mkdir(parents=True)
    (config_dir() / RECENT_FILE).write_text(content)
    assert recent_workbooks() == []
    remember_workbook(workbook(tmp_path, "shop.xlsx"))
    stored = json.loads((config_dir() / RECENT_FILE).read_text())
    assert stored == {"recent": [str(tmp_path / "shop.xlsx")]}
