"""Remove a person's name, email and phone from text, and from the parts of a workbook.

Erasing a person (sharing/personal.py) removes their records through the Book; what else a
workbook keeps of them is text elsewhere: the change log's earlier lines, shared strings
(Excel and LibreOffice keep every text of every sheet in xl/sharedStrings.xml, which crmbook
copies unchanged), comments, sheets crmbook or the person wrote. `scrub_parts` rewrites the
text of every part that mentions one of the texts, touching text only (never a formula,
a number or markup).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

from lxml import etree

from crmbook.io.package import Package, parse_xml

ERASED = "[erased]"
_TEXT_TAGS = {"t", "text"}  # cell and shared-string text, comment text


def pattern(texts: Iterable[str]) -> re.Pattern | None:
    """One case-insensitive pattern for all `texts`, longest first (a name before its part)."""
    wanted = sorted({t.strip() for t in texts if t and t.strip()}, key=len, reverse=True)
    if not wanted:
        return None
    return re.compile("|".join(re.escape(t) for t in wanted), re.IGNORECASE)


def scrub(value: object, found: re.Pattern | None) -> object:
    """`value` with every mention replaced by [erased]; anything but text as it was."""
    if found is None or not isinstance(value, str):
        return value
    return found.sub(ERASED, value)


def scrub_parts(pkg: Package, texts: Sequence[str], skip: set[str]) -> dict[str, bytes]:
    """The XML parts of the package (but those in `skip`) that mention one of `texts`,
    with the mentions replaced in their text."""
    found = pattern(texts)
    if found is None:
        return {}
    raw = pattern([*texts, *(escape(t) for t in texts)])
    out = {}
    for info in pkg.zip.infolist():
        name = info.filename
        if name in skip or not name.endswith(".xml") or not name.startswith("xl/"):
            continue
        data = pkg.read(name)
        if raw.search(data.decode("utf-8", errors="replace")) is None:
            continue
        root = parse_xml(data, name)
        changed = False
        for element in root.iter():
            if not isinstance(element.tag, str) or element.text is None:
                continue
            local = etree.QName(element).localname
            cached_text = local == "v" and element.getparent().get("t") == "str"
            if local in _TEXT_TAGS or cached_text:
                new = found.sub(ERASED, element.text)
                if new != element.text:
                    element.text, changed = new, True
        if changed:
            out[name] = etree.tostring(
                root, xml_declaration=True, encoding="UTF-8", standalone=True
            )
    return out
