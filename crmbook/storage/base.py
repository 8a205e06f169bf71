"""What a Book needs from the place its records live.

A Book reads sheets, their headers and key columns, hands out ids and saves its changes
through a Storage. Two implementations: the workbook file (storage/workbook.py, the default)
and a SQL database (storage/sql.py: SQLite as the embedded case, PostgreSQL for a team).
Everything above the Book (analytics, reports, CLI, widgets) sees only typed DataFrames and
so works the same on both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmbook.io.reader import RawSheet
from crmbook.schema import Sheet

if TYPE_CHECKING:
    from crmbook.book import Book
    from crmbook.storage.journal import MailJournal


@dataclass
class Pending:
    """One table's changes since it was read, record by record (what a database applies)."""

    inserted: pd.DataFrame
    updated: list[tuple[str, dict[str, object], dict[str, object]]]  # key, new values, old ones
    deleted: list[str]

    def __bool__(self) -> bool:
        return bool(len(self.inserted) or self.updated or self.deleted)


class Storage(ABC):
    """Where a Book's records live."""

    kind: str  # "workbook", "sqlite" or "postgresql"
    row_limit: int | None = None  # the most records one sheet can hold, when there is a limit
    # True when the store keeps the id counters and refuses a second record with an id (a
    # database): reading a sheet then need not scan its ids for numbers typed by hand.
    guards_ids: bool = False
    # True when a sheet keeps columns of the user's own beside the schema's (a workbook)
    user_columns: bool = False

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

    @abstractmethod
    def read(self, name: str) -> RawSheet:
        """All values of one sheet (also Lists and the meta sheet), as stored."""

    @abstractmethod
    def header(self, name: str) -> tuple[list[str], int]:
        """The column headings of one sheet and the row they stand in, without its records."""

    @abstractmethod
    def column(self, name: str, position: int, column: str) -> np.ndarray:
        """One column's non-blank values (the keys), without reading the other columns."""

    def bump_counter(self, meta: dict, sheet: Sheet, number: int) -> bool:
        """Make sure the next id given out is above `number`; True when meta changed."""
        key = f"next_id.{sheet.name}"
        if number + 1 > int(meta.get(key, 1) or 1):
            meta[key] = number + 1
            return True
        return False

    def reserve_ids(self, meta: dict, sheet: Sheet, n: int) -> int:
        """The first of `n` id numbers no one else gets; they are never given out again."""
        key = f"next_id.{sheet.name}"
        start = int(meta.get(key, 1) or 1)
        meta[key] = start + n
        return start

    @abstractmethod
    def save(self, book: Book, target: Path | None, *, force: bool, backups: int) -> dict:
        """Store the book's changes all at once or not at all.

        Returns, per sheet written, the last row it now ends at (0 where rows mean nothing).
        """

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
