"""Is an .xlsx whole and plausible? Checked before a parser sees its parts.

A damaged or hostile file must get one clear sentence, never a traceback from deep inside
zipfile, zlib or an XML parser, and never an out-of-memory abort inside the Rust reader
(calamine allocates what a file claims: a shared-string table of four billion entries, or a
grid reaching a value typed in cell XFD1048576). So the claims are checked first, and what
damaged bytes raise from the readers of parts (DAMAGE) becomes one NotAWorkbookError naming
the file and the part.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.etree import ElementTree

from lxml import etree

from crmbook.errors import NotAWorkbookError, UnsafeWorkbookError
from crmbook.io.refs import column_letter, column_number
from crmbook.io.safety import BACKUP_FOLDER

# What damaged bytes raise from the readers of parts (the zip, its deflate streams, the XML).
DAMAGE = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    etree.XMLSyntaxError,
    ElementTree.ParseError,
    UnicodeDecodeError,
)
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
WORKBOOK_TYPES = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    "application/vnd.ms-excel.template.macroEnabled.main+xml",
}
# The most cells one sheet's grid may span: a full-height sheet (1,048,576 rows) 48 columns
# wide. The Rust reader allocates the whole grid, empty cells included.
MAX_CELLS = 1_048_576 * 48
# Every shared string takes at least this many bytes of XML (<si><t/></si>).
MIN_SHARED_STRING_BYTES = 8
# XML parts up to this size are parsed whole when a workbook is verified; sheets are larger.
PARSED_WHOLE = 8 * 1024**2

_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*?\bref="([^"]*)"')
_CELL_WITH_VALUE = re.compile(rb'<(?:\w+:)?c\b[^>]*?\br="([A-Z]{1,7})(\d{1,12})"[^>]*?(?<!/)>')
_REF = re.compile(r"^\$?([A-Z]{1,7})\$?(\d{1,12})$")
_UNIQUE_COUNT = re.compile(rb'\buniqueCount="(\d+)"')


def damage(path: Path, part: str | None, error: BaseException) -> NotAWorkbookError:
    """The one sentence for a file whose bytes are broken."""
    where = f"part {part}: " if part else ""
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return NotAWorkbookError(
        f"{Path(path).name} is damaged ({where}{reason}); nothing was changed. Restore the "
        f"backup copy (in the {BACKUP_FOLDER} folder beside it) or re-save it from Excel."
    )


@contextmanager
def reading(path: Path, part: str | None = None) -> Iterator[None]:
    """Turn what damaged bytes raise while reading `part` into one clear NotAWorkbookError."""
    try:
        yield
    except DAMAGE as e:
        raise damage(path, part, e) from e


def check_entries(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """A part stored twice leaves every reader to guess which one counts: refuse."""
    twice = [name for name, n in Counter(i.filename for i in infos).items() if n > 1]
    if twice:
        raise NotAWorkbookError(
            f"{Path(path).name} is damaged: it holds the part {twice[0]} twice, so no reader can "
            "tell which one is meant. Restore a backup or re-save it from Excel."
        )


def check_content_types(path: Path, types: etree._Element | None, workbook_part: str) -> None:
    """The workbook part must be declared a spreadsheet, as Excel and every reader require."""
    name = Path(path).name
    if types is None:
        raise NotAWorkbookError(
            f"{name} is damaged: it has no [Content_Types].xml, which every Excel file has. "
            "Restore a backup or re-save it from Excel."
        )
    declared = None
    for el in types:
        if el.tag == f"{{{CT_NS}}}Override" and el.get("PartName", "").lstrip("/") == workbook_part:
            declared = el.get("ContentType")
    if declared is None:
        extension = workbook_part.rsplit(".", 1)[-1]
        for el in types.iter(f"{{{CT_NS}}}Default"):
            if (el.get("Extension") or "").lower() == extension:
                declared = el.get("ContentType")
    if declared not in WORKBOOK_TYPES:
        raise NotAWorkbookError(
            f"{name} is not a readable Excel workbook: its content types declare {workbook_part} "
            f"as {declared or 'nothing'}. Re-save it from Excel as 'Excel Workbook (*.xlsx)'."
        )


def check_shared_strings(path: Path, z: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Refuse a shared-string table that claims more entries than its bytes can hold."""
    with reading(path, info.filename), z.open(info) as f:
        head = f.read(4096)
    claimed = _UNIQUE_COUNT.search(head)
    room = info.file_size // MIN_SHARED_STRING_BYTES + 16
    if claimed and int(claimed.group(1)) > room:
        raise UnsafeWorkbookError(
            f"{Path(path).name} is damaged: {info.filename} says it holds "
            f"{int(claimed.group(1)):,} texts but has room for at most {room:,}. "
            "Restore a backup or re-save it from Excel."
        )


