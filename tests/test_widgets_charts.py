"""Source-effectiveness charts: period and metric selectors, PNG charts and the table."""

import datetime as dt

from widget_support import text

from crmbook.analytics.sources import source_effectiveness
from crmbook.widgets.charts import CHARTS, ChartsModel, ChartsView, period_days

pytest_plugins = ["widget_support"]  # the shop fixtures

PNG = b"\x89PNG\r\n\x1a\n"


def page(session) -> ChartsView:
    return ChartsView(ChartsModel(session))


def test_every_chart_is_drawn_when_its_tab_is_opened(session):
    view = page(session)
    assert bytes(view.images["ranking"].value).startswith(PNG)
    assert bytes(view.images["ladder"].value) == b""  # not drawn before it is looked at
    for position, key in enumerate(CHARTS):
        view.tabs.selected_index = position
        assert bytes(view.images[key].value).startswith(PNG), key
        assert len(view.images[key].value) > 10_000
    assert "return on investment" in view.metric.options[0][0].lower()
    table = text(view.table.value)
    assert "roi" in table and "cost per acquired" in table


def test_the_metric_ranks_the_sources(session):
    view = page(session)
    before = bytes(view.images["ranking"].value)
    view.metric.value = "revenue"
    revenue = view.model.table["revenue"].tolist()
    assert revenue == sorted(revenue, reverse=True)
    assert bytes(view.images["ranking"].value) != before
    view.metric.value = "conversion_rate"
    rates = view.model.table["conversion_rate"].dropna().tolist()
    assert rates == sorted(rates, reverse=True)


def test_the_period_selects_customers_and_costs(session):
    view = page(session)
    today = dt.date(2026, 3, 15)
    assert period_days("90", today) == (dt.date(2025, 12, 16), today)
    assert period_days("last year", today) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    view.period.value = "90"
    expected = source_effectiveness(
        session.frames("Customers", "Sales", "Sources"),
        dt.date(2025, 12, 16),
        today,
        today=today,
    )
    assert view.model.table["new_customers"].sum() == expected["new_customers"].sum()
    assert view.date_from.layout.display == "none"

    view.period.value = "custom"
    assert view.date_from.layout.display is None  # the day pickers appear
    view.date_from.value = dt.date(2030, 1, 1)
    assert view.model.date_from == dt.date(2030, 1, 1)
    assert view.model.table.empty
    assert "No data for this period" in text(view.notes["ranking"].value)
    assert bytes(view.images["ranking"].value) == b""
    assert "No source brought customers" in text(view.table.value)
