"""The command line: thin commands that open the book, call the library and print.

Every command turns library errors into one clear line and an exit code:
0 fine, 1 the data has errors (or a record was refused), 2 the input is unusable.
"""

from __future__ import annotations

import dataclasses
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
from crmbook.languages import LANGUAGES
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
    click.echo(f"Created {book.path} with sheets {sheets}, {extra} and {w.sheet('Log')}.")


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
    from crmbook.demo import build_demo_book, demo_mail_config
    from crmbook.mailing.config import CONFIG_NAME

    book = build_demo_book(
        file,
        customers=customers,
        interactions=interactions,
        seed=seed,
        today=dt.date.today(),
        overwrite=force,
    )
    click.echo(f"Wrote the demo business to {book.path}")
    config = book.path.parent / CONFIG_NAME
    if not config.exists():
        config.write_text(demo_mail_config(), encoding="utf-8")
        click.echo(f"Wrote a sample mail config (sender, owners' addresses) to {config}")
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
@click.option(
    "--to-sheet",
    "sheet_name",
    default=None,
    help="also write them to a sheet of this name in the CRM workbook (replaced on each run)",
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
    sheet_name: str | None,
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
    if not parsed and not (saved or rfm or save_as or csv_path or xlsx_path or sheet_name):
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
    if sheet_name:
        book.write_sheet(sheet_name, found, replace=True)
        book.save(force=force)
        click.echo(
            f"Wrote {len(found):,} customers to the sheet {sheet_name!r}", err=fmt != "table"
        )
    shown = list(dict.fromkeys([*SEGMENT_COLUMNS, *rule_columns(parsed, found), *extra]))
    if fmt == "table" and found.empty:
        click.echo(f"No customer is in the segment {label!r}.")
        return
    emit_report(found[shown], fmt, title=f"{label}: {len(found):,} customers")


def _save_segment(book: crmbook.Book, name: str, rules: str, notes: str | None, force: bool):
    """Add the segment to the Segments sheet, or change the rules of the one of that name."""
    values = {"rules": rules, **({"notes": notes} if notes is not None else {})}
    book.table("Segments").upsert(name, **values)
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


# ---------------------------------------------------------------- mailings, daily run, calendar


def _mail_options(command):
    """--config, --user and --force of the commands that send and log."""
    for option in reversed(
        [
            click.option(
                "--config",
                "config_path",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                help="mail settings [default: crmbook.toml beside FILE, else "
                "~/.config/crmbook/config.toml; CRMBOOK_SMTP_* variables override]",
            ),
            click.option("--user", default=None, help="your name for the change log"),
            click.option("--force", is_flag=True, help="save even if the file looks open in Excel"),
        ]
    ):
        command = option(command)
    return command


def _print_preview(preview: pd.DataFrame) -> None:
    for position, row in enumerate(preview.itertuples(index=False), start=1):
        who = f"{row.name} ({row.customer_id})" if row.customer_id else row.name
        click.echo(f"--- {position}/{len(preview)}  {who}  <{row.to}>  [{row.status}]")
        if row.subject:
            click.echo(f"Subject: {row.subject}")
        click.echo("\n" + row.body.rstrip("\n") + "\n")


def _report_sending(preview, skipped, delivery, notes, fmt: str, dry_run: bool) -> None:
    """Print what a mailing or daily run did (or would do) and exit 1 if a send failed."""
    results = preview.drop(columns="body") if dry_run else delivery.to_frame()
    if fmt == "json":
        shown = {
            "messages" if dry_run else "results": json.loads(
                (preview if dry_run else results).to_json(orient="records")
            ),
            "skipped": json.loads(skipped.to_json(orient="records")),
            "notes": notes,
        }
        if delivery is not None:
            shown |= {"logged": delivery.logged, "error": delivery.error}
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
    elif fmt == "csv":
        emit(results, fmt)
    else:
        if dry_run:
            _print_preview(preview)
        elif not results.empty:
            emit_report(results, fmt, title="Messages")
        if not skipped.empty:
            emit_report(skipped, fmt, title="No message for")
        for note in notes:
            click.echo(f"note: {note}")
        to_send = int((preview["status"] == "to send").sum())
        if dry_run:
            click.echo(
                f"Dry run: {to_send} message(s) to send, {len(skipped)} customer(s) left "
                "out; nothing was sent."
            )
        else:
            click.echo(
                f"{delivery.summary().capitalize()}; {len(skipped)} customer(s) left "
                f"out; {delivery.logged} interaction(s) logged."
            )
    if delivery is not None:
        if delivery.log_error:
            click.echo(f"note: {delivery.log_error}", err=True)
        if delivery.error:
            click.echo(f"error: {delivery.error}", err=True)
        if delivery.error or delivery.count("failed"):
            sys.exit(1)


OUTBOX_FOLDER = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="folder for .eml and SMS CSV files [default: FILE's name + -outbox]",
)


