"""The report group: activity, pipeline, sources, and all of them as a workbook."""

from __future__ import annotations

from pathlib import Path

import click

import crmbook
from crmbook.cli import main
from crmbook.cli.common import (
    FILE,
    _day,
    _frames,
    _period_options,
    _today_option,
    emit,
    emit_report,
    emit_sections,
    handle_errors,
    out_option,
    output_option,
)
from crmbook.errors import CrmbookError


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
@click.option(
    "--months",
    type=click.IntRange(1, 36),
    default=6,
    show_default=True,
    help="months of forecast, from the current one",
)
@_today_option
@output_option
@handle_errors
def pipeline(file: Path, months: int, today, fmt: str) -> None:
    """Deals by stage, the monthly forecast, won and lost, lost reasons and competitors.

    The forecast is each open deal's amount x its stage's probability, by month of expected
    close."""
    from crmbook.analytics.pipeline import pipeline_report

    book = crmbook.open(file)
    frames = _frames(book, "Customers", "Deals")
    chance = book.numbers("deal_stage")
    emit_sections(pipeline_report(frames, _day(book, today), chance, months), fmt)


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
@out_option("the report workbook to write, e.g. report.xlsx")
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

    book = crmbook.open(file)
    if out.resolve() == book.path.resolve():
        raise CrmbookError(f"--out {out} is the CRM workbook itself; choose another file")
    day = _day(book, today)
    frames = _frames(book, "Customers", "Interactions", "Deals", "Sales", "Sources")
    reports = build_reports(
        frames,
        day,
        weeks=weeks,
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
        probabilities=book.numbers("deal_stage"),
    )
    subtitle = f"{book.path.name}, as of {day}{_period(date_from, date_to)}"
    click.echo(f"Wrote {write_report_workbook(reports, out, subtitle)}")
    if png is not None:
        for path in write_png_charts(reports, png, subtitle):
            click.echo(f"Wrote {path}")
