"""Commands that look at customers: find, reminders, card, segment, dormant."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click
from rich.table import Table as RichTable

import crmbook
from crmbook.cli import main
from crmbook.cli.common import (
    FILE,
    FORCE_SAVE,
    USER,
    OutputFile,
    _cell,
    _console,
    _day,
    _frames,
    _today_option,
    emit,
    emit_report,
    handle_errors,
    output_option,
)

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
        else:  # a long history shows its newest entries, the ones to know before calling
            emit_report(frame, "table", title=title, newest_last=title == "History")


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
    type=OutputFile(),
    default=None,
    help="also write the customers with every column to this CSV file",
)
@click.option(
    "--xlsx",
    "xlsx_path",
    type=OutputFile(),
    default=None,
    help="also write them to this new workbook (an Excel table; not the CRM workbook)",
)
@click.option(
    "--to-sheet",
    "sheet_name",
    default=None,
    help="also write them to a sheet of this name in the CRM workbook (replaced on each run)",
)
@USER
@FORCE_SAVE
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
