"""Password-protected workbooks: the standard Office encryption (ECMA-376 agile), which Excel
and LibreOffice open with the password.

An encrypted workbook is decrypted into a private temporary folder and read from there; a
save writes the plain copy there and encrypts it back over the original, atomically.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path

import msoffcrypto
from msoffcrypto.exceptions import DecryptionError, FileFormatError, InvalidKeyError
from msoffcrypto.format.ooxml import OOXMLFile

from crmbook.errors import CrmbookError, NotAWorkbookError
from crmbook.io.package import OLE2_MAGIC
from crmbook.io.safety import (
    FileState,
    Temporary,
    atomic_replace,
    check_not_locked,
    remove_stale_temporaries,
)
from crmbook.schema import Schema
from crmbook.storage.base import Saved
from crmbook.storage.changes import Changes
from crmbook.storage.workbook import WorkbookStorage


class WrongPasswordError(NotAWorkbookError):
    """The password does not open the workbook."""


def is_encrypted(path: str | os.PathLike) -> bool:
    with Path(path).open("rb") as f:
        return f.read(8) == OLE2_MAGIC


def encrypt(
    source: str | os.PathLike,
    target: str | os.PathLike,
    password: str,
    backups: int = 0,
    check: Callable[[], None] | None = None,
) -> Path:
    """Write an encrypted copy of the plain workbook `source` to `target` (atomically)."""
    if not password:
        raise CrmbookError("give a password that is not empty")
    target = Path(target)
    with Temporary(target) as tmp:
        with Path(source).open("rb") as plain, tmp.path.open("wb") as out:
            OOXMLFile(plain).encrypt(password, out)
        atomic_replace(tmp, target, backups=backups, check=check)
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


class EncryptedStorage(WorkbookStorage):
    """A workbook opened with its password; a save encrypts again with the same password.

    `path` is the plain copy in the private folder (what is read and written part by part);
    `location` is the encrypted file the person opened. Its sheets are never cached: the
    cache would keep in plain text what the password protects.
    """

    caches = False

    def __init__(self, path: str | os.PathLike, password: str, schema: Schema):
        self.encrypted_path = Path(path)
        self._password = password
        self._encrypted_state = FileState.of(self.encrypted_path)
        folder = Path(tempfile.mkdtemp(prefix="crmbook-"))
        self._cleanup = weakref.finalize(self, shutil.rmtree, folder, True)
        plain = decrypt(self.encrypted_path, folder / self.encrypted_path.name, password)
        remove_stale_temporaries(self.encrypted_path)
        super().__init__(plain, schema)

    def __repr__(self) -> str:
        return f"<EncryptedStorage {self.encrypted_path.name}>"

    @property
    def location(self) -> str:
        return str(self.encrypted_path)

    def save(
        self, changes: Changes, target: Path | None = None, *, force: bool = False, backups: int = 3
    ) -> Saved:
        target = Path(target) if target else self.encrypted_path

        def still_ours() -> None:
            if target == self.encrypted_path:
                check_not_locked(target, force=force)
                self._encrypted_state.check_unchanged(target, force=force)

        still_ours()
        saved = super().save(changes, force=True, backups=0)
        encrypt(self.path, target, self._password, backups, check=still_ours)
        if target == self.encrypted_path:
            self._encrypted_state = FileState.of(target)
        return dataclasses.replace(saved, path=target)

    def reopen(self) -> EncryptedStorage:
        return EncryptedStorage(self.encrypted_path, self._password, self.schema)

    def close(self) -> None:
        super().close()
        self._cleanup()
