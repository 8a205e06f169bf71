"""Sharing and personal data: merge, resolve, import, dedupe, share, person."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click
import pandas as pd

import crmbook
from crmbook.cli import main
from crmbook.cli.common import (
    CUSTOMERS_CHOSEN,
    FILE,
    FORCE_SAVE,
    USER,
    OutputFile,
    all_rows_option,
    echo_lines,
    emit,
    handle_errors,
    out_option,
    output_option,
    progress_bars,
)
from crmbook.errors import CrmbookError
from crmbook.sharing.contact_export import FORMATS as CONTACT_FORMATS


@main.command()
@click.argument("mine", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("theirs", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--base",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="the original both copies were made from [default: known from their save state]",
)
@out_option("the merged workbook to write (MINE and THEIRS are not changed)")
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
@USER
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

    with progress_bars(transient=True) as progress:
        result = merge_books(
            mine,
            theirs,
            out,
            base=base,
            prefer=prefer,
            user=user,
            password=password,
            progress=progress,
        )
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
        renumbered = [
            f"{sheet}: theirs' new {old} is now {new} (both sides used {old})"
            for sheet, moved in result.renumbered.items()
            for old, new in moved.items()
        ]
        echo_lines(renumbered, "renumbered records")
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
@USER
@FORCE_SAVE
@all_rows_option
@handle_errors
def resolve(file: Path, take: str | None, user: str | None, force: bool) -> None:
    """Apply the choices typed into the Conflicts sheet of a merged workbook FILE.

    In the take column type mine, theirs, or the value the field should have; rows left empty
    stay open (or give --take for all of them). Exits 1 while conflicts remain open.
    """
    from crmbook.sharing.books import resolve as resolve_conflicts

    done = resolve_conflicts(file, take=take, user=user, force=force)
    echo_lines(
        [f"{r['sheet']} {r['record']} {r['field']}: took {r['take']}" for r in done.applied],
        "resolved conflicts",
    )
    click.echo(f"{len(done.applied)} conflict(s) resolved, {len(done.still_open)} open.")
    sys.exit(1 if len(done.still_open) else 0)


@main.command(name="import")
@FILE
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--into", default="customers", show_default=True, help="the sheet to import into")
@click.option(
    "--map",
    "maps",
    multiple=True,
    help="COLUMN=field: map a source column (overrides the guess; field '-' skips it)",
)
@click.option(
    "--keep",
    multiple=True,
    metavar="COLUMN",
    help="keep a source column as a column of your own in the sheet (a workbook only)",
)
@click.option("--yes", is_flag=True, help="write without asking")
@click.option(
    "--dayfirst/--monthfirst",
    default=True,
    show_default=True,
    help="how to read text dates like 03/04/2024",
)
@USER
@FORCE_SAVE
@all_rows_option
@handle_errors
def import_(
    file: Path,
    source: Path,
    into: str,
    maps: tuple[str, ...],
    keep: tuple[str, ...],
    yes: bool,
    dayfirst: bool,
    user: str | None,
    force: bool,
) -> None:
    """Import records from a CSV or Excel export or vCards, updating matches instead of duplicating.

    SOURCE is a CSV or .xlsx, a .vcf file, or a folder or zip of .vcf files. The exports of
    Google Contacts, Outlook (English, German, Dutch, Italian), Thunderbird, HubSpot and
    Mailchimp are recognised by their headers; other files are mapped by their headers
    (E-Mail, Telefon, Naam, Vorname + Nachname...). Every row is checked; customers already in
    FILE (same email or phone, or a very similar name at the same company) are updated.
    Nothing is written while errors remain, or unless you confirm (or give --yes).
    """
    from crmbook.sharing.importer import apply_import, plan_import
    from crmbook.sharing.sources import open_source, prepare

    with progress_bars(transient=True) as progress:
        progress(f"Reading {Path(str(file)).name}", 0, 0)
        book = crmbook.open(file, user=user, dayfirst=dayfirst)
        sheet = book.schema.sheet(into)
        table = book.table(sheet.name)
        existing = table.df
        progress(f"Reading {source.name}", 0, 0)
        ready = prepare(open_source(source), sheet, maps, keep, table.keeps_user_columns)
        if ready.keep and not table.keeps_user_columns:
            raise CrmbookError(f"--keep: {file} keeps only crmbook's columns")
        keys = {f.ref: book.table(f.ref).keys for f in sheet.fields if f.ref}
        plan = plan_import(
            ready.frame,
            ready.mapping,
            sheet,
            book.schema,
            existing,
            book.lists,
            keys,
            book.today(),
            source.name,
            dayfirst,
            rows=ready.rows,
            keep=ready.keep,
            progress=progress,
        )
    if ready.preset:
        click.echo(f"Recognised: {ready.preset}.")
    emit(ready.columns, "table", title=f"{source.name} -> {sheet.name}")
    if ready.empty:
        click.echo(f"{ready.empty} empty column(s) of {source.name} hold nothing to import.")
    if ready.note:
        click.echo(f"{ready.preset}: {ready.note}.")
    new_columns = [c for c in ready.keep if c not in table.df.columns]
    if new_columns:
        click.echo(f"New columns of your own in {sheet.name}: {', '.join(new_columns)}.")
    click.echo(
        f"{len(plan.new)} new, {len(plan.updates)} matching existing records "
        f"(updated, not duplicated), {len(plan.errors)} error(s)."
    )
    if plan.issues:
        issues = pd.DataFrame([dataclasses.asdict(i) for i in plan.issues])
        if ready.places:
            issues["row"] = issues["row"].map(lambda r: ready.places.get(r, r))
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
    with progress_bars(transient=True) as progress:
        added, updated = apply_import(book, plan, sheet, progress)
        progress(f"Saving {Path(str(file)).name}", 0, 0)
        book.save(force=force)
    click.echo(f"Added {len(added)} and updated {len(updated)} {sheet.entity} record(s) in {file}")


@main.command()
@FILE
@click.argument("out", metavar="[OUT]", required=False, type=OutputFile())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["workbook", *CONTACT_FORMATS]),
    default="workbook",
    show_default=True,
    help="workbook: the whole book as a new workbook; vcard, google-csv, outlook-csv: the "
    "customers for a phone, Google Contacts or Outlook",
)
@CUSTOMERS_CHOSEN
@out_option("the file to write (or give it as OUT)", "out_option", required=False)
@click.option("--force", is_flag=True, help="overwrite the file if it exists")
@handle_errors
def export(
    file: Path | str,
    out: Path | None,
    fmt: str,
    segment_name: str | None,
    rules: tuple[str, ...],
    out_option: Path | None,
    force: bool,
) -> None:
    """Write the book as a new workbook, or its customers as vCards or Google or Outlook CSV.

    \b
    crmbook export sqlite:///shop.db to-mail.xlsx          the whole book, as a workbook
    crmbook export shop.xlsx --format vcard --segment Newsletter --out phone.vcf
    crmbook export shop.xlsx --format google-csv --rules city=Berlin --out google.csv
    crmbook export shop.xlsx --format outlook-csv --out outlook.csv

    A workbook export holds every record, list and the change log; migrating it back gives
    the same records. The contact formats hold every email and phone (other_emails,
    other_phones too), birthdays (with or without year), tags, city, country and notes:
    importing them again gives the same people.
    """
    target = out_option or out
    if out_option and out and out_option != out:
        raise CrmbookError(f"give the file to write once: {out} or --out {out_option}")
    if target is None:
        raise CrmbookError("give the file to write: crmbook export FILE OUT, or --out PATH")
    if fmt == "workbook":
        if segment_name or rules:
            raise CrmbookError(
                "a workbook export copies the whole book; for the customers of a segment use "
                "--format vcard|google-csv|outlook-csv, or crmbook segment --xlsx PATH"
            )
        from crmbook.cli.database import copy_with_progress

        copy_with_progress(crmbook.open(file), target, force)
        return
    from crmbook.analytics.segments import parse_rules, saved_rules, segment_customers
    from crmbook.sharing.contact_export import FORMATS, export_contacts

    if target.exists() and not force:
        raise CrmbookError(f"{target} exists; choose another name or give --force")
    book = crmbook.open(file)
    frames = {
        name: book.table(name).df for name in ("Customers", "Interactions", "Sales", "Segments")
    }
    parsed = parse_rules(saved_rules(frames["Segments"], segment_name)) if segment_name else []
    parsed += parse_rules(list(rules))
    customers = segment_customers(frames, parsed, book.today()) if parsed else frames["Customers"]
    written = export_contacts(customers, fmt, target)
    click.echo(f"Wrote {written.count:,} customers to {written.path} ({FORMATS[fmt]}).")
    for kind, n in written.left_out.items():
        click.echo(
            f"{n} {kind} did not fit the format's columns (Outlook holds 3 emails and 8 phones); "
            "use --format vcard or google-csv to take them all",
            err=True,
        )


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
@USER
@FORCE_SAVE
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
@out_option("the copy to mail, e.g. shared.xlsx")
@click.option(
    "--password",
    default=None,
    help="encrypt the copy: Excel and LibreOffice ask for this password [default: no password]",
)
@USER
@handle_errors
def share(file: Path, out: Path, password: str | None, user: str | None) -> None:
    """Write a copy of FILE to mail, optionally password-protected, ready to merge back.

    FILE is saved first, every sheet read, so when edited copies come back crmbook merge
    knows what they started from (no --base needed).
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
@out_option(
    "the folder for CUSTOMER.json and CUSTOMER.xlsx",
    folder=True,
    required=False,
    default=Path("."),
    show_default=True,
)
@USER
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
@USER
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
    click.echo(
        f"{verb.rstrip('e')}ed {customer} ({detail}); the change log's earlier lines were "
        "cleaned and the backups of the old file removed (each held the person)."
    )
