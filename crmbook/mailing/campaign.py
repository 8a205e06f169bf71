"""A mailing: one template, the customers of a segment who consented, each message once.

    run = mail(book, "Newsletter", segment="Loyal with email consent", today=today,
               config=load_config(book.path), dry_run=True)
    run.preview        # who gets what, and who does not and why

Planning is pure (frames in, messages out); sending goes through the outbox journal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from crmbook.errors import CrmbookError
from crmbook.mailing.config import MailConfig
from crmbook.mailing.consent import eligible, unsubscribe_headers, unsubscribe_line
from crmbook.mailing.message import Message, message_id, message_key
from crmbook.mailing.outbox import Delivery, previous_status, send_all
from crmbook.mailing.senders import EMAIL_VIAS, SMS_VIAS, make_sender
from crmbook.mailing.templates import (
    MessageTemplate,
    TemplateError,
    customer_fields,
    find_template,
    known_fields,
)
from crmbook.storage.journal import MailJournal

MAILING_SHEETS = ("Customers", "Interactions", "Sales", "Segments", "Templates")
DEFAULT_VIA = {"email": "smtp", "sms": "sms-csv"}
PREVIEW_COLUMNS = ["customer_id", "name", "to", "status", "subject", "body"]


@dataclass
class Plan:
    """The messages a template gives for some customers, and who gets none and why."""

    template: MessageTemplate
    messages: list[Message]
    skipped: pd.DataFrame  # id, name, reason


@dataclass
class MailingRun:
    plan: Plan
    preview: pd.DataFrame
    delivery: Delivery | None = None
    notes: list[str] = field(default_factory=list)


def select_customers(
    frames: dict[str, pd.DataFrame],
    today: dt.date,
    *,
    segment: str | None = None,
    rules: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """The customers of a saved segment and/or rules (both: every rule of both must hold)."""
    from crmbook.analytics.segments import parse_rules, saved_rules, segment_customers

    if not (segment or rules):
        raise CrmbookError('say who gets the message: --segment NAME or --rules "stage=loyal ..."')
    parsed = parse_rules(saved_rules(frames["Segments"], segment)) if segment else []
    parsed += parse_rules(rules) if rules else []
    return segment_customers(frames, parsed, today)


def plan_messages(
    template: MessageTemplate,
    customers: pd.DataFrame,
    *,
    config: MailConfig,
    today: dt.date,
    workbook_id: str,
    campaign: str | None = None,
    kind: str = "follow-up",
) -> Plan:
    """Render the template for each customer allowed to get it on its channel.

    The key is campaign/customer when a campaign is named (once per customer, ever), else
    template/customer/day (once per customer and day).
    """
    template.check(known_fields(customers.columns))
    is_email = template.channel == "email"
    sender = config.sender if is_email else None
    sender_address = config.sender_address if is_email else ""  # no sender: a clear error now
    allowed, skipped = eligible(customers, template.channel)
    messages, problems, keys = [], [], set()
    for record in allowed.to_dict("records"):
        customer_id, name = str(record["id"]), " ".join(str(record["name"]).split())
        try:
            rendered = template.render(customer_fields(record, today), f"{name} ({customer_id})")
        except TemplateError as e:
            problems.append((customer_id, name, str(e)))
            continue
        to = str(record["email" if is_email else "phone"]).strip()
        subject = " ".join(rendered.subject.split()) if rendered.subject else None
        body, headers = rendered.body, ()
        if is_email:
            footer = unsubscribe_line(config, to, customer_id)
            body = body.rstrip("\n") + "\n\n-- \n" + footer + "\n"
            headers = unsubscribe_headers(config, to, customer_id)
        key = message_key(campaign or template.name, customer_id, None if campaign else today)
        if key in keys:
            problems.append((customer_id, name, f"the id {customer_id} is used twice"))
            continue
        keys.add(key)
        message = Message(
            key=key,
            channel=template.channel,
            to=to,
            body=body,
            subject=subject,
            customer_id=customer_id,
            name=name,
            template=template.name,
            sender=sender,
            headers=headers,
            message_id=message_id(workbook_id, key, sender_address),
            kind=kind,
        )
        if is_email:
            try:
                message.email()  # an address or header the mail library refuses: skip it now
            except (ValueError, TypeError, IndexError) as e:
                problems.append((customer_id, name, f"cannot write the email to {to}: {e}"))
                continue
        messages.append(message)
    if problems:
        skipped = pd.concat(
            [skipped, pd.DataFrame(problems, columns=["id", "name", "reason"])], ignore_index=True
        )
    return Plan(template, messages, skipped)


def preview(messages: list[Message], journal: MailJournal) -> pd.DataFrame:
    """Each message as it would go out, and whether an earlier run already sent it."""
    known = journal.entries(m.key for m in messages)
    rows = []
    for m in messages:
        before = previous_status(known.get(m.key))
        rows.append(
            {
                "customer_id": m.customer_id or "",
                "name": m.name or "",
                "to": m.to,
                "status": before[0] if before else "to send",
                "subject": m.subject or "",
                "body": m.body,
            }
        )
    return pd.DataFrame(rows, columns=PREVIEW_COLUMNS)


def choose_via(channel: str, via: str | None) -> str:
    """The sender for a channel: smtp or eml for email, sms-csv or http for SMS."""
    allowed = EMAIL_VIAS if channel == "email" else SMS_VIAS
    chosen = via or DEFAULT_VIA[channel]
    if chosen not in allowed:
        raise CrmbookError(
            f"an {channel} template cannot go via {chosen}; use {' or '.join(allowed)}"
        )
    return chosen


def outbox_folder(workbook: Path, out: Path | None) -> Path:
    """Where eml files and SMS CSV files go: --out, else a folder beside the workbook."""
    return Path(out) if out else workbook.with_name(f"{workbook.stem}-outbox")


def mail(
    book,
    template: str,
    *,
    today: dt.date,
    config: MailConfig,
    segment: str | None = None,
    rules: str | Sequence[str] | None = None,
    via: str | None = None,
    out: Path | None = None,
    dry_run: bool = False,
    campaign: str | None = None,
    kind: str = "follow-up",
    force: bool = False,
    clock: Callable[[], dt.datetime] = dt.datetime.now,
    progress: Callable[[int, int, Message], None] | None = None,
) -> MailingRun:
    """Send `template` to the customers of a segment who consented; each message once.

    With dry_run nothing is sent and nothing is written: the preview shows every message.
    `progress(position, total, message)` hears about each message before it is sent.
    """
    frames = {name: book.table(name).df for name in MAILING_SHEETS}
    chosen = find_template(frames["Templates"], template)
    via = choose_via(chosen.channel, via)
    selected = select_customers(frames, today, segment=segment, rules=rules)
    customers = selected[list(frames["Customers"].columns)]  # fields: Customers columns only
    plan = plan_messages(
        chosen,
        customers,
        config=config,
        today=today,
        workbook_id=str(book.meta.get("workbook_id") or book.path.name),
        campaign=campaign,
        kind=kind,
    )
    journal = book.storage.journal()
    run = MailingRun(plan, preview(plan.messages, journal))
    if dry_run:
        return run
    sender = make_sender(
        via, config, folder=outbox_folder(book.path, out), name=chosen.name, day=today
    )
    run.delivery = send_all(
        [(sender, plan.messages)],
        journal,
        book,
        rate_per_minute=config.rate_per_minute,
        user=book.user,
        force=force,
        clock=clock,
        progress=progress,
    )
    return run
