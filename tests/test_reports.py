"""Reports through the command line on a small demo business: printed tables, CSV and JSON,
and the report workbook re-read by openpyxl with its tables and native charts."""

import datetime as dt
import json

import openpyxl
import pytest
from click.testing import CliRunner

import crmbook
from crmbook.analytics.pipeline import forecast
from crmbook.analytics.sources import COLUMNS as SOURCE_COLUMNS
from crmbook.cli import main
from crmbook.demo import build_demo_book
from crmbook.reports import build_reports

TODAY = dt.date(2026, 3, 10)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("reports") / "shop.xlsx"
    build_demo_book(path, customers=60, today=TODAY)
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_report_activity_prints_its_tables(shop):
    result = run("report", "activity", shop, "--weeks", "4", "--today", TODAY)
    assert result.exit_code == 0, result.output
    for title in (
        "Meetings per week",
        "Meetings per owner",
        "Appointments next month",
        "Open complaints",
    ):
        assert title in result.output


def test_report_activity_as_json(shop):
    result = run("report", "activity", shop, "--weeks", "4", "--today", TODAY, "--format", "json")
    report = json.loads(result.output)
    assert list(report) == [
        "meetings per week",
        "meetings per owner",
        "appointments next month",
        "open complaints",
    ]
    assert [w["week"][:10] for w in report["meetings per week"]] == [
        "2026-02-16",
        "2026-02-23",
        "2026-03-02",
        "2026-03-09",
    ]


def test_report_pipeline_as_csv_has_one_block_per_table(shop):
    result = run("report", "pipeline", shop, "--format", "csv")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[:2] == ["# deals by stage", "stage,deals,amount,probability,weighted"]
    assert [line for line in lines if line.startswith("# ")] == [
        "# deals by stage",
        "# forecast",
        "# won and lost",
        "# lost reasons",
        "# lost to competitors",
        "# loyalty ladder",
    ]
    deals = crmbook.open(shop).deals.df
    stages = lines[2:8]
    assert sum(int(line.split(",")[1]) for line in stages) == len(deals)


def test_report_pipeline_forecast_per_month(shop):
    result = run("report", "pipeline", shop, "--today", TODAY, "--months", 3, "--format", "json")
    assert result.exit_code == 0, result.output
    months = json.loads(result.output)["forecast"]
    assert [m["month"][:10] for m in months] == ["2026-03-01", "2026-04-01", "2026-05-01"]
    deals = crmbook.open(shop).deals.df
    expected = forecast(deals, TODAY, months=3)
    assert [m["expected"] for m in months] == pytest.approx(expected["expected"].tolist())
    assert sum(m["expected"] for m in months) > 0
    table = run("report", "pipeline", shop, "--today", TODAY).output
    assert "Forecast" in table and "2026-03-01" in table


def test_report_pipeline_table_shows_percentages(shop):
    result = run("report", "pipeline", shop)
    assert result.exit_code == 0
    assert "Deals by stage" in result.output and "75.0%" in result.output


def test_report_sources_ranked_by_revenue(shop):
    result = run("report", "sources", shop, "--by", "revenue", "--today", TODAY, "--format", "json")
    assert result.exit_code == 0
    ranked = json.loads(result.output)
    assert list(ranked[0]) == list(SOURCE_COLUMNS)
    revenue = [r["revenue"] for r in ranked]
    assert revenue == sorted(revenue, reverse=True)
    assert sum(r["new_customers"] for r in ranked) == 60


def test_report_sources_for_a_period_as_a_table(shop):
    result = run(
        "report", "sources", shop, "--from", "2025-01-01", "--to", "2025-12-31", "--today", TODAY
    )
    assert result.exit_code == 0
    assert "customers created from 2025-01-01 to 2025-12-31" in result.output
    assert "cost per acquired" in result.output


def test_report_sources_refuses_a_bad_date(shop):
    result = run("report", "sources", shop, "--from", "last spring")
    assert result.exit_code == 2
    assert "last spring" in result.output


def test_report_all_writes_a_workbook_with_tables_and_native_charts(shop, tmp_path):
    out, charts = tmp_path / "report.xlsx", tmp_path / "charts"
    result = run("report", "all", shop, "--out", out, "--png", charts, "--today", TODAY)
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}" in result.output

    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Sources", "Pipeline", "Activity"]
    assert {name: len(book[name]._charts) for name in book.sheetnames} == {
        "Sources": 2,
        "Pipeline": 3,
        "Activity": 1,
    }
    assert list(book["Pipeline"].tables) == [
        "Pipeline_deals_by_stage",
        "Pipeline_forecast",
        "Pipeline_won_and_lost",
        "Pipeline_lost_reasons",
        "Pipeline_lost_to_competitors",
        "Pipeline_loyalty_ladder",
    ]
    sources = book["Sources"]
    table = sources.tables["Sources_source_effectiveness"]
    header = [c.value for c in sources[table.ref][0]]
    assert header == [c.replace("_", " ") for c in SOURCE_COLUMNS]

    frames = {s.name: crmbook.open(shop).table(s.name).df for s in crmbook.SCHEMA.entities}
    expected = build_reports(frames, TODAY)["Sources"]["source effectiveness"]
    body = sources[table.ref][1:]
    assert len(body) == len(expected)
    assert [row[1].value for row in body] == expected["source"].tolist()
    assert [row[3].value for row in body] == pytest.approx(expected["cost"].tolist())
    assert body[0][3].number_format == "#,##0.00"
    assert body[0][8].number_format == "0.0%"

    pipeline = book["Pipeline"]
    months = pipeline[pipeline.tables["Pipeline_forecast"].ref]
    assert [c.value for c in months[0]] == ["month", "deals", "amount", "expected"]
    forecast_then = build_reports(frames, TODAY)["Pipeline"]["forecast"]
    assert [r[0].value for r in months[1:]] == forecast_then["month"].tolist()
    assert [r[3].value for r in months[1:]] == pytest.approx(forecast_then["expected"].tolist())
    assert months[1][3].number_format == "#,##0.00"

    pngs = sorted(p.name for p in charts.iterdir())
    assert pngs == [
        "forecast.png",
        "loyalty_ladder.png",
        "meetings_per_week.png",
        "pipeline_by_stage.png",
        "sources_cost_revenue.png",
        "sources_roi.png",
    ]
    for png in charts.iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 15_000


def test_report_all_never_overwrites_the_crm_workbook(shop):
    before = shop.read_bytes()
    result = run("report", "all", shop, "--out", shop)
    assert result.exit_code == 2
    assert "is the CRM workbook itself" in result.output
    assert shop.read_bytes() == before
