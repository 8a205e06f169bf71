"""The outbox journal of a crmbook database: the table `crmbook_outbox`, one row per message.

Two machines running `crmbook daily` (or a mailing) on one database must never send the same
message twice, so the claim is the database's to decide: a new message is claimed by
inserting its row (INSERT ... ON CONFLICT DO NOTHING: of two runs exactly one inserts it), a
failed one is claimed again by moving its row from that failed attempt to the next (an
UPDATE that checks the attempt and the state: exactly one run moves it). Each claim is
committed before the message is handed to the sender, so a run killed after the claim
leaves a claim without an answer: "possibly sent", never sent again, as in the file journal.

Runs that send hold a shared lock on the journal (a PostgreSQL advisory lock, released by
the server when a run dies); recording the attempts as interactions takes it exclusively, so
an attempt still being sent by another machine is never logged as "possibly sent". SQLite
lives on one machine: there a lock file serialises the runs, as for a workbook.

The table is made on first use, also in databases created before it existed; a journal file
an earlier crmbook kept for the database (beside the SQLite file, or named after the
PostgreSQL database in the folder it was run from) is taken over then and renamed
`*.imported`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from crmbook.errors import CrmbookError
from crmbook.storage.journal import (
    JournalEntry,
    MailJournal,
    journal_path,
    machine_lock,
    read_journal_file,
)

OUTBOX_TABLE = "crmbook_outbox"
BATCH = 5_000  # keys per SELECT ... IN (...)
SEND_WAIT = "120s"  # how long a run waits to send while another one logs (a short job)
LOG_WAIT = "30s"  # how long it waits to log while others send; they log it all when done
# The advisory lock's number: any fixed 64-bit value, the same for every crmbook.
_LOCK = int.from_bytes(hashlib.sha1(b"crmbook outbox").digest()[:8], "big", signed=True)
_RECORD_COLUMNS = {  # record field -> column ("to" is a word SQL keeps for itself)
    "via": "via",
    "channel": "channel",
    "to": "recipient",
    "customer_id": "customer_id",
    "name": "name",
    "template": "template",
    "subject": "subject",
    "kind": "kind",
    "message_id": "message_id",
    "by": "claimed_by",
}

_md = sa.MetaData()
outbox_table = sa.Table(
    OUTBOX_TABLE,
    _md,
    sa.Column(
        "key", sa.Text, primary_key=True, comment="what the message is: template/customer/day"
    ),
    sa.Column("attempt", sa.BigInteger, nullable=False),
    sa.Column("state", sa.Text, nullable=False, comment="intent (claimed), sent, failed, unknown"),
    sa.Column("at", sa.DateTime, nullable=False),
    *(sa.Column(column, sa.Text) for column in _RECORD_COLUMNS.values()),
    sa.Column("detail", sa.Text),
    sa.Column("log", sa.Boolean, nullable=False),
    sa.Column("logged_attempt", sa.BigInteger, nullable=False),
    comment="crmbook's outbox journal: every message of a mailing or daily run, once",
)


class SqlJournal(MailJournal):
    """The journal in the database behind `engine`; `shown` names it in messages, and
    `legacy_book_file` is the name an earlier crmbook kept the journal file beside."""

    def __init__(self, engine: Engine, shown: str, legacy_book_file: Path | None = None):
        self.engine = engine
        self.shown = shown
        self.kind = engine.dialect.name
        self.legacy = journal_path(legacy_book_file) if legacy_book_file else None
        self._ready = False

    def __repr__(self) -> str:
        return f"<SqlJournal {self.shown}>"

    # ------------------------------------------------------------ reading

    def entries(self, keys: Iterable[str] | None = None) -> dict[str, JournalEntry]:
        wanted = None if keys is None else list(dict.fromkeys(keys))
        found = self._legacy_entries(wanted)
        if not self._exists():
            return found
        t = outbox_table
        with self.engine.connect() as conn:
            if wanted is None:
                rows = conn.execute(sa.select(t)).mappings().all()
            else:
                rows = []
                for start in range(0, len(wanted), BATCH):
                    part = wanted[start : start + BATCH]
                    rows += conn.execute(sa.select(t).where(t.c.key.in_(part))).mappings().all()
        return found | {row["key"]: _entry(row) for row in rows}

    def unlogged(self) -> list[JournalEntry]:
        if not self._exists() or self._legacy_file() is not None:
            return super().unlogged()
        t = outbox_table
        query = sa.select(t).where(
            t.c.log,
            t.c.kind.is_not(None),
            t.c.customer_id.is_not(None),
            t.c.customer_id != "",
            t.c.attempt > t.c.logged_attempt,
        )
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query.order_by(t.c.at)).mappings()]

    # ------------------------------------------------------------ writing

    def claim(self, key: str, attempt: int, at: dt.datetime, record: dict) -> bool:
        self._prepare()
        t = outbox_table
        values = {
            "attempt": attempt,
            "state": "intent",
            "at": at,
            "detail": "",
            "log": True,
            **{column: record.get(field) for field, column in _RECORD_COLUMNS.items()},
        }
        with self.engine.begin() as conn:
            if attempt == 1:
                insert = self._insert().values(key=key, logged_attempt=0, **values)
                taken = insert.on_conflict_do_nothing(index_elements=["key"])
            else:  # only a failed attempt may be tried again, and only by one run
                taken = (
                    t.update()
                    .where(t.c.key == key, t.c.attempt == attempt - 1, t.c.state == "failed")
                    .values(**values)
                )
            return conn.execute(taken.returning(t.c.key)).first() is not None

    def answer(
        self, key: str, attempt: int, state: str, detail: str, at: dt.datetime, log: bool = True
    ) -> None:
        self._prepare()
        t = outbox_table
        with self.engine.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.key == key, t.c.attempt == attempt)
                .values(state=state, detail=detail, at=at, log=log)
            )

    def logged(self, entries: Iterable[JournalEntry], at: dt.datetime) -> None:
        t = outbox_table
        done = [{"k": e.key, "a": e.attempt} for e in entries]
        if not done:
            return
        self._prepare()
        update = (
            t.update()
            .where(t.c.key == sa.bindparam("k"), t.c.attempt == sa.bindparam("a"))
            .values(logged_attempt=sa.bindparam("a"))
        )
        with self.engine.begin() as conn:
            conn.execute(update, done)

    def take_over(self, entries: Iterable[JournalEntry]) -> None:
        self._prepare()
        self._insert_entries(entries)

    def _insert_entries(self, entries: Iterable[JournalEntry]) -> None:
        rows = [
            {
                "key": e.key,
                "attempt": e.attempt,
                "state": e.state,
                "at": e.at,
                "detail": e.detail or "",
                "log": bool(e.log),
                "logged_attempt": e.logged_attempt,
                **{column: _text(e.record.get(field)) for field, column in _RECORD_COLUMNS.items()},
            }
            for e in entries
        ]
        insert = self._insert().on_conflict_do_nothing(index_elements=["key"])
        with self.engine.begin() as conn:
            for start in range(0, len(rows), BATCH):
                conn.execute(insert, rows[start : start + BATCH])

    # ------------------------------------------------------------ who may send and log

    def sending(self) -> AbstractContextManager:
        if self.kind != "postgresql":
            return machine_lock(self._lock_path(), self.shown)
        return self._advisory("pg_advisory_lock_shared", SEND_WAIT, "logging the messages of")

    def logging(self) -> AbstractContextManager:
        if self.kind != "postgresql":
            return machine_lock(self._lock_path(), self.shown)
        return self._advisory("pg_advisory_lock", LOG_WAIT, "sending from")

    @contextlib.contextmanager
    def _advisory(self, take: str, wait: str, busy: str) -> Iterator[None]:
        """A session lock on a connection of its own; the server drops it if we die."""
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        release = take.replace("_lock", "_unlock")
        try:
            conn.execute(sa.text(f"SET lock_timeout = '{wait}'"))
            try:
                conn.execute(sa.text(f"SELECT {take}(:lock)"), {"lock": _LOCK})
            except OperationalError:
                raise CrmbookError(
                    f"another crmbook is {busy} {self.shown} right now; "
                    "wait for it to finish and run this again"
                ) from None
            try:
                yield
            finally:
                conn.execute(sa.text(f"SELECT {release}(:lock)"), {"lock": _LOCK})
        finally:
            conn.invalidate()  # its lock wait setting (and any lock) never goes back to the pool
            conn.close()

    # ------------------------------------------------------------ helpers

    def _insert(self):
        return (postgresql if self.kind == "postgresql" else sqlite).insert(outbox_table)

    def _lock_path(self) -> Path:
        return Path(self.engine.url.database or OUTBOX_TABLE).absolute()

    def _exists(self) -> bool:
        self._ready = self._ready or sa.inspect(self.engine).has_table(OUTBOX_TABLE)
        return self._ready

    def _legacy_file(self) -> Path | None:
        return self.legacy if self.legacy is not None and self.legacy.exists() else None

    def _legacy_entries(self, keys: list[str] | None) -> dict[str, JournalEntry]:
        """What an earlier crmbook's journal file knows (until the first write takes it over)."""
        legacy = self._legacy_file()
        found = read_journal_file(legacy) if legacy else {}
        return found if keys is None else {k: found[k] for k in keys if k in found}

    def _prepare(self) -> None:
        """Before writing: the table (two runs making it at once is fine), and the journal
        file of an earlier crmbook taken over."""
        if not self._ready:
            try:
                _md.create_all(self.engine, checkfirst=True)
            except DBAPIError:
                if not sa.inspect(self.engine).has_table(OUTBOX_TABLE):
                    raise
            self._ready = True
        legacy = self._legacy_file()
        if legacy is not None:
            self._insert_entries(read_journal_file(legacy).values())
            with contextlib.suppress(OSError):  # another run may have moved it already
                legacy.rename(legacy.with_name(legacy.name + ".imported"))


def _entry(row) -> JournalEntry:
    record = {field: row[column] for field, column in _RECORD_COLUMNS.items()}
    return JournalEntry(
        key=row["key"],
        attempt=int(row["attempt"]),
        state=row["state"],
        at=row["at"],
        record=record,
        detail=row["detail"] or "",
        log=bool(row["log"]),
        logged_attempt=int(row["logged_attempt"]),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
