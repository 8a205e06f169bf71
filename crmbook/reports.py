"""Reports to share: a report workbook (Excel tables and native Excel charts) and PNG charts.

    reports = build_reports(frames, today)          # {"Sources": {title: frame}, ...}
    write_report_workbook(reports, "report.xlsx", subtitle="as of 2026-11-23")
    write_png_charts(reports, "charts/")

The workbook is written with xlsxwriter and never touches the CRM workbook; the PNGs are drawn
with matplotlib's Agg renderer, so no display is needed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crmbook.analytics.activity import activity_report
from crmbook.analytics.pipeline import pipeline_report
from crmbook.analytics.sources import source_effectiveness
from crmbook.values import plain

Reports = dict[str, dict[str, pd.DataFrame]]

SOURCES, PIPELINE, ACTIVITY = "Sources", "Pipeline", "Activity"
MONEY = {
    "cost",
    "revenue",
    "amount",
    "weighted",
    "expected",
    "cost_per_acquired",
    "revenue_per_acquired",
}
PERCENT = {"conversion_rate", "roi", "success_rate", "probability", "share", "share_of_closed"}
_COLORS = {
    "cost": "#C0504D",
    "revenue": "#4F81BD",
    "good": "#4E9A06",
    "bad": "#C0504D",
    "meetings": "#4F81BD",
    "rate": "#E36C09",
    "weighted": "#9BBB59",
    "lost": "#A6A6A6",
}


def build_reports(
    frames: dict[str, pd.DataFrame],
    today: dt.date,
    *,
    weeks: int = 12,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    probabilities: Mapping[str, float] | None = None,
) -> Reports:
    """The shareable reports, each as named tables: Sources, Pipeline and Activity."""
    return {
        SOURCES: {
            "source effectiveness": source_effectiveness(frames, date_from, date_to, today=today)
        },
        PIPELINE: pipeline_report(frames, today, probabilities),
        ACTIVITY: activity_report(frames, today, weeks),
    }


@dataclass(frozen=True)
class _Placed:
    """Where one table landed on its sheet (zero-based rows and columns, header row first)."""

    sheet: str
    header_row: int
    last_row: int
    columns: list[str]

    def ref(self, column: str) -> list:
        col = self.columns.index(column)
        return [self.sheet, self.header_row + 1, col, self.last_row, col]


def write_report_workbook(reports: Reports, path: str | os.PathLike, subtitle: str = "") -> Path:
    """One sheet per report, each table an Excel table, with native Excel charts beside them."""
    import xlsxwriter

    path = Path(path)
    book = xlsxwriter.Workbook(
        path,
        {
            "default_date_format": "yyyy-mm-dd",
            "remove_timezone": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    styles = {
        "title": book.add_format({"bold": True, "font_size": 14}),
        "section": book.add_format({"bold": True, "font_size": 11}),
        "note": book.add_format({"italic": True, "font_color": "#595959"}),
        "money": book.add_format({"num_format": "#,##0.00"}),
        "percent": book.add_format({"num_format": "0.0%"}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
    }
    placed: dict[tuple[str, str], _Placed] = {}
    widths: dict[str, int] = {}
    for sheet_name, sections in reports.items():
        sheet = book.add_worksheet(sheet_name)
        sheet.write(0, 0, f"{sheet_name} report", styles["title"])
        if subtitle:
            sheet.write(1, 0, subtitle, styles["note"])
        row = 3
        for title, frame in sections.items():
            sheet.write(row, 0, title.capitalize(), styles["section"])
            if frame.empty:
                sheet.write(row + 1, 0, "nothing to show", styles["note"])
                row += 4
                continue
            placed[sheet_name, title] = _table(
                book, sheet, sheet_name, title, frame, row + 1, styles
            )
            row += len(frame) + 5
        widths[sheet_name] = max(len(f.columns) for f in sections.values())
    _charts(book, placed, widths)
    book.close()
    return path


def _table(
    book, sheet, sheet_name: str, title: str, frame: pd.DataFrame, row: int, styles: dict
) -> _Placed:
    columns = []
    for position, name in enumerate(frame.columns):
        values = frame[name]
        style = _style(name, values, styles)
        columns.append({"header": name.replace("_", " "), **({"format": style} if style else {})})
        shown = values.astype(str).str.len().max() if len(values) else 0
        sheet.set_column(position, position, min(max(len(name) + 3, int(shown) + 2, 10), 50))
    data = [[plain(v) for v in record] for record in frame.itertuples(index=False)]
    last_row = row + len(frame)
    sheet.add_table(
        row,
        0,
        last_row,
        len(frame.columns) - 1,
        {
            "name": _table_name(sheet_name, title),
            "columns": columns,
            "data": data,
            "style": "Table Style Medium 2",
        },
    )
    return _Placed(sheet_name, row, last_row, list(frame.columns))


def _charts(book, placed: dict[tuple[str, str], _Placed], widths: dict[str, int]) -> None:
    """Native Excel charts, drawn from the tables so they follow edits made in Excel."""
    sources = placed.get((SOURCES, "source effectiveness"))
    if sources:
        roi = book.add_chart({"type": "bar"})
        roi.add_series(
            {
                "name": "ROI",
                "categories": sources.ref("source"),
                "values": sources.ref("roi"),
                "fill": {"color": _COLORS["revenue"]},
                "invert_if_negative": False,
            }
        )
        roi.set_title({"name": "Return on investment by source"})
        roi.set_x_axis({"num_format": "0%", "major_gridlines": {"visible": True}})
        roi.set_y_axis({"reverse": True})
        roi.set_legend({"none": True})
        money = book.add_chart({"type": "column"})
        for column in ("cost", "revenue"):
            money.add_series(
                {
                    "name": column.capitalize(),
                    "categories": sources.ref("source"),
                    "values": sources.ref(column),
                    "fill": {"color": _COLORS[column]},
                }
            )
        money.set_title({"name": "Cost and revenue by source"})
        money.set_y_axis({"num_format": "#,##0"})
        _place(book, SOURCES, widths, [roi, money])
    stages = placed.get((PIPELINE, "deals by stage"))
    charts = []
    if stages:
        chart = book.add_chart({"type": "column"})
        for column, color in (("amount", "revenue"), ("weighted", "weighted")):
            chart.add_series(
                {
                    "name": column.capitalize(),
                    "categories": stages.ref("stage"),
                    "values": stages.ref(column),
                    "fill": {"color": _COLORS[color]},
                }
            )
        chart.set_title({"name": "Pipeline by stage"})
        chart.set_y_axis({"num_format": "#,##0"})
        charts.append(chart)
    months = placed.get((PIPELINE, "forecast"))
    if months:
        chart = book.add_chart({"type": "column"})
        for column, color in (("amount", "revenue"), ("expected", "weighted")):
            chart.add_series(
                {
                    "name": "Open amount" if column == "amount" else "Expected revenue",
                    "categories": months.ref("month"),
                    "values": months.ref(column),
                    "fill": {"color": _COLORS[color]},
                }
            )
        chart.set_title({"name": "Forecast: expected revenue per month"})
        chart.set_x_axis({"date_axis": False, "num_format": "mmm yyyy"})
        chart.set_y_axis({"num_format": "#,##0"})
        charts.append(chart)
    ladder = placed.get((PIPELINE, "loyalty ladder"))
    if ladder:
        chart = book.add_chart({"type": "bar"})
        chart.add_series(
            {
                "name": "Customers",
                "categories": ladder.ref("stage"),
                "values": ladder.ref("customers"),
                "fill": {"color": _COLORS["revenue"]},
                "data_labels": {"value": True},
            }
        )
        chart.set_title({"name": "Customers on the loyalty ladder"})
        chart.set_y_axis({"reverse": True})
        chart.set_legend({"none": True})
        charts.append(chart)
    _place(book, PIPELINE, widths, charts)
    weekly = placed.get((ACTIVITY, "meetings per week"))
    if weekly:
        chart = book.add_chart({"type": "column"})
        chart.add_series(
            {
                "name": "Meetings",
                "categories": weekly.ref("week"),
                "values": weekly.ref("meetings"),
                "fill": {"color": _COLORS["meetings"]},
            }
        )
        rate = book.add_chart({"type": "line"})
        rate.add_series(
            {
                "name": "Success rate",
                "categories": weekly.ref("week"),
                "values": weekly.ref("success_rate"),
                "y2_axis": True,
                "line": {"color": _COLORS["rate"], "width": 2.25},
                "marker": {"type": "circle"},
            }
        )
        chart.combine(rate)
        chart.set_title({"name": "Meetings per week and their success rate"})
        chart.set_x_axis({"date_axis": False, "num_format": "yyyy-mm-dd"})
        chart.set_y_axis({"name": "meetings"})
        rate.set_y2_axis({"name": "success rate", "num_format": "0%", "min": 0, "max": 1})
        _place(book, ACTIVITY, widths, [chart])


def _place(book, sheet_name: str, widths: dict[str, int], charts: list) -> None:
    sheet = book.get_worksheet_by_name(sheet_name)
    if sheet is None:
        return
    for position, chart in enumerate(charts):
        chart.set_size({"width": 640, "height": 360})
        sheet.insert_chart(3 + 20 * position, widths[sheet_name] + 1, chart)


def _style(name: str, values: pd.Series, styles: dict):
    if name in MONEY:
        return styles["money"]
    if name in PERCENT:
        return styles["percent"]
    if pd.api.types.is_datetime64_any_dtype(values):
        timed = (values.dropna() != values.dropna().dt.normalize()).any()
        return styles["datetime" if timed else "date"]
    return None


def _table_name(sheet: str, title: str) -> str:
    return re.sub(r"\W+", "_", f"{sheet}_{title}").strip("_")


# ---------------------------------------------------------------- PNG charts

# How each metric a source ranking can show is labelled and formatted.
SOURCE_METRICS = {
    "roi": ("ROI = (revenue - cost) / cost", "{:+,.0%}", "return on investment"),
    "revenue": ("revenue in the period", "{:,.0f}", "revenue"),
    "conversion_rate": ("share of new customers who bought", "{:,.0%}", "conversion rate"),
}


def write_png_charts(reports: Reports, folder: str | os.PathLike, subtitle: str = "") -> list[Path]:
    """PNG charts a person can look at: sources by ROI, cost vs revenue, the loyalty-ladder
    funnel, pipeline by stage, the forecast, meetings per week with their success rate."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    charts = []
    sources = reports.get(SOURCES, {}).get("source effectiveness")
    if sources is not None and not sources.empty:
        charts.append(("sources_roi.png", sources_ranked_figure(sources, "roi", subtitle)))
        charts.append(("sources_cost_revenue.png", cost_revenue_figure(sources, subtitle)))
    ladder = reports.get(PIPELINE, {}).get("loyalty ladder")
    if ladder is not None and not ladder.empty:
        charts.append(("loyalty_ladder.png", loyalty_ladder_figure(ladder, subtitle)))
    stages = reports.get(PIPELINE, {}).get("deals by stage")
    if stages is not None and not stages.empty:
        charts.append(("pipeline_by_stage.png", pipeline_figure(stages, subtitle)))
    months = reports.get(PIPELINE, {}).get("forecast")
    if months is not None and not months.empty:
        charts.append(("forecast.png", forecast_figure(months, subtitle)))
    weekly = reports.get(ACTIVITY, {}).get("meetings per week")
    if weekly is not None and not weekly.empty:
        charts.append(("meetings_per_week.png", meetings_figure(weekly, subtitle)))
    written = []
    for name, fig in charts:
        target = folder / name
        fig.savefig(target, dpi=110)
        written.append(target)
    return written


