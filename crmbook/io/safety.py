"""Guards around writing the shared file: lock files, changes on disk, atomic replace, backups.

The workbook is shared by email and opened in Excel by people who never run Python; a save
must never clobber their work or leave a half-written file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from crmbook.errors import SaveRefusedError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

BACKUP_FOLDER = ".crmbook-backups"
# A save's file before it is moved in place: .shop.xlsx.crmbook-1a2b3c4d (".crmbook-new" was
# the name `crmbook init` used before). Matched exactly: other files beside the workbook also
# start so, such as the outbox journal .shop.xlsx.crmbook-outbox.jsonl.
TEMPORARY = ".crmbook-"
_TEMPORARY_END = re.compile(r"[0-9a-f]{8}|new")


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
    new: Temporary, target: Path, *, backups: int = 3, check: Callable[[], None] | None = None
) -> None:
    """Move a fully written file over target: readers see the old file or the new, never a mix.

    `check` runs under the write lock just before the move, so a guard such as "unchanged
    since read" cannot be raced by another crmbook saving at the same moment.
    """
    _fsync_file(new.path)
    try:
        with write_lock(target):
            if check is not None:
                check()
            if backups and target.exists():
                _rotate_backups(target, backups)
            new.release()  # under the write lock: no cleaner can take it for a leftover now
            os.replace(new.path, target)
            _fsync_dir(target.parent)
    except Timeout as e:
        raise SaveRefusedError(f"another crmbook is saving {target.name}; try again") from e


def backup_paths(target: Path, backups: int) -> list[Path]:
    folder = target.parent / BACKUP_FOLDER
    return [folder / f"{target.stem}.{i}{target.suffix}" for i in range(1, backups + 1)]


def remove_backups(target: Path) -> list[Path]:
    """Delete every backup of `target` (an erasure: each holds what was erased)."""
    folder = target.parent / BACKUP_FOLDER
    pattern = re.compile(rf"{re.escape(target.stem)}\.\d+{re.escape(target.suffix)}")
    removed = []
    for path in sorted(folder.glob(f"{target.stem}.*{target.suffix}")) if folder.is_dir() else []:
        if pattern.fullmatch(path.name):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _rotate_backups(target: Path, backups: int) -> None:
    """Shift the backups one place and make the current file the first: a hard link to it
    (it is about to be replaced, so the link keeps the old version for free), or a copy
    where the folder cannot link. Each step is a rename, so a kill leaves whole files."""
    paths = backup_paths(target, backups)
    paths[0].parent.mkdir(exist_ok=True)
    for older, newer in zip(reversed(paths[1:]), reversed(paths[:-1]), strict=True):
        if newer.exists():
            os.replace(newer, older)
    staged = _temporary_name(paths[0])
    try:
        try:
            os.link(target, staged)
        except OSError:
            shutil.copy2(target, staged)
        os.replace(staged, paths[0])
    finally:
        staged.unlink(missing_ok=True)


# ---------------------------------------------------------------- temporary files


def _temporary_name(target: Path) -> Path:
    return target.with_name(f".{target.name}{TEMPORARY}{uuid.uuid4().hex[:8]}")


class Temporary:
    """A new file beside `target` (the same folder, so the final move is a rename), held by
    this process while it exists.

    POSIX: an advisory lock (flock) on the file; Windows: the open handle itself, which keeps
    others from deleting it. The operating system lets go of both when the process dies,
    however it dies, so a later crmbook run tells a killed save's leftover (free) from a file
    another process is still writing (held) and removes only the leftover. The file is
    created and locked under the book's write lock, which the cleaner takes too, so it is
    never seen free before it is held. (filelock is no help here: its lock opens the file
    truncating it, which would empty a live one.)
    """

    def __init__(self, target: Path):
        self.path = _temporary_name(target)
        with write_lock(target):
            self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
            _hold(self._fd)

    def __enter__(self) -> Temporary:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        self.path.unlink(missing_ok=True)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def temporaries(target: Path) -> list[Path]:
    """The temporary files crmbook makes for `target`: beside it and in its backup folder."""
    found = []
    for place in (target, *backup_paths(target, 1)):
        prefix = f".{place.name}{TEMPORARY}"
        try:
            names = os.listdir(place.parent)
        except OSError:
            continue
        found += [
            place.with_name(n)
            for n in names
            if n.startswith(prefix) and _TEMPORARY_END.fullmatch(n.removeprefix(prefix))
        ]
    return sorted(set(found))


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove the temporary files that saves of `target` killed half-way left behind; a file
    another process is still writing is left alone. Returns what was removed.

    Skipped (and left for the next run) while another crmbook holds the book's write lock.
    """
    candidates = temporaries(target)
    if not candidates:
        return []
    removed = []
    try:
        with write_lock(target, timeout=0):
            for path in candidates:
                if _remove_if_free(path):
                    removed.append(path)
    except Timeout:
        return removed
    return removed


def _hold(fd: int) -> None:
    if fcntl is None:
        return  # Windows: the open handle already refuses deletion to everyone else
    with contextlib.suppress(OSError):  # a file system without locks: the cleaner cannot tell
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _remove_if_free(path: Path) -> bool:
    if fcntl is None:
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except PermissionError:  # open in the process writing it
            return False
        return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by a live process, or locks do not work here: leave it
        os.close(fd)
        return False
    try:
        path.unlink(missing_ok=True)
    finally:
        os.close(fd)
    return True


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
