"""The outbox journal: a rerun after a crash never sends anyone the same message twice.

Beside the workbook, `.shop.xlsx.crmbook-outbox.jsonl` holds one JSON line per event, each
flushed and fsynced before crmbook goes on:

    intent   written BEFORE the message is handed to the sender: key, attempt, recipient,
             customer, template, subject, Message-ID
    sent     the sender accepted it
    failed   definitely not sent (an address refused, the server unreachable): tried again
             by the next run
    unknown  the connection broke while the message was on its way
    logged   this attempt is recorded in the workbook's Interactions sheet

The key says what a message is (campaign or template, customer id, day). A key whose last
attempt has an intent and nothing after it (the process was killed mid-send) or ended
unknown is "possibly sent": it is never sent again automatically, and it is reported. A torn
last line (killed while writing it) is ignored: its message was not handed over yet.

Interactions are written to the workbook after the sending, in one save, from the journal;
if that save fails (the workbook is open in Excel), the next run writes them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from filelock import FileLock, Timeout

from crmbook.errors import CrmbookError
from crmbook.mailing.message import Message
from crmbook.mailing.senders import RateLimit, Sender, SendError

JOURNAL_SUFFIX = ".crmbook-outbox.jsonl"
RESULT_COLUMNS = ["customer_id", "name", "to", "status", "detail"]
OUTCOME = {"sent": "success", "failed": "failure", "possibly sent": "neutral"}


def journal_path(workbook: str | os.PathLike) -> Path:
    workbook = Path(workbook)
    return workbook.with_name(f".{workbook.name}{JOURNAL_SUFFIX}")


@dataclass
class JournalEntry:
    """The last attempt at one key, as the journal tells it."""

    key: str
    attempt: int
    state: str  # intent, sent, failed or unknown
    at: dt.datetime
    record: dict
    detail: str = ""
    log: bool = True
    logged_attempt: int = 0

    @property
    def status(self) -> str:
        """sent, failed, or possibly sent (an intent without an answer, or unknown)."""
        return self.state if self.state in ("sent", "failed") else "possibly sent"

    @property
    def needs_logging(self) -> bool:
        return (
            self.log
            and self.record.get("kind") is not None
            and bool(self.record.get("customer_id"))
            and self.attempt > self.logged_attempt
        )


class Outbox:
    """The journal of one workbook."""

    def __init__(self, workbook: str | os.PathLike):
        self.workbook = Path(workbook)
        self.path = journal_path(self.workbook)

    def __repr__(self) -> str:
        return f"<Outbox {self.path}>"

    def entries(self) -> dict[str, JournalEntry]:
        """The last attempt of every key in the journal."""
        found: dict[str, JournalEntry] = {}
        if not self.path.exists():
            return found
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    event = json.loads(line)
                    key, attempt, state = event["key"], int(event["attempt"]), event["event"]
                    at = dt.datetime.fromisoformat(event["at"])
                except (ValueError, KeyError, TypeError):
                    continue  # a line torn by a kill
                entry = found.get(key)
                if state == "intent":
                    logged = entry.logged_attempt if entry else 0
                    found[key] = JournalEntry(key, attempt, "intent", at, event, "", True, logged)
                elif entry is None or attempt != entry.attempt:
                    continue
                elif state == "logged":
                    entry.logged_attempt = attempt
                else:
                    entry.state, entry.at = state, at
                    entry.detail, entry.log = event.get("detail", ""), event.get("log", True)
        return found

    @contextmanager
    def lock(self, timeout: float = 10):
        """Only one run sends from a workbook at a time."""
        folder = Path(tempfile.gettempdir()) / "crmbook-locks"
        folder.mkdir(exist_ok=True)
        key = hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:20]
        try:
            with FileLock(str(folder / f"{key}.outbox.lock"), timeout=timeout):
                yield self
        except Timeout:
            raise CrmbookError(
                f"another crmbook is sending from {self.workbook.name} right now; "
                "wait for it to finish and run this again"
            ) from None

    def intent(self, message: Message, via: str, attempt: int, at: dt.datetime) -> None:
        self._write(
            [
                {
                    "at": at.isoformat(timespec="seconds"),
                    "event": "intent",
                    "key": message.key,
                    "attempt": attempt,
                    "via": via,
                    "channel": message.channel,
                    "to": message.to,
                    "customer_id": message.customer_id,
                    "name": message.name,
                    "template": message.template,
                    "subject": message.subject,
                    "kind": message.kind,
                    "message_id": message.message_id,
                }
            ]
        )

    def answer(
        self, key: str, attempt: int, state: str, detail: str, at: dt.datetime, log: bool = True
    ) -> None:
        self._write(
            [
                {
                    "at": at.isoformat(timespec="seconds"),
                    "event": state,
                    "key": key,
                    "attempt": attempt,
                    "detail": detail,
                    "log": log,
                }
            ]
        )

    def logged(self, entries: Iterable[JournalEntry], at: dt.datetime) -> None:
        stamp = at.isoformat(timespec="seconds")
        self._write(
            [{"at": stamp, "event": "logged", "key": e.key, "attempt": e.attempt} for e in entries]
        )

    def _write(self, events: list[dict]) -> None:
        if not events:
            return
        new = not self.path.exists()
        with self.path.open("a", encoding="utf-8") as f:
            for event in events:
                f.write(json.dumps(event, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if new:
            _sync_folder(self.path.parent)


def _sync_folder(folder: Path) -> None:
    """Make the new journal's name itself survive a power cut (POSIX; Windows cannot)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
    return "possibly sent", (
        f"a run stopped while sending it ({when}); not sent again: look in the sent folder "
        "of the mail server or ask the customer"
    )


