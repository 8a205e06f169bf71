"""People as address books hold them, between other tools' files and the Customers sheet.

An address book gives a person several emails and phones with labels (work, home, mobile),
a job title and a birthday that may lack its year. The Customers sheet has one email, one
phone and one birthday date. So the first email and phone fill those columns and the others
are kept in user columns of the sheet (OTHER_COLUMNS, "anna@work.example (work), ..."), where
Excel users see and edit them and the contact exports find them again. A database has no user
columns: there they become lines of the notes.

A birthday without its year is stored in BIRTHDAY_WITHOUT_YEAR and written back without it.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from crmbook.schema import BIRTHDAY_WITHOUT_YEAR

OTHER_EMAILS = "other_emails"
OTHER_PHONES = "other_phones"
JOB_TITLE = "job_title"
# user column -> how its value reads as a line of the notes (where there are no user columns)
OTHER_COLUMNS = {OTHER_EMAILS: "Other emails", OTHER_PHONES: "Other phones", JOB_TITLE: "Job title"}
# The few label words address books use, written one way (vCard TYPE, Google "* Work", Outlook).
LABELS = {"cell": "mobile", "mobile": "mobile", "work": "work", "home": "home", "other": "other"}
NOT_LABELS = {"internet", "pref", "voice", "x400", "x-internet"}
_LABELLED = re.compile(r"^(?P<value>.*?)\s*\((?P<label>[^\d()]+)\)$")


@dataclass
class Contact:
    """One person of an address book, its values as text (nothing parsed yet)."""

    row: int  # where it stands in the source: the CSV row or the vCard's first line
    name: str | None = None
    company: str | None = None
    job_title: str | None = None
    emails: list[tuple[str, str]] = field(default_factory=list)  # (address, label)
    phones: list[tuple[str, str]] = field(default_factory=list)
    birthday: str | None = None  # ISO date, or the text as found when it is no date
    city: str | None = None
    country: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    fields: dict[str, object] = field(default_factory=dict)  # other Customers fields as given


@functools.lru_cache(maxsize=1024)  # a file holds a few labels, each on many rows
def label(text: object) -> str:
    """A label as one plain word: '* Work' -> work, 'CELL' -> mobile, '_$!<Other>!$_' -> other."""
    word = re.sub(r"^[*\s]+|_\$!<|>!\$_", "", str(text or "")).strip()
    return LABELS.get(word.lower(), word.lower())


def labelled(values: Iterable[tuple[str, str]]) -> str | None:
    """Further emails or phones as one cell: 'anna@home.example (home), +49 30 1 (work)'."""
    parts = [f"{value} ({tag})" if tag else value for value, tag in values]
    return ", ".join(parts) or None


def unlabelled(cell: object) -> list[tuple[str, str]]:
    """The values of a labelled() cell again."""
    if not isinstance(cell, str):
        return []
    found = []
    for part in re.split(r"[,;\n]", cell):
        match = _LABELLED.match(part.strip())
        value, tag = (match["value"], match["label"].strip()) if match else (part.strip(), "")
        if value:
            found.append((value, tag))
    return found


def contacts_frame(contacts: list[Contact], user_columns: bool = True) -> pd.DataFrame:
    """Contacts as rows of Customers columns (text), plus the OTHER_COLUMNS they fill.

    Without user columns (a database) the further emails, phones and the job title are added
    to the notes. Columns nobody has a value in are left out, so the import does not touch them.
    """
    rows = []
    for c in contacts:
        emails, phones = _unique(c.emails), _unique(c.phones)
        row = {
            "name": c.name,
            "company": c.company,
            "email": emails[0][0] if emails else None,
            "phone": phones[0][0] if phones else None,
            "birthday": c.birthday,
            "city": c.city,
            "country": c.country,
            "tags": ", ".join(dict.fromkeys(t.replace(",", " ").strip() for t in c.tags if t))
            or None,
            "notes": c.notes,
            **c.fields,
        }
        if not c.name and c.company:  # a card of a company, not of a person
            row["name"], row["kind"], row["company"] = c.company, "company", None
        extra = {
            OTHER_EMAILS: labelled(emails[1:]),
            OTHER_PHONES: labelled(phones[1:]),
            JOB_TITLE: c.job_title,
        }
        if user_columns:
            row.update(extra)
        else:
            lines = [f"{OTHER_COLUMNS[k]}: {v}" for k, v in extra.items() if v]
            row["notes"] = "\n".join([*([c.notes] if c.notes else []), *lines]) or None
        rows.append(row)
    frame = pd.DataFrame(rows, index=pd.RangeIndex(len(rows)), dtype=object)
    frame = frame.where(frame.notna() & (frame != ""), None)
    return frame[[c for c in frame.columns if frame[c].notna().any()]]


def _unique(values: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen, out = set(), []
    for value, tag in values:
        value = " ".join(str(value).split())
        if value and value.lower() not in seen:
            seen.add(value.lower())
            out.append((value, tag))
    return out


def keep_replaced(current: dict, values: dict) -> dict:
    """An update of a customer from an address book: an email or phone it replaces moves to
    the other ones, and the other ones are added to those the customer has (nothing lost)."""
    values = dict(values)
    for primary, others in (("email", OTHER_EMAILS), ("phone", OTHER_PHONES)):
        old = _text(current.get(primary))
        new = _text(values.get(primary)) or old
        merged = unlabelled(current.get(others)) + unlabelled(values.get(others))
        if old and new and old.lower() != new.lower():
            merged.append((old, ""))
        kept = [(v, t) for v, t in _unique(merged) if not new or v.lower() != new.lower()]
        if kept or values.get(others):
            values[others] = labelled(kept)
    return values


def customer_contacts(customers: pd.DataFrame) -> list[Contact]:
    """Customers (typed, as Book frames hold them) as contacts to write to another tool."""
    out = []
    for position, c in enumerate(customers.to_dict("records")):
        emails = [(c["email"], "")] if _text(c.get("email")) else []
        phones = [(c["phone"], "")] if _text(c.get("phone")) else []
        tags = [t.strip() for t in (_text(c.get("tags")) or "").split(",") if t.strip()]
        out.append(
            Contact(
                row=position + 1,
                name=_text(c.get("name")),
                company=_text(c.get("company")),
                job_title=_text(c.get(JOB_TITLE)),
                emails=emails + unlabelled(c.get(OTHER_EMAILS)),
                phones=phones + unlabelled(c.get(OTHER_PHONES)),
                birthday=_iso(c.get("birthday")),
                city=_text(c.get("city")),
                country=_text(c.get("country")),
                tags=tags,
                notes=_text(c.get("notes")),
                fields={"kind": c.get("kind")},
            )
        )
    return out


def _text(value: object) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value).strip() or None


def _iso(value: object) -> str | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date().isoformat()


# ---------------------------------------------------------------- birthdays

_NUMBERS = re.compile(r"\d+")


def birthday_text(text: object, order: str = "ymd") -> str | None:
    """A birthday as an ISO date; without a year in BIRTHDAY_WITHOUT_YEAR.

    Reads 1980-05-17, 19800517, --05-17, --0517 (vCard, Google), 5/17/1980 or 17.05.1980 in the
    given day/month `order` ("mdy", "dmy", "ymd"), 05/17 (Mailchimp); Outlook's 0/0/00 and
    Thunderbird's empty parts are no birthday. Text that is no date comes back unchanged, so
    the import reports it with its row.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    raw = text.strip()
    found = _NUMBERS.findall(raw)
    if found and not any(int(n) for n in found):
        return None  # Outlook's 0/0/00, 0.0.00
    compact = re.fullmatch(r"(\d{4}|--)-?(\d{2})-?(\d{2})(?:T.*)?", raw)
    if compact:
        year = BIRTHDAY_WITHOUT_YEAR if compact[1] == "--" else int(compact[1])
        return _date(year, int(compact[2]), int(compact[3])) or raw
    numbers = [int(n) for n in _NUMBERS.findall(raw)]
    if not re.fullmatch(r"[\d\s./-]+", raw) or len(numbers) not in (2, 3):
        return raw
    letters = [k for k in order if k != "y"] if len(numbers) == 2 else list(order)
    if len(numbers) == 3 and numbers[0] > 31:
        letters = ["y", "m", "d"]
    parts = dict(zip(letters, numbers, strict=True))
    year = parts.get("y", BIRTHDAY_WITHOUT_YEAR)
    if year < 100:  # Outlook writes two-digit years
        year += 1900 if year > dt.date.today().year % 100 else 2000
    return _date(year, parts["m"], parts["d"]) or raw


