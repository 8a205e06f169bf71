"""The contact exports people have, recognised by their headers: one declaration per format.

Each Preset says which columns of that application's CSV hold the name, the emails and
phones (with their labels), the other Customers fields, the birthday and the tags, and what
its values mean (Mailchimp's file says whether the people consented). The same declaration
writes the format back (Google and Outlook CSV), so what crmbook exports re-imports the same.

Where the header lists come from (public samples and documentation):
- Google Contacts, layout before 2023 ("Given Name", "Group Membership", "E-mail 1 - Type")
  and the current one ("First Name", "Labels", "E-mail 1 - Label"): the headers Google writes,
  as published in open-source importers and exporters of Google CSV.
- Outlook: the English headers of Microsoft's "Create or edit .csv files to import into
  Outlook"; German, Dutch, Italian and Russian as Outlook writes them in those languages
  (samples in Open-Xchange's Outlook importer tests, public Outlook-CSV converters and, for
  Russian, a public Exchange contacts exporter that writes Outlook's Windows-1251 file).
- Thunderbird: the header of its address book "Export... > Comma separated" (English build).
- HubSpot: the "Export contacts" file ("Record ID", "Lifecycle Stage", "Create Date").
- Mailchimp: the audience export, a file per status (subscribed, unsubscribed, cleaned).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from crmbook.sharing.contacts import (
    Contact,
    birthday_parts,
    birthday_text,
    date_order,
    label,
    name_parts,
    yearless,
)


@dataclass(frozen=True)
class Values:
    """The columns holding one kind of value that a person may have several of (emails).

    Either fixed columns with the label each one means (Outlook: "Mobile Phone" is mobile),
    or numbered ones with a label column each (Google: "Phone 1 - Value", "Phone 1 - Label").
    """

    columns: tuple[tuple[str, str], ...] = ()
    numbered: str | None = None  # e.g. "E-mail {n} - Value"
    numbered_label: str | None = None  # e.g. "E-mail {n} - Label"

    def found(self, headers: Iterable[str]) -> list[tuple[str, str | None, str]]:
        """(value column, label column, fixed label) for each such column of a file."""
        headers = list(headers)
        out = [(c, None, tag) for c, tag in self.columns if c in headers]
        if self.numbered:
            pattern = re.compile(re.escape(self.numbered).replace(r"\{n\}", r"(\d+)") + "$")
            numbered = sorted(
                (int(m[1]), h) for h in headers if (m := pattern.match(h)) is not None
            )
            for n, column in numbered:
                tag_column = self.numbered_label.format(n=n) if self.numbered_label else None
                out.append((column, tag_column if tag_column in headers else None, ""))
        return out


@dataclass(frozen=True)
class Preset:
    """How one application writes its contacts as CSV."""

    name: str  # shown in the import preview
    signature: tuple[str, ...]  # headers that, all present, identify the format
    name_columns: tuple[str, ...] = ()  # the whole name (first one filled wins)
    name_parts: tuple[str, ...] = ()  # else these joined: first, middle, last
    emails: Values = Values()
    phones: Values = Values()
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)  # first filled wins
    birthday: tuple[str, ...] = ()  # one column, or year, month and day columns
    date_order: str = "ymd"  # of slashed dates like 5/17/1980 (the file may show otherwise)
    date_format: str = "%Y-%m-%d"  # how the application writes a birthday
    yearless_format: str | None = None  # ... and one without year, if it can
    tags: tuple[str, ...] = ()
    tag_separator: str = " ::: "
    ignored_tags: tuple[str, ...] = ()  # system labels every contact has
    several: str | None = None  # several values in one cell, e.g. Google's " ::: "
    meanings: dict[str, dict[str, str | None]] = field(default_factory=dict)  # field: value map
    constants: dict[str, object] = field(default_factory=dict)  # what every row means

    def targets(self, headers: Iterable[str]) -> dict[str, str]:
        """Each column of a file this preset reads -> what it becomes (for the preview)."""
        headers = list(headers)
        out = {c: "name" for c in (*self.name_columns, *self.name_parts)}
        out |= {c: "birthday" for c in self.birthday} | {c: "tags" for c in self.tags}
        for name, columns in self.fields.items():
            out |= {c: name for c in columns}
        for values, kind in ((self.emails, "email"), (self.phones, "phone")):
            for value, tag_column, _ in values.found(headers):
                out[value] = f"{kind}, other_{kind}s"
                if tag_column:
                    out[tag_column] = f"labels of other_{kind}s"
        return {h: out[h] for h in headers if h in out}


GOOGLE_EMAIL_LABEL = "E-mail {n} - Label"
_GOOGLE_ADDRESS = tuple(f"Address {n} - {{}}" for n in (1, 2, 3))

GOOGLE = Preset(
    "Google Contacts CSV",
    signature=("First Name", "Last Name", "File As", "Labels"),
    name_parts=("First Name", "Middle Name", "Last Name"),
    emails=Values(numbered="E-mail {n} - Value", numbered_label=GOOGLE_EMAIL_LABEL),
    phones=Values(numbered="Phone {n} - Value", numbered_label="Phone {n} - Label"),
    fields={
        "company": ("Organization Name",),
        "job_title": ("Organization Title",),
        "city": tuple(a.format("City") for a in _GOOGLE_ADDRESS),
        "country": tuple(a.format("Country") for a in _GOOGLE_ADDRESS),
        "notes": ("Notes",),
    },
    birthday=("Birthday",),
    yearless_format="--%m-%d",
    tags=("Labels",),
    ignored_tags=("* myContacts", "myContacts"),
    several=" ::: ",
)
GOOGLE_BEFORE_2023 = Preset(
    "Google Contacts CSV (layout before 2023)",
    signature=("Given Name", "Family Name", "Group Membership"),
    name_columns=("Name",),
    name_parts=("Given Name", "Additional Name", "Family Name"),
    emails=Values(numbered="E-mail {n} - Value", numbered_label="E-mail {n} - Type"),
    phones=Values(numbered="Phone {n} - Value", numbered_label="Phone {n} - Type"),
    fields={
        "company": ("Organization 1 - Name",),
        "job_title": ("Organization 1 - Title",),
        "city": tuple(a.format("City") for a in _GOOGLE_ADDRESS),
        "country": tuple(a.format("Country") for a in _GOOGLE_ADDRESS),
        "notes": ("Notes",),
    },
    birthday=("Birthday",),
    yearless_format="--%m-%d",
    tags=("Group Membership",),
    ignored_tags=("* myContacts", "myContacts"),
    several=" ::: ",
)


def _outlook(
    language: str,
    *,
    names: tuple[str, str, str],
    company: str,
    job_title: str,
    emails: tuple[str, ...],
    phones: tuple[tuple[str, str], ...],
    cities: tuple[str, ...],
    countries: tuple[str, ...],
    birthday: str,
    categories: tuple[str, ...],
    notes: tuple[str, ...],
    order: str,
    date_format: str,
) -> Preset:
    """Outlook's CSV in one language: the same columns under that language's headers.

    The first phone column is the primary phone, the second the mobile phone."""
    return Preset(
        f"Outlook CSV ({language})",
        signature=(names[0], names[2], emails[0], phones[1][0]),
        name_parts=names,
        emails=Values(columns=tuple((e, "") for e in emails)),
        phones=Values(columns=phones),
        fields={
            "company": (company,),
            "job_title": (job_title,),
            "city": cities,
            "country": countries,
            "notes": notes,
        },
        birthday=(birthday,),
        date_order=order,
        date_format=date_format,
        tags=categories,
        tag_separator=";",
    )


OUTLOOK = _outlook(
    "English",
    names=("First Name", "Middle Name", "Last Name"),
    company="Company",
    job_title="Job Title",
    emails=("E-mail Address", "E-mail 2 Address", "E-mail 3 Address"),
    phones=(
        ("Primary Phone", ""),
        ("Mobile Phone", "mobile"),
        ("Business Phone", "work"),
        ("Home Phone", "home"),
        ("Other Phone", "other"),
        ("Business Phone 2", "work"),
        ("Home Phone 2", "home"),
        ("Company Main Phone", "work"),
    ),
    cities=("Business City", "Home City", "Other City"),
    countries=("Business Country/Region", "Home Country/Region", "Other Country/Region"),
    birthday="Birthday",
    categories=("Categories",),
    notes=("Notes",),
    order="mdy",
    date_format="%m/%d/%Y",
)
OUTLOOK_GERMAN = _outlook(
    "German",
    names=("Vorname", "Weitere Vornamen", "Nachname"),
    company="Firma",
    job_title="Position",
    emails=("E-Mail-Adresse", "E-Mail 2: Adresse", "E-Mail 3: Adresse"),
    phones=(
        ("Haupttelefon", ""),
        ("Mobiltelefon", "mobile"),
        ("Telefon geschäftlich", "work"),
        ("Telefon privat", "home"),
        ("Telefon (privat)", "home"),
        ("Weiteres Telefon", "other"),
        ("Mobiltelefon 2", "mobile"),
        ("Telefon Firma", "work"),
    ),
    cities=("Ort geschäftlich", "Ort privat", "Weiterer Ort"),
    countries=("Land/Region geschäftlich", "Land/Region privat", "Weiteres/e Land/Region"),
    birthday="Geburtstag",
    categories=("Kategorien",),
    notes=("Notizen",),
    order="dmy",
    date_format="%d.%m.%Y",
)
OUTLOOK_DUTCH = _outlook(
    "Dutch",
    names=("Voornaam", "Middelste naam", "Achternaam"),
    company="Bedrijf",
    job_title="Functie",
    emails=("E-mailadres", "E-mailadres 2", "E-mailadres 3"),
    phones=(
        ("Hoofdtelefoon", ""),
        ("Mobiele telefoon", "mobile"),
        ("Telefoon op werk", "work"),
        ("Telefoon thuis", "home"),
        ("Andere telefoon", "other"),
        ("Hoofdtelefoon bedrijf", "work"),
    ),
    cities=("Werkadres, plaats", "Huisadres, plaats", "Ander adres, plaats"),
    countries=("Land/regio (werk)", "Land/regio (thuis)", "Land/regio (anders)"),
    birthday="Verjaardag",
    categories=("Categorieën", "Categorien"),
    notes=("Notities",),
    order="dmy",
    date_format="%d-%m-%Y",
)
OUTLOOK_ITALIAN = _outlook(
    "Italian",
    names=("Nome", "Secondo nome", "Cognome"),
    company="Società",
    job_title="Posizione",
    emails=(
        "Indirizzo posta elettronica",
        "Indirizzo posta elettronica 2",
        "Indirizzo posta elettronica 3",
    ),
    phones=(
        ("Telefono principale", ""),
        ("Cellulare", "mobile"),
        ("Ufficio", "work"),
        ("Abitazione", "home"),
        ("Altro telefono", "other"),
        ("Ufficio 2", "work"),
        ("Abitazione 2", "home"),
    ),
    cities=("Città (uff.)", "Città (ab.)", "Altra città"),
    countries=(
        "Paese/area geografica (uff.)",
        "Paese/area geografica (ab.)",
        "Altro paese/area geografica",
    ),
    birthday="Compleanno",
    categories=("Categorie",),
    notes=("Note", "Notes"),
    order="dmy",
    date_format="%d/%m/%Y",
)
OUTLOOK_RUSSIAN = _outlook(  # its "other address" headers have two spaces, as Outlook writes them
    "Russian",
    names=("Имя", "Отчество", "Фамилия"),
    company="Организация",
    job_title="Должность",
    emails=("Адрес эл. почты", "Адрес 2 эл. почты", "Адрес 3 эл. почты"),
    phones=(
        ("Основной телефон", ""),
        ("Телефон переносной", "mobile"),
        ("Рабочий телефон", "work"),
        ("Домашний телефон", "home"),
        ("Другой телефон", "other"),
        ("Телефон раб. 2", "work"),
        ("Телефон дом. 2", "home"),
        ("Основной телефон организации", "work"),
    ),
    cities=("Город (раб. адрес)", "Город (дом. адрес)", "Город  (другой адрес)"),
    countries=(
        "Страна или регион (раб. адрес)",
        "Страна или регион (дом. адрес)",
        "Страна или регион  (другой адрес)",
    ),
    birthday="День рождения",
    categories=("Категории",),
    notes=("Заметки",),
    order="dmy",
    date_format="%d.%m.%Y",
)
THUNDERBIRD = Preset(
    "Thunderbird address book CSV",
    signature=("Display Name", "Primary Email", "Birth Year"),
    name_columns=("Display Name",),
    name_parts=("First Name", "Last Name"),
    emails=Values(columns=(("Primary Email", ""), ("Secondary Email", ""))),
    phones=Values(
        columns=(("Mobile Number", "mobile"), ("Work Phone", "work"), ("Home Phone", "home"))
    ),
    fields={
        "company": ("Organization", "Organisation"),
        "job_title": ("Job Title",),
        "city": ("Work City", "Home City"),
        "country": ("Work Country", "Home Country"),
        "notes": ("Notes",),
    },
    birthday=("Birth Year", "Birth Month", "Birth Day"),
)
HUBSPOT = Preset(
    "HubSpot contacts export",
    signature=("Record ID", "Email"),
    name_parts=("First Name", "Last Name"),
    emails=Values(columns=(("Email", ""),)),
    phones=Values(columns=(("Phone Number", "work"), ("Mobile Phone Number", "mobile"))),
    fields={
        "company": ("Company Name", "Associated Company"),
        "job_title": ("Job Title",),
        "city": ("City",),
        "country": ("Country/Region",),
        "stage": ("Lifecycle Stage",),
    },
    birthday=("Date of birth",),
    meanings={
        "stage": {
            "subscriber": "prospect",
            "lead": "prospect",
            "marketing qualified lead": "potential",
            "marketingqualifiedlead": "potential",
            "sales qualified lead": "potential",
            "salesqualifiedlead": "potential",
            "opportunity": "potential",
            "customer": "customer",
            "evangelist": "promoter",
            "other": None,
        }
    },
)


def _mailchimp(status: str, extra: tuple[str, ...], consent: bool) -> Preset:
    """A Mailchimp audience export: one file per status; only subscribed people consented."""
    return Preset(
        f"Mailchimp audience export ({status})",
        signature=("Email Address", "MEMBER_RATING", "OPTIN_TIME", *extra),
        name_parts=("First Name", "Last Name"),
        emails=Values(columns=(("Email Address", ""),)),
        phones=Values(columns=(("Phone Number", ""),)),
        fields={
            "notes": ("NOTES",),
            **({"consent_date": ("OPTIN_TIME", "CONFIRM_TIME")} if consent else {}),
        },
        birthday=("Birthday",),
        date_order="mdy",
        tags=("TAGS",),
        tag_separator=",",
        constants={"consent_email": consent},
    )


MAILCHIMP = _mailchimp("subscribed", (), True)
MAILCHIMP_UNSUBSCRIBED = _mailchimp("unsubscribed", ("UNSUB_TIME",), False)
MAILCHIMP_CLEANED = _mailchimp("cleaned", ("CLEAN_TIME",), False)

PRESETS: tuple[Preset, ...] = (
    GOOGLE,
    GOOGLE_BEFORE_2023,
    OUTLOOK,
    OUTLOOK_GERMAN,
    OUTLOOK_DUTCH,
    OUTLOOK_ITALIAN,
    OUTLOOK_RUSSIAN,
    THUNDERBIRD,
    HUBSPOT,
    MAILCHIMP,
    MAILCHIMP_UNSUBSCRIBED,
    MAILCHIMP_CLEANED,
)
# The CSV formats crmbook export writes
EXPORTS = {"google-csv": GOOGLE, "outlook-csv": OUTLOOK}


def recognise(headers: Iterable[str]) -> Preset | None:
    """The preset whose signature headers the file has (the most specific one), if any."""
    have = {str(h).strip() for h in headers}
    fitting = [p for p in PRESETS if set(p.signature) <= have]
    return max(fitting, key=lambda p: len(p.signature), default=None)


# ---------------------------------------------------------------- reading


def read_contacts(frame: pd.DataFrame, preset: Preset, rows: Iterable[int]) -> list[Contact]:
    """Every row of a file in `preset`'s format as a Contact."""
    headers = list(frame.columns)
    emails, phones = preset.emails.found(headers), preset.phones.found(headers)
    birthdays = [frame[c] for c in preset.birthday if c in frame]
    order = date_order(birthdays[0], preset.date_order) if len(birthdays) == 1 else "ymd"
    read = frame[list(preset.targets(headers))]  # a wide export: only the columns it reads
    names = list(read.columns)
    cells = read.apply(lambda c: c.astype("string").str.strip()).to_numpy(object, na_value=None)
    out = []
    for row, record in zip(rows, cells, strict=True):
        cell = {k: v for k, v in zip(names, record, strict=True) if v}  # the filled cells
        fields = {name: _first(cell, columns) for name, columns in preset.fields.items()}
        for name, meaning in preset.meanings.items():
            value = fields.get(name)
            if value is not None and _fold(value) in meaning:
                fields[name] = meaning[_fold(value)]
        contact = Contact(
            row=row,
            name=_first(cell, preset.name_columns) or _joined(cell, preset.name_parts),
            company=fields.pop("company", None),
            job_title=fields.pop("job_title", None),
            emails=_values(cell, emails, preset.several),
            phones=_values(cell, phones, preset.several),
            birthday=_birthday(cell, preset.birthday, order),
            city=fields.pop("city", None),
            country=fields.pop("country", None),
            tags=_tags(cell, preset),
            notes=fields.pop("notes", None),
            fields={**{k: v for k, v in fields.items() if v is not None}, **preset.constants},
        )
        out.append(contact)
    return out


