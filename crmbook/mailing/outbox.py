"""Sending through the outbox journal: a rerun after a crash never sends anyone the same
message twice, and each attempt is logged once as an interaction.

The journal is the book's (Storage.journal(), see crmbook/storage/journal.py): a file beside
a workbook, a table in a database. Each message is claimed in it (durably) before it is
handed to the sender and answered right after. A message whose last attempt was claimed
without an answer (the process was killed mid-send, or another machine is sending it right
now) or ended unknown is "possibly sent": it is never sent again automatically, and it is
reported. A message another run claimed first is left to that run.

Interactions are written to the book after the sending, in one save, from the journal; if
that save fails (the workbook is open in Excel), the next run writes them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pandas as pd

from crmbook.errors import CrmbookError
from crmbook.mailing.message import Message
from crmbook.mailing.senders import RateLimit, Sender, SendError
from crmbook.storage.journal import JournalEntry, MailJournal, this_run

RESULT_COLUMNS = ["customer_id", "name", "to", "status", "detail"]
OUTCOME = {"sent": "success", "failed": "failure", "possibly sent": "neutral"}


# ---------------------------------------------------------------- sending


@dataclass
class Delivery:
    """What a run did with each message: sent, failed, already sent, possibly sent, not sent."""

    rows: list[dict] = field(default_factory=list)
    error: str | None = None
    logged: int = 0
    log_error: str | None = None

    def add(self, message: Message, status: str, detail: str = "") -> None:
        self.rows.append(
            {
                "customer_id": message.customer_id or "",
                "name": message.name or "",
                "to": message.to,
                "status": status,
                "detail": detail,
            }
        )

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=RESULT_COLUMNS)

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.rows)

    def summary(self) -> str:
        order = ("sent", "failed", "already sent", "possibly sent", "not sent")
        parts = [f"{status} {self.count(status)}" for status in order if self.count(status)]
        return ", ".join(parts) or "nothing to send"


def previous_status(entry: JournalEntry | None) -> tuple[str, str] | None:
    """Why a message must not be sent again, or None when it may be sent."""
    if entry is None or entry.status == "failed":
        return None
    when = f"{entry.at:%Y-%m-%d %H:%M}"
    if entry.status == "sent":
        return "already sent", f"sent {when}"
    who = entry.record.get("by")
    if entry.state == "intent" and who:
        began = (
            f"{who} began sending it {when} and has not confirmed it (still sending, or stopped)"
        )
    else:
        began = f"a run stopped while sending it ({when})"
    return "possibly sent", (
        f"{began}; not sent again: look in the sent folder of the mail server or ask the customer"
    )


def deliver(
    messages: Iterable[Message],
    sender: Sender,
    journal: MailJournal,
    *,
    rate: RateLimit | None = None,
    clock: Callable[[], dt.datetime] = dt.datetime.now,
    delivery: Delivery | None = None,
    progress: Callable[[int, int, Message], None] | None = None,
) -> Delivery:
    """Send each message not sent before; the caller holds journal.sending().

    Each message is claimed in the journal (durably) before the sender gets it and answered
    right after, so a kill at any moment leaves a journal that tells the truth; a message
    another run claimed first is not sent here. `progress(position, total, message)` hears
    about each message before it is sent.
    """
    delivery = delivery if delivery is not None else Delivery()
    messages = list(messages)
    known = journal.entries(m.key for m in messages)
    pending = []
    for message in messages:
        before = previous_status(known.get(message.key))
        if before:
            delivery.add(message, *before)
        else:
            pending.append(message)
    if not pending:
        return delivery
    rate = rate or RateLimit(None)
    run = this_run()
    try:
        sender.open()
        for position, message in enumerate(pending):
            entry = known.get(message.key)
            attempt = entry.attempt + 1 if entry else 1
            if progress is not None:
                progress(position + 1, len(pending), message)
            if sender.network:
                rate.wait()
            if not journal.claim(message.key, attempt, clock(), _record(message, sender, run)):
                now = journal.entries([message.key]).get(message.key)
                delivery.add(
                    message,
                    *(
                        previous_status(now)
                        or ("not sent", "another run tried it at the same time")
                    ),
                )
                continue
            try:
                result = sender.send(message)
            except SendError as e:
                state = "unknown" if e.maybe_sent else "failed"
                journal.answer(message.key, attempt, state, str(e), clock(), log=e.maybe_sent)
                delivery.add(message, "possibly sent" if e.maybe_sent else "not sent", str(e))
                for rest in pending[position + 1 :]:
                    delivery.add(rest, "not sent", "stopped after the error above")
                delivery.error = str(e)
                break
            state = "sent" if result.ok else "failed"
            journal.answer(message.key, attempt, state, result.detail, clock())
            delivery.add(message, state, result.detail)
    except SendError as e:  # opening: nothing was sent
        for message in pending:
            delivery.add(message, "not sent", str(e))
        delivery.error = str(e)
    finally:
        sender.close()
    return delivery


def _record(message: Message, sender: Sender, run: str) -> dict:
    """What the journal keeps about a message besides its key."""
    return {
        "via": sender.via,
        "channel": message.channel,
        "to": message.to,
        "customer_id": message.customer_id,
        "name": message.name,
        "template": message.template,
        "subject": message.subject,
        "kind": message.kind,
        "message_id": message.message_id,
        "by": run,
    }


def log_interactions(
    book,
    journal: MailJournal,
    *,
    user: str | None = None,
    force: bool = False,
    clock: Callable[[], dt.datetime] = dt.datetime.now,
) -> int:
    """Record every journalled attempt not yet in the book as an interaction; save.

    The book is read afresh (someone may have saved since the run began). Sent is outcome
    success, failed is failure, possibly sent is neutral. Returns how many interactions were
    added; the caller holds journal.logging().
    """
    from crmbook.book import Book

    todo = journal.unlogged()
    if not todo:
        return 0
    fresh = Book(book.storage.reopen(), user=user or book.user)
    try:
        customers = fresh.customers.df
        owners = dict(zip(customers["id"], customers["owner"], strict=True))
        known = [e for e in todo if e.record["customer_id"] in owners]
        fresh.interactions.add_many([_interaction(e, owners) for e in known])
        if known:
            fresh.save(force=force)
    finally:
        fresh.close()
    journal.logged(todo, clock())
    return len(known)


def _interaction(entry: JournalEntry, owners: dict) -> dict:
    r = entry.record
    what = r.get("template") or "message"
    if r.get("channel") == "email":
        summary = f'{what}: email "{r.get("subject") or ""}" to {r["to"]}'
    else:
        summary = f"{what}: SMS to {r['to']}"
    if entry.status == "failed":
        summary += f"; not delivered: {entry.detail}"
    elif entry.status == "possibly sent":
        summary += "; delivery not confirmed (the run stopped while sending)"
    owner = owners.get(r["customer_id"])
    return {
        "customer_id": r["customer_id"],
        "when": entry.at,
        "channel": r.get("channel"),
        "kind": r.get("kind"),
        "outcome": OUTCOME[entry.status],
        "owner": None if pd.isna(owner) else owner,
        "summary": summary,
    }


def send_all(
    batches: Iterable[tuple[Sender, list[Message]]],
    journal: MailJournal,
    book,
    *,
    rate_per_minute: float | None = None,
    user: str | None = None,
    force: bool = False,
    clock: Callable[[], dt.datetime] = dt.datetime.now,
    progress: Callable[[int, int, Message], None] | None = None,
) -> Delivery:
    """Deliver batches (one per sender) through the book's journal, then log them in it."""
    delivery = Delivery()
    rate = RateLimit(rate_per_minute)
    with journal.sending():
        for sender, messages in batches:
            if delivery.error:
                for message in messages:
                    delivery.add(message, "not sent", "stopped after an earlier error")
                continue
            deliver(
                messages,
                sender,
                journal,
                rate=rate,
                clock=clock,
                delivery=delivery,
                progress=progress,
            )
    try:
        with journal.logging():
            delivery.logged = log_interactions(book, journal, user=user, force=force, clock=clock)
    except CrmbookError as e:
        delivery.log_error = (
            f"the messages were sent but not yet logged in {book.location}: {e} "
            "The next crmbook mail or daily run logs them."
        )
    return delivery
