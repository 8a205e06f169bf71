"""The rules records must keep beyond being readable, one function each, run by one registry.

A rule looks at one column of the records being checked (a whole sheet when validating, the
new records when adding or importing) and reports every value that breaks it. check_records
runs every rule in RULES on every column; a new rule is one function named in RULES.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

from crmbook.excel_limits import MAX_CELL_CHARS, cell_length, too_long
from crmbook.schema import TYPES, Field, Sheet
from crmbook.validation.codes import WARNING, Code
from crmbook.validation.report import Checker
from crmbook.validation.sheets import TypedSheet, isin


@dataclass(frozen=True)
class Column:
    """One column of the records being checked, with what the rules judge it against."""

    sheet: Sheet
    field: Field
    values: pd.Series
    present: pd.Series  # True where the record has a value
    rows: pd.Series  # the Excel row of each record (None for records not stored yet)
    checker: Checker
    vocabularies: dict[str, list[str]]
    keys: dict[str, set[str]]  # the keys of each sheet present, for references
    today: dt.date

    def report(self, code: Code, where: pd.Series, values=None, **wording: object) -> None:
        """The same issue at every record `where` is True."""
        if not where.any():
            return
        shown = self.values[where] if values is None else values
        self.checker.add_many(code, self.sheet, self.rows[where], self.field.name, shown, **wording)


def required(c: Column) -> None:
    if c.field.required and not c.field.auto:
        absent = ~c.present
        c.report(Code.REQUIRED, absent, [None] * int(absent.sum()), help=TYPES[c.field.type].help)


def fits_in_a_cell(c: Column) -> None:
    """Excel keeps at most MAX_CELL_CHARS characters in a cell and cuts or "repairs" the rest."""
    if c.field.ftype.dtype != "str":
        return
    long = too_long(c.values)
    for row, value in zip(c.rows[long], c.values[long], strict=True):
        c.checker.add(
            Code.TOO_LONG,
            c.sheet.name,
            row,
            c.field.name,
            value[:40] + "…",
            length=cell_length(value),
            limit=MAX_CELL_CHARS,
        )


_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def looks_like_an_email(c: Column) -> None:
    if c.field.type != "email":
        return
    odd = c.present & ~c.values.str.match(_EMAIL_SHAPE).fillna(False).astype(bool)
    for row, value in zip(c.rows[odd], c.values[odd], strict=True):
        problem = _email_problem(value) or "no domain"
        c.checker.add(Code.BAD_EMAIL, c.sheet.name, row, c.field.name, value, problem=problem)


def _email_problem(value: str) -> str:
    from email_validator import EmailNotValidError, validate_email  # only when checking emails

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as e:
        return str(e)
    return ""


def looks_like_a_phone(c: Column) -> None:
    if c.field.type != "phone":
        return
    digits = c.values.str.count(r"\d")
    c.report(Code.BAD_PHONE, c.present & ((digits < 5) | (digits > 17)).fillna(False))


def not_in_the_future(c: Column) -> None:
    if not c.field.not_future:
        return
    future = (c.present & (c.values > pd.Timestamp(c.today))).fillna(False).astype(bool)
    c.report(Code.FUTURE_DATE, future, c.values[future].dt.date)


def in_its_list(c: Column) -> None:
    """A choice is one of its vocabulary's values (an open vocabulary only warns)."""
    name = c.field.vocabulary
    if not name:
        return
    listed = c.vocabularies.get(name, [])
    allowed = {v.strip().lower() for v in listed}
    unknown = c.present & ~isin(c.values.str.strip().str.lower(), allowed)
    if not unknown.any():
        return
    severity = WARNING if c.checker.schema.vocabulary(name).open else Code.NOT_IN_LIST.severity
    fix = None if listed else f"add it to column '{name}' of the Lists sheet"
    c.report(
        Code.NOT_IN_LIST,
        unknown,
        severity=severity,
        vocabulary=name,
        allowed=", ".join(listed[:12]),
        fix=fix,
    )


def refers_to_a_record(c: Column) -> None:
    """A reference names a record of its sheet; a missing sheet is reported once, not here."""
    if not c.field.ref:
        return
    target = c.checker.schema.sheet(c.field.ref)
    if target.name not in c.keys:
        return
    dangling = c.present & ~isin(c.values, c.keys[target.name])
    c.report(
        Code.UNKNOWN_REFERENCE, dangling, entity=target.entity, key=target.key, target=target.name
    )


def unique(c: Column) -> None:
    if not c.field.unique:
        return
    repeated = c.present & c.values.duplicated(keep="first")
    if not repeated.any():
        return
    first = c.present & ~repeated
    first_row = dict(zip(c.values[first], c.rows[first], strict=True))
    for row, value in zip(c.rows[repeated], c.values[repeated], strict=True):
        c.checker.add(
            Code.DUPLICATE, c.sheet.name, row, c.field.name, value, first=first_row[value]
        )


def id_shape(c: Column) -> None:
    prefix = c.sheet.id_prefix
    if c.field.type != "id" or c.field.name != "id" or not prefix:
        return
    odd = c.present & ~c.values.str.match(rf"^{prefix}-\d+$").fillna(False).astype(bool)
    c.report(Code.BAD_ID, odd, prefix=prefix)


RULES = (
    required,
    fits_in_a_cell,
    looks_like_an_email,
    looks_like_a_phone,
    not_in_the_future,
    in_its_list,
    refers_to_a_record,
    unique,
    id_shape,
)


def check_records(
    typed: TypedSheet,
    checker: Checker,
    vocabularies: dict[str, list[str]],
    keys: dict[str, set[str]],
    today: dt.date,
) -> None:
    """Run every rule on every column of the records. `keys` holds the keys of each sheet
    present; references to a sheet not in it are not checked (the sheet itself is missing)."""
    for f in typed.sheet.fields:
        values = typed.frame[f.name]
        column = Column(
            typed.sheet, f, values, values.notna(), typed.rows, checker, vocabularies, keys, today
        )
        for rule in RULES:
            rule(column)
