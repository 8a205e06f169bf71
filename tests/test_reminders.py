"""Reminders on a small hand-built business whose right answers are written out below."""

import datetime as dt
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from crmbook.analytics._frames import next_yearly
from crmbook.analytics.reminders import COLUMNS, birthday_reminders, reminders
from crmbook.cli import main
from crmbook.demo import build_demo_book
from crmbook.schema import SCHEMA

TODAY = dt.date(2026, 3, 10)  # a Tuesday


def table(sheet: str, *rows: dict) -> pd.DataFrame:
    """A typed frame like Book.table(sheet).df, from a few records (missing fields empty)."""
    return pd.DataFrame(
        {
            f.name: pd.Series([r.get(f.name) for r in rows], dtype=f.ftype.dtype)
            for f in SCHEMA.sheet(sheet).fields
        }
    )


def business() -> dict[str, pd.DataFrame]:
    return {
        "Customers": table(
            "Customers",
            {
                "id": "C-000001",
                "name": "Anna Petrova",
                "owner": "Anna Schmidt",
                "birthday": "1990-03-12",
                "created": "2024-03-15 09:00",
                "contact_every_days": 30,
            },
            {
                "id": "C-000002",
                "name": "Boris Levi",
                "owner": "Ben Cohen",
                "birthday": "1985-03-09",
                "created": "2025-11-01 10:00",
                "contact_every_days": 60,
            },
            {
                "id": "C-000003",
                "name": "Cedar GmbH",
                "kind": "company",
                "owner": "Anna Schmidt",
                "created": "2025-03-17 11:00",
            },
            {
                "id": "C-000004",
                "name": "Eva Ørsted",
                "owner": "Anna Schmidt",
                "created": "2026-03-01 12:00",
                "contact_every_days": 14,
            },
        ),
        "Contacts": table(
            "Contacts",
            {
                "id": "P-000001",
                "customer_id": "C-000003",
                "name": "Dora Klein",
                "role": "CEO",
                "birthday": "1980-03-16",
            },
            {
                "id": "P-000002",
                "customer_id": "C-000003",
                "name": "Emil Braun",
                "birthday": "1975-04-30",
            },
        ),
        "Interactions": table(
            "Interactions",
            # asked for an offer, and the email of 1 February sent it: no reminder
            {
                "id": "I-000001",
                "customer_id": "C-000001",
                "when": "2026-01-20 10:00",
                "channel": "call",
                "owner": "Anna Schmidt",
                "next_step": "Send offer",
                "next_date": "2026-01-25",
            },
            {
                "id": "I-000002",
                "customer_id": "C-000001",
                "when": "2026-02-01 09:00",
                "channel": "email",
                "owner": "Anna Schmidt",
            },
            # promised a call back; the meeting booked for 12 March has not happened yet
            {
                "id": "I-000003",
                "customer_id": "C-000002",
                "when": "2026-03-02 11:00",
                "channel": "call",
                "owner": "Ben Cohen",
                "summary": "Asked for prices",
                "next_step": "Call back",
                "next_date": "2026-03-09",
            },
            {
                "id": "I-000004",
                "customer_id": "C-000002",
                "when": "2026-03-12 15:00",
                "channel": "meeting",
                "owner": "Ben Cohen",
            },
            # a next step after the window
            {
                "id": "I-000005",
                "customer_id": "C-000003",
                "when": "2026-03-05 10:00",
                "channel": "meeting",
                "owner": "Anna Schmidt",
                "next_step": "Send contract",
                "next_date": "2026-03-20",
            },
        ),
        "Tasks": table(
            "Tasks",
            {
                "id": "T-000001",
                "customer_id": "C-000001",
                "due": "2026-03-08",
                "title": "Call Anna",
                "owner": "Anna Schmidt",
                "status": "open",
            },
            {
                "id": "T-000002",
                "customer_id": "C-000002",
                "due": "2026-03-10",
                "title": "Send catalogue",
                "owner": "Ben Cohen",
                "status": "done",
                "done_on": "2026-03-09",
            },
            {
                "id": "T-000003",
                "due": "2026-03-16",
                "title": "Order brochures",
                "owner": "Ben Cohen",
                "status": "open",
            },
            {
                "id": "T-000004",
                "customer_id": "C-000003",
                "due": "2026-03-18",
                "title": "Visit the office",
                "owner": "Anna Schmidt",
                "status": "open",
            },
            {
                "id": "T-000005",
                "customer_id": "C-000001",
                "due": "2026-03-09",
                "title": "Old idea",
                "owner": "Anna Schmidt",
                "status": "cancelled",
            },
        ),
    }


