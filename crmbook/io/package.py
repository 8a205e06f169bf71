"""An .xlsx file as a zip of XML parts, opened defensively.

Everything that touches the raw file goes through here first, so corrupt, encrypted and
hostile files are turned away with one clear message before any parser sees them.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from crmbook.errors import NotAWorkbookError, UnsafeWorkbookError
from crmbook.io.integrity import (
    DAMAGE,
    check_content_types,
    check_entries,
    check_shared_strings,
)
from crmbook.io.safety import BACKUP_FOLDER
from crmbook.io.stamp import read_stamp

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"

# Real workbooks compress XML 5-20x; the 100,000-customer benchmark book is ~4x.
MAX_TOTAL_UNCOMPRESSED = 4 * 1024**3
MAX_RATIO = 200
RATIO_APPLIES_ABOVE = 16 * 1024**2

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False
)


def parse_xml(data: bytes, part: str) -> etree._Element:
    """Parse a small XML part (workbook, rels, table) refusing DTDs and entities."""
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data[:4096]:
        raise UnsafeWorkbookError(
            f"{part} declares a DTD or entities; refusing to read it "
            "(such files can be XML bombs). Re-save it from Excel."
        )
    try:
        return etree.fromstring(data, SAFE_PARSER)
    except etree.XMLSyntaxError as e:
        raise NotAWorkbookError(
            f"{part} is not well-formed XML ({e}); the file is damaged. "
            "Restore a backup or re-save it from Excel."
        ) from e


def check_file(path: Path) -> None:
    """Refuse anything that is not a readable, plausible .xlsx before parsing it."""
    if not path.exists():
        raise NotAWorkbookError(
            f"{path}: no such file. Check the path, or create a workbook with crmbook init."
        )
    if path.is_dir():
        raise NotAWorkbookError(f"{path} is a folder, not a workbook; give the path of the .xlsx")
    with path.open("rb") as f:
        head = f.read(8)
    if not head:
        raise NotAWorkbookError(
            f"{path} is empty (0 bytes), not a workbook. Restore the backup copy "
            f"(in the {BACKUP_FOLDER} folder beside it) or create a new one with crmbook init."
        )
    if head == OLE2_MAGIC:
        raise NotAWorkbookError(
            f"{path} is password-protected (encrypted) or an old .xls file. Remove the password "
            "in Excel (File > Info > Protect Workbook) or re-save it as 'Excel Workbook (*.xlsx)'."
        )
    if not head.startswith(b"PK"):
        raise NotAWorkbookError(
            f"{path} is not an Excel workbook (.xlsx): it is not a zip file. "
            "Save it from Excel as 'Excel Workbook (*.xlsx)'."
        )


@dataclass(frozen=True)
class SheetPart:
    name: str
    part: str
    state: str = "visible"  # "hidden" (the person can show it) or "veryHidden" (only code can)

    @property
    def hidden(self) -> bool:
        return self.state != "visible"


class Package:
    """Read access to the parts of an .xlsx, with the sheet-name -> part map resolved."""

    def __init__(self, path: Path):
        self.path = Path(path)
        check_file(self.path)
        try:
            self.zip = zipfile.ZipFile(self.path)
            infos = self.zip.infolist()
        except (*DAMAGE, OSError) as e:  # a damaged name in the zip's directory, too
            raise NotAWorkbookError(
                f"{self.path} is damaged or truncated ({e}). "
                "Restore the backup copy or re-save it from Excel."
            ) from e
        check_entries(self.path, infos)
        self.infos = {i.filename: i for i in infos}
        _check_bomb(self.path, infos)
        self._check_no_dtd()
        self.workbook_part = self._main_part()
        if self.workbook_part is None or self.workbook_part not in self.infos:
            raise NotAWorkbookError(
                f"{self.path} is a zip file but not an Excel workbook "
                "(no workbook part inside): is it a .docx or another zip? "
                "Give the path of the .xlsx workbook."
            )
        types = "[Content_Types].xml"
        check_content_types(
            self.path, self.xml(types) if types in self.infos else None, self.workbook_part
        )
        self.sheets = self._read_sheets()
        for kind, part in self.rels(self.workbook_part).values():
            if kind == "sharedStrings" and part in self.infos:
                check_shared_strings(self.path, self.zip, self.infos[part])

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def read(self, part: str) -> bytes:
        try:
            return self.zip.read(part)
        except (*DAMAGE, OSError, KeyError) as e:
            raise NotAWorkbookError(
                f"{self.path}: part {part} cannot be read ({e}); "
                "the file is damaged. Restore a backup."
            ) from e

    def stamp(self, part: str) -> dict | None:
        """What crmbook recorded when it wrote the part, while the part is as it wrote it."""
        info = self.infos.get(part)
        return None if info is None else read_stamp(info)

    def xml(self, part: str) -> etree._Element:
        return parse_xml(self.read(part), part)

    def rels(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationships of a part: rId -> (type, absolute target part)."""
        folder, name = posixpath.split(part)
        rels_part = posixpath.join(folder, "_rels", name + ".rels")
        if rels_part not in self.infos:
            return {}
        out = {}
        for rel in self.xml(rels_part):
            target = rel.get("Target", "")
            if rel.get("TargetMode") == "External":
                continue
            if target.startswith("/"):
                resolved = target.lstrip("/")
            else:
                resolved = posixpath.normpath(posixpath.join(folder, target))
            out[rel.get("Id")] = (rel.get("Type", "").rsplit("/", 1)[-1], resolved)
        return out

    def _main_part(self) -> str | None:
        for _, (kind, target) in self.rels("").items() if "_rels/.rels" in self.infos else []:
            if kind == "officeDocument":
                return target
        return "xl/workbook.xml" if "xl/workbook.xml" in self.infos else None

    def _read_sheets(self) -> dict[str, SheetPart]:
        if self.workbook_part.endswith(".bin"):
            raise NotAWorkbookError(
                f"{self.path} is a binary workbook (.xlsb); save it as .xlsx from Excel"
            )
        root = self.xml(self.workbook_part)
        rels = self.rels(self.workbook_part)
        sheets = {}
        for el in root.iter(f"{{{MAIN_NS}}}sheet"):
            rid = el.get(f"{{{REL_NS}}}id")
            if rid not in rels:
                continue
            name = el.get("name")
            if rels[rid][1] not in self.infos:
                raise NotAWorkbookError(
                    f"{self.path.name} is damaged: its sheet {name!r} should be the part "
                    f"{rels[rid][1]}, which is missing. Restore a backup or re-save it from Excel."
                )
            sheets[name] = SheetPart(name, rels[rid][1], el.get("state", "visible"))
        return sheets

    def _check_no_dtd(self) -> None:
        """No part may declare a DTD: entity expansion is how XML bombs explode."""
        for name in self.infos:
            if name.endswith((".xml", ".rels", ".vml")):
                try:
                    with self.zip.open(name) as f:
                        head = f.read(2048)
                except (*DAMAGE, OSError) as e:
                    raise NotAWorkbookError(
                        f"{self.path}: part {name} cannot be read ({e}); "
                        "the file is damaged. Restore a backup."
                    ) from e
                if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                    raise UnsafeWorkbookError(
                        f"{self.path}: part {name} declares a DTD or entities; refusing to read "
                        "it (such files can be XML bombs). Re-save it from Excel."
                    )

    def table_parts(self, sheet_part: str) -> list[str]:
        return [t for kind, t in self.rels(sheet_part).values() if kind == "table"]


def _check_bomb(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_UNCOMPRESSED:
        raise UnsafeWorkbookError(
            f"{path} would unpack to {total / 1024**3:.1f} GB, more than crmbook accepts "
            f"({MAX_TOTAL_UNCOMPRESSED / 1024**3:.0f} GB); refusing it as a possible zip bomb."
        )
    for i in infos:
        if i.file_size > RATIO_APPLIES_ABOVE and i.file_size > MAX_RATIO * max(i.compress_size, 1):
            raise UnsafeWorkbookError(
                f"{path}: part {i.filename} expands {i.file_size // max(i.compress_size, 1)}x "
                f"(to {i.file_size / 1024**2:.0f} MB); refusing it as a possible zip bomb."
            )
