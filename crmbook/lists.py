"""The numbers people keep beside a dropdown list on the Lists sheet: each deal stage's
probability of being won, which the forecast weighs open deals by.

A number stands on the row of its value, in a column of its own (schema.ListNumbers), so an
owner edits both in Excel side by side. Reading is tolerant (10%, 0.1, "10 %", "0,1"; a 25
typed for 25% is read as 25% with a warning) and a cell that cannot be read is reported
with its row and keeps the default, so one typo never empties the forecast.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from crmbook.io.reader import RawSheet
from crmbook.languages import Words, field_aliases
from crmbook.schema import ListNumbers, Schema
from crmbook.validation import ERROR, WARNING, Checker, Code, header_key
from crmbook.values import missing

_PERCENT = re.compile(r"^([+-]?\d+(?:[.,]\d+)?)\s*%$")


def numbers_column(header: list[str], numbers: ListNumbers) -> str | None:
    """The heading the numbers column carries in this Lists sheet (in any language), if any."""
    wanted = {header_key(alias) for alias in field_aliases(numbers.name)}
    return next((h for h in header if header_key(h) in wanted), None)


def read_numbers(
    raw: RawSheet,
    schema: Schema,
    lists: Mapping[str, list[str]],
    internal: Callable[[str], str],
    checker: Checker,
) -> dict[str, dict[str, float]]:
    """Per vocabulary with numbers: each value of its list with its number.

    A value without a readable number takes the schema default, or 0 for a value the schema
    does not know (a stage added by hand); each such cell is reported to `checker`.
    `internal` turns a value as written (any language) into crmbook's name for it.
    Without the numbers column every value takes its default (validate says the column is
    missing).
    """
    found = {}
    for vocab in schema.vocabularies:
        if vocab.numbers is None:
            continue
        column = numbers_column(raw.header, vocab.numbers)
        cells = {}
        if column is not None and vocab.name in raw.header:
            for value, cell, row in zip(
                raw.frame[vocab.name], raw.frame[column], raw.rows.tolist(), strict=True
            ):
                if not missing(value):
                    cells.setdefault(internal(str(value).strip()), (str(value).strip(), cell, row))
        defaults = vocab.default_numbers()
        found[vocab.name] = {}
        for name in lists.get(vocab.name, vocab.values):
            default = defaults.get(name, 0.0)
            if column is None:
                found[vocab.name][name] = default
                continue
            shown, cell, row = cells.get(name, (name, None, None))
            found[vocab.name][name] = _number(
                vocab.numbers, shown, cell, row, column, default, schema, checker
            )
    return found


def _number(
    numbers: ListNumbers,
    value: str,
    cell: object,
    row: int | None,
    column: str,
    default: float,
    schema: Schema,
    checker: Checker,
) -> float:
    """One value's number from its cell; a problem is reported and falls back on `default`."""
    if missing(cell):
        number, problem = None, "is empty"
    else:
        number, problem = parse_share(cell)
    if problem is None:
        return number
    checker.add(
        Code(f"bad-{numbers.name}"),  # a list's numbers have their code in the registry
        schema.lists_sheet,
        row,
        column,
        None if missing(cell) else cell,
        severity=WARNING if number is not None or missing(cell) else ERROR,
        listed=value,
        problem=problem,
        fallback="" if number is not None else f"; crmbook counts {default:.0%}",
    )
    return default if number is None else number


def parse_share(cell: object) -> tuple[float | None, str | None]:
    """A share between 0 and 1 from what someone typed, and what is wrong with it (None: ok).

    25 is taken for 25% (with a problem to report); text such as "25 %" or "0,25" is read.
    """
    if isinstance(cell, bool):
        return None, f"is {cell}, not a percentage"
    number: float | None
    if isinstance(cell, int | float):
        number = float(cell)
    else:
        text = str(cell).strip()
        percent = _PERCENT.match(text)
        try:
            if percent:
                number = float(percent.group(1).replace(",", ".")) / 100
            else:
                number = float(text.replace(",", "."))
        except ValueError:
            return None, f"is '{text}', not a percentage"
    if number != number or number < 0 or number > 100:
        return None, f"is {cell}, not between 0% and 100%"
    if number > 1:
        return number / 100, f"is {cell}, read as {number:g}%"
    return number, None


def lists_columns(
    schema: Schema,
    lists: Mapping[str, list[str]],
    numbers: Mapping[str, Mapping[str, float]],
    words: Words,
) -> dict[str, list[object]]:
    """The Lists sheet's columns as they are stored: every vocabulary by its name, and after
    one with numbers the numbers column (headed in the workbook's language), row by row."""
    columns: dict[str, list[object]] = {}
    for vocab in schema.vocabularies:
        values = list(lists.get(vocab.name, vocab.values))
        columns[vocab.name] = [words.value(v) for v in values]
        if vocab.numbers is not None:
            given = {**vocab.default_numbers(), **numbers.get(vocab.name, {})}
            columns[words.field(vocab.numbers.name)] = [given.get(v, 0.0) for v in values]
    return columns
