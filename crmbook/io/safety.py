"""Guards around writing the shared file: lock files, changes on disk, atomic replace, backups.

The workbook is shared by email and opened in Excel by people who never run Python; a save
must never clobber their work or leave a half-written file behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from crmbook.errors import SaveRefusedError

BACKUP_FOLDER = ".crmbook-backups"


def lock_files(path: Path) -> list[Path]:
    """The lock files Excel (~$name) and LibreOffice (.~lock.name#) keep while a file is open."""
    return [path.with_name("~$" + path.name), path.with_name(f".~lock.{path.name}#")]


def check_not_locked(path: Path, *, force: bool = False) -> None:
    held = [p for p in lock_files(path) if p.exists()]
    if held and not force:
        app = "Excel" if held[0].name.startswith("~$") else "LibreOffice"
        raise SaveRefusedError(
            f"{path.name} is open in {app} (lock file {held[0].name}); nothing was saved. "
            f"Close it in {app} and try again, or use --force if the lock file is stale."
        )


@dataclass(frozen=True)
class FileState:
    """What the file looked like when crmbook read it, to notice edits made since."""

    mtime_ns: int
    size: int
    inode: int  # every crmbook save (and Excel's) replaces the file, so the inode changes too

    @classmethod
    def of(cls, path: Path) -> FileState:
        st = path.stat()
        return cls(st.st_mtime_ns, st.st_size, st.st_ino)

    def check_unchanged(self, path: Path, *, force: bool = False) -> None:
        if force or not path.exists():
            return
        if FileState.of(path) != self:
            raise SaveRefusedError(
                f"{path.name} changed on disk since crmbook read it (someone saved it in Excel "
                "or another crmbook); nothing was saved. Open it again and redo the change, "
                "merge the two versions (crmbook merge), or use --force to overwrite."
            )


def write_lock(path: Path, timeout: float = 30) -> FileLock:
    """A lock around the write so two crmbook processes never interleave.

    It lives in the temp folder, keyed by the workbook's full path, so nothing is left
    beside a workbook that people mail around.
    """
    folder = Path(tempfile.gettempdir()) / "crmbook-locks"
    folder.mkdir(exist_ok=True)
    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:20]
    return FileLock(str(folder / f"{key}.lock"), timeout=timeout)


def atomic_replace(
    new: Path, target: Path, *, backups: int = 3, check: Callable[[], None] | None = None
) -> None:
    """Move a fully written file over target: readers see the old file or the new, never a mix.

    `check` runs under the write lock just before the move, so a guard such as "unchanged
    since read" cannot be raced by another crmbook saving at the same moment.
    """
    _fsync_file(new)
    try:
        with write_lock(target):
            if check is not None:
                check()
            if backups and target.exists():
                _rotate_backups(target, backups)
            os.replace(new, target)
            _fsync_dir(target.parent)
    except Timeout as e:
        raise SaveRefusedError(f"another crmbook is saving {target.name}; try again") from e


def backup_paths(target: Path, backups: int) -> list[Path]:
    folder = target.parent / BACKUP_FOLDER
    return [folder / f"{target.stem}.{i}{target.suffix}" for i in range(1, backups + 1)]


def _rotate_backups(target: Path, backups: int) -> None:
    paths = backup_paths(target, backups)
    paths[0].parent.mkdir(exist_ok=True)
    for older, newer in zip(reversed(paths[1:]), reversed(paths[:-1]), strict=True):
        if newer.exists():
            os.replace(newer, older)
    shutil.copy2(target, paths[0])


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
