"""What a Book needs from the place its records live.

A Book reads sheets, their columns and keys, hands out ids and saves one `Changes` value
through a Storage. Two implementations: the workbook file (storage/workbook.py, the default;
storage/encrypted.py for a password-protected one) and a SQL database (storage/sql.py: SQLite
as the embedded case, PostgreSQL for a team). Everything above the Book (analytics, reports,
CLI, widgets) sees only typed DataFrames and so works the same on all of them.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmbook.errors import NotAWorkbookError
from crmbook.io.reader import RawSheet
from crmbook.schema import Schema, Sheet
from crmbook.storage.changes import COUNTER, Changes
from crmbook.storage.frames import LoadedSheet
from crmbook.validation import highest_id_number
from crmbook.values import missing

if TYPE_CHECKING:
    from collections.abc import Callable

    from crmbook.storage.journal import MailJournal
    from crmbook.storage.state import SaveState


@dataclass(frozen=True)
class Saved:
    """What a save tells the Book back."""

    path: Path  # where the book was saved
    meta: Mapping[str, object]  # the metadata as now stored (counters, save state included)
    # Per sheet whose `records` were given: where each record now stands, in the order of
    # `records` (the Excel row, for the validation report). A database has no rows.
    rows: Mapping[str, list[int | None]] = field(default_factory=dict)


class Storage(ABC):
    """Where a Book's records live."""

    kind: str  # "workbook", "sqlite" or "postgresql"
    row_limit: int | None = None  # the most records one sheet can hold, when there is a limit
    # True when the store keeps the id counters and refuses a second record with an id (a
    # database): reading a sheet then need not scan its ids for numbers typed by hand.
    guards_ids: bool = False
    # True when a sheet keeps columns of the user's own beside the schema's (a workbook)
    user_columns: bool = False
    # True when the next save needs every record of every sheet (a workbook without a save
    # state yet makes it from them); the Book then reads every sheet before saving.
    wants_every_record: bool = False

    def __init__(self, schema: Schema):
        self.schema = schema
        self._meta: dict[str, object] | None = None

    @property
    @abstractmethod
    def path(self) -> Path:
        """The file; for a server database, a name in the current folder that the files
        belonging with it (mail settings) are named after."""

    @property
    def location(self) -> str:
        """What a person types to open it again: a file name or a database URL."""
        return str(self.path)

    @property
    @abstractmethod
    def sheet_names(self) -> list[str]:
        """crmbook's names of the sheets (tables) present, and any others the store holds."""

    @property
    def actual_names(self) -> list[str]:
        """The sheet names as the store shows them (a German workbook says Kunden)."""
        return self.sheet_names

    @property
    def renamed(self) -> bool:
        """Whether any crmbook sheet goes by another name here (another language)."""
        return False

    # ------------------------------------------------------------ reading

    @abstractmethod
    def read(self, name: str) -> RawSheet:
        """All values of one sheet (also Lists and the meta sheet), as stored."""

    def load(
        self, name: str, context: str, parse: Callable[[RawSheet], LoadedSheet]
    ) -> LoadedSheet:
        """One schema sheet read and typed by `parse`. A store that caches parsed sheets
        (the workbook) gives back what `parse` gave the last time, as long as the sheet and
        `context` (what else the parse depends on) are unchanged."""
        return parse(self.read(name))

    def drop_cache(self) -> None:
        """Forget every cached copy of this book's sheets (an erasure leaves none behind)."""
        return None

    @abstractmethod
    def columns(self, name: str) -> list[str]:
        """The columns of one schema sheet in stored order, by crmbook's field names (a
        person's own column by its heading), without reading its records."""

    @abstractmethod
    def keys(self, name: str) -> np.ndarray:
        """The non-blank keys of one schema sheet, without reading its other columns."""

    def metadata(self) -> dict[str, object]:
        """The book's metadata as stored: schema version, identity, language, id counters
        (next_id.<sheet>), save state."""
        if self._meta is None:
            self._meta = _meta_pairs(self.read(self.schema.meta_sheet), self.location)
        return dict(self._meta)

    def save_state(self) -> SaveState | None:
        """What each save of this copy knew of every record (storage/state.py), for merging
        copies of one workbook; None for a store that is not copied (a database)."""
        return None

    def rows_taken(self, name: str) -> int:
        """How many rows below its header a sheet's records take, for the row limit (read
        cheaply: its key column only)."""
        return len(self.keys(name)) if self.schema.sheet(name).key else 0

    # ------------------------------------------------------------ ids

    def top_id(self, name: str) -> int | None:
        """The highest number among the ids stored in a sheet (typed by hand included), so
        the Book never gives out one of them; None when no id ends in a number."""
        return highest_id_number(pd.Series(self.keys(name), dtype=object))

    def reserve_ids(self, sheet: Sheet, n: int, next_id: int) -> int:
        """The first of `n` id numbers no one else gets; they are never given out again.

        `next_id` is the book's counter as it knows it: a file has no other (the Book stores
        the counter with its changes); a database hands out its own, under a lock.
        """
        return next_id

    def bump_counter(self, sheet: Sheet, number: int) -> None:
        """Make sure no id number up to `number` is handed out (it was typed by hand or
        given out elsewhere). A file keeps its counters in the book's changes."""
        return None

    # ------------------------------------------------------------ saving

    @abstractmethod
    def save(
        self, changes: Changes, target: Path | None = None, *, force: bool = False, backups: int = 3
    ) -> Saved:
        """Store `changes` all at once or not at all (to `target` instead, when given);
        refuse when someone else changed what they touch since it was read (unless `force`).
        `backups`: how many earlier versions a file keeps."""

    @abstractmethod
    def discard(self) -> None:
        """Remove what this storage holds (a copy that failed half-way leaves nothing)."""

    def verify(self) -> None:  # noqa: B027 - nothing to check by default
        """Raise NotAWorkbookError when part of what is stored is damaged (a database
        guards its own pages; a workbook file checks every part)."""

    @abstractmethod
    def close(self) -> None:
        """Let go of files and connections."""

    @abstractmethod
    def reopen(self) -> Storage:
        """The same place opened afresh, to see what others saved since."""

    def journal(self) -> MailJournal:
        """The outbox journal of the mailings sent from this book (storage/journal.py):
        a file beside it, unless the store keeps the journal itself."""
        from crmbook.storage.journal import FileJournal

        return FileJournal(self.path)

    def meta_after(self, changes: Changes) -> dict[str, object]:
        """The metadata as the save leaves it: the Book's (or as stored), with the counters."""
        stored = self.metadata()
        counters = {k: v for k, v in stored.items() if k.startswith(COUNTER)}
        counters |= {f"{COUNTER}{name}": number for name, number in changes.counters.items()}
        base = (
            changes.meta
            if changes.meta is not None
            else {k: v for k, v in stored.items() if not k.startswith(COUNTER)}
        )
        return {**base, **counters}