def sources_ranked_figure(sources: pd.DataFrame, metric: str = "roi", subtitle: str = ""):
    """Sources as horizontal bars ranked by `metric` (roi, revenue or conversion_rate)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    if metric not in SOURCE_METRICS:
        raise ValueError(f"rank by one of {', '.join(SOURCE_METRICS)}, not {metric!r}")
    label, shown, name = SOURCE_METRICS[metric]
    ranked = sources.dropna(subset=[metric]).sort_values(metric)
    fig = Figure(figsize=(10, 0.45 * len(ranked) + 1.8), layout="constrained")
    ax = fig.add_subplot()
    colors = np.where(ranked[metric] >= 0, _COLORS["good"], _COLORS["bad"])
    if metric != "roi":
        colors = np.full(len(ranked), _COLORS["revenue"])
    bars = ax.barh(ranked["source"], ranked[metric], color=colors)
    ax.bar_label(bars, labels=[shown.format(v) for v in ranked[metric]], padding=3, fontsize=9)
    axis = "{:,.0%}" if metric != "revenue" else "{:,.0f}"
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: axis.format(x)))
    ax.axvline(0, color="#404040", linewidth=0.8)
    ax.set_xlabel(label)
    ax.margins(x=0.15)
    _tidy(ax)
    return _titled(fig, f"Sources ranked by {name}", subtitle)


def cost_revenue_figure(sources: pd.DataFrame, subtitle: str = ""):
    """Each source's cost beside the revenue its customers brought."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    shown = sources.sort_values("revenue")
    fig = Figure(figsize=(10, 0.5 * len(shown) + 1.8), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(shown))
    ax.barh(y + 0.2, shown["revenue"], height=0.4, color=_COLORS["revenue"], label="revenue")
    ax.barh(y - 0.2, shown["cost"], height=0.4, color=_COLORS["cost"], label="cost")
    ax.set_yticks(y, shown["source"])
    ax.xaxis.set_major_formatter(FuncFormatter(_money))
    ax.legend(loc="lower right", frameon=False)
    _tidy(ax)
    return _titled(fig, "Cost and revenue by source", subtitle)


