"""The daily run: each owner's reminders by email, birthday greetings, never twice a day."""

import datetime as dt
import json

import pandas as pd
import pytest
from builders import sheet
from mailing_support import TODAY, run_cli, write_config

import crmbook
from crmbook.analytics.reminders import reminders
from crmbook.mailing.daily import birthdays_today, digest_text

pytest_plugins = ["mailing_support"]  # the mail_shop, smtp_server and mail_env fixtures

pytestmark = pytest.mark.usefixtures("mail_env")
OWNERS = {"Anna Schmidt": "anna@horizon.example", "Daniel Levi": "daniel@horizon.example"}


@pytest.fixture
def configured(mail_shop):
    write_config(mail_shop, owners=OWNERS)
    return mail_shop


def _expected(mail_shop):
    book = crmbook.open(mail_shop)
    frames = {n: book.table(n).df for n in ("Customers", "Contacts", "Interactions", "Tasks")}
    found = reminders(frames, TODAY, 0)
    customers = frames["Customers"]
    born = customers[customers["birthday"].dt.strftime("%m-%d") == "03-15"]
    greeted = born[born["consent_email"] & born["email"].notna()]
    return found, born, greeted


def test_daily_mails_owners_their_reminders_and_greets_birthdays_once(configured, smtp_server):
    found, born, greeted = _expected(configured)
    assert {"miriam@example.co.il", "sergey@example.ru"} <= set(greeted["email"])
    assert "zoe@example.dk" in set(born["email"]) - set(greeted["email"])
    result = run_cli("daily", configured, "--today", TODAY, "--user", "cron")
    assert result.exit_code == 0, result.output
    counts = smtp_server.counts()
    mine = {o for o in found["owner"] if o in OWNERS}
    assert counts == {OWNERS[o]: 1 for o in mine} | {e: 1 for e in greeted["email"]}
    for owner in mine:
        [digest] = smtp_server.to(OWNERS[owner])
        theirs = found[found["owner"] == owner]
        assert digest["Subject"] == f"{len(theirs)} reminder(s) for Sun 15 Mar 2026 (shop.xlsx)"
        body = digest.get_content()
        assert body.startswith(f"Hello {owner.split()[0]},")
        for row in theirs.itertuples():
            office = pd.isna(row.customer_id)  # a task of the office's own, no customer
            who = "no customer" if office else f"{row.customer} ({row.customer_id})"
            assert f"{who}: {row.what}" in body
        assert "List-Unsubscribe" not in digest  # a note to staff, not a mailing
    for owner in set(found["owner"]) - set(OWNERS):
        assert f"note: no address for {owner} in the [owners] table" in result.output
    [greeting] = smtp_server.to("sergey@example.ru")
    assert greeting["Subject"] == "Happy birthday, Иванов Сергей Викторович!"
    assert "List-Unsubscribe" in greeting
    assert "Zoë Ørsted-Ådahl" in result.output and "no consent to emails" in result.output
    interactions = crmbook.open(configured).interactions.df
    logged = interactions[interactions["summary"].str.startswith("Birthday greeting", na=False)]
    assert sorted(logged["customer_id"]) == sorted(greeted["id"])
    again = run_cli("daily", configured, "--today", TODAY)
    assert again.exit_code == 0, again.output
    assert "Already sent" in again.output and "Sent" not in again.output
    assert smtp_server.counts() == counts
    assert len(crmbook.open(configured).interactions.df) == len(interactions)


def test_daily_dry_run_sends_nothing(configured, smtp_server):
    result = run_cli("daily", configured, "--today", TODAY, "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert {m["to"] for m in shown["messages"]} >= {"anna@horizon.example", "sergey@example.ru"}
    assert smtp_server.received == []


def test_daily_without_owners_mails_only_greetings_and_says_so(mail_shop, tmp_path):
    out = tmp_path / "eml"
    result = run_cli("daily", mail_shop, "--today", TODAY, "--via", "eml", "--out", out)
    assert result.exit_code == 0, result.output
    assert "note: no address for Anna Schmidt in the [owners] table" in result.output
    names = sorted(p.name for p in out.glob("*.eml"))
    assert names and all(n.startswith("Birthday-greeting-C-") for n in names)


def test_daily_with_no_birthday_template_skips_greetings_with_a_note(configured, tmp_path):
    book = crmbook.open(configured)
    book.templates.delete("Birthday greeting")
    book.save()
    result = run_cli("daily", configured, "--today", TODAY, "--via", "eml", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "note: no birthday greetings: no template called 'Birthday greeting'" in result.output
    assert all(p.name.startswith("digest-") for p in tmp_path.glob("*.eml"))


def test_birthdays_today_counts_29_february_on_the_28th():
    customers = sheet(
        "Customers",
        [
            {"id": "C-000001", "name": "Leap", "birthday": "1996-02-29"},
            {"id": "C-000002", "name": "March", "birthday": "1990-02-28"},
            {"id": "C-000003", "name": "None"},
        ],
    )
    assert birthdays_today(customers, dt.date(2027, 2, 28))["id"].tolist() == [
        "C-000001",
        "C-000002",
    ]
    assert birthdays_today(customers, dt.date(2028, 2, 28))["id"].tolist() == ["C-000002"]
    assert birthdays_today(customers, dt.date(2028, 2, 29))["id"].tolist() == ["C-000001"]


def test_digest_text_groups_overdue_today_and_coming_up():
    found = pd.DataFrame(
        {
            "when": pd.to_datetime(["2026-03-10", "2026-03-15", "2026-03-17"]),
            "kind": ["task", "follow-up", "birthday"],
            "customer_id": ["C-000001", "C-000002", ""],
            "customer": ["Anna", "Борис", ""],
            "owner": ["Daniel Levi"] * 3,
            "what": ["Call back", "Send the offer", "Office party"],
            "overdue_days": [5, 0, 0],
        }
    )
    assert digest_text("Daniel Levi", found, TODAY, "shop.xlsx") == (
        "Hello Daniel,\n\nyour reminders in shop.xlsx:\n\n"
        "Overdue\n  2026-03-10  task         Anna (C-000001): Call back, 5 days overdue\n\n"
        "Today\n  2026-03-15  follow-up    Борис (C-000002): Send the offer\n\n"
        "Coming up\n  2026-03-17  birthday     no customer: Office party\n\n"
        "-- \ncrmbook daily\n"
    )