def _meta_pairs(raw: RawSheet, location: str) -> dict[str, object]:
    """The meta sheet's key/value rows. An id counter that is not a whole number is damage
    (a hand edit, or shared strings out of place): refused, since guessing it could give out
    an id again."""
    if raw.frame.empty:
        return {}
    book = location if "://" in location else Path(location).name
    where = f"{book}: crmbook's hidden sheet {raw.name!r}"
    if raw.frame.shape[1] < 2:
        raise NotAWorkbookError(
            f"{where} has lost its column of values; restore the backup copy of the book"
        )
    meta: dict[str, object] = {}
    for key, value, row in zip(raw.frame.iloc[:, 0], raw.frame.iloc[:, 1], raw.rows, strict=True):
        key, value = str(key).strip(), _meta_value(value)
        if key.startswith(COUNTER) and missing(value):
            continue
        if key.startswith(COUNTER) and not isinstance(value, int):
            place = "" if row is None else f", row {row}"
            raise NotAWorkbookError(
                f"{where}{place}: {key} should be the next id number to give out, not "
                f"{str(value)[:40]!r}; type one more than the highest id of that sheet beside "
                "it, or restore the backup copy of the book"
            )
        meta[key] = value
    return meta


def _meta_value(value: object) -> object:
    """Counters and versions come back as numbers whether the cell held 7, 7.0 or '7'."""
    text = str(value).strip()
    if re.fullmatch(r"\d+(\.0)?", text):
        return int(float(text))
    return value
