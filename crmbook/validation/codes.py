"""Every kind of issue crmbook reports, declared once: its stable code, its usual severity and
what its message and fix say.

The codes are part of the output people and programs read (`crmbook validate --format json`),
so their values never change. Messages and fixes are templates filled with the details of the
place: {column}, {value} and whatever the rule that found the issue knows.
"""

from __future__ import annotations

from enum import StrEnum

ERROR, WARNING = "error", "warning"


class Code(StrEnum):
    """An issue's code (compares equal to its text: Code.REQUIRED == "required")."""

    severity: str
    message: str
    fix: str

    def __new__(cls, value: str, severity: str, message: str, fix: str) -> Code:
        code = str.__new__(cls, value)
        code._value_ = value
        code.severity, code.message, code.fix = severity, message, fix
        return code

    # ---------------------------------------------------------------- the workbook itself
    MISSING_SHEET = (
        "missing-sheet",
        ERROR,
        "the workbook has no sheet '{sheet}'",
        "restore the sheet, or copy it from a new workbook made by crmbook init",
    )
    MISSING_COLUMN = (
        "missing-column",
        ERROR,
        "the column '{column}' is missing",
        "add a column headed '{column}' to the table",
    )
    MISSING_LIST = (
        "missing-list",
        WARNING,
        "the list '{column}' is missing; crmbook uses its defaults",
        "add a column headed '{column}' to the Lists sheet",
    )
    SCHEMA_UPGRADE = (
        "schema-upgrade",
        WARNING,
        "{note}",
        "nothing to do: save the workbook through crmbook (any change) to upgrade it",
    )
    # ---------------------------------------------------------------- values that cannot be read
    BAD_DATE = (
        "bad-date",
        ERROR,
        "not a date",
        "type a date from 1900 on, such as 2024-03-31 or 31.03.2024",
    )
    BAD_DATETIME = (
        "bad-datetime",
        ERROR,
        "not a date and time",
        "type a date and time from 1900 on, such as 2024-03-31 14:30",
    )
    BAD_MONEY = (
        "bad-money",
        ERROR,
        "not a number",
        "type a number such as 1250.50 (no letters)",
    )
    BAD_INTEGER = (
        "bad-integer",
        ERROR,
        "not a whole number",
        "type a whole number such as 30",
    )
    BAD_BOOL = (
        "bad-bool",
        ERROR,
        "not TRUE or FALSE",
        "type TRUE or FALSE (yes/no also work)",
    )
    BAD_PROBABILITY = (
        "bad-probability",
        ERROR,
        "the probability of '{listed}' {problem}{fallback}",
        "type a percentage such as 25% (or 0.25) beside '{listed}'",
    )
    # ---------------------------------------------------------------- values that break a rule
    REQUIRED = (
        "required",
        ERROR,
        "{column} is required",
        "fill in {column} ({help})",
    )
    TOO_LONG = (
        "too-long",
        ERROR,
        "{column} holds {length:,} characters; an Excel cell holds at most {limit:,}",
        "shorten it to {limit:,} characters (keep a long text in a document and link to it)",
    )
    BAD_EMAIL = (
        "bad-email",
        ERROR,
        "not an email address ({problem})",
        "type an address such as anna@example.com, or clear the cell",
    )
    BAD_PHONE = (
        "bad-phone",
        WARNING,
        "does not look like a phone number",
        "type the number with its country code, e.g. +49 30 1234567",
    )
    FUTURE_DATE = (
        "future-date",
        ERROR,
        "{column} is in the future",
        "check the year; type the real date",
    )
    NOT_IN_LIST = (
        "not-in-list",
        ERROR,
        "not in the '{vocabulary}' list of the Lists sheet",
        "pick one of: {allowed} - or add it to column '{vocabulary}' of Lists",
    )
    UNKNOWN_REFERENCE = (
        "unknown-reference",
        ERROR,
        "no {entity} with this {key} in {target}",
        "use an existing {key} from the {target} sheet, or add that record there first",
    )
    DUPLICATE = (
        "duplicate",
        ERROR,
        "{column} '{value}' is used twice (first on row {first})",
        "give each record its own {column}; crmbook assigns new ids when you clear the cell",
    )
    BAD_ID = (
        "bad-id",
        ERROR,
        "not a {sheet} id",
        "ids look like {prefix}-000123; clear the cell and crmbook assigns a new one",
    )
    MISSING_ID = (
        "missing-id",
        WARNING,
        "the record had no id; crmbook gave it {new_id}",
        "nothing to do: the id is written on the next save",
    )
    # ---------------------------------------------------------------- an import source
    NAME_FROM_EMAIL = (
        "name-from-email",
        WARNING,
        "no name: named after the email",
        "correct the name later in the workbook if it is not right",
    )
    REPEATED = (
        "repeated",
        WARNING,
        "row {first} has the same {column}: both become customers",
        "keep one of the rows, or merge them later with crmbook dedupe",
    )