EXPECTED = [
    (
        "2026-03-03",
        "contact-due",
        "C-000001",
        "Anna Petrova",
        "Anna Schmidt",
        "every 30 days; last contact 2026-02-01",
        7,
    ),
    ("2026-03-08", "task", "C-000001", "Anna Petrova", "Anna Schmidt", "Call Anna", 2),
    (
        "2026-03-09",
        "follow-up",
        "C-000002",
        "Boris Levi",
        "Ben Cohen",
        "Call back (2026-03-02: Asked for prices)",
        1,
    ),
    ("2026-03-12", "birthday", "C-000001", "Anna Petrova", "Anna Schmidt", "turns 36", 0),
    (
        "2026-03-15",
        "anniversary",
        "C-000001",
        "Anna Petrova",
        "Anna Schmidt",
        "2 years with us (since 2024-03-15)",
        0,
    ),
    (
        "2026-03-15",
        "contact-due",
        "C-000004",
        "Eva Ørsted",
        "Anna Schmidt",
        "every 14 days; never contacted",
        0,
    ),
    ("2026-03-16", "task", None, None, "Ben Cohen", "Order brochures", 0),
    (
        "2026-03-16",
        "birthday",
        "C-000003",
        "Cedar GmbH",
        "Anna Schmidt",
        "Dora Klein, CEO turns 46",
        0,
    ),
    (
        "2026-03-17",
        "anniversary",
        "C-000003",
        "Cedar GmbH",
        "Anna Schmidt",
        "1 year with us (since 2025-03-17)",
        0,
    ),
]


def rows(frame: pd.DataFrame) -> list[tuple]:
    return [
        (
            r.when.strftime("%Y-%m-%d"),
            r.kind,
            _plain(r.customer_id),
            _plain(r.customer),
            r.owner,
            r.what,
            r.overdue_days,
        )
        for r in frame.itertuples()
    ]


def _plain(value):
    return None if pd.isna(value) else value


def test_every_kind_of_reminder_in_date_order():
    found = reminders(business(), TODAY, days=7)
    assert list(found.columns) == list(COLUMNS)
    assert rows(found) == EXPECTED


def test_reminders_of_one_owner_ignore_case_and_spaces():
    found = reminders(business(), TODAY, days=7, owner="  ben cohen ")
    assert rows(found) == [EXPECTED[2], EXPECTED[6]]


def test_a_later_interaction_drops_the_follow_up_once_it_happened():
    frames = business()
    assert "follow-up" in set(reminders(frames, TODAY)["kind"])
    # on 13 March the meeting of the 12th has happened and did what the follow-up asked
    later = reminders(frames, dt.date(2026, 3, 13), days=0)
    assert "follow-up" not in set(later["kind"])


def test_the_last_interaction_resets_the_contact_cadence():
    frames = business()
    extra = table(
        "Interactions",
        {
            "id": "I-000009",
            "customer_id": "C-000001",
            "when": "2026-03-09 16:00",
            "channel": "call",
        },
    )
    frames["Interactions"] = pd.concat([frames["Interactions"], extra], ignore_index=True)
    due = reminders(frames, TODAY, days=7)
    assert not ((due["kind"] == "contact-due") & (due["customer_id"] == "C-000001")).any()


