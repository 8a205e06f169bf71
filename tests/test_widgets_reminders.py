"""The reminders board: sections, Done and Postpone written to the workbook."""

import datetime as dt

import pandas as pd
from widget_support import OLGA, day, excel_rows, fingerprint, open_in_excel, reopened, text

from crmbook.widgets.reminders import RemindersModel, RemindersView

pytest_plugins = ["widget_support"]  # the shop fixtures


def page(session, **choices) -> RemindersView:
    return RemindersView(RemindersModel(session, **choices))


def shown(view: RemindersView, section: str) -> str:
    return " ".join(
        text(row.value if hasattr(row, "value") else row.children[0].value)
        for row in view.section_boxes[section].children
    )


def test_the_board_sorts_reminders_into_sections(session, known):
    view = page(session, days=7)
    assert "Call Olga about the hotel" in shown(view, "overdue")
    assert "2 days late" in shown(view, "overdue")
    assert "Send Olga the tickets" in shown(view, "today")
    assert "Ask Olga for feedback" in shown(view, "upcoming")
    assert "Send the Lisbon offer" in shown(view, "upcoming")  # the promised follow-up
    assert f"{OLGA} ({known.customer}) · turns 40" in shown(view, "birthdays")
    for task in (known.overdue_task, known.today_task, known.upcoming_task):
        assert task in view.task_buttons
    sections = view.model.sections
    assert (sections["overdue"]["when"] < dt.datetime(2026, 3, 15)).all()
    assert (
        not sections["upcoming"].empty
        and (sections["upcoming"]["when"] > pd.Timestamp(day(0))).all()
    )


def test_fewer_days_ahead_and_one_owner(session, known):
    view = page(session)
    view.days.value = 1
    assert "Ask Olga for feedback" not in shown(view, "upcoming")
    view.owner.value = "Daniel Levi"
    assert known.today_task not in view.task_buttons
    owners = set(view.model.sections["today"]["owner"]) | set(
        view.model.sections["overdue"]["owner"]
    )
    assert owners <= {"Daniel Levi"}
    assert set(view.model.dormant["owner"]) <= {"Daniel Levi"}
    view.owner.value = "Anna Schmidt"
    assert known.today_task in view.task_buttons


def test_done_ticks_the_task_off_in_the_workbook(session, shop, known):
    view = page(session)
    done, _postpone = view.task_buttons[known.overdue_task]
    done.click()

    assert view.alert.kind == "success" and known.overdue_task in view.alert.text
    assert known.overdue_task not in view.task_buttons
    assert "Call Olga about the hotel" not in shown(view, "overdue")
    task = reopened(shop).tasks.get(known.overdue_task)
    assert task["status"] == "done" and task["done_on"] == dt.datetime(2026, 3, 15)
    row = next(r for r in excel_rows(shop, "Tasks") if r["id"] == known.overdue_task)
    assert row["status"] == "done" and row["done_on"] == dt.datetime(2026, 3, 15)


def test_postpone_moves_the_due_day(session, shop, known):
    view = page(session)
    view.postpone_days.value = 3
    _done, postpone = view.task_buttons[known.today_task]
    postpone.click()

    assert view.alert.kind == "success" and "2026-03-18" in view.alert.text
    assert "Send Olga the tickets" not in shown(view, "today")
    assert "Send Olga the tickets" in shown(view, "upcoming")
    assert reopened(shop).tasks.get(known.today_task)["due"] == dt.datetime(2026, 3, 18)
    row = next(r for r in excel_rows(shop, "Tasks") if r["id"] == known.today_task)
    assert row["due"] == dt.datetime(2026, 3, 18) and row["status"] == "open"


def test_a_locked_workbook_keeps_the_task_open(session, shop, known):
    before = fingerprint(shop)
    open_in_excel(shop)
    view = page(session)
    done, _ = view.task_buttons[known.today_task]
    done.click()
    assert view.alert.kind == "error" and "open in Excel" in view.alert.text
    assert fingerprint(shop) == before
    assert known.today_task in view.task_buttons


def test_dormant_customers_are_listed(session):
    view = page(session)
    view.dormant_days.value = 365
    quiet = view.model.dormant
    assert (quiet["days_since_contact"] >= 365).all()
    assert f"({len(quiet)})" in text(view.dormant_title.value)
    view.dormant_days.value = 30
    assert len(view.model.dormant) >= len(quiet)


def test_a_long_section_is_paged_and_its_tasks_keep_their_buttons(session, monkeypatch):
    import crmbook.widgets.reminders as board

    monkeypatch.setattr(board, "ROWS_SHOWN", 1)
    view = page(session, days=7)
    upcoming = view.model.sections["upcoming"]
    assert len(upcoming) > 1
    pager = view.section_pagers["upcoming"]
    assert text(pager.label.value) == f"reminders 1–1 of {len(upcoming):,}"
    pager.next_button.click()
    assert upcoming["what"].iloc[1] in shown(view, "upcoming")
    assert upcoming["what"].iloc[0] not in shown(view, "upcoming")
    tasks = {t for t in upcoming["task_id"] if isinstance(t, str)}
    pager.turn(-pager.page)
    seen = set(view.task_buttons)
    while not pager.next_button.disabled:  # every task of the section has its buttons
        pager.next_button.click()
        seen |= set(view.task_buttons)
    assert tasks and tasks <= seen