def loyalty_ladder_figure(ladder: pd.DataFrame, subtitle: str = ""):
    """The loyalty ladder as a funnel: customers per stage, lost ones last and grey."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax = fig.add_subplot()
    steps = ladder[ladder["stage"] != "lost"]
    lost = ladder[ladder["stage"] == "lost"]
    shown = pd.concat([steps, lost], ignore_index=True)
    y = np.arange(len(shown))[::-1]
    counts = shown["customers"].to_numpy(dtype=float)
    colors = [_COLORS["lost"] if s == "lost" else _COLORS["revenue"] for s in shown["stage"]]
    ax.barh(y, counts, left=-counts / 2, color=colors, height=0.75)
    widest = max(counts.max(), 1)
    for yy, count, share in zip(y, counts, shown["share"], strict=True):
        ax.text(
            count / 2 + widest * 0.02,
            yy,
            f"{count:,.0f} ({share:.0%})",
            va="center",
            fontsize=10,
        )
    ax.set_yticks(y, shown["stage"], fontsize=11)
    ax.tick_params(axis="y", length=0)
    ax.set_xticks([])
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.set_xlim(-widest * 0.55, widest * 0.75)
    return _titled(fig, "Loyalty ladder: customers per stage", subtitle)


def pipeline_figure(stages: pd.DataFrame, subtitle: str = ""):
    """Deal amounts per stage beside their value weighted by the stage's probability."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(stages))
    ax.bar(x - 0.2, stages["amount"], width=0.4, color=_COLORS["revenue"], label="amount")
    ax.bar(
        x + 0.2,
        stages["weighted"],
        width=0.4,
        color=_COLORS["weighted"],
        label="weighted by stage probability",
    )
    ax.set_xticks(
        x,
        [f"{s}\n({n:,} deals)" for s, n in zip(stages["stage"], stages["deals"], strict=True)],
    )
    ax.yaxis.set_major_formatter(FuncFormatter(_money))
    ax.legend()
    _tidy(ax)
    return _titled(fig, "Pipeline by stage", subtitle)


