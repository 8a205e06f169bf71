"""Tasks and follow-ups as an .ics calendar that re-imports as updates, not duplicates."""

import datetime as dt

import icalendar
from builders import sheet
from mailing_support import TODAY, run_cli

import crmbook
from crmbook.ics import calendar_entries

pytest_plugins = ["mailing_support"]  # the mail_shop, smtp_server and mail_env fixtures


def _events(path):
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    return {str(e["uid"]): e for e in calendar.walk("VEVENT")}, calendar


def test_ics_holds_open_tasks_and_follow_ups_with_stable_uids(mail_shop, tmp_path):
    first = tmp_path / "tasks.ics"
    result = run_cli("ics", mail_shop, "--out", first, "--today", TODAY)
    assert result.exit_code == 0, result.output
    events, calendar = _events(first)
    book = crmbook.open(mail_shop)
    workbook_id = book.meta["workbook_id"]
    tasks = book.tasks.df
    open_tasks = tasks[(tasks["status"] == "open") & tasks["done_on"].isna()]
    task_uids = {f"task-{i}.{workbook_id}@crmbook" for i in open_tasks["id"]}
    assert task_uids <= set(events)
    assert any(uid.startswith("follow-up-I-") for uid in events)
    assert f"Wrote {len(events)} event(s)" in result.output
    assert str(calendar["prodid"]).startswith("-//crmbook//")
    some = open_tasks.iloc[0]
    event = events[f"task-{some['id']}.{workbook_id}@crmbook"]
    assert event.decoded("dtstart") == some["due"].date()
    assert event.decoded("dtend") == some["due"].date() + dt.timedelta(days=1)
    assert str(event["summary"]).startswith(some["title"])

    book.tasks.add(customer_id=some["customer_id"], due="2026-04-01", title="Звонок: שלום")
    book.tasks.update(some["id"], due="2026-04-02")
    book.save()
    second = tmp_path / "tasks-again.ics"
    assert run_cli("ics", mail_shop, "--out", second, "--today", TODAY).exit_code == 0
    again, _ = _events(second)
    assert set(events) < set(again) and len(again) == len(events) + 1
    moved = again[f"task-{some['id']}.{workbook_id}@crmbook"]
    assert moved.decoded("dtstart") == dt.date(2026, 4, 2)
    [new] = set(again) - set(events)
    assert str(again[new]["summary"]).startswith("Звонок: שלום")


def test_follow_ups_done_by_a_later_interaction_are_left_out():
    customers = sheet("Customers", [{"id": "C-000001", "name": "Anna", "owner": "Tom"}])
    interactions = sheet(
        "Interactions",
        [
            {"id": "I-000001", "customer_id": "C-000001", "when": "2026-03-01 10:00",
             "channel": "call", "next_step": "Send the offer", "next_date": "2026-03-05"},
            {"id": "I-000002", "customer_id": "C-000001", "when": "2026-03-06 10:00",
             "channel": "email", "next_step": "Call back", "next_date": "2026-03-20"},
        ],
    )  # fmt: skip
    tasks = sheet(
        "Tasks",
        [
            {"id": "T-000001", "due": "2026-03-16", "title": "Order brochures", "owner": "Eva"},
            {"id": "T-000002", "due": "2026-03-01", "title": "Done", "status": "done"},
        ],
    )
    frames = {"Customers": customers, "Interactions": interactions, "Tasks": tasks}
    entries = calendar_entries(frames, TODAY, "wb")
    assert entries["uid"].tolist() == ["task-T-000001.wb@crmbook", "follow-up-I-000002.wb@crmbook"]
    assert entries["owner"].tolist() == ["Eva", "Tom"]
    assert calendar_entries(frames, TODAY, "wb", owner="tom")["uid"].tolist() == [
        "follow-up-I-000002.wb@crmbook"
    ]


def test_ics_for_one_owner(mail_shop, tmp_path):
    out = tmp_path / "anna.ics"
    assert run_cli("ics", mail_shop, "--out", out, "--owner", "Anna Schmidt").exit_code == 0
    events, calendar = _events(out)
    assert events
    assert {str(e["x-crmbook-owner"]) for e in events.values()} <= {"Anna Schmidt"}
    assert "Anna Schmidt" in str(calendar["x-wr-calname"])


def test_ics_never_writes_over_the_workbook(mail_shop):
    before = mail_shop.read_bytes()
    result = run_cli("ics", mail_shop, "--out", mail_shop)
    assert result.exit_code == 2 and "is the CRM workbook itself" in result.output
    assert mail_shop.read_bytes() == before