@main.command()
@FILE
@click.option("--template", "template", required=True, help="the template's name (Templates sheet)")
@click.option("--segment", "segment_name", default=None, help="the customers of this saved segment")
@click.option(
    "--rules", default=None, help='the customers these rules select, e.g. "stage=loyal city=Berlin"'
)
@click.option("--dry-run", is_flag=True, help="show every message; send nothing, change nothing")
@click.option(
    "--via",
    type=click.Choice(["smtp", "eml", "sms-csv", "http"]),
    default=None,
    help="smtp or eml for email, sms-csv or http for SMS [default: smtp, sms-csv]",
)
@OUTBOX_FOLDER
@click.option(
    "--campaign",
    default=None,
    help="a campaign name: each customer gets it once ever [default: once per template and day]",
)
@click.option(
    "--kind",
    type=click.Choice(SCHEMA.vocabulary("interaction_kind").values),
    default="follow-up",
    show_default=True,
    help="the kind of interaction each message is logged as",
)
@click.option(
    "--rate",
    type=click.FloatRange(0),
    default=None,
    help="messages per minute over smtp and http, 0 for no limit [default: config, else 60]",
)
@_mail_options
@_today_option
@output_option
@handle_errors
def mail(
    file: Path,
    template: str,
    segment_name: str | None,
    rules: str | None,
    dry_run: bool,
    via: str | None,
    out: Path | None,
    campaign: str | None,
    kind: str,
    rate: float | None,
    config_path: Path | None,
    user: str | None,
    force: bool,
    today,
    fmt: str,
) -> None:
    """Send a template to the customers of a segment, only to those who consented.

    Each message goes once: a journal beside FILE remembers what was sent, so running the
    same mailing again (after a crash too) sends only what is missing. Every message is
    logged as an interaction. Preview with --dry-run first.
    """
    from crmbook.mailing import load_config
    from crmbook.mailing import mail as send_mailing
    from crmbook.mailing.config import with_rate

    book = crmbook.open(file, user=user)
    run = send_mailing(
        book,
        template,
        today=_day(book, today),
        config=with_rate(load_config(file, config_path), rate),
        segment=segment_name,
        rules=rules,
        via=via,
        out=out,
        dry_run=dry_run,
        campaign=campaign,
        kind=kind,
        force=force,
    )
    _report_sending(run.preview, run.plan.skipped, run.delivery, run.notes, fmt, dry_run)


@main.command()
@FILE
@click.argument("emails", nargs=-1)
@click.option(
    "--from-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="a CSV or text file of addresses, e.g. your mail provider's bounces",
)
@click.option("--user", default=None, help="your name for the change log")
@click.option("--force", is_flag=True, help="save even if the file looks open in Excel")
@_today_option
@output_option
@handle_errors
def unsubscribe(
    file: Path, emails: tuple[str, ...], from_file: Path | None, user, force, today, fmt: str
) -> None:
    """Turn email consent off for addresses that asked to unsubscribe or bounced.

    consent_email becomes FALSE and consent_date today; the Log sheet records the change.
    """
    from crmbook.mailing import read_addresses
    from crmbook.mailing import unsubscribe as turn_off

    addresses = [*emails, *(read_addresses(from_file) if from_file else [])]
    if not addresses:
        raise CrmbookError("give the addresses: crmbook unsubscribe FILE EMAIL, or --from-file")
    book = crmbook.open(file, user=user)
    done = turn_off(book, addresses, _day(book, today))
    if done.turned_off:
        book.save(force=force)
    if fmt != "table":
        emit(done.to_frame(), fmt)
        return
    emit_report(done.to_frame(), fmt, title="Unsubscribe")
    click.echo(
        f"Email consent turned off for {len(done.turned_off)} customer(s); "
        f"{len(done.already_off)} had it off already; {len(done.unknown)} address(es) "
        "match no customer."
    )