def check_sheet_extent(path: Path, z: zipfile.ZipFile, info: zipfile.ZipInfo, sheet: str) -> None:
    """Refuse a sheet whose values span a grid too big to read (a value far outside the table).

    The sheet's own <dimension> says how far it reaches; only when it claims a huge grid (or
    says nothing) are the cells themselves read to find the farthest value.
    """
    with reading(path, info.filename), z.open(info) as f:
        head = f.read(1 << 16)
    declared = _DIMENSION.search(head)
    if declared and _cells(declared.group(1).decode("ascii", "replace")) <= MAX_CELLS:
        return
    far_row, far_column = _farthest_value(path, z, info)
    if far_row * far_column > MAX_CELLS:
        cell = f"{column_letter(far_column)}{far_row}"
        raise NotAWorkbookError(
            f"{Path(path).name}: the sheet {sheet!r} has a value in cell {cell}, so its grid "
            f"spans {far_row * far_column:,} cells, more than crmbook reads "
            f"({MAX_CELLS:,}); clear that cell in Excel (Ctrl+End goes there) and save."
        )


def verify(path: Path, z: zipfile.ZipFile) -> None:
    """Read every part to its end (zip checksums), parse the smaller XML parts whole, and
    check that every relationship leads to a part that is there."""
    parsed: dict[str, etree._Element] = {}
    for info in z.infolist():
        with reading(path, info.filename), z.open(info) as f:
            if info.filename.endswith((".xml", ".rels")) and info.file_size <= PARSED_WHOLE:
                parsed[info.filename] = etree.fromstring(f.read(), _PARSER)
            else:
                while f.read(1 << 20):
                    pass
    present = set(z.namelist())
    for part, root in parsed.items():
        folder, name = posixpath.split(part)
        known = {
            rel.get("Id") for rel in parsed.get(posixpath.join(folder, "_rels", f"{name}.rels"), [])
        }
        for el in root.iter():
            for name, value in el.attrib.items():
                if name.startswith(f"{{{REL_NS}}}") and value not in known:
                    raise _dangling(path, part, f"relationship {value}")
        if not part.endswith(".rels"):
            continue
        source_folder = posixpath.dirname(posixpath.dirname(part))
        for rel in root:
            target = rel.get("Target", "")
            if rel.get("TargetMode") == "External" or not target:
                continue
            resolved = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join(source_folder, target))
            )
            if resolved not in present:
                raise _dangling(path, part, resolved)


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _dangling(path: Path, part: str, missing: str) -> NotAWorkbookError:
    return NotAWorkbookError(
        f"{Path(path).name} is damaged: {part} refers to {missing}, which is not in the file. "
        "Restore a backup or re-save it from Excel."
    )


def _farthest_value(path: Path, z: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int]:
    far_row = far_column = 0
    tail = b""
    with reading(path, info.filename), z.open(info) as f:
        while chunk := f.read(1 << 22):
            text = tail + chunk
            for letters, row in _CELL_WITH_VALUE.findall(text):
                far_row = max(far_row, int(row))
                far_column = max(far_column, column_number(letters.decode()))
            tail = text[-512:]
    return far_row, far_column


def _cells(ref: str) -> int:
    """How many cells a range such as A1:U300 (or a single cell) spans; huge when unreadable."""
    corners = [_REF.match(part.strip()) for part in ref.split(":")]
    if not corners or not all(corners):
        return MAX_CELLS + 1
    rows = [int(c.group(2)) for c in corners]
    columns = [column_number(c.group(1)) for c in corners]
    return (max(rows) - min(rows) + 1) * (max(columns) - min(columns) + 1)
