"""Where a Book's records live: a workbook file (the default) or a SQL database.

The location a person types chooses: a file name opens the workbook, a database URL
(sqlite:///shop.db, postgresql://user@server/shop) opens the database. The Book hands every
save over as one `Changes` value (changes.py); the storage never sees the Book.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from crmbook.schema import Schema
from crmbook.storage.base import Saved, Storage
from crmbook.storage.changes import Changes, SheetChanges, Upgrade

__all__ = [
    "Changes",
    "Saved",
    "SheetChanges",
    "Storage",
    "Upgrade",
    "create",
    "is_database_url",
    "storage_for",
]

_URL = re.compile(r"^(sqlite|postgres(ql)?)(\+\w+)?://", re.IGNORECASE)


def is_database_url(location: object) -> bool:
    """Whether `location` names a database (sqlite:///..., postgresql://...) and not a file."""
    return isinstance(location, str) and bool(_URL.match(location.strip()))


def storage_for(location: str | os.PathLike, schema: Schema) -> Storage:
    """The storage at `location`: a database for a database URL, else the workbook file."""
    if is_database_url(location):
        from crmbook.storage.sql import SqlStorage

        return SqlStorage(str(location).strip(), schema)
    from crmbook.storage.workbook import WorkbookStorage

    return WorkbookStorage(Path(location), schema)


def create(
    location: str | os.PathLike, schema: Schema, *, overwrite: bool = False, lang: str = "en"
) -> Storage:
    """A new empty book at `location` (a workbook file, or the tables of a database at a
    database URL), its sheets and labels in `lang`, opened."""
    if is_database_url(location):
        from crmbook.storage.sql import create_database

        return create_database(str(location), schema, overwrite=overwrite, lang=lang)
    from crmbook.storage.workbook import create_workbook

    return create_workbook(Path(location), schema, overwrite=overwrite, lang=lang)
