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


FOUND_COLUMNS = ["score", "id", "name", "company", "email", "phone", "city", "stage"]


@main.command()
@FILE
@click.argument("text")
@click.option(
    "--limit", type=click.IntRange(1), default=20, show_default=True, help="at most this many"
)
@output_option
@handle_errors
def find(file: Path, text: str, limit: int, fmt: str) -> None:
    """Find customers by name, company, email or phone, forgiving typos and initials.

    TEXT is what you remember: "Ivanov S. V." finds "Иванов Сергей Викторович", "030 1234567"
    finds "+49 30 1234567". The best matches come first, each with a score from 0 to 100.
    """
    from crmbook.analytics.find import find_customers

    hits = find_customers(crmbook.open(file).customers.df, text, limit=limit)
    if hits.empty and fmt == "table":
        click.echo(f"No customer matches {text!r}.")
        return
    emit(hits[FOUND_COLUMNS], fmt, title=f"Customers matching {text!r}")


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


# ---------------------------------------------------------------- reminders and reports


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


def emit_report(frame: pd.DataFrame, fmt: str, title: str | None = None) -> None:
    """Print one report table: readable for people, the plain values for csv and json."""
    emit(_readable(frame) if fmt == "table" else frame, fmt, title=title)


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


@main.command()
@FILE
@click.option(
    "--days", type=click.IntRange(0), default=7, show_default=True, help="how many days ahead"
)
@click.option("--owner", default=None, help="only the reminders of this person")
@_today_option
@output_option
@handle_errors
def reminders(file: Path, days: int, owner: str | None, today, fmt: str) -> None:
    """List what to do: tasks, follow-ups, birthdays, anniversaries, customers due for contact.

    Overdue reminders come first; then everything due up to DAYS days ahead.
    """
    from crmbook.analytics.reminders import reminders as due_reminders

    book = crmbook.open(file)
    day = _day(book, today)
    frames = _frames(book, "Customers", "Contacts", "Interactions", "Tasks")
    found = due_reminders(frames, day, days, owner)
    if found.empty and fmt == "table":
        click.echo(f"No reminders up to {day + dt.timedelta(days=days)}.")
        return
    emit_report(found, fmt, title=f"Reminders up to {day + dt.timedelta(days=days)}")


@main.group()
def report() -> None:
    """Reports: activity, pipeline, sources, or all of them as a workbook with charts."""


@report.command()
@FILE
@click.option(
    "--weeks", type=click.IntRange(1), default=12, show_default=True, help="weeks of meetings"
)
@_today_option
@output_option
@handle_errors
def activity(file: Path, weeks: int, today, fmt: str) -> None:
    """Meetings per week and owner with their success rate, appointments, open complaints."""
    from crmbook.analytics.activity import activity_report

    book = crmbook.open(file)
    frames = _frames(book, "Customers", "Interactions")
    emit_sections(activity_report(frames, _day(book, today), weeks), fmt)


@report.command()
@FILE
@output_option
@handle_errors
def pipeline(file: Path, fmt: str) -> None:
    """Deals by stage with weighted value, won and lost, lost reasons and competitors."""
    from crmbook.analytics.pipeline import pipeline_report

    book = crmbook.open(file)
    emit_sections(pipeline_report(_frames(book, "Customers", "Deals")), fmt)


@report.command()
@FILE
@_period_options
@click.option(
    "--by",
    type=click.Choice(["roi", "revenue", "conversion"]),
    default="roi",
    show_default=True,
    help="rank the sources by",
)
@_today_option
@output_option
@handle_errors
def sources(file: Path, date_from, date_to, by: str, today, fmt: str) -> None:
    """Rank marketing sources: cost, customers won, conversion, revenue, ROI, referrals."""
    from crmbook.analytics.sources import source_effectiveness

    book = crmbook.open(file)
    ranked = source_effectiveness(
        _frames(book, "Customers", "Sales", "Sources"),
        date_from.date() if date_from else None,
        date_to.date() if date_to else None,
        today=_day(book, today),
        by=by,
    )
    title = f"Sources ranked by {by}{_period(date_from, date_to)}"
    if fmt != "table":
        emit(ranked, fmt)
        return
    people = ["new_customers", "converted", "conversion_rate", "referrals"]
    money = ["cost", "revenue", "roi", "cost_per_acquired", "revenue_per_acquired"]
    for part, columns in ((": customers", people), (": money", money)):
        emit_report(ranked[["rank", "source", *columns]], fmt, title=title + part)


