"""The outbox journal: what a book's mailings sent, so no message ever goes twice.

Every message has a key (campaign or template, customer, day). Before a message is handed
to a sender, its attempt is *claimed* in the journal (durably); the answer follows. A claim
without an answer means the run stopped while sending (or is sending right now): that
message is "possibly sent" and never sent again automatically. Only a definite failure may
be tried again, as the next attempt.

A Storage hands out its book's journal (Storage.journal()): by default a file beside the
workbook (FileJournal, here); a database keeps it in a table of its own, so that several
machines sending from one database never send the same message twice (sql_journal.py).
The journal speaks keys and plain records; what a message is belongs to crmbook.mailing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from crmbook.errors import CrmbookError

JOURNAL_SUFFIX = ".crmbook-outbox.jsonl"
STATES = ("intent", "sent", "failed", "unknown")
RECORD_FIELDS = (
    "via",
    "channel",
    "to",
    "customer_id",
    "name",
    "template",
    "subject",
    "kind",
    "message_id",
    "by",
)


def journal_path(book_file: str | os.PathLike) -> Path:
    """The file journal of a workbook: `.shop.xlsx.crmbook-outbox.jsonl` beside it."""
    book_file = Path(book_file)
    return book_file.with_name(f".{book_file.name}{JOURNAL_SUFFIX}")


def this_run() -> str:
    """Who claims a message: this machine and process, for "possibly sent" reports."""
    return f"{socket.gethostname()} (process {os.getpid()})"


@dataclass
class JournalEntry:
    """The last attempt at one key, as the journal tells it.

    `record` holds what the message was (RECORD_FIELDS: recipient `to`, customer_id, template,
    subject, kind, `by` the run that claimed it...).
    """

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
        """sent, failed, or possibly sent (a claim without an answer, or unknown)."""
        return self.state if self.state in ("sent", "failed") else "possibly sent"

    @property
    def needs_logging(self) -> bool:
        """Whether this attempt still has to be recorded as an interaction."""
        return (
            self.log
            and self.record.get("kind") is not None
            and bool(self.record.get("customer_id"))
            and self.attempt > self.logged_attempt
        )


class MailJournal(ABC):
    """The outbox journal of one book, wherever it lives."""

    @abstractmethod
    def entries(self, keys: Iterable[str] | None = None) -> dict[str, JournalEntry]:
        """The last attempt of each of `keys` the journal knows (every key: None)."""

    def unlogged(self) -> list[JournalEntry]:
        """The attempts not yet recorded as interactions in the book."""
        return [e for e in self.entries().values() if e.needs_logging]

    @abstractmethod
    def claim(self, key: str, attempt: int, at: dt.datetime, record: dict) -> bool:
        """Take attempt `attempt` of `key` before sending it, durably; False when someone
        else claimed it (or another attempt of it) first: then it must not be sent."""

    @abstractmethod
    def answer(
        self, key: str, attempt: int, state: str, detail: str, at: dt.datetime, log: bool = True
    ) -> None:
        """What became of a claimed attempt: sent, failed (may be tried again) or unknown."""

    @abstractmethod
    def logged(self, entries: Iterable[JournalEntry], at: dt.datetime) -> None:
        """These attempts are now recorded as interactions in the book."""

    @abstractmethod
    def take_over(self, entries: Iterable[JournalEntry]) -> None:
        """Adopt another journal's history (a workbook moved into a database); a key this
        journal knows already keeps what it knows."""

    @abstractmethod
    def sending(self) -> AbstractContextManager:
        """Held while a run claims and sends."""

    @abstractmethod
    def logging(self) -> AbstractContextManager:
        """Held while a run records the attempts in the book: nobody else logs or sends then."""


class FileJournal(MailJournal):
    """The journal beside a workbook: one JSON line per event, each flushed and fsynced
    before crmbook goes on.

        intent   the claim, written BEFORE the message is handed to the sender: key,
                 attempt, and the record (recipient, customer, template, Message-ID...)
        sent     the sender accepted it
        failed   definitely not sent (an address refused, the server unreachable)
        unknown  the connection broke while the message was on its way
        logged   this attempt is recorded in the workbook's Interactions sheet

    A torn last line (killed while writing it) is ignored: its message was not handed over
    yet. A file cannot be claimed in atomically by two processes, so a run holds a lock on
    it for all its sending and logging: one run at a time per workbook and machine.
    """

    def __init__(self, book_file: str | os.PathLike):
        self.book_file = Path(book_file)
        self.path = journal_path(self.book_file)

    def __repr__(self) -> str:
        return f"<FileJournal {self.path}>"

    def entries(self, keys: Iterable[str] | None = None) -> dict[str, JournalEntry]:
        found = read_journal_file(self.path)
        if keys is None:
            return found
        return {key: found[key] for key in keys if key in found}

    def claim(self, key: str, attempt: int, at: dt.datetime, record: dict) -> bool:
        event = {"at": _stamp(at), "event": "intent", "key": key, "attempt": attempt}
        self._write([{**event, **{k: record.get(k) for k in RECORD_FIELDS}}])
        return True  # the caller holds sending(): nobody else writes this journal

    def answer(
        self, key: str, attempt: int, state: str, detail: str, at: dt.datetime, log: bool = True
    ) -> None:
        self._write(
            [
                {
                    "at": _stamp(at),
                    "event": state,
                    "key": key,
                    "attempt": attempt,
                    "detail": detail,
                    "log": log,
                }
            ]
        )

    def logged(self, entries: Iterable[JournalEntry], at: dt.datetime) -> None:
        stamp = _stamp(at)
        self._write(
            [{"at": stamp, "event": "logged", "key": e.key, "attempt": e.attempt} for e in entries]
        )

    def take_over(self, entries: Iterable[JournalEntry]) -> None:
        known = self.entries()
        events = []
        for e in entries:
            if e.key in known:
                continue
            head = {"key": e.key, "attempt": e.attempt}
            record = {k: e.record.get(k) for k in RECORD_FIELDS}
            events.append({"at": _stamp(e.at), "event": "intent", **head, **record})
            if e.state != "intent":
                answer = {"event": e.state, "detail": e.detail, "log": e.log}
                events.append({"at": _stamp(e.at), **answer, **head})
            if e.logged_attempt >= e.attempt:
                events.append({"at": _stamp(e.at), "event": "logged", **head})
        self._write(events)

    def sending(self) -> AbstractContextManager:
        return machine_lock(self.path, self.book_file.name)

    def logging(self) -> AbstractContextManager:
        return machine_lock(self.path, self.book_file.name)

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


def read_journal_file(path: Path) -> dict[str, JournalEntry]:
    """The last attempt of every key in a journal file (none when there is no file)."""
    found: dict[str, JournalEntry] = {}
    if not path.exists():
        return found
    with path.open(encoding="utf-8") as f:
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
def machine_lock(path: Path, shown: str, timeout: float = 10) -> Iterator[None]:
    """Only one crmbook on this machine sends from (or logs into) one book at a time."""
    folder = Path(tempfile.gettempdir()) / "crmbook-locks"
    folder.mkdir(exist_ok=True)
    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:20]
    try:
        with FileLock(str(folder / f"{key}.outbox.lock"), timeout=timeout):
            yield
    except Timeout:
        raise CrmbookError(
            f"another crmbook is sending from {shown} right now; "
            "wait for it to finish and run this again"
        ) from None


def _stamp(at: dt.datetime) -> str:
    return at.isoformat(timespec="seconds")


def _sync_folder(folder: Path) -> None:
    """Make a new journal's name itself survive a power cut (POSIX; Windows cannot)."""
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
