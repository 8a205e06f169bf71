"""Import records from another tool's CSV or Excel export: map columns, validate, upsert.

The mapping is guessed from the header names (English and the common words of other
languages, declared below as data) and can be overridden. Every row is parsed and checked
with the rules of the workbook itself, and problems are reported with the row number of the
source file. An imported customer who is already in the book (same email or phone, or a very
similar name at the same company) updates that record instead of becoming a duplicate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from crmbook.analytics.find import fold, phone_digits
from crmbook.analytics.matching import CustomerMatcher
from crmbook.errors import CrmbookError
from crmbook.schema import Schema, Sheet
from crmbook.sharing.contacts import keep_replaced, name_from_email
from crmbook.validation import (
    ERROR,
    Checker,
    Code,
    Issue,
    TypedSheet,
    canonical_choices,
    check_records,
    parse_column,
)
from crmbook.values import missing

if TYPE_CHECKING:
    from crmbook.storage.sql import Progress

# Header words per field, compared after fold() and without spaces, dashes and underscores
# (Russian and Ukrainian headers as fold() transliterates them: Город "gorod", Місто "misto").
SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "full name",
        "fullname",
        "customer",
        "client",
        "contact",
        "naam",
        "nome",
        "nom",
        "nombre",
        "kunde",
        "imya",
        "fio",
        "naimenovanie",
        "kontragent",
        "display name",
    ),
    "company": (
        "company",
        "organisation",
        "organization",
        "firma",
        "firm",
        "unternehmen",
        "bedrijf",
        "azienda",
        "societe",
        "entreprise",
        "empresa",
        "account",
        "kompaniya",
        "organizatsiya",
    ),
    "email": (
        "email",
        "e mail",
        "mail",
        "email address",
        "e mail adresse",
        "correo",
        "courriel",
        "posta elettronica",
        "pochta",
        "elektronnaya pochta",
        "adres el pochty",
        "adres elektronnoy pochty",
        "elektronna poshta",
        "el poshta",
        "adresa elektronnoyi poshty",
    ),
    "phone": (
        "phone",
        "telephone",
        "telefon",
        "tel",
        "mobile",
        "mobil",
        "cell",
        "handy",
        "telefono",
        "telefoon",
        "telefone",
        "portable",
        "cellulare",
        "telefonnummer",
        "mobilnyy telefon",
        "telefon perenosnoy",
        "rabochiy telefon",
        "mobilniy telefon",
        "robochiy telefon",
    ),
    "birthday": (
        "birthday",
        "birth date",
        "date of birth",
        "dob",
        "geburtstag",
        "geburtsdatum",
        "verjaardag",
        "compleanno",
        "data di nascita",
        "fecha de nacimiento",
        "date de naissance",
        "den rozhdeniya",
        "data rozhdeniya",
        "den narodzhennya",
        "data narodzhennya",
    ),
    "city": (
        "city",
        "town",
        "stadt",
        "ort",
        "stad",
        "plaats",
        "citta",
        "ciudad",
        "ville",
        "gorod",
        "misto",
    ),
    "country": ("country", "land", "pays", "paese", "pais", "strana", "kraina"),
    "notes": (
        "notes",
        "note",
        "comments",
        "comment",
        "notizen",
        "bemerkung",
        "opmerkingen",
        "note",
        "remarques",
        "notas",
        "kommentariy",
        "zametki",
        "primechanie",
        "notatki",
        "primitki",
        "komentar",
    ),
    "tags": ("tags", "labels", "schlagworte"),
    "owner": ("owner", "account manager", "sales rep", "responsible", "betreuer"),
    "source": ("source", "lead source", "quelle", "bron", "fonte", "fuente", "istochnik"),
    "stage": ("stage", "status", "lifecycle stage", "phase"),
}
# Parts of a name in columns of their own, joined into `name` (first names first).
FIRST_NAMES = (
    "first name",
    "firstname",
    "given name",
    "vorname",
    "voornaam",
    "nome proprio",
    "prenom",
    "imya",
    "forename",
)
LAST_NAMES = (
    "last name",
    "lastname",
    "surname",
    "family name",
    "nachname",
    "achternaam",
    "cognome",
    "nom de famille",
    "apellido",
    "apellidos",
    "familiya",
    "prizvishche",
)
JOINED = "name (joined)"
NAMED_FROM_EMAIL = "named_from_email"  # a column of ImportPlan.records, like row and match


def _key(text: object) -> str:
    return re.sub(r"[^a-z0-9]+", "", fold(text))


def guess_mapping(headers: list[str], sheet: Sheet) -> dict[str, str]:
    """Source column -> field. Columns nothing matches are left out (and shown as skipped)."""
    lookup = {_key(f.name): f.name for f in sheet.fields if not f.auto}
    if sheet.name == "Customers":
        for name, words in SYNONYMS.items():
            lookup.update({_key(w): name for w in words if _key(w) not in lookup})
    mapping: dict[str, str] = {}
    first = next((h for h in headers if _key(h) in {_key(w) for w in FIRST_NAMES}), None)
    last = next((h for h in headers if _key(h) in {_key(w) for w in LAST_NAMES}), None)
    for header in headers:
        target = lookup.get(_key(header))
        if target and target not in mapping.values() and header not in (first, last):
            mapping[header] = target
    if sheet.has("name") and "name" not in mapping.values() and (first or last):
        for part in (first, last):
            if part:
                mapping[part] = JOINED
    return mapping


@dataclass
class ImportPlan:
    """What an import would do, shown before anything is written."""

    records: pd.DataFrame  # typed, one per source row, with `row` (source row) and `match`
    issues: list[Issue]
    mapping: dict[str, str]
    skipped: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)  # source columns kept as the sheet's own

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def new(self) -> pd.DataFrame:
        return self.records[self.records["match"].isna()]

    @property
    def updates(self) -> pd.DataFrame:
        return self.records[self.records["match"].notna()]


def _mapped(source: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    out = pd.DataFrame(index=source.index)
    parts = [c for c, f in mapping.items() if f == JOINED]
    if parts:
        joined = (
            source[parts]
            .fillna("")
            .astype(str)
            .apply(lambda r: " ".join(v.strip() for v in r if v.strip()), axis=1)
        )
        out["name"] = joined.where(joined != "", None)
    for column, target in mapping.items():
        if target != JOINED:
            out[target] = source[column]
    return out


def plan_import(
    source: pd.DataFrame,
    mapping: dict[str, str],
    sheet: Sheet,
    schema: Schema,
    existing: pd.DataFrame,
    lists: dict[str, list[str]],
    keys: dict[str, set[str]],
    today: dt.date,
    source_name: str = "source",
    dayfirst: bool = True,
    rows: Sequence[int] | None = None,
    keep: Sequence[str] = (),
    progress: Progress | None = None,
) -> ImportPlan:
    """Parse, check and match every source row; nothing is changed.

    `rows` says where each source record stands (default: CSV rows under a header); the
    `keep` columns go into columns of the sheet's own, as they are. `progress(step, done,
    total)` hears where a long import is (total 0: a step that cannot count).
    """
    progress = progress or _quiet
    progress(f"Checking {len(source):,} rows", 0, 0)
    unknown = sorted({f for f in mapping.values() if f != JOINED and not sheet.has(f)})
    if unknown:
        raise CrmbookError(
            f"{sheet.name} has no field {', '.join(unknown)}; fields are {', '.join(sheet.columns)}"
        )
    mapped = _mapped(source, mapping)
    for column in keep:
        mapped[column] = source[column]
    mapped = mapped.replace("", None)
    blank = mapped.isna().all(axis=1)
    where = source.index + 2 if rows is None else list(rows)
    rows = pd.Series(where, index=source.index, dtype=object)[~blank]
    mapped = mapped[~blank]
    checker = Checker(schema)
    columns = {}
    for f in sheet.fields:
        if f.name not in mapped:
            continue
        parsed = parse_column(f, mapped[f.name].astype(object), dayfirst)
        for row, value in zip(rows[parsed.bad], mapped[f.name][parsed.bad], strict=True):
            checker.add(parsed.code, source_name, row, f.name, value)
        columns[f.name] = parsed.values
    typed = pd.DataFrame(columns, index=mapped.index)
    for f in sheet.fields:
        if f.name not in typed:
            typed[f.name] = parse_column(f, pd.Series([None] * len(typed), dtype=object)).values
            typed[f.name].index = typed.index
    named = _names_from_emails(typed, rows, checker, source_name) if sheet.has("email") else set()
    canonical_choices(typed, sheet, lists)
    full = Checker(schema)
    filled = typed.copy()
    for f in sheet.fields:  # defaults are filled for new records, so required is checked fairly
        if f.default is not None and f.type != "bool":
            filled[f.name] = filled[f.name].fillna(f.default)
    check_records(TypedSheet(sheet, filled, rows, list(filled.columns)), full, lists, keys, today)
    issues = [
        dataclasses.replace(i, sheet=source_name)
        for i in full.issues
        if not (i.code == Code.REQUIRED and i.column == sheet.key and sheet.id_prefix)
    ]
    progress(f"Matching with {len(existing):,} {sheet.name.lower()}", 0, 0)
    typed["match"] = match_existing(typed, existing) if sheet.name == "Customers" else None
    if sheet.key in typed and sheet.name != "Customers":
        known = set(existing[sheet.key].dropna().astype(str))
        typed["match"] = typed[sheet.key].map(lambda k: k if str(k) in known else None)
    for column in keep:
        typed[column] = mapped[column]
    typed["row"] = rows
    typed[NAMED_FROM_EMAIL] = typed.index.isin(named)
    if sheet.name == "Customers":
        issues += _repeated_in_source(typed, source_name)
    skipped = [c for c in source.columns if c not in mapping and c not in keep]
    return ImportPlan(typed, checker.issues + issues, mapping, skipped, list(keep))


def _names_from_emails(
    records: pd.DataFrame, rows: pd.Series, checker: Checker, source_name: str
) -> set:
    """A record with an email but no name (a newsletter list) is named after the address.

    Returns the records so named: an existing customer they match keeps the name it has.
    """
    nameless = records["name"].isna() & records["email"].notna()
    for index in records.index[nameless]:
        name = name_from_email(str(records.at[index, "email"]))
        records.at[index, "name"] = name
        checker.add(Code.NAME_FROM_EMAIL, source_name, rows[index], "name", name)
    return set(records.index[nameless])


def _repeated_in_source(records: pd.DataFrame, source_name: str) -> list[Issue]:
    """New customers whose email or phone an earlier row of the same source already has."""
    found, seen = [], {}
    for _, r in records[records["match"].isna()].iterrows():
        for name, normal in (("email", lambda v: fold(v).strip()), ("phone", phone_digits)):
            value = r.get(name)
            if not isinstance(value, str) or not normal(value):
                continue
            first = seen.setdefault((name, normal(value)), r["row"])
            if first != r["row"]:
                found.append(
                    Issue.of(Code.REPEATED, source_name, r["row"], name, value, first=first)
                )
    return found


def match_existing(records: pd.DataFrame, customers: pd.DataFrame) -> pd.Series:
    """The id of the existing customer each record is (same email or phone, or same person),
    found by the matcher dedupe uses, so a big book is not compared row by row."""
    return CustomerMatcher(customers).existing(records)


def apply_import(
    book, plan: ImportPlan, sheet: Sheet, progress: Progress | None = None
) -> tuple[list[str], list[str]]:
    """Add the new records and update the matched ones with the values the source has."""
    progress = progress or _quiet
    fields = [f for f in dict.fromkeys(plan.mapping.values()) if f != JOINED]
    if JOINED in plan.mapping.values() or Code.NAME_FROM_EMAIL in {i.code for i in plan.issues}:
        fields.append("name")
    table = book.table(sheet.name)
    for column in plan.keep:
        if column not in table.df.columns:
            table.add_column(column)
    fields = list(dict.fromkeys([*fields, *plan.keep]))
    tags = [f for f in fields if sheet.has(f) and sheet.field(f).type == "tags"]
    records = table.df.drop_duplicates(sheet.key).set_index(sheet.key, drop=False)
    updates = plan.updates
    # plain dicts, read once: a pandas row lookup per matched record took seconds at 10,000
    matched = records.loc[list(dict.fromkeys(updates["match"]))].to_dict("index")
    changes: dict[str, dict[str, object]] = {}  # all applied at once: update_many
    for done, r in enumerate(updates.to_dict("records")):
        progress("Comparing matched records", done, len(updates))
        key = r["match"]
        values = {f: r[f] for f in fields if f != sheet.key and not missing(r[f])}
        if r[NAMED_FROM_EMAIL]:
            values.pop("name", None)
        current = {**matched[key], **changes.get(key, {})}
        for name in tags:  # tags from the source are added to the customer's own
            if name in values:
                values[name] = _joined_tags(current.get(name), values[name])
        if sheet.name == "Customers":
            values = keep_replaced(current, values)
            for column in [c for c in values if not sheet.has(c) and c not in table.df]:
                if table.keeps_user_columns:
                    table.add_column(column)
                else:  # a store of crmbook's columns only: the change log keeps it
                    values.pop(column)
        changed = {f: v for f, v in values.items() if missing(current.get(f)) or current[f] != v}
        if changed:
            changes.setdefault(key, {}).update(changed)
    if len(updates):
        progress("Comparing matched records", len(updates), len(updates))
    if changes:
        progress(f"Updating {len(changes):,} records", 0, 0)
        table.update_many(changes)
    updated = list(changes)
    new = plan.new
    if len(new):
        progress("Adding new records", 0, len(new))
    rows = [
        {f: (None if missing(r[f]) else r[f]) for f in fields if f != "id" or not sheet.id_prefix}
        for r in new.to_dict("records")
    ]
    added = table.add_many(rows) if rows else []
    if len(new):
        progress("Adding new records", len(new), len(new))
    return added, updated


def _quiet(step: str, done: int, total: int) -> None:
    """Where progress goes when nobody shows it."""


def _joined_tags(current: object, new: str) -> str:
    words = [] if missing(current) else str(current).split(",")
    return ", ".join(dict.fromkeys(w.strip() for w in [*words, *new.split(",")] if w.strip()))