@main.command()
@FILE
@click.option(
    "--via",
    type=click.Choice(["smtp", "eml"]),
    default="smtp",
    show_default=True,
    help="emails over SMTP, or as .eml files into --out",
)
@click.option(
    "--sms-via",
    type=click.Choice(["sms-csv", "http"]),
    default="sms-csv",
    show_default=True,
    help="SMS greetings (an SMS birthday template) as a CSV file, or to the HTTP gateway",
)
@OUTBOX_FOLDER
@click.option(
    "--days",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="also list the reminders of this many days ahead in the digest",
)
@click.option("--dry-run", is_flag=True, help="show every message; send nothing, change nothing")
@_mail_options
@_today_option
@output_option
@handle_errors
def daily(
    file: Path,
    via: str,
    sms_via: str,
    out: Path | None,
    days: int,
    dry_run: bool,
    config_path: Path | None,
    user: str | None,
    force: bool,
    today,
    fmt: str,
) -> None:
    """The daily job for cron or Task Scheduler: owners' reminders by email, birthday greetings.

    Each owner with an address in the [owners] table of the config gets one email with their
    overdue and today's reminders; customers with a birthday today who consented get the
    "Birthday greeting" template. Run it as often as you like: nothing goes twice a day.
    """
    from crmbook.mailing import daily as daily_run
    from crmbook.mailing import load_config

    book = crmbook.open(file, user=user)
    run = daily_run(
        book,
        today=_day(book, today),
        config=load_config(file, config_path),
        via=via,
        sms_via=sms_via,
        out=out,
        days=days,
        dry_run=dry_run,
        force=force,
    )
    skipped = run.greetings.skipped if run.greetings else pd.DataFrame(columns=["id", "name"])
    _report_sending(run.preview, skipped, run.delivery, run.notes, fmt, dry_run)


@main.command()
@FILE
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="the calendar file to write, e.g. tasks.ics",
)
@click.option("--owner", default=None, help="only the tasks and follow-ups of this person")
@_today_option
@handle_errors
def ics(file: Path, out: Path, owner: str | None, today) -> None:
    """Export open tasks and follow-ups to an iCalendar file (.ics) for any calendar app.

    Event ids come from the record ids and the workbook, so importing a newer file updates
    the events instead of adding them twice.
    """
    from crmbook.ics import write_ics

    book = crmbook.open(file)
    path, count = write_ics(book, out, today=_day(book, today), owner=owner)
    click.echo(f"Wrote {count} event(s) to {path}")


# ---------------------------------------------------------------- sharing: merge and resolve


