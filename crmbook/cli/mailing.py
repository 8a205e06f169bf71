"""Mailings, the daily run and the calendar: mail, unsubscribe, daily, ics."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import pandas as pd

import crmbook
from crmbook.cli import main
from crmbook.cli.common import (
    CUSTOMERS_CHOSEN,
    DRY_RUN,
    FILE,
    FORCE_SAVE,
    OUTBOX_FOLDER,
    USER,
    _day,
    _today_option,
    emit,
    emit_report,
    handle_errors,
    out_option,
    output_option,
    rows_for_people,
    tell_hidden,
    together,
)
from crmbook.errors import CrmbookError
from crmbook.schema import SCHEMA

# --config, --user and --force of the commands that send and log.
_mail_options = together(
    click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="mail settings [default: crmbook.toml beside FILE, else "
        "~/.config/crmbook/config.toml; CRMBOOK_SMTP_* variables override]",
    ),
    USER,
    FORCE_SAVE,
)


def _print_preview(preview: pd.DataFrame) -> None:
    shown = rows_for_people(preview)
    for position, row in enumerate(shown.itertuples(index=False), start=1):
        who = f"{row.name} ({row.customer_id})" if row.customer_id else row.name
        click.echo(f"--- {position}/{len(preview)}  {who}  <{row.to}>  [{row.status}]")
        if row.subject:
            click.echo(f"Subject: {row.subject}")
        click.echo("\n" + row.body.rstrip("\n") + "\n")
    tell_hidden(len(preview), len(shown), "messages")


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


@main.command()
@FILE
@click.option("--template", "template", required=True, help="the template's name (Templates sheet)")
@CUSTOMERS_CHOSEN
@DRY_RUN
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
    rules: tuple[str, ...],
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

    Each message goes once: a journal beside FILE (for a database URL, in the database)
    remembers what was sent, so running the same mailing again (after a crash too, or on
    another machine) sends only what is missing. Every message is logged as an
    interaction. Preview with --dry-run first.
    """
    from crmbook.mailing import load_config
    from crmbook.mailing import mail as send_mailing
    from crmbook.mailing.config import with_rate

    book = crmbook.open(file, user=user)
    run = send_mailing(
        book,
        template,
        today=_day(book, today),
        config=with_rate(load_config(book.path, config_path), rate),
        segment=segment_name,
        rules=list(rules) or None,
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
@USER
@FORCE_SAVE
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
@DRY_RUN
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
        config=load_config(book.path, config_path),
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
@out_option("the calendar file to write, e.g. tasks.ics")
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