def test_a_meeting_booked_for_later_does_not_reset_the_cadence():
    frames = business()
    booked = table(
        "Interactions",
        {
            "id": "I-000009",
            "customer_id": "C-000001",
            "when": "2026-03-20 10:00",
            "channel": "meeting",
        },
    )
    frames["Interactions"] = pd.concat([frames["Interactions"], booked], ignore_index=True)
    assert rows(reminders(frames, TODAY, days=7)) == EXPECTED


def test_zero_days_keeps_what_is_overdue_or_due_today():
    assert rows(reminders(business(), TODAY, days=0)) == EXPECTED[:3]


def test_an_empty_book_has_no_reminders():
    empty = {name: table(name) for name in ("Customers", "Contacts", "Interactions", "Tasks")}
    found = reminders(empty, TODAY)
    assert found.empty and list(found.columns) == list(COLUMNS)


@pytest.mark.parametrize(
    ("born", "today", "next_day"),
    [
        ("1992-02-29", "2026-02-20", "2026-02-28"),  # no 29 February in 2026
        ("1992-02-29", "2028-02-20", "2028-02-29"),
        ("1992-02-29", "2026-03-01", "2027-02-28"),
        ("1990-12-31", "2026-12-31", "2026-12-31"),  # today counts
        ("1990-01-01", "2026-12-31", "2027-01-01"),  # over the new year
        ("1990-06-15", "2026-06-16", "2027-06-15"),
    ],
)
def test_next_yearly_ignores_the_year(born, today, next_day):
    found = next_yearly(pd.Series([pd.Timestamp(born), pd.NaT]), dt.date.fromisoformat(today))
    assert found.iloc[0] == pd.Timestamp(next_day)
    assert pd.isna(found.iloc[1])


def test_born_on_29_february_is_reminded_on_28_february_in_common_years():
    customers = table("Customers", {"id": "C-000001", "name": "Leap Day", "birthday": "1992-02-29"})
    found = birthday_reminders(customers, None, dt.date(2027, 2, 25), days=7)
    assert found["when"].tolist() == [pd.Timestamp("2027-02-28")]
    assert found["what"].tolist() == ["turns 35"]


# ---------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("reminders") / "shop.xlsx"
    build_demo_book(path, customers=60, today=TODAY)
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_reminders_command_prints_a_table(shop):
    result = run("reminders", shop, "--today", TODAY)
    assert result.exit_code == 0, result.output
    assert "Reminders up to 2026-03-17" in result.output
    assert "overdue days" in result.output


def test_reminders_command_as_json_for_one_owner(shop):
    everyone = json.loads(run("reminders", shop, "--today", TODAY, "--format", "json").output)
    assert everyone and list(everyone[0]) == list(COLUMNS)
    assert {r["kind"] for r in everyone} <= {
        "task",
        "follow-up",
        "birthday",
        "anniversary",
        "contact-due",
    }
    assert all(r["when"][:10] <= "2026-03-17" for r in everyone)
    owner = everyone[0]["owner"]
    mine = json.loads(
        run("reminders", shop, "--today", TODAY, "--owner", owner, "--format", "json").output
    )
    assert mine == [r for r in everyone if r["owner"] == owner]


def test_reminders_command_as_csv_and_for_nobody(shop):
    result = run("reminders", shop, "--today", TODAY, "--days", "30", "--format", "csv")
    assert result.output.splitlines()[0] == ",".join(COLUMNS)
    nobody = run("reminders", shop, "--today", TODAY, "--owner", "Nobody Here")
    assert nobody.exit_code == 0
    assert nobody.output == "No reminders up to 2026-03-17.\n"


def test_a_birthday_without_its_year_shows_no_age():
    customers = pd.DataFrame(
        {
            "id": ["C-000001", "C-000002"],
            "birthday": pd.to_datetime(["1904-06-16", "1980-06-17"]),
        }
    )
    found = birthday_reminders(customers, None, dt.date(2026, 6, 15), days=7)
    assert sorted(found["what"]) == ["birthday", "turns 46"]