@main.command()
@click.argument("mine", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("theirs", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--base",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="the original both copies were made from [default: known from their fingerprints]",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="the merged workbook to write (MINE and THEIRS are not changed)",
)
@click.option(
    "--prefer",
    type=click.Choice(["mine", "theirs", "newest"]),
    default=None,
    help="decide conflicts: this side wins (newest: the record updated last) "
    "[default: keep mine's value and list the conflict]",
)
@click.option(
    "--password", default=None, help="the password of copies that are encrypted (crmbook share)"
)
@click.option("--user", default=None, help="your name for the change log")
@output_option
@handle_errors
def merge(
    mine: Path,
    theirs: Path,
    base: Path | None,
    out: Path,
    prefer: str | None,
    password: str | None,
    user: str | None,
    fmt: str,
) -> None:
    """Merge two edited copies of one workbook into --out, field by field, by record id.

    An edit on one side wins over the unchanged other side; the same field changed
    differently on both sides is a conflict, listed here and in the Conflicts sheet of
    --out (decide with --prefer, or type mine/theirs/a value in its take column and run
    crmbook resolve). New records of both sides are kept; deletions are honoured.
    """
    from crmbook.sharing.books import conflicts_frame, merge_books

    result = merge_books(mine, theirs, out, base=base, prefer=prefer, user=user, password=password)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "out": str(result.path),
                    "how": result.how,
                    "counts": json.loads(result.counts.to_json(orient="records")),
                    "renumbered": result.renumbered,
                    "conflicts": [c.to_dict() for c in result.conflicts],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        click.echo(f"Merged {theirs.name} into a copy of {mine.name}: {result.path}")
        click.echo(f"Merge: {result.how}.")
        emit(result.counts, fmt, title="Records per sheet")
        for sheet, moved in result.renumbered.items():
            for old, new in moved.items():
                click.echo(f"{sheet}: theirs' new {old} is now {new} (both sides used {old})")
        if result.conflicts:
            emit(conflicts_frame(result.conflicts).drop(columns=["take"]), fmt, title="Conflicts")
    open_ = len(result.open_conflicts)
    if open_ and fmt == "table":
        click.echo(
            f"{open_} conflict(s) open: the merged file keeps mine's value. Type mine, theirs or "
            f"a value in the take column of its Conflicts sheet, then run: crmbook resolve {out}"
        )
    sys.exit(1 if open_ else 0)


@main.command()
@FILE
@click.option(
    "--take",
    type=click.Choice(["mine", "theirs"]),
    default=None,
    help="decide every conflict whose take column is still empty",
)
@click.option("--user", default=None, help="your name for the change log")
@click.option("--force", is_flag=True, help="save even if the file looks open in Excel")
@handle_errors
def resolve(file: Path, take: str | None, user: str | None, force: bool) -> None:
    """Apply the choices typed into the Conflicts sheet of a merged workbook FILE.

    In the take column type mine, theirs, or the value the field should have; rows left empty
    stay open (or give --take for all of them). Exits 1 while conflicts remain open.
    """
    from crmbook.sharing.books import resolve as resolve_conflicts

    done = resolve_conflicts(file, take=take, user=user, force=force)
    for row in done.applied:
        click.echo(f"{row['sheet']} {row['record']} {row['field']}: took {row['take']}")
    click.echo(f"{len(done.applied)} conflict(s) resolved, {len(done.still_open)} open.")
    sys.exit(1 if len(done.still_open) else 0)


@main.command(name="import")
@FILE
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--into", default="customers", show_default=True, help="the sheet to import into")
@click.option(
    "--map",
    "maps",
    multiple=True,
    help="COLUMN=field: map a source column (overrides the guess; field '-' skips it)",
)
@click.option("--yes", is_flag=True, help="write without asking")
@click.option(
    "--dayfirst/--monthfirst",
    default=True,
    show_default=True,
    help="how to read text dates like 03/04/2024",
)
@click.option("--user", default=None, help="your name for the change log")
@click.option("--force", is_flag=True, help="save even if the file looks open in Excel")
@handle_errors
def import_(
    file: Path,
    source: Path,
    into: str,
    maps: tuple[str, ...],
    yes: bool,
    dayfirst: bool,
    user: str | None,
    force: bool,
) -> None:
    """Import records from a CSV or Excel export, updating matches instead of duplicating.

    Columns are mapped by their headers (E-Mail, Telefon, Naam, Vorname + Nachname...);
    every row is checked; customers already in FILE (same email or phone, or a very similar
    name at the same company) are updated. Nothing is written while errors remain, or
    unless you confirm (or give --yes).
    """
    from crmbook.sharing.importer import apply_import, guess_mapping, plan_import, read_source

    book = crmbook.open(file, user=user, dayfirst=dayfirst)
    sheet = book.schema.sheet(into)
    frame = read_source(source)
    mapping = guess_mapping(list(frame.columns), sheet)
    for item in maps:
        column, sep, target = item.partition("=")
        if not sep or column.strip() not in frame.columns:
            raise CrmbookError(
                f"--map {item!r}: give COLUMN=field with a column of {source.name}: "
                + ", ".join(frame.columns)
            )
        mapping.pop(column.strip(), None)
        if target.strip() != "-":
            mapping = {c: f for c, f in mapping.items() if f != target.strip()}
            mapping[column.strip()] = target.strip()
    keys = {f.ref: book.table(f.ref).keys for f in sheet.fields if f.ref}
    plan = plan_import(
        frame,
        mapping,
        sheet,
        book.schema,
        book.table(sheet.name).df,
        book.lists,
        keys,
        book.today(),
        source.name,
        dayfirst,
    )
    shown = pd.DataFrame(
        [{"column": c, "field": mapping.get(c, "(skipped)")} for c in frame.columns]
    )
    emit(shown, "table", title=f"{source.name} -> {sheet.name}")
    click.echo(
        f"{len(plan.new)} new, {len(plan.updates)} matching existing records "
        f"(updated, not duplicated), {len(plan.errors)} error(s)."
    )
    if plan.issues:
        issues = pd.DataFrame([dataclasses.asdict(i) for i in plan.issues])
        emit(
            issues[["severity", "row", "column", "value", "message", "fix"]],
            "table",
            title="Problems (row as in the source file)",
        )
    if plan.errors:
        click.echo("Nothing was written: fix the errors (or map the columns) and run again.")
        sys.exit(1)
    if not yes and not click.confirm("Write these records?", default=False):
        click.echo("Nothing was written.")
        return
    added, updated = apply_import(book, plan, sheet)
    book.save(force=force)
    click.echo(f"Added {len(added)} and updated {len(updated)} {sheet.entity} record(s) in {file}")


@main.command()
@FILE
@click.option(
    "--min-score",
    type=click.IntRange(0, 100),
    default=85,
    show_default=True,
    help="list pairs scoring at least this",
)
@click.option(
    "--merge",
    "pair",
    nargs=2,
    default=None,
    metavar="KEEP DROP",
    help="merge customer DROP into KEEP: history re-pointed, empty fields filled, DROP removed",
)
@click.option("--user", default=None, help="your name for the change log")
@click.option("--force", is_flag=True, help="save even if the file looks open in Excel")
@output_option
@handle_errors
def dedupe(
    file: Path,
    min_score: int,
    pair: tuple[str, str] | None,
    user: str | None,
    force: bool,
    fmt: str,
) -> None:
    """List likely duplicate customers with a score and reasons, or merge two with --merge.

    Reasons: the same email or phone (compared normalised), or similar names (typos,
    initials and other alphabets forgiven) at a similar company or in the same city.
    """
    from crmbook.sharing.dedupe import duplicate_pairs, merge_customers

    book = crmbook.open(file, user=user)
    if pair:
        keep, drop = pair
        moved = merge_customers(book, keep, drop)
        book.save(force=force)
        detail = ", ".join(f"{n} {sheet}" for sheet, n in moved.items()) or "no records"
        click.echo(f"Merged {drop} into {keep} ({detail} re-pointed) in {file}")
        return
    pairs = duplicate_pairs(book.customers.df, min_score=min_score)
    if pairs.empty and fmt == "table":
        click.echo("No likely duplicates.")
        return
    emit(pairs, fmt, title=f"Likely duplicates: {len(pairs)} pair(s)")
    if fmt == "table":
        click.echo(f"Merge a pair with: crmbook dedupe {file} --merge KEEP DROP")


@main.command()
@FILE
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="the copy to mail, e.g. shared.xlsx",
)
@click.option(
    "--password",
    default=None,
    help="encrypt the copy: Excel and LibreOffice ask for this password [default: no password]",
)
@click.option("--user", default=None, help="your name for the change log")
@handle_errors
def share(file: Path, out: Path, password: str | None, user: str | None) -> None:
    """Write a copy of FILE to mail, optionally password-protected, ready to merge back.

    FILE is saved first with a fingerprint of every record, so when edited copies come back
    crmbook merge knows what they started from (no --base needed).
    """
    from crmbook.sharing.protect import share as share_copy

    path = share_copy(crmbook.open(file, user=user), out, password)
    lock = " (encrypted: open it with the password)" if password else ""
    click.echo(f"Wrote {path}{lock}; merge the copies that come back with crmbook merge")