def _fold(text: str) -> str:
    return " ".join(text.lower().split())


def _first(cell: dict, columns: Iterable[str]) -> str | None:
    return next((cell[c] for c in columns if cell.get(c)), None)


def _joined(cell: dict, columns: Iterable[str]) -> str | None:
    return " ".join(cell[c] for c in columns if cell.get(c)) or None


def _values(cell: dict, found, several: str | None) -> list[tuple[str, str]]:
    """The values of one kind with their labels; a pref-marked Google label ("* Work") first."""
    out = []
    for column, tag_column, tag in found:
        values = _split(cell.get(column), several)
        tags = _split(cell.get(tag_column), several) if tag_column else []
        for i, value in enumerate(values):
            given = tags[i] if i < len(tags) else (tags[-1] if tags else tag)
            primary = i == 0 and str(given or "").startswith("*")
            out.insert(0 if primary else len(out), (value, label(given)))
    return out


def _split(text: str | None, several: str | None) -> list[str]:
    if not text:
        return []
    parts = text.split(several) if several else [text]
    return [p.strip() for p in parts if p.strip()]


def _birthday(cell: dict, columns: tuple[str, ...], order: str) -> str | None:
    if len(columns) == 3:
        return birthday_parts(*(cell.get(c) for c in columns))
    return birthday_text(_first(cell, columns), order)