def deliver(
    messages: Iterable[Message],
    sender: Sender,
    outbox: Outbox,
    *,
    rate: RateLimit | None = None,
    clock: Callable[[], dt.datetime] = dt.datetime.now,
    delivery: Delivery | None = None,
    progress: Callable[[int, int, Message], None] | None = None,
) -> Delivery:
    """Send each message not sent before; the caller holds outbox.lock().

    The intent is journalled (fsynced) before the sender gets the message and the answer
    right after it, so a kill at any moment leaves a journal that tells the truth.
    `progress(position, total, message)` hears about each message before it is sent.
    """
    delivery = delivery if delivery is not None else Delivery()
    known = outbox.entries()
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
    try:
        sender.open()
        for position, message in enumerate(pending):
            entry = known.get(message.key)
            attempt = entry.attempt + 1 if entry else 1
            if progress is not None:
                progress(position + 1, len(pending), message)
            if sender.network:
                rate.wait()
            outbox.intent(message, sender.via, attempt, clock())
            try:
                result = sender.send(message)
            except SendError as e:
                state = "unknown" if e.maybe_sent else "failed"
                outbox.answer(message.key, attempt, state, str(e), clock(), log=e.maybe_sent)
                delivery.add(message, "possibly sent" if e.maybe_sent else "not sent", str(e))
                for rest in pending[position + 1 :]:
                    delivery.add(rest, "not sent", "stopped after the error above")
                delivery.error = str(e)
                break
            state = "sent" if result.ok else "failed"
            outbox.answer(message.key, attempt, state, result.detail, clock())
            delivery.add(message, state, result.detail)
    except SendError as e:  # opening: nothing was sent
        for message in pending:
            delivery.add(message, "not sent", str(e))
        delivery.error = str(e)
    finally:
        sender.close()
    return delivery


def log_interactions(
    workbook: Path,
    outbox: Outbox,
    *,
    user: str | None = None,
    force: bool = False,
    clock: Callable[[], dt.datetime] = dt.datetime.now,
) -> int:
    """Record every journalled attempt not yet in the workbook as an interaction; save.

    Sent is outcome success, failed is failure, possibly sent is neutral. Returns how many
    interactions were added; the caller holds outbox.lock().
    """
    from crmbook.book import open as open_book

    todo = [e for e in outbox.entries().values() if e.needs_logging]
    if not todo:
        return 0
    book = open_book(workbook, user=user)
    customers = book.customers.df
    owners = dict(zip(customers["id"], customers["owner"], strict=True))
    known = [e for e in todo if e.record["customer_id"] in owners]
    book.interactions.add_many([_interaction(e, owners) for e in known])
    if known:
        book.save(force=force)
    outbox.logged(todo, clock())
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
    outbox: Outbox,
    *,
    rate_per_minute: float | None = None,
    user: str | None = None,
    force: bool = False,
    clock: Callable[[], dt.datetime] = dt.datetime.now,
    progress: Callable[[int, int, Message], None] | None = None,
) -> Delivery:
    """Deliver batches (one per sender) under the outbox lock, then log them in the workbook."""
    delivery = Delivery()
    rate = RateLimit(rate_per_minute)
    with outbox.lock():
        for sender, messages in batches:
            if delivery.error:
                for message in messages:
                    delivery.add(message, "not sent", "stopped after an earlier error")
                continue
            deliver(
                messages,
                sender,
                outbox,
                rate=rate,
                clock=clock,
                delivery=delivery,
                progress=progress,
            )
        try:
            delivery.logged = log_interactions(
                outbox.workbook, outbox, user=user, force=force, clock=clock
            )
        except CrmbookError as e:
            delivery.log_error = (
                f"the messages were sent but not yet logged in {outbox.workbook.name}: {e} "
                "The next crmbook mail or daily run logs them."
            )
    return delivery
