"""crmbook: a CRM whose database is one structured Excel workbook."""

from crmbook.book import Book, Table, create, open
from crmbook.errors import (
    CrmbookError,
    ForeignWorkbookError,
    NotAWorkbookError,
    RecordError,
    SaveRefusedError,
    UnsafeWorkbookError,
)
from crmbook.schema import SCHEMA
from crmbook.validation import Issue, Report

__all__ = [
    "SCHEMA",
    "Book",
    "CrmbookError",
    "ForeignWorkbookError",
    "Issue",
    "NotAWorkbookError",
    "RecordError",
    "Report",
    "SaveRefusedError",
    "Table",
    "UnsafeWorkbookError",
    "create",
    "open",
]
__version__ = "0.1.0"