def _tags(cell: dict, preset: Preset) -> list[str]:
    tags = []
    for column in preset.tags:
        for tag in _split(cell.get(column), preset.tag_separator):
            tag = tag.strip().strip('"').strip()
            if tag and tag not in preset.ignored_tags:
                tags.append(tag.removeprefix("* "))
    return tags


# ---------------------------------------------------------------- writing


@dataclass
class Written:
    path: Path
    count: int
    left_out: dict[str, int]  # "emails": values that found no column of the format


def write_csv(contacts: list[Contact], preset: Preset, path: str | os.PathLike) -> Written:
    """Contacts as `preset`'s CSV (UTF-8 with a byte-order mark, which Excel and Outlook read)."""
    rows, left_out = [], {"emails": 0, "phones": 0}
    most = {
        "emails": max((len(c.emails) for c in contacts), default=1) or 1,
        "phones": max((len(c.phones) for c in contacts), default=1) or 1,
    }
    for c in contacts:
        company = c.fields.get("kind") == "company"  # written as Google and Outlook write
        given, family = (None, None) if company else name_parts(c.name)  # a company: no names
        row = {column: "" for column in preset.signature}
        if preset.name_columns:
            row[preset.name_columns[0]] = c.name or ""
        row[preset.name_parts[0]] = given or ""
        row[preset.name_parts[-1]] = family or ""
        for name, value in (
            ("company", c.name if company else c.company),
            ("job_title", c.job_title),
            ("city", c.city),
            ("country", c.country),
            ("notes", c.notes),
        ):
            if preset.fields.get(name):
                row[preset.fields[name][0]] = value or ""
        if preset.birthday:
            row[preset.birthday[0]] = _written_birthday(c.birthday, preset)
        if preset.tags:
            row[preset.tags[0]] = preset.tag_separator.join(c.tags)
        for kind, values in (("emails", c.emails), ("phones", c.phones)):
            left_out[kind] += _place(row, getattr(preset, kind), values, most[kind])
        rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row)) or list(preset.signature)
    path = Path(path)
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return Written(path, len(rows), {k: n for k, n in left_out.items() if n})


def _written_birthday(iso: str | None, preset: Preset) -> str:
    if not iso:
        return ""
    day = pd.Timestamp(iso)
    if yearless(iso) and preset.yearless_format:
        return day.strftime(preset.yearless_format)
    return day.strftime(preset.date_format)


def _place(row: dict, values: Values, items: list[tuple[str, str]], most: int) -> int:
    """Put emails or phones in the format's columns; returns how many found no column."""
    if values.numbered:
        for n in range(1, most + 1):
            item = items[n - 1] if n <= len(items) else ("", "")
            if values.numbered_label:
                row[values.numbered_label.format(n=n)] = item[1].capitalize()
            row[values.numbered.format(n=n)] = item[0]
        return 0
    free = [column for column, _ in values.columns]
    for column in free:
        row.setdefault(column, "")
    left = 0
    for value, tag in items:
        wanted = [c for c, t in values.columns if t == tag and c in free] or free
        if not wanted:
            left += 1
            continue
        row[wanted[0]] = value
        free.remove(wanted[0])
    return left
