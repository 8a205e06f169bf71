"""The daily run, for cron or Task Scheduler: each owner's reminders by email, birthday greetings.

Every message is keyed by the day (digest/<owner>/<day>, <template>/<customer>/<day>), so the
outbox journal makes a second run on the same day send nothing new, and a run killed
half-way sends only what is still missing. On a database the journal is in the database:
two machines running the daily job at once share the messages out, each sent once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from crmbook.analytics._frames import day as midnight
from crmbook.analytics._frames import next_yearly
from crmbook.analytics.reminders import reminders
from crmbook.mailing.campaign import Plan, choose_via, outbox_folder, plan_messages, preview
from crmbook.mailing.config import MailConfig
from crmbook.mailing.message import Message, message_id
from crmbook.mailing.outbox import Delivery, send_all
from crmbook.mailing.senders import Sender, make_sender
from crmbook.mailing.templates import TemplateError, find_template, split_name

DAILY_SHEETS = ("Customers", "Contacts", "Interactions", "Tasks", "Templates")


@dataclass
class DailyRun:
    digests: list[Message]
    greetings: Plan | None
    preview: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    delivery: Delivery | None = None


def birthdays_today(customers: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    """Customers whose birthday is today (29 February counts on 28 February in other years)."""
    return customers[(next_yearly(customers["birthday"], today) == midnight(today)).to_numpy()]


def owner_digests(
    frames: dict[str, pd.DataFrame],
    today: dt.date,
    config: MailConfig,
    *,
    workbook: str,
    workbook_id: str,
    days: int = 0,
) -> tuple[list[Message], list[str]]:
    """One email per owner with their reminders (overdue, today, and `days` ahead).

    Owners without an address in the [owners] table of the config are skipped with a note.
    """
    found = reminders(frames, today, days)
    owner = (
        found["owner"]
        .astype(object)
        .map(lambda v: v.strip() if isinstance(v, str) and v.strip() else "")
    )
    messages, notes = [], []
    for name, group in found.groupby(owner.to_numpy(), sort=True):
        if not name:
            notes.append(f"{len(group)} reminder(s) have no owner: not mailed")
            continue
        address = config.owner_address(name)
        if not address:
            notes.append(
                f"no address for {name} in the [owners] table of the config: "
                f"{len(group)} reminder(s) not mailed"
            )
            continue
        key = f"digest/{name}/{today.isoformat()}"
        messages.append(
            Message(
                key=key,
                channel="email",
                to=address,
                name=name,
                subject=f"{len(group)} reminder(s) for {today:%a %d %b %Y} ({workbook})",
                body=digest_text(name, group, today, workbook),
                template="daily digest",
                sender=config.sender,
                message_id=message_id(workbook_id, key, config.sender_address),
                kind=None,
            )
        )
    return messages, notes


def digest_text(owner: str, found: pd.DataFrame, today: dt.date, workbook: str) -> str:
    """The digest as plain text: overdue, today, coming up; one line per reminder."""
    start = midnight(today)
    parts = {
        "Overdue": found[found["when"] < start],
        "Today": found[found["when"] == start],
        "Coming up": found[found["when"] > start],
    }
    lines = [f"Hello {split_name(owner)[0]},", "", f"your reminders in {workbook}:"]
    for title, rows in parts.items():
        if rows.empty:
            continue
        lines += ["", title]
        for r in rows.itertuples(index=False):
            customer = f"{r.customer} ({r.customer_id})" if _text(r.customer_id) else "no customer"
            late = f", {r.overdue_days} days overdue" if r.overdue_days else ""
            lines.append(f"  {r.when:%Y-%m-%d}  {r.kind:<11}  {customer}: {r.what}{late}")
    lines += ["", "-- ", "crmbook daily"]
    return "\n".join(lines) + "\n"


def daily(
    book,
    *,
    today: dt.date,
    config: MailConfig,
    via: str = "smtp",
    sms_via: str = "sms-csv",
    out: Path | None = None,
    days: int = 0,
    dry_run: bool = False,
    force: bool = False,
    clock: Callable[[], dt.datetime] = dt.datetime.now,
) -> DailyRun:
    """Mail each owner their reminders and send today's birthday greetings, once a day."""
    frames = {name: book.table(name).df for name in DAILY_SHEETS}
    workbook_id = str(book.meta.get("workbook_id") or book.path.name)
    digests, notes = owner_digests(
        frames, today, config, workbook=book.path.name, workbook_id=workbook_id, days=days
    )
    greetings = None
    try:
        template = find_template(frames["Templates"], config.birthday_template)
    except TemplateError as e:
        notes.append(f"no birthday greetings: {e}")
    else:
        greetings = plan_messages(
            template,
            birthdays_today(frames["Customers"], today),
            config=config,
            today=today,
            workbook_id=workbook_id,
        )
    journal = book.storage.journal()
    planned = digests + (greetings.messages if greetings else [])
    run = DailyRun(digests, greetings, preview(planned, journal), notes)
    if dry_run:
        return run
    folder = outbox_folder(book.path, out)
    senders: dict[str, Sender] = {}

    def sender(channel: str, name: str) -> Sender:
        chosen = choose_via(channel, via if channel == "email" else sms_via)
        if chosen not in senders:
            senders[chosen] = make_sender(chosen, config, folder=folder, name=name, day=today)
        return senders[chosen]

    batches = [(sender("email", "digest"), digests)] if digests else []
    if greetings and greetings.messages:
        batches.append(
            (sender(greetings.template.channel, greetings.template.name), greetings.messages)
        )
    run.delivery = send_all(
        batches,
        journal,
        book,
        rate_per_minute=config.rate_per_minute,
        user=book.user,
        force=force,
        clock=clock,
    )
    return run


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and value != "nan"
