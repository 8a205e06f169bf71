"""vCards (.vcf) in and out, through vobject.

Read: versions 2.1, 3.0 and 4.0 as phones and mail programs write them: one or many cards,
folded lines, vCard 2.1 quoted-printable with or without CHARSET (Android, Outlook; soft line
breaks too), Apple's item1.EMAIL with an X-ABLabel and its birthdays without year
(X-APPLE-OMIT-YEAR), 4.0's tel: URIs and --MMDD birthdays. Photos, logos, sounds and keys are
dropped before parsing (crmbook keeps no pictures, and a damaged one must not stop an import).

Written: vCard 3.0, which iPhone, Android, Google and Outlook all import.
"""

from __future__ import annotations

import io
import os
import quopri
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import vobject
import vobject.vcard

from crmbook.errors import CrmbookError
from crmbook.sharing.contacts import (
    LABELS,
    NOT_LABELS,
    Contact,
    birthday_text,
    label,
    name_parts,
    yearless,
)

BINARY = ("PHOTO", "LOGO", "SOUND", "KEY")
READ = (
    "FN",
    "N",
    "ORG",
    "TITLE",
    "EMAIL",
    "TEL",
    "BDAY",
    "ADR",
    "CATEGORIES",
    "NOTE",
    "X-ABSHOWAS",
)
# what a card says about itself, not about the person
BOOKKEEPING = ("VERSION", "PRODID", "REV", "UID", "X-ABLABEL", "X-ABADR", "X-ABUID")
SYSTEM_CATEGORIES = ("myContacts",)  # Google's group of every contact
TYPE_WORDS = {"mobile": "CELL", "work": "WORK", "home": "HOME"}
_BEGIN = re.compile(r"^\s*BEGIN\s*:\s*VCARD\s*$", re.IGNORECASE)
_QUOTED = re.compile(r"^([^:]*QUOTED-PRINTABLE[^:]*):(.*)$", re.IGNORECASE | re.DOTALL)


def looks_like_vcard(text: str) -> bool:
    return any(_BEGIN.match(line) for line in text.lstrip("\ufeff").splitlines()[:5])


@dataclass
class Cards:
    """The people of one or more vCard files."""

    contacts: list[Contact] = field(default_factory=list)
    places: dict[int, str] = field(default_factory=dict)  # contact.row -> "file, line N"
    skipped: Counter = field(default_factory=Counter)  # property -> cards that had it
    read: Counter = field(default_factory=Counter)


def read_vcards(text: str, place: str, cards: Cards | None = None) -> Cards:
    """Every card of one file's text (`place` names the file in messages)."""
    cards = cards or Cards()
    lines, origin, starts = _prepared(text, cards)
    if not starts:
        raise CrmbookError(f"{place}: no vCard in it (no BEGIN:VCARD line); export it again")
    try:
        components = list(vobject.readComponents("\r\n".join(lines), allowQP=True))
    except Exception as e:  # the parser's own errors, whatever their class: one clear line
        number = getattr(e, "lineNumber", None)
        known = isinstance(number, int) and 0 <= number <= len(origin)
        line = origin[max(number, 1) - 1] if known else None
        where = f"{place}, line {line}" if line else place
        raise CrmbookError(
            f"{where}: cannot read the vCard ({_reason(e)}); export the contacts again, "
            "or remove that card"
        ) from None
    found = [c for c in components if c.name.upper() == "VCARD"]
    for component, start in zip(found, starts, strict=False):
        row = len(cards.contacts) + 1
        cards.contacts.append(_contact(component, row, cards))
        cards.places[row] = f"{place}, line {start}"
    return cards


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:120] if text else type(error).__name__


def _prepared(text: str, cards: Cards) -> tuple[list[str], list[int], list[int]]:
    """The logical lines to parse (binary properties left out, quoted-printable given its
    charset), each physical line's number in the file, and where each card begins."""
    keep, origin, starts = [], [], []
    stream = io.StringIO(text.lstrip("\ufeff"))
    for line, number in vobject.base.getLogicalLines(stream, allowQP=True):
        first = number or 1  # getLogicalLines numbers the first line 0, the others from 1
        name = re.split(r"[;:]", line, maxsplit=1)[0].split(".")[-1].strip().upper()
        if name in BINARY:
            cards.skipped[name] += 1
            continue
        if _BEGIN.match(line):
            starts.append(first)
        line = _with_charset(line)
        parts = line.split("\n")
        keep.append(line)
        origin.extend(range(first, first + len(parts)))
    return keep, origin, starts


def _with_charset(line: str) -> str:
    """vCard 2.1 quoted-printable without CHARSET is Windows text when it is not UTF-8."""
    match = _QUOTED.match(line)
    if not match or "CHARSET" in match[1].upper():
        return line
    raw = quopri.decodestring(match[2].encode("ascii", "replace"))
    try:
        raw.decode("utf-8")
        charset = "UTF-8"
    except UnicodeDecodeError:
        charset = "windows-1252"
    return f"{match[1]};CHARSET={charset}:{match[2]}"