@main.group()
def person() -> None:
    """Personal data of one customer: export everything, or erase or anonymise them."""


@person.command(name="export")
@FILE
@click.argument("customer")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="the folder for CUSTOMER.json and CUSTOMER.xlsx",
)
@click.option("--user", default=None, help="your name for the change log")
@handle_errors
def person_export(file: Path, customer: str, out: Path, user: str | None) -> None:
    """Write everything FILE holds about one customer as JSON and as a workbook."""
    from crmbook.sharing.personal import export_person

    book = crmbook.open(file, user=user)
    for path in export_person(book, customer, out):
        click.echo(f"Wrote {path}")
    book.save()


@person.command(name="erase")
@FILE
@click.argument("customer")
@click.option(
    "--anonymise",
    is_flag=True,
    help="keep the record without anything that identifies the person (city, stage... stay)",
)
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.option("--user", default=None, help="your name for the change log")
@handle_errors
def person_erase(file: Path, customer: str, anonymise: bool, yes: bool, user: str | None) -> None:
    """Erase (or --anonymise) one customer everywhere, keeping the sales figures.

    Contacts, interactions and tasks of the customer are removed (anonymised: interactions
    stay without their text); sales and deals stay, attached to a placeholder customer; the
    name, email and phone are removed from the free text of every other record.
    """
    from crmbook.sharing.personal import erase_person

    book = crmbook.open(file, user=user)
    name = book.customers.get(customer)["name"]
    verb = "Anonymise" if anonymise else "Erase"
    if not yes and not click.confirm(f"{verb} {name} ({customer}) everywhere?", default=False):
        click.echo("Nothing was changed.")
        return
    touched = erase_person(book, customer, anonymise=anonymise)
    book.save(backups=0)
    detail = ", ".join(f"{n} {sheet}" for sheet, n in touched.items())
    click.echo(f"{verb.rstrip('e')}ed {customer} ({detail}); no backup of the old file was kept.")


if __name__ == "__main__":
    main()