def _period(date_from, date_to) -> str:
    if not (date_from or date_to):
        return ""
    start = f"{date_from:%Y-%m-%d}" if date_from else "the start"
    end = f"{date_to:%Y-%m-%d}" if date_to else "today"
    return f", customers created from {start} to {end}"


@report.command(name="all")
@FILE
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="the report workbook to write, e.g. report.xlsx",
)
@click.option(
    "--png",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="also draw PNG charts into this folder",
)
@click.option(
    "--weeks", type=click.IntRange(1), default=12, show_default=True, help="weeks of meetings"
)
@_period_options
@_today_option
@handle_errors
def all_reports(
    file: Path, out: Path, png: Path | None, weeks: int, date_from, date_to, today
) -> None:
    """Write every report into a workbook with Excel charts (and PNG charts with --png)."""
    from crmbook.reports import build_reports, write_png_charts, write_report_workbook

    if out.resolve() == file.resolve():
        raise CrmbookError(f"--out {out} is the CRM workbook itself; choose another file")
    book = crmbook.open(file)
    day = _day(book, today)
    frames = _frames(book, "Customers", "Interactions", "Deals", "Sales", "Sources")
    reports = build_reports(
        frames,
        day,
        weeks=weeks,
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
    )
    subtitle = f"{file.name}, as of {day}{_period(date_from, date_to)}"
    click.echo(f"Wrote {write_report_workbook(reports, out, subtitle)}")
    if png is not None:
        for path in write_png_charts(reports, png, subtitle):
            click.echo(f"Wrote {path}")


# ---------------------------------------------------------------- customer card and segments

CARD_SHEETS = ("Customers", "Contacts", "Interactions", "Deals", "Sales", "Tasks")
SEGMENT_SHEETS = ("Customers", "Interactions", "Sales", "Segments")
SEGMENT_COLUMNS = ["id", "name", "email", "phone", "city", "stage"]
RFM_COLUMNS = ["revenue", "purchases", "last_purchase", "rfm_score", "rfm_segment"]


@main.command()
@FILE
@click.argument("customer")
@_today_option
@output_option
@handle_errors
def card(file: Path, customer: str, today, fmt: str) -> None:
    """Show one customer's card: fields, contacts, open follow-ups and the whole history.

    CUSTOMER is an id (C-000123) or a name as find reads it. A name several customers match
    about equally well lists them and exits 1. --format csv prints the timeline.
    """
    from crmbook.analytics.card import customer_card
    from crmbook.analytics.find import AmbiguousCustomer, resolve_customer

    book = crmbook.open(file)
    frames = _frames(book, *CARD_SHEETS)
    try:
        customer_id = resolve_customer(frames["Customers"], customer)
    except AmbiguousCustomer as e:
        click.echo(f"error: {e}", err=True)
        emit(e.candidates[FOUND_COLUMNS], fmt, title="Which one?")
        sys.exit(1)
    found = customer_card(frames, customer_id, _day(book, today))
    if fmt == "json":
        click.echo(json.dumps(found.to_dict(), ensure_ascii=False, indent=2))
    elif fmt == "csv":
        emit(found.timeline, fmt)
    else:
        _print_card(found)


def _print_card(found) -> None:
    from rich.console import Group
    from rich.panel import Panel

    fields = RichTable.grid(padding=(0, 2))
    fields.add_column(style="bold")
    fields.add_column()
    for name, value in found.customer.items():
        shown = ("yes" if value else "no") if isinstance(value, bool) else _cell(value)
        if shown and name not in ("id", "name"):
            fields.add_row(name.replace("_", " "), shown)
    last = _cell(found.last_contact) or "never"
    if found.days_since_contact is not None:
        last += f" ({found.days_since_contact} days ago)"
    facts = (
        f"stage: {found.stage or '-'}   suggested by the history: {found.suggested_stage}\n"
        f"last contact: {last}   revenue: {_cell(found.revenue) or 0}   "
        f"purchases: {found.purchases}   referred customers: {found.referrals}"
    )
    _console().print(Panel(Group(fields, "", facts), title=f"{found.name} ({found.id})"))
    parts = (
        ("Contacts", found.contacts),
        ("Open follow-ups", found.follow_ups),
        ("History", found.timeline),
    )
    for title, frame in parts:
        if frame.empty:
            click.echo(f"{title}: none")
        else:
            emit_report(frame, "table", title=title)


