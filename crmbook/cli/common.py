"""Helpers the commands share: output formats and printing, error handling, common options."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

import crmbook
from crmbook.errors import CrmbookError, RecordError
from crmbook.values import missing

OUTPUT_FORMATS = ("table", "csv", "json")
ROWS_SHOWN = 50  # a table for people stops here; --all, csv and json give every row
_ALL_ROWS = "crmbook.all_rows"


def _console() -> Console:
    return Console(width=max(120, Console().width), soft_wrap=False)


@contextlib.contextmanager
def progress_bars(*, transient: bool = False) -> Iterator[Callable[[str, int, int], None]]:
    """Bars on stderr for a long job, one per step: the library reports (step, done, total).

    A step with total 0 cannot count (opening a book, a save): it pulses with its time until
    the next step begins. `transient` bars vanish at the end (the job's result follows); on a
    terminal only, so pipes and tests see nothing of them.
    """
    columns = (
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    console = Console(stderr=True, width=max(120, Console(stderr=True).width))
    if transient and not console.is_terminal:
        yield lambda step, done, total: None
        return
    with Progress(*columns, console=console, transient=transient) as bar:
        tasks: dict[str, int] = {}

        def finish_counting_less() -> None:
            for task in bar.tasks:
                if task.total is None:
                    bar.update(task.id, total=1, completed=1)

        def progress(step: str, done: int, total: int) -> None:
            if step not in tasks:
                finish_counting_less()
                tasks[step] = bar.add_task(step, total=total or None)
            if total:
                bar.update(tasks[step], completed=done)

        yield progress
        finish_counting_less()


def all_rows_option(command):
    """The shared --all option: tables show every row instead of the first ROWS_SHOWN.

    Kept in the click context (not passed to the command), so that every table printed
    through emit obeys it without each command handing it on.
    """

    def remember(ctx: click.Context, _param, value: bool) -> bool:
        ctx.meta[_ALL_ROWS] = value
        return value

    return click.option(
        "--all",
        "all_rows",
        is_flag=True,
        expose_value=False,
        callback=remember,
        help=f"tables show every row, not only the first {ROWS_SHOWN}",
    )(command)


def output_option(command):
    """The shared --format option of every command that prints records (with --all)."""
    command = all_rows_option(command)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(OUTPUT_FORMATS),
        default="table",
        show_default=True,
        help="table for people, csv or json for programs (every row)",
    )(command)


def rows_for_people(frame: pd.DataFrame | pd.Series, *, newest_last: bool = False):
    """The rows a table for people shows: the first ROWS_SHOWN (the last ones for a history
    that ends with the newest), or every row with --all. Cut before anything is formatted."""
    ctx = click.get_current_context(silent=True)
    if (ctx is not None and ctx.meta.get(_ALL_ROWS)) or len(frame) <= ROWS_SHOWN:
        return frame
    return frame.tail(ROWS_SHOWN) if newest_last else frame.head(ROWS_SHOWN)


def tell_hidden(total: int, shown: int, what: str = "rows", *, newest_last: bool = False) -> None:
    """Say how many rows a table left out and how to see them all."""
    hidden = total - shown
    if hidden <= 0:
        return
    ctx = click.get_current_context(silent=True)
    options = {p.name for p in ctx.command.params} if ctx is not None else set()
    ways = ["add --all"] if "all_rows" in options else []
    if "fmt" in options:
        ways.append("--format csv or json, for a program")
    how = ": " + " (or ".join(ways) + ")" * (len(ways) - 1) if ways else ""
    which = "earlier" if newest_last else "more"
    click.echo(f"… {hidden:,} {which} {what} not shown ({shown:,} of {total:,}){how}.")


def echo_lines(lines: list[str], what: str) -> None:
    """Print one line per record for people, cut and told like a table."""
    shown = rows_for_people(pd.Series(lines, dtype=object))
    for line in shown:
        click.echo(line)
    tell_hidden(len(lines), len(shown), what)


def emit(
    frame: pd.DataFrame,
    fmt: str,
    title: str | None = None,
    *,
    readable: bool = False,
    newest_last: bool = False,
) -> None:
    """Print a frame as a readable table, CSV or JSON (these two always every row).

    A table shows ROWS_SHOWN rows unless --all was given, and says what it left out;
    `readable` shows rates as percentages and headers with spaces (see emit_report).
    """
    if fmt == "csv":
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, date_format="%Y-%m-%d %H:%M")
        click.echo(buffer.getvalue(), nl=False)
        return
    if fmt == "json":
        click.echo(frame.to_json(orient="records", date_format="iso", force_ascii=False, indent=2))
        return
    shown = rows_for_people(frame, newest_last=newest_last)
    if readable:
        shown = _readable(shown)
    table = RichTable(title=title, show_lines=False, header_style="bold")
    for column in shown.columns:
        table.add_column(str(column), overflow="fold")
    for row in shown.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    _console().print(table)
    tell_hidden(len(frame), len(shown), newest_last=newest_last)


def _cell(value: object) -> str:
    if missing(value):
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


class Location(click.ParamType):
    """A workbook file, or a crmbook database by its URL (sqlite:///shop.db,
    postgresql://user@server/shop): every command works on both."""

    name = "location"

    def convert(self, value, param, ctx):
        from crmbook.storage import is_database_url

        if isinstance(value, Path) or not is_database_url(value):
            path = Path(value)
            if path.is_dir():
                self.fail(f"{path} is a folder; give a workbook file or a database URL", param, ctx)
            return path
        return value.strip()


FILE = click.argument("file", metavar="FILE|URL", type=Location())


def make_folder_for(path: Path, param, ctx) -> None:
    """The folder a file is about to be written in, made when missing (like mkdir -p), so a
    path into a new folder is not a traceback; one clear usage error when it cannot be."""
    folder = path.parent
    if folder.is_dir():
        return
    nearest = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if nearest is not None and not nearest.is_dir():
        raise click.BadParameter(
            f"{nearest} is a file, not a folder: choose another place for {path.name}",
            ctx,
            param,
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise click.BadParameter(
            f"cannot create the folder {folder} for {path.name}: {e.strerror or e}", ctx, param
        ) from None


class NewLocation(Location):
    """A workbook file or a SQLite database file to be made (its folder too, when missing),
    or the URL of a database server."""

    def convert(self, value, param, ctx):
        location = super().convert(value, param, ctx)
        if isinstance(location, Path):
            make_folder_for(location, param, ctx)
        elif (database := _sqlite_file(location)) is not None:
            make_folder_for(database, param, ctx)
        return location


def _sqlite_file(url: str) -> Path | None:
    """The file a sqlite:/// URL names (None for other databases and in-memory SQLite)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


class OutputFile(click.Path):
    """A file a command writes (--out, --xlsx...): its folder is made when missing."""

    def __init__(self):
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value, param, ctx):
        path = super().convert(value, param, ctx)
        make_folder_for(path, param, ctx)
        return path


NEW_FILE = click.argument("file", metavar="FILE|URL", type=NewLocation())


def _today_option(command):
    return click.option(
        "--today",
        type=click.DateTime(["%Y-%m-%d"]),
        default=None,
        help="count from this day instead of today (YYYY-MM-DD)",
    )(command)


def _period_options(command):
    for name in ("to", "from"):
        command = click.option(
            f"--{name}",
            f"date_{name}",
            type=click.DateTime(["%Y-%m-%d"]),
            default=None,
            help=f"period {'start' if name == 'from' else 'end'} (YYYY-MM-DD, inclusive) "
            "for customers created and sales made",
        )(command)
    return command


def _day(book: crmbook.Book, today: dt.datetime | None) -> dt.date:
    return today.date() if today else book.today()


def _frames(book: crmbook.Book, *names: str) -> dict[str, pd.DataFrame]:
    return {name: book.table(name).df for name in names}


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    """For people: rates as percentages and headers with spaces (rich wraps them there)."""
    from crmbook.reports import PERCENT

    shown = frame.copy()
    for name in PERCENT.intersection(shown.columns):
        shown[name] = shown[name].map(lambda v: "" if pd.isna(v) else f"{v:,.1%}")
    return shown.rename(columns=lambda c: str(c).replace("_", " "))


def emit_report(
    frame: pd.DataFrame, fmt: str, title: str | None = None, *, newest_last: bool = False
) -> None:
    """Print one report table: readable for people, the plain values for csv and json."""
    emit(frame, fmt, title=title, readable=True, newest_last=newest_last)


def emit_sections(sections: dict[str, pd.DataFrame], fmt: str) -> None:
    """Print a report's named tables: a rich table each, one JSON object, or titled CSV blocks."""
    if fmt == "json":
        records = {
            title: json.loads(frame.to_json(orient="records", date_format="iso"))
            for title, frame in sections.items()
        }
        click.echo(json.dumps(records, ensure_ascii=False, indent=2))
        return
    for position, (title, frame) in enumerate(sections.items()):
        if fmt == "csv":
            click.echo(("\n" if position else "") + f"# {title}")
        elif frame.empty:
            click.echo(f"{title.capitalize()}: none")
            continue
        emit_report(frame, fmt, title=title.capitalize())


def out_option(
    help: str, name: str = "out", *, folder: bool = False, required: bool = True, **settings
):
    """The --out option of a command that writes a file (its folder made when missing), or
    with folder=True the folder it writes into."""
    path = click.Path(file_okay=False, path_type=Path) if folder else OutputFile()
    return click.option("--out", name, type=path, required=required, help=help, **settings)


def together(*options):
    """Several options as one decorator, listed by --help in the order given."""

    def apply(command):
        for option in reversed(options):
            command = option(command)
        return command

    return apply


OUTBOX_FOLDER = out_option(
    "folder for .eml and SMS CSV files [default: FILE's name + -outbox]",
    folder=True,
    required=False,
)
USER = click.option(
    "--user",
    default=None,
    help="your name for the change log [default: $CRMBOOK_USER or login]",
)
FORCE_SAVE = click.option("--force", is_flag=True, help="save even if the file looks open in Excel")
DRY_RUN = click.option(
    "--dry-run", is_flag=True, help="show every message; send nothing, change nothing"
)
# Which customers: a saved segment, rules, or both (every rule of both must hold).
CUSTOMERS_CHOSEN = together(
    click.option(
        "--segment", "segment_name", default=None, help="the customers of this saved segment"
    ),
    click.option(
        "--rules",
        multiple=True,
        help="the customers these segment rules select, e.g. --rules 'city=Berlin stage=loyal'",
    ),
)