def _date(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def date_order(texts: Iterable[object], default: str) -> str:
    """Whether the dates of one file put the day or the month first (17/5 vs 5/17): a first
    number above 12 anywhere means day first, a second one month first; else `default`."""
    for text in texts:
        numbers = _NUMBERS.findall(text) if isinstance(text, str) else []
        if len(numbers) >= 2 and len(numbers[0]) <= 2:
            if int(numbers[0]) > 12:
                return "dmy"
            if int(numbers[1]) > 12:
                return "mdy"
    return default


def birthday_parts(year: object, month: object, day: object) -> str | None:
    """Thunderbird's Birth Year / Birth Month / Birth Day as one birthday (the year may lack)."""
    try:
        m, d = int(str(month).strip()), int(str(day).strip())
    except ValueError:
        return None
    text = str(year).strip() if year is not None else ""
    y = int(text) if text.isdigit() and int(text) > 0 else BIRTHDAY_WITHOUT_YEAR
    return _date(y, m, d) if m and d else None


def yearless(value: str | None) -> bool:
    return bool(value) and value.startswith(f"{BIRTHDAY_WITHOUT_YEAR}-")


# ---------------------------------------------------------------- names


def name_from_email(address: str) -> str:
    """A readable name from an address: anna.petrova@x -> Anna Petrova."""
    local = address.split("@", 1)[0]
    words = [w for w in re.split(r"[._\-+\s]+", re.sub(r"\d+", " ", local)) if w]
    return " ".join(w[:1].upper() + w[1:] for w in words) or address


def name_parts(name: str | None, kind: object = "person") -> tuple[str | None, str | None]:
    """Given and family name for the formats that want them apart: the last word is the
    family name, so that joined again they give the name unchanged (a company stays whole)."""
    if not name:
        return None, None
    words = name.split()
    if kind == "company" or len(words) < 2:
        return name, None
    return " ".join(words[:-1]), words[-1]
