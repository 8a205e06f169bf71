"""A private cache of parsed sheets: re-opening a book whose parts did not change parses no XML.

Each entry is one Arrow IPC file holding a sheet's columns, with a JSON description in the
schema metadata, memory-mapped when read. Entries live in the user's cache folder
(`platformdirs.user_cache_path("crmbook")/sheets`, e.g. ~/.cache/crmbook/sheets on Linux;
CRMBOOK_CACHE_DIR moves it), one folder per book, readable by its owner only (folders 0700,
files 0600). `CRMBOOK_NO_CACHE=1` (or `crmbook --no-cache`) turns it off; CRMBOOK_CACHE_MB
bounds its size (default 2048): the entries used longest ago go first, and a sheet keeps its
two newest versions.

Nothing in it is trusted: an entry counts only when it is a regular file (not a symlink)
owned by this user and private to them, its CRC-32 matches its bytes, and the key written
inside it is the key asked for. Anything else is removed and rebuilt from the workbook.
The key is made by the storage (storage/workbook.py) from what the parse depends on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import re
import shutil
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

NO_CACHE = "CRMBOOK_NO_CACHE"
CACHE_DIR = "CRMBOOK_CACHE_DIR"
CACHE_MB = "CRMBOOK_CACHE_MB"
DEFAULT_MB = 2048
KEEP_PER_SHEET = 2  # versions of one sheet kept (a book and its copy opened in turn)
SUFFIX = ".arrow"
# The names crmbook gives a book's folder and its entries (see SheetCache._path).
_BOOK_FOLDER = re.compile(r"[0-9a-f]{16}")
_ENTRY = re.compile(r"[0-9a-f]{12}\.[0-9a-f]{24}\.[0-9a-f]{16}" + re.escape(SUFFIX))
# After the Arrow file: its CRC-32 and length, then this mark.
_TRAILER = struct.Struct("<IQ8s")
_MARK = b"crmbook1"
_ABOUT = b"crmbook"  # schema metadata key of the JSON description


def enabled() -> bool:
    return os.environ.get(NO_CACHE, "").strip().lower() not in ("1", "true", "yes", "on")


def cache_root() -> Path:
    """Where the cache lives (whether or not it exists yet)."""
    given = os.environ.get(CACHE_DIR, "").strip()
    if given:
        return Path(given).expanduser()
    import platformdirs

    return platformdirs.user_cache_path("crmbook", appauthor=False) / "sheets"


def _digest(text: str, size: int = 16) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=size).hexdigest()


@dataclass(frozen=True)
class Entry:
    table: pa.Table  # columns memory-mapped from the file
    about: dict  # the JSON description stored with them


class Unusable(Exception):
    """The file is not an entry this cache may trust."""


class SheetCache:
    """The cached sheets of one book (a book and its copies share them: same workbook id)."""

    def __init__(self, root: Path, book: str):
        self.root = root
        self.folder = root / _digest(book, 8)
        # Entries checked by this instance, with their file's identity then: an open asks
        # for a sheet's entry more than once (header, ids, frame), its CRC is taken once.
        self._checked: dict[Path, tuple[tuple[int, ...], Entry]] = {}

    @classmethod
    def of_book(cls, book: str) -> SheetCache | None:
        """The cache of the book with this identity; None when off or unusable here."""
        if not enabled():
            return None
        return cls.anyway(book)

    @classmethod
    def anyway(cls, book: str) -> SheetCache | None:
        """The cache of the book even while caching is off (an erasure must empty what an
        earlier run stored); None when unusable here."""
        root = cache_root()
        try:
            _private_folder(root)
        except OSError:
            return None
        return cls(root, book)

    # ------------------------------------------------------------ reading

    def get(self, sheet: str, key: str, variant: str) -> Entry | None:
        """The entry stored under `key` and `variant`, or None (an untrustworthy file is
        removed)."""
        return self._open(self._path(sheet, key, variant), f"{key} || {variant}")

    def any(self, sheet: str, key: str) -> Entry | None:
        """Some entry stored under `key`, whatever its variant."""
        for path in sorted(self.folder.glob(self._path(sheet, key, "*").name)):
            entry = self._open(path, None)
            if entry is None:
                continue
            if str(entry.about.get("key", "")).startswith(f"{key} || "):
                return entry
            _remove(path)
        return None

    def _open(self, path: Path, key: str | None) -> Entry | None:
        entry = self._checked_before(path)
        if entry is None:
            try:
                entry = _read(path)
            except FileNotFoundError:
                return None
            except (Unusable, OSError, pa.ArrowException, ValueError):
                _remove(path)
                return None
        if key is not None and entry.about.get("key") != key:
            _remove(path)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: evicted last
            self._checked[path] = (_identity(path), entry)
        return entry

    def _checked_before(self, path: Path) -> Entry | None:
        """The entry this instance checked, while its file is the one it checked (any
        write, replacement, chmod or chown changes the inode's change time)."""
        known = self._checked.get(path)
        try:
            return known[1] if known and known[0] == _identity(path) else None
        except OSError:
            return None

    # ------------------------------------------------------------ writing

    def put(self, sheet: str, key: str, variant: str, table: pa.Table, about: dict) -> None:
        """Store an entry; a cache that cannot be written is simply not used."""
        about = {**about, "key": f"{key} || {variant}"}
        meta = {**(table.schema.metadata or {}), _ABOUT: json.dumps(about).encode("utf-8")}
        table = table.replace_schema_metadata(meta)
        path = self._path(sheet, key, variant)
        try:
            _private_folder(self.folder)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
            _write(tmp, table)
            os.replace(tmp, path)
        except (OSError, pa.ArrowException):
            with contextlib.suppress(NameError):
                _remove(tmp)
            return
        self._evict(sheet)

    def drop(self) -> None:
        """Remove every entry of this book (after an erasure nothing of it may stay here);
        OSError when one cannot be removed."""
        self._checked.clear()
        if self.folder.is_symlink():
            self.folder.unlink()
        elif self.folder.exists():
            shutil.rmtree(self.folder)

    def _path(self, sheet: str, key: str, variant: str) -> Path:
        """sheet.key.variant.arrow, each a hash ('*' for any variant)."""
        kind = "*" if variant == "*" else _digest(variant, 8)
        return self.folder / f"{_digest(sheet, 6)}.{_digest(key, 12)}.{kind}{SUFFIX}"

    def _evict(self, sheet: str) -> None:
        """Keep the newest versions of this sheet, and the whole cache within its bound."""
        prefix = f"{_digest(sheet, 6)}."
        mine = sorted(_entries(self.folder), key=lambda e: e[1], reverse=True)
        for path, _, _ in [e for e in mine if e[0].name.startswith(prefix)][KEEP_PER_SHEET:]:
            _remove(path)
        limit = _limit_bytes()
        every = sorted(
            (e for folder in _folders(self.root) for e in _entries(folder)), key=lambda e: e[1]
        )
        total = sum(size for _, _, size in every)
        for path, _, size in every:
            if total <= limit:
                break
            _remove(path)
            total -= size


def _limit_bytes() -> int:
    try:
        return int(float(os.environ.get(CACHE_MB, DEFAULT_MB)) * 1024**2)
    except ValueError:
        return DEFAULT_MB * 1024**2


def _folders(root: Path) -> list[Path]:
    """The books' folders: only names crmbook gives (CRMBOOK_CACHE_DIR may name a folder
    that holds other things too, which are never touched)."""
    try:
        return [
            p
            for p in root.iterdir()
            if _BOOK_FOLDER.fullmatch(p.name) and p.is_dir() and not p.is_symlink()
        ]
    except OSError:
        return []


def _entries(folder: Path) -> list[tuple[Path, float, int]]:
    """(path, last used, size) of the entries in one book's folder."""
    out = []
    try:
        paths = list(folder.iterdir())
    except OSError:
        return out
    for path in paths:
        try:
            st = path.lstat()
        except OSError:
            continue
        if _ENTRY.fullmatch(path.name) and stat.S_ISREG(st.st_mode):
            out.append((path, st.st_mtime, st.st_size))
    return out


def _identity(path: Path) -> tuple[int, ...]:
    st = path.lstat()
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


def _owner_checks() -> bool:
    return hasattr(os, "getuid")


def _private_folder(folder: Path) -> None:
    """Make the folder if needed; refuse one that is not this user's own and private."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = folder.lstat()
    if stat.S_ISLNK(st.st_mode):
        st = folder.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise OSError(f"{folder} is not a folder")
    if _owner_checks():
        if st.st_uid != os.getuid():
            raise OSError(f"{folder} belongs to another user")
        if st.st_mode & 0o077:
            os.chmod(folder, 0o700)


def _write(path: Path, table: pa.Table) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(fd, "wb") as f:
        sink = _Checksummed(f)
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        f.write(_TRAILER.pack(sink.crc, sink.length, _MARK))
    # No fsync: an entry a crash left half-written fails its CRC-32 check and is rebuilt.


class _Checksummed:
    """A file-like sink that keeps the CRC-32 and length of what passes through it."""

    closed = False

    def __init__(self, f):
        self.f, self.crc, self.length = f, 0, 0

    def write(self, data) -> int:
        view = memoryview(data)
        self.crc = zlib.crc32(view, self.crc)
        self.length += view.nbytes
        return self.f.write(view)

    def tell(self) -> int:
        return self.length

    def flush(self) -> None:
        self.f.flush()

    def close(self) -> None:
        """The underlying file is closed by its owner."""


def _read(path: Path) -> Entry:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise Unusable(f"{path.name}: {e}") from e  # a symlink (ELOOP), unreadable
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Unusable(f"{path.name} is not a regular file")
        if _owner_checks() and (st.st_uid != os.getuid() or st.st_mode & 0o077):
            raise Unusable(f"{path.name} is not this user's private file")
        if st.st_size <= _TRAILER.size:
            raise Unusable(f"{path.name} is truncated")
        mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)
    crc, length, mark = _TRAILER.unpack(mapped[-_TRAILER.size :])
    if mark != _MARK or length != len(mapped) - _TRAILER.size:
        raise Unusable(f"{path.name} is truncated or not a crmbook cache entry")
    body = memoryview(mapped)[:length]
    if zlib.crc32(body) != crc:
        raise Unusable(f"{path.name} is damaged (CRC-32 differs)")
    table = pa.ipc.open_file(pa.py_buffer(body)).read_all()
    about = json.loads((table.schema.metadata or {}).get(_ABOUT, b"{}"))
    if not isinstance(about, dict):
        raise Unusable(f"{path.name} has no description")
    return Entry(table, about)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
