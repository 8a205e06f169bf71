"""Moving a business from a workbook into a database: migrate (export brings it back)."""

from __future__ import annotations

from pathlib import Path

import click

import crmbook
from crmbook.cli import main
from crmbook.cli.common import FILE, NewLocation, handle_errors, progress_bars
from crmbook.errors import CrmbookError
from crmbook.storage import is_database_url


def copy_with_progress(source, target, force: bool) -> None:
    """Copy a whole book to a workbook or database, showing a progress bar per sheet."""
    from crmbook.sharing.migrate import copy_book

    with progress_bars() as progress:
        copied = copy_book(
            source,
            target,
            overwrite=force,
            progress=lambda sheet, done, total: progress(sheet, done if total else 1, total or 1),
        )
    counts = ", ".join(f"{n:,} {name}" for name, n in copied.records.items() if n)
    click.echo(f"Copied {counts} from {source.location} to {copied.book.location}.")
    if copied.left_behind:
        click.echo(
            "Not copied (not part of the crmbook schema): " + "; ".join(copied.left_behind),
            err=True,
        )


@main.command()
@FILE
@click.argument("database", metavar="URL", type=NewLocation())
@click.option("--force", is_flag=True, help="replace the crmbook tables the database holds")
@handle_errors
def migrate(file: Path, database: str, force: bool) -> None:
    """Copy the workbook FILE into a new crmbook database at URL.

    URL is sqlite:///shop.db (a file next to you) or postgresql://user:password@host/db (the
    database must exist; crmbook creates its tables, keys and checks). Every record, list,
    id counter and the change log go across, batched, in one transaction: all or nothing.
    Afterwards every command takes URL where it took FILE.
    """
    if not is_database_url(database):
        raise CrmbookError(f"{database} is not a database URL (sqlite:///... or postgresql://...)")
    copy_with_progress(crmbook.open(file), database, force)
