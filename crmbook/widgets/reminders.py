"""The reminders board: what is overdue, due today and coming up (tasks, promised follow-ups,
customers due for contact), birthdays and anniversaries, and the customers nobody has talked
to for long, for everyone or one owner. A task is ticked off or postponed with a button, and
the workbook is saved at once.
"""

from __future__ import annotations

import datetime as dt
import html

import ipywidgets as widgets
import numpy as np
import pandas as pd

from crmbook.analytics.reminders import reminders
from crmbook.analytics.segments import dormant
from crmbook.widgets._base import Alert, PagedTable, Pager, ProgressBar, heading, reported
from crmbook.widgets.session import NO_STEPS, Session, Steps

SECTIONS = {  # in the order shown: what is due today first, then what slipped
    "today": "Today",
    "overdue": "Overdue (the most recent first)",
    "upcoming": "Coming up",
    "birthdays": "Birthdays and anniversaries",
}
YEARLY = ("birthday", "anniversary")
ROWS_SHOWN = 25
DORMANT_COLUMNS = ["id", "name", "phone", "email", "owner", "last_contact", "days_since_contact"]
REMINDER_SHEETS = ("Customers", "Contacts", "Interactions", "Sales", "Tasks")


class RemindersModel:
    """The board's choices (days ahead, owner, dormant after) and its sections as frames.

    `sections` maps overdue, today, upcoming and birthdays to reminders (a task's rows carry
    its `task_id`); `dormant` holds the customers silent for `dormant_days` or more. Overdue
    reminders come the most recent first: what slipped yesterday before what is long stale.
    """

    def __init__(
        self, session: Session, *, days: int = 7, owner: str | None = None, dormant_days: int = 90
    ):
        self.session = session
        self.days = days
        self.owner = owner
        self.dormant_days = dormant_days
        self.sections: dict[str, pd.DataFrame] = {}
        self.dormant = pd.DataFrame()
        session.on_change(self.refresh)
        self.refresh()

    def owners(self) -> list[str]:
        return list(self.session.book.lists.get("owner", ()))

    def refresh(self) -> dict[str, pd.DataFrame]:
        """Gather the reminders again from the workbook as it is now."""
        today = pd.Timestamp(self.session.today())
        frames = self.session.frames(*REMINDER_SHEETS)
        found = reminders(frames, today.date(), self.days, self.owner)
        found["task_id"] = _task_ids(found, frames["Tasks"])
        yearly = found["kind"].isin(YEARLY)
        when = found["when"].dt.normalize()
        self.sections = {
            "overdue": found[~yearly & (when < today)].iloc[::-1],
            "today": found[~yearly & (when == today)],
            "upcoming": found[~yearly & (when > today)],
            "birthdays": found[yearly],
        }
        quiet = dormant(frames, self.dormant_days, today.date())
        if self.owner:
            owner = quiet["owner"].fillna("").str.strip().str.casefold()
            quiet = quiet[owner == self.owner.strip().casefold()]
        self.dormant = quiet[DORMANT_COLUMNS]
        return self.sections

    def done(self, task_id: str, steps: Steps = NO_STEPS) -> None:
        """Mark the task done today and save."""
        today = self.session.today()
        self.session.change(
            lambda book: book.table("Tasks").update(task_id, status="done", done_on=today), steps
        )

    def postpone(self, task_id: str, days: int, steps: Steps = NO_STEPS) -> dt.date:
        """Move the task's due day `days` days later and save; returns the new due day."""
        due = self.session.book.table("Tasks").get(task_id)["due"]
        start = pd.Timestamp(self.session.today()) if pd.isna(due) else pd.Timestamp(due)
        new_due = (start + pd.Timedelta(days=days)).date()
        self.session.change(lambda book: book.table("Tasks").update(task_id, due=new_due), steps)
        return new_due


