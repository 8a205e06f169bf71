"""The parse cache (storage/cache.py): a re-open of an unchanged book parses no sheet, a
changed sheet is parsed again, and nothing in the cache is trusted blindly."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crmbook
from crmbook.cli import main
from crmbook.io.reader import Reader
from crmbook.storage.cache import SUFFIX

ENTITIES = [s.name for s in crmbook.SCHEMA.entities]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder of this test's own."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("CRMBOOK_CACHE_DIR", str(folder))
    monkeypatch.delenv("CRMBOOK_NO_CACHE", raising=False)
    return folder


def test_a_cache_folder_given_by_hand_keeps_what_else_it_holds(cache, tmp_path, monkeypatch):
    """CRMBOOK_CACHE_DIR may name a folder with other files, .arrow ones too: the cache's
    eviction and an erasure touch only the folders and entries crmbook named."""
    mine = cache / "my-data" / "important.arrow"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"the user's own")
    (cache / "notes.arrow").write_bytes(b"also the user's")
    monkeypatch.setenv("CRMBOOK_CACHE_MB", "0")  # every entry evicted at once
    path = tmp_path / "crm.xlsx"
    book = crmbook.create(path)
    book.customers.add(name="Anna")
    book.save(backups=0)
    assert crmbook.open(path).customers.df["name"].tolist() == ["Anna"]  # cached, evicted
    crmbook.open(path).drop_cache()
    assert mine.read_bytes() == b"the user's own"
    assert (cache / "notes.arrow").read_bytes() == b"also the user's"


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the sheets whose XML is parsed, in order."""
    names: list[str] = []
    real = Reader.sheet

    def sheet(self, name, **kwargs):
        names.append(name)
        return real(self, name, **kwargs)

    monkeypatch.setattr(Reader, "sheet", sheet)
    return names


def entries(folder: Path) -> list[Path]:
    return sorted(folder.rglob(f"*{SUFFIX}")) if folder.exists() else []


def everything(path: Path) -> dict:
    """What a Book makes of every sheet: frames, rows, layout, unreadable cells, issues."""
    book = crmbook.open(path, user="tester")
    out = {}
    for name in ENTITIES:
        table = book.table(name)
        typed = table.typed
        out[name] = (typed.frame, typed.rows, typed.layout, table._kept_raw, table._given_ids)
    out["issues"] = book.validate().issues
    out["meta"] = book.meta
    book.close()
    return out


