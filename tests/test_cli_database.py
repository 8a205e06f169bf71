"""Every command gives the same answers on the workbook, on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import json

import pandas as pd
import pytest
from click.testing import CliRunner

import crmbook
from crmbook.cli import main
from crmbook.schema import SCHEMA

pytestmark = pytest.mark.postgres
TODAY = "2026-06-15"


def run(*args: object, ok: bool = True):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


@pytest.fixture(autouse=True)
def mail_config(tmp_path, monkeypatch):
    """The demo's sender and owners, for the workbook and the databases alike."""
    from crmbook.demo import demo_mail_config

    config = tmp_path / "crmbook.toml"
    config.write_text(demo_mail_config(), encoding="utf-8")
    monkeypatch.setenv("CRMBOOK_CONFIG", str(config))


@pytest.fixture
def locations(demo_workbook, tmp_path, request) -> list:
    """The demo business as a workbook, migrated with the CLI to SQLite and (when a server
    can be started) PostgreSQL."""
    found = [demo_workbook, f"sqlite:///{tmp_path / 'shop.db'}"]
    with contextlib.suppress(pytest.skip.Exception):
        found.append(request.getfixturevalue("postgres_url"))
    for url in found[1:]:
        result = run("migrate", demo_workbook, url)
        assert "3 Segments" not in result.output and "Copied" in result.output
    return found


READING = [
    ("summary", "{}", "--format", "json"),
    ("validate", "{}", "--format", "json"),
    ("find", "{}", "Ivanov", "--format", "json"),
    ("card", "{}", "C-000007", "--today", TODAY, "--format", "json"),
    ("reminders", "{}", "--days", "14", "--today", TODAY, "--format", "json"),
    ("segment", "{}", "--format", "json"),
    ("segment", "{}", "stage=loyal,promoter", "revenue>=500", "--today", TODAY, "--format", "csv"),
    ("dormant", "{}", "--days", "90", "--today", TODAY, "--format", "json"),
    ("report", "activity", "{}", "--today", TODAY, "--format", "json"),
    ("report", "pipeline", "{}", "--format", "json"),
    ("report", "sources", "{}", "--today", TODAY, "--format", "json"),
    ("mail", "{}", "--template", "Newsletter", "--segment", "Loyal with email consent",
     "--dry-run", "--via", "eml", "--today", TODAY, "--format", "json"),
    ("daily", "{}", "--dry-run", "--via", "eml", "--today", TODAY, "--format", "json"),
]  # fmt: skip


def test_every_reading_command_answers_the_same(locations):
    names = [crmbook.open(location).path.name for location in locations]
    for command in READING:
        answers = [  # the digests name the book they come from: the one difference allowed
            run(*(str(location) if part == "{}" else part for part in command)).output.replace(
                name, "BOOK"
            )
            for location, name in zip(locations, names, strict=True)
        ]
        assert len(set(answers)) == 1, command


def test_changes_through_the_cli_land_the_same(locations, tmp_path):
    for n, location in enumerate(locations):
        added = run("add", "customer", location, "--name", "Мария Кузнецова", "--city", "Haifa")
        assert "C-000121" in added.output
        run("add", "interaction", location, "--customer-id", "C-000121", "--when",
            "2026-06-14 10:00", "--channel", "call")  # fmt: skip
        run("unsubscribe", location, "anna.schmidt@example.com", "--today", TODAY)
        run("ics", location, "--out", tmp_path / f"tasks{n}.ics", "--today", TODAY)
        run("person", "export", location, "C-000121", "--out", tmp_path / f"person{n}")
    cards = [
        json.loads(run("card", location, "C-000121", "--format", "json").output)
        for location in locations
    ]
    for card in cards[1:]:
        for part in card:
            assert _timeless(card[part]) == _timeless(cards[0][part]), part
    calendars = {  # the same events, with the same ids; only the stamp and title differ
        _events((tmp_path / f"tasks{n}.ics").read_text()) for n in range(len(locations))
    }
    assert len(calendars) == 1
    books = [crmbook.open(location) for location in locations]
    for sheet in ("Customers", "Interactions"):
        columns = [c for c in SCHEMA.sheet(sheet).columns if c not in ("created", "updated")]
        first = books[0].table(sheet).df[columns].reset_index(drop=True)
        for other in books[1:]:
            pd.testing.assert_frame_equal(
                first, other.table(sheet).df[columns].reset_index(drop=True)
            )


def _events(calendar: str) -> str:
    return "\n".join(
        line for line in calendar.splitlines() if not line.startswith(("DTSTAMP", "X-WR-CALNAME"))
    )


def _timeless(value):
    """A card without the moments records were saved at (the three saves differ by seconds)."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k not in ("created", "updated")}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def test_export_writes_a_workbook_to_mail(locations, tmp_path):
    for n, url in enumerate(locations[1:]):
        out = tmp_path / f"back{n}.xlsx"
        result = run("export", url, out)
        assert f"to {out}" in result.output
        answers = {run("report", "sources", place, "--today", TODAY, "--format", "csv").output
                   for place in (locations[0], out)}  # fmt: skip
        assert len(answers) == 1


def test_share_from_a_database_writes_a_workbook(locations, tmp_path):
    out = tmp_path / "copy.xlsx"
    run("share", locations[1], "--out", out)
    copy = crmbook.open(out)
    assert len(copy.customers.df) == len(crmbook.open(locations[0]).customers.df)


def test_migrate_says_what_is_wrong(demo_workbook, tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    run("migrate", demo_workbook, url)
    again = run("migrate", demo_workbook, url, ok=False)
    assert again.exit_code == 2 and "holds crmbook tables already" in again.output
    assert run("migrate", demo_workbook, url, "--force").exit_code == 0
    not_a_url = run("migrate", demo_workbook, tmp_path / "x.xlsx", ok=False)
    assert "is not a database URL" in not_a_url.output
