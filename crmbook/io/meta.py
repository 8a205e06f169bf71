"""The rows of a new workbook's hidden metadata sheet (_crmbook): schema version, identity,
creation time, language and the id counters. Apart from io/template.py, so a save that
writes the metadata does not import openpyxl."""

from __future__ import annotations

import datetime as dt

from crmbook.schema import Schema


def meta_rows(
    schema: Schema, workbook_id: str, created: dt.datetime, lang: str = "en"
) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [
        ("schema_version", schema.version),
        ("workbook_id", workbook_id),
        ("created", created.isoformat(timespec="seconds")),
    ]
    if lang != "en":
        rows.append(("language", lang))
    rows += [(f"next_id.{s.name}", 1) for s in schema.sheets if s.id_prefix]
    return rows
