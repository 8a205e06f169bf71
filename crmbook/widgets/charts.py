"""Which marketing source pays off: sources ranked by ROI, revenue or conversion for a period,
their cost beside their revenue, and the loyalty-ladder funnel of all customers.

The figures are the report charts of crmbook.reports, drawn for the period and metric chosen.
"""

from __future__ import annotations

import datetime as dt

import ipywidgets as widgets
import pandas as pd

from crmbook.analytics.pipeline import loyalty_ladder
from crmbook.analytics.sources import source_effectiveness
from crmbook.reports import (
    PERCENT,
    SOURCE_METRICS,
    cost_revenue_figure,
    loyalty_ladder_figure,
    sources_ranked_figure,
)
from crmbook.widgets._base import Alert, figure_png, frame_html, heading, reported
from crmbook.widgets.session import Session

PERIODS = {
    "all": "all time",
    "30": "the last 30 days",
    "90": "the last 90 days",
    "365": "the last 12 months",
    "this year": "this year",
    "last year": "last year",
    "custom": "from - to (choose the days)",
}
RANKED_BY = {"roi": "roi", "revenue": "revenue", "conversion_rate": "conversion"}
CHARTS = {
    "ranking": "Ranking",
    "cost_revenue": "Cost vs revenue",
    "ladder": "Loyalty ladder",
}
SOURCE_SHEETS = ("Customers", "Sales", "Sources")


def period_days(period: str, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The first and last day of a named period (None: open end)."""
    if period == "all":
        return None, None
    if period == "this year":
        return dt.date(today.year, 1, 1), today
    if period == "last year":
        return dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)
    return today - dt.timedelta(days=int(period) - 1), today


class ChartsModel:
    """The period and metric chosen, the source table for them, and the charts as figures."""

    def __init__(self, session: Session, *, period: str = "365", metric: str = "roi"):
        self.session = session
        self.period = period
        self.metric = metric
        self.date_from: dt.date | None = None
        self.date_to: dt.date | None = None
        self.table = pd.DataFrame()
        self.ladder = pd.DataFrame()
        session.on_change(self.refresh)
        self.choose(period=period, metric=metric)

    def choose(
        self,
        *,
        period: str | None = None,
        metric: str | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> pd.DataFrame:
        """Pick a period (a PERIODS key; "custom" takes date_from and date_to) and a metric."""
        if metric is not None:
            if metric not in SOURCE_METRICS:
                raise ValueError(f"metric is one of {', '.join(SOURCE_METRICS)}, not {metric!r}")
            self.metric = metric
        if period is not None:
            self.period = period
        if self.period == "custom":
            self.date_from, self.date_to = date_from, date_to
        else:
            self.date_from, self.date_to = period_days(self.period, self.session.today())
        return self.refresh()

    @property
    def subtitle(self) -> str:
        start = f"{self.date_from:%Y-%m-%d}" if self.date_from else "the start"
        end = f"{self.date_to:%Y-%m-%d}" if self.date_to else "today"
        return f"customers won from {start} to {end} and their sales in that time"

    def refresh(self) -> pd.DataFrame:
        frames = self.session.frames(*SOURCE_SHEETS)
        self.table = source_effectiveness(
            frames,
            self.date_from,
            self.date_to,
            today=self.session.today(),
            by=RANKED_BY[self.metric],
        )
        self.ladder = loyalty_ladder(frames["Customers"])
        return self.table

    def figure(self, chart: str):
        """One chart (a CHARTS key) as a matplotlib Figure, or None when there is no data."""
        if chart == "ladder":
            return loyalty_ladder_figure(self.ladder) if not self.ladder.empty else None
        if self.table.empty:
            return None
        if chart == "ranking":
            return sources_ranked_figure(self.table, self.metric, self.subtitle)
        return cost_revenue_figure(self.table, self.subtitle)


class ChartsView(widgets.VBox):
    """Period and metric selectors above the charts (`images`, PNG) and the source table.

    Only the chart on the tab shown is drawn; the others are drawn when their tab is opened
    (drawing is the slow part, and most changes concern one chart).
    """

    def __init__(self, model: ChartsModel):
        self.model = model
        self.alert = Alert()
        self.period = widgets.Dropdown(
            options=[(label, key) for key, label in PERIODS.items()],
            value=model.period,
            description="Period",
        )
        self.date_from = widgets.DatePicker(description="From")
        self.date_to = widgets.DatePicker(description="To")
        self.metric = widgets.ToggleButtons(
            options=[(SOURCE_METRICS[k][2].capitalize(), k) for k in SOURCE_METRICS],
            value=model.metric,
            description="Rank by",
        )
        self.images = {key: widgets.Image(format="png") for key in CHARTS}
        self.notes = {key: widgets.HTML() for key in CHARTS}
        self.tabs = widgets.Tab(
            children=[widgets.VBox([self.notes[k], self.images[k]]) for k in CHARTS],
            titles=list(CHARTS.values()),
        )
        self.table = widgets.HTML()
        self._stale = set(CHARTS)
        for control in (self.period, self.date_from, self.date_to, self.metric):
            control.observe(reported(self.alert, self._chosen), names="value")
        self.tabs.observe(reported(self.alert, self._draw_shown), names="selected_index")
        super().__init__(
            [
                heading(
                    "Marketing sources",
                    "Which source brought customers who buy, and what it cost. Pick the "
                    "period and what to rank by; the table under the charts has every figure.",
                ),
                widgets.HBox([self.period, self.date_from, self.date_to]),
                self.metric,
                self.alert,
                self.tabs,
                self.table,
            ]
        )
        model.session.on_change(self._draw)
        self._show_dates()
        self._draw()

    def _chosen(self, change) -> None:
        self.alert.clear()
        if change["owner"] is self.period:
            self._show_dates()
        if self.period.value == "custom":
            self.model.choose(
                period="custom",
                metric=self.metric.value,
                date_from=self.date_from.value,
                date_to=self.date_to.value,
            )
        else:
            self.model.choose(period=self.period.value, metric=self.metric.value)
        self._draw()

    def _draw_shown(self, _change=None) -> None:
        chart = list(CHARTS)[self.tabs.selected_index or 0]
        if chart not in self._stale:
            return
        fig = self.model.figure(chart)
        self.images[chart].value = figure_png(fig) if fig is not None else b""
        self.notes[chart].value = (
            "" if fig is not None else "<i>No data for this period: nothing to draw.</i>"
        )
        self._stale.discard(chart)

    def _show_dates(self) -> None:
        shown = None if self.period.value == "custom" else "none"
        self.date_from.layout.display = self.date_to.layout.display = shown

    def _draw(self) -> None:
        self._stale = set(CHARTS)
        self._draw_shown()
        table = self.model.table.drop(columns=["rank"])
        for name in PERCENT.intersection(table.columns):
            table[name] = table[name].map(lambda v: "" if pd.isna(v) else f"{v:,.0%}")
        self.table.value = frame_html(
            table,
            empty="No source brought customers or cost money in this period.",
            note=f"Sources, {self.model.subtitle}. ROI = (revenue - cost) / cost.",
        )


def source_charts(session: Session) -> ChartsView:
    """The source-effectiveness page."""
    return ChartsView(ChartsModel(session))
