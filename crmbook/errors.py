"""Exceptions for input crmbook cannot use at all.

Bad rows are never exceptions: they become issues in a Report. These are raised only when
there is nothing sensible to read or write.
"""


class CrmbookError(Exception):
    """Base class: the message is written for the person at the keyboard."""


class NotAWorkbookError(CrmbookError):
    """The file is missing, corrupt, truncated, encrypted or not an .xlsx at all."""


class ForeignWorkbookError(NotAWorkbookError):
    """The file is a workbook, but not a crmbook book: its rows are imported, not opened."""


class UnsafeWorkbookError(NotAWorkbookError):
    """The file looks like a zip or XML bomb and is refused before it is unpacked."""


class RecordError(CrmbookError):
    """A record given to add/update/delete breaks the schema; nothing was changed."""

    def __init__(self, message: str, issues=()):
        super().__init__(message)
        self.issues = list(issues)


class SaveRefusedError(CrmbookError):
    """Saving now would overwrite someone else's work (locked or changed on disk)."""
