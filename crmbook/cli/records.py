"""Commands that create, check and add to a workbook: init, demo, summary, validate, add."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

import crmbook
from crmbook.cli import main
from crmbook.cli.common import (
    FILE,
    FORCE_SAVE,
    NEW_FILE,
    USER,
    _today_option,
    emit,
    handle_errors,
    output_option,
)
from crmbook.languages import LANGUAGES
from crmbook.schema import SCHEMA, TYPES, Field


@main.command()
@NEW_FILE
@click.option("--force", is_flag=True, help="overwrite FILE if it exists")
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default="en",
    show_default=True,
    help="language of the sheet names, headers and dropdown labels",
)
@handle_errors
def init(file: Path, force: bool, lang: str) -> None:
    """Create a new, empty CRM workbook FILE."""
    book = crmbook.create(file, overwrite=force, lang=lang)
    w = book.words
    sheets = ", ".join(w.sheet(s.name) for s in SCHEMA.entities)
    extra = ", ".join(w.sheet(n) for n in (SCHEMA.lists_sheet, SCHEMA.dashboard_sheet))
    click.echo(f"Created {book.location} with sheets {sheets}, {extra} and {w.sheet('Log')}.")


@main.command()
@NEW_FILE
@click.option("--customers", default=600, show_default=True, help="how many customers")
@click.option(
    "--interactions", type=int, default=None, help="how many interactions [default: 5 per customer]"
)
@click.option("--seed", default=2024, show_default=True, help="random seed (same seed, same book)")
@_today_option
@click.option("--force", is_flag=True, help="overwrite FILE if it exists")
@handle_errors
def demo(
    file: Path, customers: int, interactions: int | None, seed: int, today, force: bool
) -> None:
    """Write a realistic demo business into a new workbook FILE.

    A travel agency with two years of history up to today: most promised follow-ups done,
    a few dozen reminders a day (per 600 customers), open deals at every stage closing in
    the coming months."""
    from crmbook.demo import build_demo_book, demo_mail_config
    from crmbook.mailing.config import CONFIG_NAME

    day = today.date() if today else dt.date.today()
    book = build_demo_book(
        file, customers=customers, interactions=interactions, seed=seed, today=day, overwrite=force
    )
    click.echo(f"Wrote the demo business to {book.location}")
    config = book.path.parent / CONFIG_NAME
    if not config.exists():
        config.write_text(demo_mail_config(), encoding="utf-8")
        click.echo(f"Wrote a sample mail config (sender, owners' addresses) to {config}")
    _print_summary(book, "table", day)


@main.command()
@FILE
@output_option
@handle_errors
def summary(file: Path, fmt: str) -> None:
    """Print headline figures of FILE: records per sheet, stages, revenue, tasks."""
    _print_summary(crmbook.open(file), fmt)


def _print_summary(book: crmbook.Book, fmt: str, today: dt.date | None = None) -> None:
    from crmbook.analytics.overview import overview

    frames = {s.name: book.table(s.name).df for s in SCHEMA.entities}
    emit(overview(frames, today or book.today()), fmt, title=f"{book.path.name}")


@main.command()
@FILE
@output_option
@click.option(
    "--dayfirst/--monthfirst",
    default=True,
    show_default=True,
    help="how to read text dates like 03/04/2024",
)
@handle_errors
def validate(file: Path, fmt: str, dayfirst: bool) -> None:
    """Check FILE and list every problem with sheet, row, column and how to fix it.

    Exits 1 when there are errors, 0 when the workbook is clean (warnings allowed).
    """
    report = crmbook.open(file, dayfirst=dayfirst).validate()
    frame = report.to_frame()
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "valid": report.valid,
                    "errors": len(report.errors),
                    "warnings": len(report.warnings),
                    "issues": report.to_dicts(),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    elif fmt == "csv" or not frame.empty:
        if fmt == "table":  # a long report shows its errors first, in sheet and row order
            frame = frame.sort_values("severity", key=lambda s: s != "error", kind="stable")
        emit(
            frame[["severity", "sheet", "row", "column", "value", "message", "fix"]],
            fmt,
            title="Problems",
        )
    if fmt == "table":
        click.echo(report.summary())
    sys.exit(0 if report.valid else 1)


@main.group()
def add() -> None:
    """Add a record: crmbook add customer FILE --name ... --email ..."""


def _option_for(field: Field):
    help_text = field.help or TYPES[field.type].help
    if field.vocabulary:
        values = SCHEMA.vocabulary(field.vocabulary).values
        if values:
            help_text += f" (one of: {', '.join(values)}; the Lists sheet may add more)"
    if field.required:
        help_text += " [required]"
    return click.option(
        f"--{field.name.replace('_', '-')}", field.name, default=None, help=help_text
    )


def _add_command(sheet):
    @handle_errors
    def command(file: Path, user: str | None, force: bool, **values: object) -> None:
        book = crmbook.open(file, user=user)
        given = {k: v for k, v in values.items() if v is not None}
        key = book.table(sheet.name).add(**given)
        book.save(force=force)
        click.echo(f"Added {sheet.entity} {key} to {file}")

    command.__doc__ = f"Add one {sheet.entity} to FILE ({sheet.help})."
    for field in reversed([f for f in sheet.fields if not f.auto]):
        command = _option_for(field)(command)
    command = FILE(USER(FORCE_SAVE(command)))
    return add.command(name=sheet.entity)(command)


for _sheet in SCHEMA.entities:
    _add_command(_sheet)