class RemindersView(widgets.VBox):
    """The board. `task_buttons` maps a task id on the board to its (done, postpone) buttons;
    `section_boxes` maps a section to the box listing one page of it, `section_pagers` to
    the Pager under that box."""

    def __init__(self, model: RemindersModel):
        self.model = model
        self.alert = Alert()
        self.progress = ProgressBar()
        self.owner = widgets.Dropdown(
            options=[("everyone", "")] + [(o, o) for o in model.owners()],
            value=model.owner or "",
            description="Owner",
        )
        self.days = widgets.IntSlider(
            value=model.days, min=0, max=60, description="Days ahead", continuous_update=False
        )
        self.dormant_days = widgets.Dropdown(
            options=[(f"{d} days", d) for d in (30, 60, 90, 180, 365)],
            value=model.dormant_days if model.dormant_days in (30, 60, 90, 180, 365) else 90,
            description="Silent for",
        )
        self.postpone_days = widgets.BoundedIntText(
            value=7, min=1, max=365, description="Postpone by", layout={"width": "170px"}
        )
        self.section_boxes = {name: widgets.VBox() for name in SECTIONS}
        self.section_pagers = {name: Pager(ROWS_SHOWN, "reminders") for name in SECTIONS}
        for name, pager in self.section_pagers.items():
            pager.on_turn(reported(self.alert, lambda name=name: self._draw_section(name)))
        self.dormant_table = PagedTable(ROWS_SHOWN, "customers")
        self.dormant_title = widgets.HTML()
        self._buttons: dict[str, dict[str, tuple[widgets.Button, widgets.Button]]] = {}
        for control in (self.owner, self.days, self.dormant_days):
            control.observe(reported(self.alert, self._chosen), names="value")
        super().__init__(
            [
                heading(
                    "Reminders",
                    "What to do, from overdue to the days ahead. Done ticks a task off; "
                    "Postpone moves it by the days chosen. Follow-ups end when you log the "
                    "next interaction with the customer.",
                ),
                widgets.HBox([self.owner, self.days, self.dormant_days, self.postpone_days]),
                widgets.HBox([self.progress]),
                self.alert,
                *(widgets.VBox([self.section_boxes[n], self.section_pagers[n]]) for n in SECTIONS),
                self.dormant_title,
                self.dormant_table,
            ]
        )
        model.session.on_change(lambda: self._draw(keep_page=True))
        self._draw()

    def _chosen(self, _change=None) -> None:
        self.alert.clear()
        self.model.owner = self.owner.value or None
        self.model.days = self.days.value
        self.model.dormant_days = self.dormant_days.value
        self.model.refresh()
        self._draw()

    def _draw(self, *, keep_page: bool = False) -> None:
        """Every section from its first page (after a save: on the page it was)."""
        for name in SECTIONS:
            self.section_pagers[name].show(len(self._section(name)), keep_page=keep_page)
            self._draw_section(name)
        quiet = self.model.dormant
        self.dormant_title.value = (
            f"<h4 style='margin:10px 0 2px'>Not contacted for {self.model.dormant_days} days "
            f"or more ({len(quiet):,})</h4>"
        )
        self.dormant_table.show(quiet, empty="Nobody.", keep_page=keep_page)

    def _draw_section(self, name: str) -> None:
        """One section's page of reminders, each task with its buttons."""
        frame = self._section(name)
        pager = self.section_pagers[name]
        title = f"{SECTIONS[name]} ({len(frame):,})"
        rows = [widgets.HTML(f"<h4 style='margin:10px 0 2px'>{title}</h4>")]
        if frame.empty:
            rows.append(
                widgets.HTML("<span class='crmbook-note' style='color:#6c757d'>Nothing.</span>")
            )
        buttons: dict[str, tuple[widgets.Button, widgets.Button]] = {}
        for record in pager.rows(frame).to_dict("records"):
            rows.append(self._row(record, buttons))
        self._buttons[name] = buttons
        self.section_boxes[name].children = rows

    @property
    def task_buttons(self) -> dict[str, tuple[widgets.Button, widgets.Button]]:
        """The (done, postpone) buttons of each task on the pages shown, by task id."""
        return {k: v for shown in self._buttons.values() for k, v in shown.items()}

    def _section(self, name: str) -> pd.DataFrame:
        return self.model.sections.get(name, pd.DataFrame())

    def _row(self, record: dict, buttons: dict) -> widgets.Widget:
        text = widgets.HTML(_reminder_html(record), layout={"width": "780px"})
        task_id = record.get("task_id")
        if not isinstance(task_id, str):
            return text
        done = widgets.Button(
            description="Done",
            icon="check",
            button_style="success",
            layout={"width": "90px"},
            tooltip=f"mark {task_id} done",
        )
        later = widgets.Button(
            description="Postpone",
            icon="clock",
            layout={"width": "100px"},
            tooltip=f"move {task_id} later",
        )
        done.on_click(reported(self.alert, lambda _b: self._done(task_id)))
        later.on_click(reported(self.alert, lambda _b: self._postpone(task_id)))
        buttons[task_id] = (done, later)
        return widgets.HBox([text, done, later])

    def _done(self, task_id: str) -> None:
        self.alert.clear()
        self.model.done(task_id, self.progress)
        self.alert.success(f"Task {task_id} is done; saved {self.model.session.name}.")

    def _postpone(self, task_id: str) -> None:
        self.alert.clear()
        new_due = self.model.postpone(task_id, self.postpone_days.value, self.progress)
        self.alert.success(
            f"Task {task_id} is now due {new_due:%Y-%m-%d}; saved {self.model.session.name}."
        )


