"""Issues and the Report that collects them: data, never exceptions.

An issue says where (sheet, the row number Excel shows, column), what was there, what is
wrong and how to fix it. A Report is every issue of a workbook; valid means no errors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from crmbook.schema import Schema, Sheet
from crmbook.validation.codes import ERROR, WARNING, Code
from crmbook.values import missing


@dataclass(frozen=True)
class Issue:
    """One problem at one place in the workbook."""

    code: Code
    severity: str
    sheet: str
    row: int | None
    column: str | None
    value: object
    message: str
    fix: str

    @classmethod
    def of(
        cls,
        code: Code,
        sheet: str,
        row: object = None,
        column: str | None = None,
        value: object = None,
        *,
        severity: str | None = None,
        message: str | None = None,
        fix: str | None = None,
        **details: object,
    ) -> Issue:
        """An issue worded by its code's templates (or by the message and fix given)."""
        details = {"sheet": sheet, "column": column, "value": value, **details}
        return cls(
            code,
            severity or code.severity,
            sheet,
            None if row is None else int(row),
            column,
            value,
            message if message is not None else code.message.format(**details),
            fix if fix is not None else code.fix.format(**details),
        )

    @property
    def where(self) -> str:
        place = self.sheet
        if self.row is not None:
            place += f" row {self.row}"
        if self.column:
            place += f", column {self.column}"
        return place

    def __str__(self) -> str:
        shown = "" if missing(self.value) else f" [{self.value!s}]"
        return f"{self.severity.upper()} {self.where}{shown}: {self.message}. Fix: {self.fix}"


@dataclass
class Report:
    """Every issue found; valid means no errors (warnings are allowed)."""

    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_frame(self) -> pd.DataFrame:
        columns = [f.name for f in Issue.__dataclass_fields__.values()]
        rows = [{**asdict(i), "code": str(i.code)} for i in self.issues]
        return pd.DataFrame(rows, columns=columns)

    def to_dicts(self) -> list[dict]:
        return [
            {**asdict(i), "code": str(i.code), "value": _jsonable(i.value)} for i in self.issues
        ]

    def summary(self) -> str:
        if not self.issues:
            return "No problems found."
        return f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)."

    def __str__(self) -> str:
        return "\n".join([*(str(i) for i in self.issues), self.summary()])


def _jsonable(value: object) -> object:
    if missing(value):
        return None
    if isinstance(value, dt.date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, str | int | float | bool) else str(value)


class Checker:
    """Collects issues for one workbook."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self.issues: list[Issue] = []

    def add(
        self,
        code: Code,
        sheet: str,
        row: object = None,
        column: str | None = None,
        value: object = None,
        **wording: object,
    ) -> None:
        """One issue; `wording` fills the code's templates (or gives severity, message, fix)."""
        self.issues.append(Issue.of(code, sheet, row, column, value, **wording))

    def add_many(
        self,
        code: Code,
        sheet: Sheet,
        rows: pd.Series,
        column: str,
        values: Iterable,
        **wording: object,
    ) -> None:
        """The same issue at many rows: worded once, then placed at each row."""
        model = Issue.of(code, sheet.name, None, column, None, **wording)
        for row, value in zip(rows, values, strict=True):
            row = None if row is None else int(row)
            self.issues.append(replace(model, row=row, value=value))

    def report(self) -> Report:
        return Report(sorted(self.issues, key=_issue_order))


def _issue_order(issue: Issue) -> tuple:
    return (issue.severity != ERROR, issue.sheet, issue.row or 0, issue.column or "")