def fresh(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    with monkeypatch.context() as m:
        m.setenv("CRMBOOK_NO_CACHE", "1")
        return everything(path)


def assert_same(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for name in ENTITIES:
        frame, rows, layout, unread, given_ids = got[name]
        e_frame, e_rows, e_layout, e_unread, e_given = expected[name]
        pd.testing.assert_frame_equal(frame, e_frame, check_exact=True)
        pd.testing.assert_series_equal(rows, e_rows, check_names=False)
        assert layout == e_layout
        assert unread.keys() == e_unread.keys(), name
        for field in unread:
            pd.testing.assert_series_equal(unread[field], e_unread[field])
        assert given_ids == e_given
    assert got["issues"] == expected["issues"]
    assert got["meta"] == expected["meta"]


def test_a_reopen_of_an_unchanged_book_parses_no_sheet(
    demo_workbook: Path, cache: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch
):
    first = everything(demo_workbook)
    assert set(ENTITIES) <= set(parsed)
    parsed.clear()
    again = everything(demo_workbook)
    assert parsed == []
    assert_same(again, first)
    assert_same(again, fresh(demo_workbook, monkeypatch))


def test_after_a_change_only_the_changed_sheets_are_parsed_again(
    demo_workbook: Path, cache: Path, parsed: list[str]
):
    everything(demo_workbook)
    book = crmbook.open(demo_workbook, user="tester")
    book.interactions.add(customer_id="C-000001", when="2026-06-15 10:00", channel="call")
    book.save(backups=0)
    parsed.clear()
    after = everything(demo_workbook)
    assert sorted(parsed) == ["Interactions", "Log", "_crmbook"]  # what the save wrote
    assert after["Interactions"][0]["channel"].iloc[-1] == "call"


def test_a_hand_edit_is_never_hidden_by_the_cache(demo_workbook: Path, cache: Path):
    everything(demo_workbook)
    wb = openpyxl.load_workbook(demo_workbook)
    wb["Customers"]["B2"] = "Edited By Hand"
    wb.save(demo_workbook)
    book = crmbook.open(demo_workbook)
    assert book.customers.df["name"].iloc[0] == "Edited By Hand"


def test_what_is_cached_of_a_hand_edited_book_is_what_a_parse_gives(
    hand_edited, cache: Path, monkeypatch: pytest.MonkeyPatch, parsed: list[str]
):
    wb = openpyxl.load_workbook(hand_edited.path)
    sheet = wb["Customers"]
    birthday = next(c.column for c in sheet[1] if str(c.value).strip().lower() == "birthday")
    sheet.cell(3, birthday, "31.02.2024")  # no such day: kept as typed, reported
    wb.save(hand_edited.path)
    expected = fresh(hand_edited.path, monkeypatch)
    assert "31.02.2024" in expected["Customers"][3]["birthday"].tolist()
    everything(hand_edited.path)
    parsed.clear()
    assert_same(everything(hand_edited.path), expected)
    assert parsed == []


def _truncate(path: Path, other: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_byte(path: Path, other: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x20
    path.write_bytes(bytes(data))


def _readable_by_others(path: Path, other: Path) -> None:
    path.chmod(0o644)


def _another_entry(path: Path, other: Path) -> None:
    shutil.copyfile(other, path)  # a good entry, of another key


def _symlink(path: Path, other: Path) -> None:
    path.unlink()
    path.symlink_to(other)


def _another_users(path: Path, other: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("only root can give a file to another user")
    os.chown(path, 4242, 4242)


@pytest.mark.parametrize(
    "spoil",
    [_truncate, _flip_a_byte, _readable_by_others, _another_entry, _symlink, _another_users],
    ids=lambda f: f.__name__.strip("_"),
)
def test_a_spoilt_entry_is_ignored_and_rebuilt(
    demo_workbook: Path, cache: Path, parsed: list[str], monkeypatch: pytest.MonkeyPatch, spoil
):
    everything(demo_workbook)
    biggest, other, *_ = sorted(entries(cache), key=lambda p: p.stat().st_size, reverse=True)
    spoil(biggest, other)
    parsed.clear()
    got = everything(demo_workbook)
    assert len(parsed) == 1  # the sheet of the spoilt entry, and no other
    assert_same(got, fresh(demo_workbook, monkeypatch))
    assert not biggest.is_symlink() and biggest.stat().st_uid == os.getuid()
    assert stat.S_IMODE(biggest.stat().st_mode) == 0o600


def test_the_cache_is_private_to_its_owner(demo_workbook: Path, cache: Path):
    everything(demo_workbook)
    assert entries(cache)
    for path in [cache, *cache.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path


def test_no_cache_by_environment_or_option(demo_workbook: Path, cache: Path, monkeypatch):
    monkeypatch.setenv("CRMBOOK_NO_CACHE", "1")
    everything(demo_workbook)
    assert entries(cache) == []
    monkeypatch.delenv("CRMBOOK_NO_CACHE")
    result = CliRunner().invoke(main, ["--no-cache", "summary", str(demo_workbook)])
    assert result.exit_code == 0, result.output
    assert entries(cache) == []
    monkeypatch.delenv("CRMBOOK_NO_CACHE", raising=False)  # the option set it for its process
    CliRunner().invoke(main, ["summary", str(demo_workbook)])
    assert entries(cache)


def test_a_password_protected_book_is_never_cached(demo_workbook: Path, cache: Path, tmp_path):
    from crmbook.storage.encrypted import encrypt

    locked = tmp_path / "locked.xlsx"
    encrypt(demo_workbook, locked, "secret")
    book = crmbook.open(locked, password="secret")
    assert len(book.customers.df) == 120
    assert entries(cache) == []


def test_the_cache_stays_within_its_bound(
    demo_workbook: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
):
    everything(demo_workbook)
    total = sum(p.stat().st_size for p in entries(cache))
    limit = total // 2
    monkeypatch.setenv("CRMBOOK_CACHE_MB", str(limit / 1024**2))
    for n in range(3):  # three versions of Interactions: each cached, old ones evicted
        book = crmbook.open(demo_workbook, user="tester")
        book.interactions.add(customer_id="C-000001", when=f"2026-06-1{n} 10:00", channel="call")
        book.save(backups=0)
        everything(demo_workbook)
        assert sum(p.stat().st_size for p in entries(cache)) <= limit
    monkeypatch.delenv("CRMBOOK_CACHE_MB")
    for n in range(3):
        book = crmbook.open(demo_workbook, user="tester")
        book.interactions.add(customer_id="C-000001", when=f"2026-07-1{n} 10:00", channel="call")
        book.save(backups=0)
        everything(demo_workbook)
    # every sheet keeps at most its two newest versions
    assert len(entries(cache)) <= 2 * (len(ENTITIES) + 2)


def test_drop_cache_leaves_nothing_of_the_book(demo_workbook: Path, cache: Path):
    book = crmbook.open(demo_workbook, user="tester")
    cid = book.customers.add(name="Zebulon Quaxley", email="zebulon@example.org")
    book.save(backups=0)
    everything(demo_workbook)
    book = crmbook.open(demo_workbook, user="tester")
    book.customers.update(cid, name="Someone Else", email="else@example.org")
    book.save(backups=0)
    everything(demo_workbook)  # the new version cached beside the old one
    assert any(b"Zebulon" in p.read_bytes() for p in entries(cache))
    book = crmbook.open(demo_workbook, user="tester")
    book.drop_cache()
    assert not any(b"Zebulon" in p.read_bytes() for p in entries(cache))
    assert entries(cache) == []


# ---------------------------------------------------------------- random books

_cell = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=12),
    st.sampled_from(["2024-03-31", "31.03.2024", "yes", "no", "TRUE", " 12 ", "=1+1", "n/a"]),
    st.integers(-5, 100_000),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.booleans(),
    st.datetimes(dt.datetime(1950, 1, 1), dt.datetime(2060, 1, 1)).map(
        lambda d: d.replace(microsecond=0)
    ),
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    customers=st.lists(st.lists(_cell, min_size=6, max_size=6), min_size=0, max_size=8),
    interactions=st.lists(st.lists(_cell, min_size=4, max_size=4), min_size=0, max_size=8),
)
def test_a_cached_open_gives_what_a_fresh_parse_gives(
    customers, interactions, tmp_path_factory, monkeypatch: pytest.MonkeyPatch
):
    folder = tmp_path_factory.mktemp("random")
    monkeypatch.setenv("CRMBOOK_CACHE_DIR", str(folder / "cache"))
    path = folder / "crm.xlsx"
    crmbook.create(path).close()
    wb = openpyxl.load_workbook(path)
    sheet = wb["Customers"]
    sheet.cell(1, 22, "Mine")  # a column of the person's own, any values
    for r, (cid, name, birthday, consent, every, own) in enumerate(customers, start=2):
        for c, value in ((1, cid), (2, name), (7, birthday), (14, consent), (18, every)):
            sheet.cell(r, c, value)
        sheet.cell(r, 22, own)
    sheet = wb["Interactions"]
    for r, (iid, cid, when, channel) in enumerate(interactions, start=2):
        for c, value in enumerate((iid, cid, when, channel), start=1):
            sheet.cell(r, c, value)
    wb.save(path)
    expected = fresh(path, monkeypatch)
    everything(path)  # fills the cache (or leaves out what it cannot keep exactly)
    assert_same(everything(path), expected)