def reminders_board(session: Session) -> RemindersView:
    """The reminders page."""
    return RemindersView(RemindersModel(session))


def _task_ids(found: pd.DataFrame, tasks: pd.DataFrame) -> pd.Series:
    """The id of the task behind each task reminder (None for other kinds).

    A reminder names its task by customer, due day and title; open tasks alike in all three
    are interchangeable, so the n-th reminder of a kind takes the n-th of them in id order
    (matched on whole columns: a board of 40,000 tasks draws in a blink).
    """
    status = tasks["status"].fillna("open").astype("str").str.strip().str.casefold()
    open_tasks = tasks[~status.isin(("done", "cancelled")) & tasks["done_on"].isna()]
    open_tasks = open_tasks.sort_values("id", kind="stable")
    pool = _task_keys(open_tasks["customer_id"], open_tasks["due"], open_tasks["title"])
    pool["task_id"] = open_tasks["id"].to_numpy()
    asked = found[found["kind"] == "task"]
    wanted = _task_keys(asked["customer_id"], asked["when"], asked["what"])
    matched = wanted.merge(pool, on=list(wanted.columns), how="left")
    ids = np.full(len(found), None, dtype=object)
    ids[(found["kind"] == "task").to_numpy()] = [
        i if isinstance(i, str) else None for i in matched["task_id"]
    ]
    return pd.Series(ids, index=found.index, dtype=object)


def _task_keys(customer_id: pd.Series, due: pd.Series, title: pd.Series) -> pd.DataFrame:
    """Customer, due day and title as compared, and which of the alike this one is."""

    def text(values: pd.Series) -> pd.Series:
        return values.astype(object).where(values.notna(), "").astype("str").str.strip()

    keys = pd.DataFrame(
        {
            "customer": text(customer_id).to_numpy(),
            "day": pd.to_datetime(due).dt.normalize().to_numpy(),
            "title": text(title).to_numpy(),
        }
    )
    keys["nth"] = keys.groupby(["customer", "day", "title"], dropna=False).cumcount()
    return keys


def _reminder_html(record: dict) -> str:
    when = pd.Timestamp(record["when"]).strftime("%a %Y-%m-%d")
    who = "" if pd.isna(record.get("customer")) else str(record["customer"])
    customer_id = "" if pd.isna(record.get("customer_id")) else str(record["customer_id"])
    owner = "" if pd.isna(record.get("owner")) else str(record["owner"])
    late = int(record.get("overdue_days") or 0)
    parts = [
        f"<b>{html.escape(when)}</b>",
        f"<span style='color:#495057'>{html.escape(record['kind'])}</span>",
        html.escape(f"{who} ({customer_id})" if customer_id else who),
        html.escape(str(record.get("what") or "")),
    ]
    if owner:
        parts.append(f"<span style='color:#6c757d'>{html.escape(owner)}</span>")
    if late:
        parts.append(
            f"<span style='color:#b02a37'>{late} day{'s' if late != 1 else ''} late</span>"
        )
    return " · ".join(parts)
