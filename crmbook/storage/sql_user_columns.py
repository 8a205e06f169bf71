"""The user's own columns in a crmbook database, beside the schema's tables.

A workbook keeps the columns a person added to a sheet (in Excel, or by `crmbook import
--keep`); a database keeps them too, so a book moved into a database and back loses none.
The schema's tables stay as the schema says; each such column is a row of
`crmbook_user_columns` (its sheet, its place after the schema's columns, its heading), and each
non-empty value a row of `crmbook_user_values` (sheet, record key, heading, the value as text
with its kind: text, number, bool or datetime, as an Excel cell holds it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crmbook.errors import SaveRefusedError
from crmbook.schema import Sheet

COLUMNS_TABLE = "crmbook_user_columns"
VALUES_TABLE = "crmbook_user_values"
TABLES = (COLUMNS_TABLE, VALUES_TABLE)


def define(md: sa.MetaData) -> None:
    """Add the two tables to the database's metadata."""
    sa.Table(
        COLUMNS_TABLE,
        md,
        sa.Column("sheet", sa.Text, primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("heading", sa.Text, nullable=False),
    )
    sa.Table(
        VALUES_TABLE,
        md,
        sa.Column("sheet", sa.Text, primary_key=True),
        sa.Column("record", sa.Text, primary_key=True),
        sa.Column("heading", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
    )


def headings(conn: Connection, md: sa.MetaData, sheet: str) -> list[str]:
    """The sheet's own columns, in order."""
    table = md.tables[COLUMNS_TABLE]
    query = sa.select(table.c.heading).where(table.c.sheet == sheet).order_by(table.c.position)
    return list(conn.execute(query).scalars())


def read(conn: Connection, md: sa.MetaData, sheet: Sheet, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (the sheet's records) with the sheet's own columns at its end."""
    own = headings(conn, md, sheet.name)
    if not own:
        return frame
    table = md.tables[VALUES_TABLE]
    query = sa.select(table.c.record, table.c.heading, table.c.kind, table.c.value).where(
        table.c.sheet == sheet.name
    )
    stored = pd.DataFrame(conn.execute(query).all(), columns=["record", "heading", "kind", "value"])
    keys = frame[sheet.key].astype(object)
    out = frame.copy()
    for heading in own:
        mine = stored[stored["heading"] == heading]
        values = dict(zip(mine["record"], map(_decoded, mine["kind"], mine["value"]), strict=True))
        out[heading] = pd.Series([values.get(k) for k in keys], index=frame.index, dtype=object)
    return out


def save(
    conn: Connection,
    md: sa.MetaData,
    sheet: Sheet,
    added: tuple[str, ...],
    updated: Mapping[str, Mapping[str, tuple[object, object]]],
    deleted: list[str],
    appended: pd.DataFrame,
) -> None:
    """Store what changed in the sheet's own columns, in the save's transaction.

    A changed value is stored only while it still holds the value read, as the schema's fields.
    """
    columns, values = md.tables[COLUMNS_TABLE], md.tables[VALUES_TABLE]
    if added:
        start = len(headings(conn, md, sheet.name))
        conn.execute(
            columns.insert(),
            [
                {"sheet": sheet.name, "position": start + n, "heading": heading}
                for n, heading in enumerate(added)
            ],
        )
    if deleted:
        conn.execute(
            values.delete().where(values.c.sheet == sheet.name, values.c.record.in_(deleted))
        )
    for record, fields in updated.items():
        for heading, (old, new) in fields.items():
            if sheet.has(heading):
                continue
            where = (
                values.c.sheet == sheet.name,
                values.c.record == record,
                values.c.heading == heading,
            )
            now = conn.execute(sa.select(values.c.kind, values.c.value).where(*where)).first()
            if _encoded(old) != (tuple(now) if now else None):
                raise SaveRefusedError(
                    f"{heading} of {sheet.entity} {record} changed since it was read (someone "
                    "else saved first), so nothing was saved. Open it again and make the change "
                    "there."
                )
            conn.execute(values.delete().where(*where))
            _insert(conn, values, sheet.name, [(record, heading, new)])
    own = [c for c in appended.columns if not sheet.has(c)]
    if own and len(appended):
        keys = appended[sheet.key].tolist()
        cells = [(k, h, v) for h in own for k, v in zip(keys, appended[h], strict=True)]
        _insert(conn, values, sheet.name, cells)


def _insert(conn: Connection, values: sa.Table, sheet: str, cells: list[tuple]) -> None:
    rows = []
    for record, heading, value in cells:
        encoded = _encoded(value)
        if encoded is not None:
            kind, text = encoded
            rows.append(
                {"sheet": sheet, "record": record, "heading": heading, "kind": kind, "value": text}
            )
    if rows:
        conn.execute(values.insert(), rows)


def _encoded(value: object) -> tuple[str, str] | None:
    """A cell as (kind, text); None for an empty one."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, str):
        return ("text", value) if value != "" else None
    if isinstance(value, bool | np.bool_):
        return "bool", "1" if value else "0"
    if isinstance(value, int | np.integer):
        return "number", str(int(value))
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else ("number", repr(float(value)))
    if isinstance(value, dt.date | pd.Timestamp):
        return "datetime", pd.Timestamp(value).isoformat()
    return "text", str(value)


def _decoded(kind: str, text: str) -> object:
    if kind == "number":
        number = float(text)
        return (
            int(number) if number.is_integer() and "." not in text and "e" not in text else number
        )
    if kind == "bool":
        return text == "1"
    if kind == "datetime":
        return pd.Timestamp(text)
    return text
