"""Open tasks and follow-ups as an iCalendar (.ics) file for any calendar app.

Each event's UID is made of its record id and the workbook id, so importing a newer file
updates the events instead of adding them twice, and two workbooks never clash.
Tasks fall on their due day, follow-ups on the interaction's next_date, as all-day events.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import icalendar
import pandas as pd

import crmbook
from crmbook.analytics._frames import last_when
from crmbook.analytics.history import end_of
from crmbook.analytics.reminders import CLOSED_TASK
from crmbook.errors import CrmbookError

ICS_SHEETS = ("Customers", "Tasks", "Interactions")
ENTRY_COLUMNS = ["uid", "kind", "date", "title", "customer_id", "customer", "owner", "details"]


def calendar_entries(
    frames: dict[str, pd.DataFrame], today: dt.date, workbook_id: str, owner: str | None = None
) -> pd.DataFrame:
    """Open tasks and follow-ups not yet done by a later interaction, in date order."""
    tasks, interactions = frames["Tasks"], frames["Interactions"]
    status = tasks["status"].astype(object).fillna("open").str.strip().str.lower()
    open_tasks = tasks[
        (~status.isin(CLOSED_TASK) & tasks["done_on"].isna() & tasks["due"].notna()).to_numpy()
    ]
    latest = last_when(interactions, interactions["when"] < end_of(today))
    wanted = interactions[interactions["next_date"].notna().to_numpy()]
    later = latest.reindex(wanted["customer_id"].to_numpy()).to_numpy()
    follow_ups = wanted[~(later > wanted["when"].to_numpy())]
    step = follow_ups["next_step"].astype(object).fillna("Follow up")
    summary = follow_ups["summary"].astype(object).fillna("")
    entries = pd.concat(
        [
            pd.DataFrame(
                {
                    "record": open_tasks["id"],
                    "kind": "task",
                    "date": open_tasks["due"],
                    "title": open_tasks["title"].astype(object),
                    "customer_id": open_tasks["customer_id"],
                    "owner": open_tasks["owner"],
                    "details": "Task " + open_tasks["id"].astype(object),
                }
            ),
            pd.DataFrame(
                {
                    "record": follow_ups["id"],
                    "kind": "follow-up",
                    "date": follow_ups["next_date"],
                    "title": step,
                    "customer_id": follow_ups["customer_id"],
                    "owner": follow_ups["owner"],
                    "details": "Follow-up of "
                    + follow_ups["when"].dt.strftime("%Y-%m-%d")
                    + " ("
                    + follow_ups["id"].astype(object)
                    + "): "
                    + summary,
                }
            ),
        ],
        ignore_index=True,
    )
    customers = frames["Customers"].drop_duplicates("id").set_index("id")
    found = customers.reindex(entries["customer_id"].to_numpy())
    entries["customer"] = found["name"].to_numpy()
    entries["owner"] = entries["owner"].where(entries["owner"].notna(), found["owner"].to_numpy())
    contact = (
        found["phone"].astype(object).fillna("") + " " + found["email"].astype(object).fillna("")
    )
    entries["details"] = entries["details"] + "\n" + contact.str.strip().to_numpy()
    entries["uid"] = (
        entries["kind"] + "-" + entries["record"].astype(object) + f".{workbook_id}@crmbook"
    )
    if owner is not None:
        wanted_owner = owner.strip().casefold()
        mine = entries["owner"].astype(object).fillna("").str.strip().str.casefold()
        entries = entries[(mine == wanted_owner).to_numpy()]
    entries = entries.sort_values(["date", "kind", "record"], kind="stable")
    return entries[ENTRY_COLUMNS].reset_index(drop=True)


def build_calendar(entries: pd.DataFrame, name: str, stamp: dt.datetime) -> icalendar.Calendar:
    """The entries as all-day VEVENTs of one calendar."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", f"-//crmbook//crmbook {crmbook.__version__}//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    stamp = stamp.astimezone(dt.UTC)
    for e in entries.itertuples(index=False):
        event = icalendar.Event()
        day = pd.Timestamp(e.date).date()
        who = e.customer if isinstance(e.customer, str) else ""
        event.add("uid", e.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", day)
        event.add("dtend", day + dt.timedelta(days=1))
        event.add("summary", f"{e.title}: {who}" if who else str(e.title))
        event.add("description", str(e.details).strip())
        event.add("categories", [e.kind])
        event.add("transp", "TRANSPARENT")
        if isinstance(e.owner, str) and e.owner.strip():
            event.add("x-crmbook-owner", e.owner.strip())
        calendar.add_component(event)
    return calendar


def write_ics(
    book,
    out: str | os.PathLike,
    *,
    today: dt.date,
    owner: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[Path, int]:
    """Write the book's open tasks and follow-ups to `out`; returns the path and event count."""
    out = Path(out)
    if out.resolve() == Path(book.path).resolve():
        raise CrmbookError(f"--out {out} is the CRM workbook itself; choose a .ics file")
    frames = {name: book.table(name).df for name in ICS_SHEETS}
    workbook_id = str(book.meta.get("workbook_id") or book.path.stem)
    entries = calendar_entries(frames, today, workbook_id, owner)
    title = f"crmbook: {book.path.stem}" + (f" ({owner})" if owner else "")
    calendar = build_calendar(entries, title, now or dt.datetime.now(dt.UTC))
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(calendar.to_ical())
    os.replace(tmp, out)
    return out, len(entries)
