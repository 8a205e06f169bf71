"""Where a Book's records live: a workbook file (the default) or a SQL database.

The location a person types chooses: a file name opens the workbook, a database URL
(sqlite:///shop.db, postgresql://user@server/shop) opens the database.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from crmbook.schema import Schema
from crmbook.storage.base import Pending, Storage

__all__ = ["Pending", "Storage", "is_database_url", "storage_for"]

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
