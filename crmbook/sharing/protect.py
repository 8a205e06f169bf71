"""Sharing a copy by email: saved with every record in its save state, optionally with a password.

The encryption itself (the standard Office encryption that Excel and LibreOffice open) lives
with the storage: crmbook/storage/encrypted.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from crmbook.book import Book
from crmbook.errors import CrmbookError
from crmbook.storage.encrypted import WrongPasswordError, decrypt, encrypt, is_encrypted

__all__ = ["WrongPasswordError", "decrypt", "encrypt", "is_encrypted", "share"]


def share(book: Book, out: str | os.PathLike, password: str | None) -> Path:
    """Save `book` with every sheet read, then write the copy to mail.

    That save's generation (storage/state.py) knows every record as it leaves, hand edits
    included, so `merge` finds what both copies started from when they come back.
    """
    out = Path(out)
    if out.resolve() == Path(book.path).resolve():
        raise CrmbookError(f"--out {out} is the workbook itself; choose another file")
    if book.storage.kind != "workbook":  # a database: the copy is a workbook written from it
        from crmbook.sharing.migrate import copy_book

        copied = copy_book(book, out, overwrite=True).book
        copied.close()
        return encrypt(out, out, password) if password else out
    for sheet in book.schema.entities:
        book.table(sheet.name).df  # noqa: B018 -- read, so the generation knows every record
    book.touch()
    book.save()
    source = book.path
    if password:
        return encrypt(source, out, password)
    shutil.copyfile(source, out)
    return out