def _contact(card, row: int, cards: Cards) -> Contact:
    contact = Contact(row=row)
    groups = {
        line.group: label(line.value)
        for line in card.getChildren()
        if line.name.upper() == "X-ABLABEL" and line.group
    }
    seen = set()
    for line in card.getChildren():
        name = line.name.upper()
        seen.add(name)
        if name in READ:
            _take(contact, name, line, groups)
        elif name not in BOOKKEEPING and _text(line.value):
            cards.skipped[name] += 1
    for name in seen & set(READ):
        cards.read[name] += 1
    if not contact.name:
        contact.name = _name_of(card)
    return contact


def _take(contact: Contact, name: str, line, groups: dict) -> None:
    value = line.value
    if name == "FN":
        contact.name = _text(value) or contact.name
    elif name == "ORG":
        contact.company = _text(value[0] if isinstance(value, list) and value else value)
    elif name == "TITLE":
        contact.job_title = _text(value)
    elif name in ("EMAIL", "TEL"):
        text = _text(value)
        if text and name == "TEL":
            text = re.sub(r"^tel:", "", text, flags=re.IGNORECASE)
        if text:
            types = _types(line)
            words = [t for t in types if t.lower() not in NOT_LABELS]
            known = [t for t in words if t.lower() in LABELS]
            tag = groups.get(line.group) or label((known or words or [""])[0])
            values = contact.emails if name == "EMAIL" else contact.phones
            preferred = "pref" in {t.lower() for t in types} or "PREF" in line.params
            values.insert(0 if preferred else len(values), (text, tag))
    elif name == "BDAY":
        text = _text(value) or ""
        if "X-APPLE-OMIT-YEAR" in line.params:
            text = re.sub(r"^\d{4}", "--", text)
        day = birthday_text(text)
        if day and not re.match(r"\d{4}-\d{2}-\d{2}$", day):  # BDAY;VALUE=text:circa 1980
            contact.notes = "\n".join(filter(None, [contact.notes, f"Birthday: {day}"]))
        else:
            contact.birthday = day
    elif name == "ADR" and contact.city is None:
        contact.city = _text(getattr(value, "city", None))
        contact.country = _text(getattr(value, "country", None))
    elif name == "CATEGORIES":
        tags = value if isinstance(value, list) else [value]
        contact.tags += [t for t in tags if _text(t) and t not in SYSTEM_CATEGORIES]
    elif name == "X-ABSHOWAS" and _text(value) == "COMPANY":  # Apple's card of a company
        contact.fields["kind"] = "company"
    elif name == "NOTE":
        contact.notes = "\n".join(filter(None, [_text(value), contact.notes]))


def _types(line) -> list[str]:
    """TYPE=work,pref (3.0, 4.0) and the bare words of 2.1 (TEL;CELL;PREF)."""
    types = []
    for t in [*line.params.get("TYPE", []), *line.singletonparams]:
        types += [p.strip() for p in str(t).split(",") if p.strip()]
    return types


def _name_of(card) -> str | None:
    n = getattr(card, "n", None)
    if n is None:
        return None
    value = n.value
    parts = [getattr(value, k, "") for k in ("given", "additional", "family")]
    words = [" ".join(p) if isinstance(p, list) else str(p) for p in parts]
    return " ".join(w.strip() for w in words if w and w.strip()) or None


def _text(value: object) -> str | None:
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    if value is None or isinstance(value, bytes):
        return None
    return str(value).strip() or None


# ---------------------------------------------------------------- writing


def write_vcards(contacts: list[Contact], path: str | os.PathLike) -> Path:
    """Contacts as one vCard 3.0 file (UTF-8), ready for a phone or an address book."""
    path = Path(path)
    with path.open("w", encoding="utf-8", newline="") as out:
        for contact in contacts:
            out.write(_card(contact).serialize())
    return path


def _card(c: Contact):
    card = vobject.vCard()
    name = c.name or c.company or (c.emails[0][0] if c.emails else "?")
    card.add("fn").value = name
    company = c.fields.get("kind") == "company"
    given, family = (None, None) if company else name_parts(name)
    card.add("n").value = vobject.vcard.Name(family=family or "", given=given or "")
    if company:
        card.add("x-abshowas").value = "COMPANY"
    if c.company:
        card.add("org").value = [c.company]
    if c.job_title:
        card.add("title").value = c.job_title
    for kind, values in (("email", c.emails), ("tel", c.phones)):
        for i, (value, tag) in enumerate(values):
            line = card.add(kind)
            line.value = value
            types = (["INTERNET"] if kind == "email" else []) + (
                [TYPE_WORDS.get(tag, tag.upper())] if tag else []
            )
            if i == 0 and len(values) > 1:
                types.append("pref")
            if types:
                line.type_param = types
    if c.birthday:
        day = c.birthday
        card.add("bday").value = "--" + day[5:] if yearless(day) else day
    if c.city or c.country:
        card.add("adr").value = vobject.vcard.Address(city=c.city or "", country=c.country or "")
    if c.tags:
        card.add("categories").value = c.tags
    if c.notes:
        card.add("note").value = c.notes
    return card
