"""Reminders: what to do in the next days, so no customer is forgotten.

Five kinds, one table: open tasks, follow-ups promised in an interaction (next_date),
birthdays of customers and of the people at company customers, anniversaries (years since the
customer record was created) and customers due for contact by their own cadence
(contact_every_days), counted from the last interaction that took place. A follow-up is
dropped once a later interaction with the customer has happened: it did what the follow-up
asked, and it may carry its own next step.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from crmbook.analytics._frames import attach_customer, day, last_when, next_yearly
from crmbook.analytics.history import end_of
from crmbook.schema import BIRTHDAY_WITHOUT_YEAR

KINDS = ("task", "follow-up", "birthday", "anniversary", "contact-due")
COLUMNS = ("when", "kind", "customer_id", "customer", "owner", "what", "overdue_days")
CLOSED_TASK = ("done", "cancelled")


def reminders(
    frames: dict[str, pd.DataFrame],
    today: dt.date,
    days: int = 7,
    owner: str | None = None,
) -> pd.DataFrame:
    """Every reminder from overdue ones up to `days` days after `today`, in date order.

    Columns: when, kind, customer_id, customer, owner, what, overdue_days (0 unless overdue).
    `owner` keeps one person's reminders (case and spaces ignored).
    """
    customers = frames["Customers"]
    parts = [
        task_reminders(frames["Tasks"], today, days),
        follow_up_reminders(frames["Interactions"], today, days),
        birthday_reminders(customers, frames.get("Contacts"), today, days),
        anniversary_reminders(customers, today, days),
        contact_due_reminders(customers, frames["Interactions"], today, days),
    ]
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty()
    found = attach_customer(pd.concat(parts, ignore_index=True), customers)
    if owner is not None:
        wanted = owner.strip().casefold()
        found = found[found["owner"].fillna("").str.strip().str.casefold() == wanted]
    found["order"] = found["kind"].map({k: i for i, k in enumerate(KINDS)})
    found = found.sort_values(["when", "order", "customer_id"], kind="stable")
    return _shaped(found.reset_index(drop=True))


def task_reminders(tasks: pd.DataFrame, today: dt.date, days: int = 7) -> pd.DataFrame:
    """Open tasks that are overdue, due today or due within `days` days."""
    start = day(today)
    due = tasks["due"].dt.normalize()
    status = tasks["status"].fillna("open").str.strip().str.lower()
    open_ = ~status.isin(CLOSED_TASK) & tasks["done_on"].isna()
    hit = open_ & due.notna() & (due <= start + pd.Timedelta(days=days))
    return _reminder(
        "task", due[hit], tasks["customer_id"][hit], tasks["owner"][hit], tasks["title"][hit], start
    )


def follow_up_reminders(interactions: pd.DataFrame, today: dt.date, days: int = 7) -> pd.DataFrame:
    """Next steps (next_date) not yet followed by a later interaction with the customer."""
    start = day(today)
    latest = last_when(interactions, interactions["when"] < end_of(today))
    wanted = interactions[
        interactions["next_date"].notna()
        & (interactions["next_date"] <= start + pd.Timedelta(days=days))
    ]
    later = latest.reindex(wanted["customer_id"].to_numpy()).to_numpy()
    wanted = wanted[~(later > wanted["when"].to_numpy())]
    step = wanted["next_step"].fillna("follow up").astype(str)
    summary = wanted["summary"].fillna("").astype(str)
    what = step.where(
        summary == "", step + " (" + wanted["when"].dt.strftime("%Y-%m-%d") + ": " + summary + ")"
    )
    return _reminder(
        "follow-up",
        wanted["next_date"].dt.normalize(),
        wanted["customer_id"],
        wanted["owner"],
        what,
        start,
    )


def birthday_reminders(
    customers: pd.DataFrame,
    contacts: pd.DataFrame | None,
    today: dt.date,
    days: int = 7,
) -> pd.DataFrame:
    """Birthdays of customers and of contacts at company customers in the next `days` days."""
    start = day(today)
    parts = []
    when = next_yearly(customers["birthday"], start)
    hit = when <= start + pd.Timedelta(days=days)
    born = customers["birthday"][hit]
    parts.append(
        _reminder("birthday", when[hit], customers["id"][hit], None, _turns(when[hit], born), start)
    )
    if contacts is not None and len(contacts):
        when = next_yearly(contacts["birthday"], start)
        hit = when <= start + pd.Timedelta(days=days)
        role = contacts["role"][hit].fillna("").astype(str)
        who = contacts["name"][hit].astype(str) + role.where(role == "", ", " + role)
        turns = _turns(when[hit], contacts["birthday"][hit])
        parts.append(
            _reminder(
                "birthday", when[hit], contacts["customer_id"][hit], None, who + " " + turns, start
            )
        )
    return pd.concat(parts, ignore_index=True)


def _turns(when: pd.Series, born: pd.Series) -> pd.Series:
    """ "turns 40", or "birthday" when only the day is known (stored in BIRTHDAY_WITHOUT_YEAR)."""
    age = "turns " + (when.dt.year - born.dt.year).astype(str)
    return age.where(born.dt.year != BIRTHDAY_WITHOUT_YEAR, "birthday")


def anniversary_reminders(customers: pd.DataFrame, today: dt.date, days: int = 7) -> pd.DataFrame:
    """Whole years since a customer's record was created, falling in the next `days` days."""
    start = day(today)
    created = customers["created"]
    when = next_yearly(created, start)
    years = when.dt.year - created.dt.year
    hit = (when <= start + pd.Timedelta(days=days)) & (years >= 1)
    label = years[hit].astype(int).astype(str) + np.where(years[hit] == 1, " year", " years")
    return _reminder(
        "anniversary",
        when[hit],
        customers["id"][hit],
        None,
        label + " with us (since " + created[hit].dt.strftime("%Y-%m-%d") + ")",
        start,
    )


