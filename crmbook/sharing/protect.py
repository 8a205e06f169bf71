"""Password protection: the standard Office encryption (ECMA-376 agile), which Excel and
LibreOffice open with the password.

An encrypted workbook is decrypted into a private temporary folder and opened from there;
saving it writes the plain temporary copy and encrypts it back over the original, atomically.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import weakref
from pathlib import Path

import msoffcrypto
from msoffcrypto.exceptions import DecryptionError, FileFormatError, InvalidKeyError
from msoffcrypto.format.ooxml import OOXMLFile

from crmbook.book import Book
from crmbook.errors import CrmbookError, NotAWorkbookError
from crmbook.io.package import OLE2_MAGIC
from crmbook.io.safety import FileState, atomic_replace, check_not_locked


class WrongPasswordError(NotAWorkbookError):
    """The password does not open the workbook."""


def is_encrypted(path: str | os.PathLike) -> bool:
    with Path(path).open("rb") as f:
        return f.read(8) == OLE2_MAGIC


def encrypt(
    source: str | os.PathLike, target: str | os.PathLike, password: str, backups: int = 0
) -> Path:
    """Write an encrypted copy of the plain workbook `source` to `target` (atomically)."""
    if not password:
        raise CrmbookError("give a password that is not empty")
    target = Path(target)
    tmp = target.with_name(f".{target.name}.crmbook-{uuid.uuid4().hex[:8]}")
    try:
        with Path(source).open("rb") as plain, tmp.open("wb") as out:
            OOXMLFile(plain).encrypt(password, out)
        atomic_replace(tmp, target, backups=backups)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def decrypt(source: str | os.PathLike, target: str | os.PathLike, password: str) -> Path:
    """Write the plain workbook inside the encrypted `source` to `target`."""
    source, target = Path(source), Path(target)
    if not is_encrypted(source):
        raise NotAWorkbookError(f"{source} is not password-protected; open it without a password")
    try:
        with source.open("rb") as f:
            office = msoffcrypto.OfficeFile(f)
            office.load_key(password=password, verify_password=True)
            with target.open("wb") as out:
                office.decrypt(out)
    except (InvalidKeyError, DecryptionError) as e:
        target.unlink(missing_ok=True)
        raise WrongPasswordError(
            f"{source}: wrong password (the password is case-sensitive)"
        ) from e
    except FileFormatError as e:
        target.unlink(missing_ok=True)
        raise NotAWorkbookError(f"{source} is not an encrypted Excel workbook: {e}") from e
    return target


class EncryptedBook(Book):
    """A Book opened from an encrypted workbook; save() encrypts again with the same password."""

    def __init__(self, path: Path, password: str, **kwargs):
        self.encrypted_path = Path(path)
        self._password = password
        self._encrypted_state = FileState.of(self.encrypted_path)
        folder = Path(tempfile.mkdtemp(prefix="crmbook-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, folder, True)
        plain = decrypt(self.encrypted_path, folder / self.encrypted_path.name, password)
        super().__init__(plain, **kwargs)

    def __repr__(self) -> str:
        return f"<Book {self.encrypted_path.name} (encrypted)>"

    def save(
        self, path: str | os.PathLike | None = None, *, force: bool = False, backups: int = 3
    ) -> Path:
        target = Path(path) if path else self.encrypted_path
        if target == self.encrypted_path:
            check_not_locked(target, force=force)
            self._encrypted_state.check_unchanged(target, force=force)
        super().save(force=True, backups=0)
        encrypt(self.path, target, self._password, backups)
        if target == self.encrypted_path:
            self._encrypted_state = FileState.of(target)
        return target

    def close(self) -> None:
        super().close()
        self._cleanup()


def open_encrypted(path: str | os.PathLike, password: str, **kwargs) -> EncryptedBook:
    return EncryptedBook(Path(path), password, **kwargs)


def share(book: Book, out: str | os.PathLike, password: str | None) -> Path:
    """Save `book` with the fingerprints of every record, then write the copy to mail.

    The fingerprints let `merge` find what both copies started from when they come back.
    """
    out = Path(out)
    if out.resolve() == Path(book.path).resolve():
        raise CrmbookError(f"--out {out} is the workbook itself; choose another file")
    if book.storage.kind != "workbook":  # a database: the copy is a workbook written from it
        from crmbook.storage.copy import copy_book

        copied = copy_book(book, out, overwrite=True).book
        copied.close()
        return encrypt(out, out, password) if password else out
    for sheet in book.schema.entities:
        book.table(sheet.name).df  # noqa: B018 -- load, so every record is fingerprinted
    book._meta_changed = True
    book.save()
    source = book.path
    if password:
        return encrypt(source, out, password)
    shutil.copyfile(source, out)
    return out