@main.command()
@FILE
@click.argument("rules", nargs=-1)
@click.option("--name", "saved", default=None, help="use the segment saved under this name")
@click.option("--save", "save_as", default=None, help="save the rules under this name")
@click.option("--notes", default=None, help="a note to keep with --save")
@click.option("--rfm", is_flag=True, help="add revenue, purchases and RFM score and segment")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also write the customers with every column to this CSV file",
)
@click.option(
    "--xlsx",
    "xlsx_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also write them to this new workbook (an Excel table; not the CRM workbook)",
)
@click.option("--user", default=None, help="your name for the change log of --save")
@click.option("--force", is_flag=True, help="save even if the file looks open in Excel")
@_today_option
@output_option
@handle_errors
def segment(
    file: Path,
    rules: tuple[str, ...],
    saved: str | None,
    save_as: str | None,
    notes: str | None,
    rfm: bool,
    csv_path: Path | None,
    xlsx_path: Path | None,
    user: str | None,
    force: bool,
    today,
    fmt: str,
) -> None:
    """Select customers by rules, e.g. stage=loyal,promoter city=Berlin revenue>=1000.

    \b
    Every rule must hold:
      col=a,b   one of the values (col= : empty)     col!=a,b  none of them
      col>=x  col<=x  col>x  col<x   numbers and dates: 2024-01-31, today, -90d, +2w, -6m
      col~text  contains text                        col!~text does not
    Columns: any Customers column, and revenue, purchases, last_purchase, last_contact,
    days_since_contact, birthday_month, rfm_score, rfm_segment, suggested_stage...
    Quote values with spaces: city="New York", and for the shell every term with < or >:
    'revenue>=1000'. Without rules, lists the saved segments.
    """
    from crmbook.analytics.segments import (
        RuleError,
        format_rules,
        parse_rules,
        rule_columns,
        saved_rules,
        saved_segments,
        segment_customers,
    )

    book = crmbook.open(file, user=user)
    day = _day(book, today)
    frames = _frames(book, *SEGMENT_SHEETS)
    parsed = parse_rules(saved_rules(frames["Segments"], saved)) if saved else []
    parsed += parse_rules(list(rules))
    if not parsed and not (saved or rfm or save_as or csv_path or xlsx_path):
        emit_report(saved_segments(frames, day), fmt, title="Saved segments")
        return
    if save_as and not parsed:
        raise RuleError("nothing to save: give the rules, e.g. stage=loyal city=Berlin")
    extra = RFM_COLUMNS if rfm else []
    found = segment_customers(frames, parsed, day, columns=extra)
    label = save_as or saved or format_rules(parsed) or "all customers"
    if save_as:
        _save_segment(book, save_as, format_rules(parsed), notes, force)
        click.echo(f"Saved segment {save_as!r}: {format_rules(parsed)}", err=fmt != "table")
    if csv_path:
        found.to_csv(csv_path, index=False, date_format="%Y-%m-%d %H:%M")
    if xlsx_path:
        from crmbook.export import write_customer_list

        write_customer_list(found, xlsx_path, sheet_name=label)
    shown = list(dict.fromkeys([*SEGMENT_COLUMNS, *rule_columns(parsed, found), *extra]))
    if fmt == "table" and found.empty:
        click.echo(f"No customer is in the segment {label!r}.")
        return
    emit_report(found[shown], fmt, title=f"{label}: {len(found):,} customers")


def _save_segment(book: crmbook.Book, name: str, rules: str, notes: str | None, force: bool):
    """Add the segment to the Segments sheet, or change the rules of the one of that name."""
    segments = book.table("Segments")
    existing = segments.df["name"].astype("str").str.strip().str.casefold()
    same = segments.df["name"][existing == name.strip().casefold()]
    values = {"rules": rules, **({"notes": notes} if notes is not None else {})}
    if len(same):
        segments.update(same.iloc[0], **values)
    else:
        segments.add(name=name, **values)
    book.save(force=force)


@main.command()
@FILE
@click.option(
    "--days", type=click.IntRange(1), default=90, show_default=True, help="silent this long"
)
@_today_option
@output_option
@handle_errors
def dormant(file: Path, days: int, today, fmt: str) -> None:
    """List customers not contacted for --days days or more, the longest silent first.

    A customer never contacted counts from the day the record was created.
    """
    from crmbook.analytics.segments import dormant as dormant_customers

    book = crmbook.open(file)
    day = _day(book, today)
    quiet = dormant_customers(_frames(book, "Customers", "Interactions", "Sales"), days, day)
    if fmt == "table" and quiet.empty:
        click.echo(f"Every customer was contacted in the last {days} days.")
        return
    shown = [*SEGMENT_COLUMNS, "owner", "last_contact", "days_since_contact"]
    emit_report(quiet[shown], fmt, title=f"No contact for {days} days or more: {len(quiet):,}")


if __name__ == "__main__":
    main()
