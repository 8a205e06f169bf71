"""The command line: thin commands that open the book, call the library and print.

Every command turns library errors into one clear line and an exit code:
0 fine, 1 the data has errors (or a record was refused), 2 the input is unusable.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import sys
from pathlib import Path

import click
import pandas as pd
from rich.console import Console
from rich.table import Table as RichTable

import crmbook
from crmbook.errors import CrmbookError, RecordError
from crmbook.schema import SCHEMA, TYPES, Field

OUTPUT_FORMATS = ("table", "csv", "json")


def _console() -> Console:
    return Console(width=max(120, Console().width), soft_wrap=False)


def output_option(command):
    """The shared --format option of every command that prints records."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(OUTPUT_FORMATS),
        default="table",
        show_default=True,
        help="table for people, csv or json for programs",
    )(command)


def emit(frame: pd.DataFrame, fmt: str, title: str | None = None) -> None:
    """Print a frame as a readable table, CSV or JSON."""
    if fmt == "csv":
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, date_format="%Y-%m-%d %H:%M")
        click.echo(buffer.getvalue(), nl=False)
        return
    if fmt == "json":
        click.echo(frame.to_json(orient="records", date_format="iso", force_ascii=False, indent=2))
        return
    table = RichTable(title=title, show_lines=False, header_style="bold")
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    _console().print(table)


def _cell(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    if isinstance(value, pd.Timestamp):
        return (
            value.strftime("%Y-%m-%d")
            if value == value.normalize()
            else value.strftime("%Y-%m-%d %H:%M")
        )
    return str(value)


def handle_errors(command):
    """Library errors become one message on stderr and an exit code, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except RecordError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except CrmbookError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)

    return wrapper


FILE = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(crmbook.__version__, prog_name="crmbook")
def main() -> None:
    """crmbook: a CRM whose database is one Excel workbook."""


@main.command()
@FILE
@click.option("--force", is_flag=True, help="overwrite FILE if it exists")
@handle_errors
def init(file: Path, force: bool) -> None:
    """Create a new, empty CRM workbook FILE."""
    book = crmbook.create(file, overwrite=force)
    sheets = ", ".join(s.name for s in SCHEMA.entities)
    click.echo(f"Created {book.path} with sheets {sheets}, Lists, Dashboard and Log.")


@main.command()
@FILE
@click.option("--customers", default=600, show_default=True, help="how many customers")
@click.option(
    "--interactions", type=int, default=None, help="how many interactions [default: 5 per customer]"
)
@click.option("--seed", default=2024, show_default=True, help="random seed (same seed, same book)")
@click.option("--force", is_flag=True, help="overwrite FILE if it exists")
@handle_errors
def demo(file: Path, customers: int, interactions: int | None, seed: int, force: bool) -> None:
    """Write a realistic demo business into a new workbook FILE."""
    from crmbook.demo import build_demo_book

    book = build_demo_book(
        file,
        customers=customers,
        interactions=interactions,
        seed=seed,
        today=dt.date.today(),
        overwrite=force,
    )
    click.echo(f"Wrote the demo business to {book.path}")
    _print_summary(book, "table")


@main.command()
@FILE
@output_option
@handle_errors
def summary(file: Path, fmt: str) -> None:
    """Print headline figures of FILE: records per sheet, stages, revenue, tasks."""
    _print_summary(crmbook.open(file), fmt)


def _print_summary(book: crmbook.Book, fmt: str) -> None:
    from crmbook.analytics.overview import overview

    frames = {s.name: book.table(s.name).df for s in SCHEMA.entities}
    emit(overview(frames, book.today()), fmt, title=f"{book.path.name}")


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
        emit(
            frame[["severity", "sheet", "row", "column", "value", "message", "fix"]],
            fmt,
            title="Problems",
        )
    if fmt == "table":
        click.echo(report.summary())
    sys.exit(0 if report.valid else 1)


@main.command()
@FILE
@click.argument("text")
@output_option
@handle_errors
def find(file: Path, text: str, fmt: str) -> None:
    """Find customers whose name, company, email or phone contains TEXT."""
    from crmbook.analytics.find import find_customers

    hits = find_customers(crmbook.open(file).customers.df, text)
    shown = hits[["id", "name", "company", "email", "phone", "city", "stage"]]
    if hits.empty and fmt == "table":
        click.echo(f"No customer matches {text!r}.")
        return
    emit(shown, fmt, title=f"Customers matching {text!r}")


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
    command = click.option(
        "--force", is_flag=True, help="save even if the file looks open in Excel"
    )(command)
    command = click.option(
        "--user",
        default=None,
        help="your name for the change log [default: $CRMBOOK_USER or login]",
    )(command)
    command = FILE(command)
    return add.command(name=sheet.entity)(command)


for _sheet in SCHEMA.entities:
    _add_command(_sheet)


if __name__ == "__main__":
    main()
