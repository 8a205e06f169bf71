"""Copy a whole book to a new workbook or database: `crmbook migrate` and `crmbook export`.

Everything the schema describes goes across unchanged: every record with its id, the Lists
(with the stage probabilities), the id counters (ids are never given out twice, also after the
move), the book's identity and language, the change log, which gains one line saying where
the records came from, the outbox journal (no message goes twice, also after the move), and the
columns a person added to a sheet (in Excel, or by import --keep) with their values. What the
schema does not describe otherwise (the user's own sheets, charts, formatting) stays in the
workbook it was made in; the result lists it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from crmbook.book import Book, create
from crmbook.errors import CrmbookError
from crmbook.storage import is_database_url
from crmbook.storage.sql import Progress, create_database
from crmbook.values import missing

COPIED_META = ("workbook_id", "created", "language")


@dataclass
class Copied:
    """The new book and what went into it."""

    book: Book
    records: dict[str, int]
    left_behind: list[str] = field(default_factory=list)


def copy_book(
    source: Book,
    target: str | os.PathLike,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Copied:
    """Copy `source` to the new workbook file or database URL `target`, all or nothing.

    Refuses a source with errors (crmbook validate lists them): the database's constraints
    would refuse those records, and a half copy helps no one.
    """
    errors = source.validate().errors
    if errors:
        first = errors[0]
        raise CrmbookError(
            f"{source.location} has {len(errors):,} error(s), so nothing was copied; the first: "
            f"{first.sheet} row {first.row or '?'} {first.column}: {first.message}. "
            f"crmbook validate {source.location} lists them all; fix them, then copy again"
        )
    schema = source.schema
    frames = {s.name: source.table(s.name).df for s in schema.reference_order()}
    owned = {*schema.owned_sheet_names, schema.dashboard_sheet}
    left_behind = [f"sheet {n!r}" for n in source.sheet_names if n not in owned]
    lang = source.words.lang
    if is_database_url(target):
        meta = {
            k: v for k, v in source.meta.items() if str(k).startswith(("next_id.", *COPIED_META))
        }
        storage = create_database(
            str(target),
            schema,
            overwrite=overwrite,
            lang=lang,
            lists=source.lists,
            meta=meta,
            bulk_load=True,
        )
        storage.progress = progress
        book = Book(storage, user=source.user)
    else:
        target = Path(target)
        if target.resolve() == source.path.resolve():
            raise CrmbookError(f"{target} is the book itself; choose another file")
        book = create(target, overwrite=overwrite, lang=lang, user=source.user)
        for name, values in source.lists.items():
            book.set_list(name, values)
        for key in COPIED_META:
            if key in source.meta:
                book.meta[key] = source.meta[key]
    for name, numbers in source.list_numbers.items():
        book.set_numbers(name, numbers)
    records = {}
    for name, frame in frames.items():
        sheet = schema.sheet(name)
        table = book.table(name)
        own = source.table(name).user_columns
        for column in own:
            table.add_column(column)
        table.add_many(frame[[*sheet.columns, *own]], keep_ids=True)
        records[name] = len(frame)
        next_id = int(source.meta.get(f"next_id.{name}", 0) or 0)
        if sheet.id_prefix and next_id > 1:
            book.bump_counter(name, next_id - 1)
        if progress and not is_database_url(target):
            progress(name, len(frame), len(frame))
    book.pending_log[:] = [*_log_entries(source), _copied_entry(source, book)]
    records["Log"] = len(book.pending_log)
    book.touch()
    try:
        book.save(backups=0)
    except BaseException:
        book.storage.discard()  # a failed copy leaves nothing behind
        raise
    sent = source.storage.journal().entries()
    if sent:  # what was mailed from the old place is never mailed again from the new one
        book.storage.journal().take_over(sent.values())
    return Copied(book, records, left_behind)


def _log_entries(source: Book) -> list[dict]:
    log = source.table("Log").df
    columns = source.schema.sheet("Log").columns
    return [
        {c: (None if missing(v) else v) for c, v in zip(columns, row, strict=True)}
        for row in log[columns].itertuples(index=False)
    ]


def _copied_entry(source: Book, book: Book) -> dict:
    return {
        "when": book.now(),
        "who": book.user,
        "sheet": "",
        "record": "",
        "field": "",
        "old": "",
        "new": f"copied from {source.location}",
    }