def forecast_figure(months: pd.DataFrame, subtitle: str = ""):
    """Per month: the open amount expected to close, and that amount weighted by each deal's
    stage probability (the expected revenue), labelled with the expected figure."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(9, 4.5), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(months))
    ax.bar(x - 0.2, months["amount"], width=0.4, color=_COLORS["revenue"], label="open amount")
    bars = ax.bar(
        x + 0.2,
        months["expected"],
        width=0.4,
        color=_COLORS["weighted"],
        label="expected revenue (amount x stage probability)",
    )
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in months["expected"]], padding=2, fontsize=9)
    ax.set_xticks(
        x,
        [
            f"{m:%b %Y}\n({n:,} deals)"
            for m, n in zip(months["month"], months["deals"], strict=True)
        ],
    )
    ax.yaxis.set_major_formatter(FuncFormatter(_money))
    ax.legend(frameon=False)
    ax.margins(y=0.12)
    _tidy(ax)
    return _titled(fig, "Forecast: expected revenue per month", subtitle)


def meetings_figure(weekly: pd.DataFrame, subtitle: str = ""):
    """Meetings held per week as bars, their success rate as a line on a second axis."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    fig = Figure(figsize=(10, 5), layout="constrained")
    ax = fig.add_subplot()
    labels = weekly["week"].dt.strftime("%d %b")
    x = np.arange(len(weekly))
    ax.bar(x, weekly["meetings"], color=_COLORS["meetings"], label="meetings held")
    ax.set_xticks(x, labels, rotation=45, ha="right")
    ax.set_ylabel("meetings (week starting)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    rate = ax.twinx()
    rate.plot(
        x,
        weekly["success_rate"],
        color=_COLORS["rate"],
        marker="o",
        linewidth=2,
        label="success rate",
    )
    rate.set_ylim(0, 1.05)
    rate.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    rate.set_ylabel("success rate")
    handles = ax.get_legend_handles_labels()[0] + rate.get_legend_handles_labels()[0]
    ax.legend(
        handles,
        [h.get_label() for h in handles],
        loc="lower right",
        bbox_to_anchor=(1, 1.01),
        ncols=2,
        frameon=False,
    )
    ax.spines["top"].set_visible(False)
    rate.spines["top"].set_visible(False)
    return _titled(fig, "Meetings per week and their success rate", subtitle)


def _titled(fig, title: str, subtitle: str):
    fig.suptitle(title, fontsize=14, fontweight="bold", x=0.01, ha="left")
    if subtitle:
        fig.axes[0].set_title(subtitle, loc="left", fontsize=9, color="#595959")
    return fig


def _money(x, _) -> str:
    return f"{x:,.0f}"


def _tidy(ax) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.grid(axis="x", color="#E0E0E0", linewidth=0.8)
    ax.set_axisbelow(True)