def contact_due_reminders(
    customers: pd.DataFrame, interactions: pd.DataFrame, today: dt.date, days: int = 7
) -> pd.DataFrame:
    """Customers whose cadence (contact_every_days) runs out within `days` days.

    The cadence counts from the last interaction that has taken place (a meeting booked for
    later is not contact yet), else from the day the customer was created.
    """
    start = day(today)
    every = pd.to_numeric(customers["contact_every_days"], errors="coerce")
    with_cadence = customers[every > 0]
    every = every[every > 0]
    last = last_when(interactions, interactions["when"] < end_of(today))
    last_contact = pd.Series(
        last.reindex(with_cadence["id"].to_numpy()).to_numpy(), index=with_cadence.index
    )
    since = last_contact.fillna(with_cadence["created"]).dt.normalize()
    due = (since + pd.to_timedelta(every.astype(float), unit="D")).fillna(start)
    hit = due <= start + pd.Timedelta(days=days)
    cadence = "every " + every[hit].astype(int).astype(str) + " days; "
    contacted = last_contact[hit]
    what = cadence + np.where(
        contacted.notna(), "last contact " + contacted.dt.strftime("%Y-%m-%d"), "never contacted"
    )
    return _reminder("contact-due", due[hit], with_cadence["id"][hit], None, what, start)


def _reminder(
    kind: str,
    when: pd.Series,
    customer_id: pd.Series,
    owner: pd.Series | None,
    what: pd.Series | str,
    start: pd.Timestamp,
) -> pd.DataFrame:
    when = when.astype("datetime64[us]")
    overdue = ((start - when).dt.days).clip(lower=0).astype("int64")
    return pd.DataFrame(
        {
            "when": when.to_numpy(),
            "kind": kind,
            "customer_id": customer_id.to_numpy(dtype=object),
            "owner": owner.to_numpy(dtype=object) if owner is not None else None,
            "what": what.to_numpy(dtype=object) if isinstance(what, pd.Series) else what,
            "overdue_days": overdue.to_numpy(),
        }
    )


def _shaped(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[list(COLUMNS)].copy()
    for name in ("kind", "customer_id", "customer", "owner", "what"):
        out[name] = out[name].astype("str")
    return out


def _empty() -> pd.DataFrame:
    return _shaped(
        pd.DataFrame(
            {
                "when": pd.Series(dtype="datetime64[us]"),
                **{c: pd.Series(dtype=object) for c in COLUMNS[1:-1]},
                "overdue_days": pd.Series(dtype="int64"),
            }
        )
    )
