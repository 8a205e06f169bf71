"""The Dashboard's live Excel formulas show the same figures as the Python analytics.

LibreOffice recalculates the formulas (crmbook saves them without cached values); the values
it computes are compared with overview, reminders, activity and sources for the same data.
TODAY() is the real date, so the data is built relative to date.today().
"""

import datetime as dt
import math
import shutil

import libreoffice
import openpyxl
import pandas as pd
import pytest

import crmbook
from crmbook.analytics.activity import meetings_per_week
from crmbook.analytics.overview import overview
from crmbook.analytics.pipeline import CLOSED, deals_by_stage, forecast
from crmbook.analytics.sources import source_effectiveness
from crmbook.demo import build_demo_book, generate_demo
from crmbook.io.template import FORECAST_MONTHS, FORECAST_SECTION, dashboard_figures
from crmbook.languages import sheet_aliases
from crmbook.schema import SCHEMA

pytestmark = [
    pytest.mark.libreoffice,
    libreoffice.needs_libreoffice,
]


def recalculated(paths, tmp_path):
    """Each workbook's Dashboard as LibreOffice computes it: figures and the sources table."""
    out = libreoffice.convert(paths, tmp_path)
    return [_dashboard(out / p.name) for p in paths]


def _dashboard(path):
    wb = openpyxl.load_workbook(path, data_only=True)
    ws = wb[next(n for n in wb.sheetnames if n in sheet_aliases(SCHEMA.dashboard_sheet))]
    figures, sources, section, in_sources = {}, {}, None, False
    for label, value, *rest in ws.iter_rows(min_row=3, values_only=True):
        if label in (None, ""):
            continue
        if label == "Source":
            in_sources = True
        elif in_sources:
            sources[label] = dict(
                zip(("customers", "revenue", "cost", "roi"), [value, *rest], strict=True)
            )
        elif value is None:
            section = label
        else:
            figures[(section, label)] = value
    return figures, sources


def python_figures(book, today):
    frames = {s.name: book.table(s.name).df for s in SCHEMA.entities}
    now = pd.Timestamp(today)
    facts = dict(zip(*overview(frames, today).to_dict("list").values(), strict=True))
    customers, tasks = frames["Customers"], frames["Tasks"]
    open_tasks = tasks[tasks["status"] == "open"]
    week = meetings_per_week(frames["Interactions"], today, weeks=2).iloc[0]
    expected = {("Records", s.name): len(frames[s.name]) for s in SCHEMA.entities}
    expected |= {
        ("Customers by stage", stage): facts.get(f"customers at stage {stage}", 0)
        for stage in SCHEMA.vocabulary("stage").values
    }
    expected |= {
        ("Tasks", "Open tasks overdue"): facts["open tasks overdue"],
        ("Tasks", "Open tasks due today"): int((open_tasks["due"].dt.normalize() == now).sum()),
        ("Customers", "Birthdays this month"): int(
            (customers["birthday"].dt.month == today.month).sum()
        ),
        ("Meetings last week (Monday to Sunday)", "Meetings and visits"): week["meetings"],
        ("Meetings last week (Monday to Sunday)", "Successful"): week["successful"],
        ("Meetings last week (Monday to Sunday)", "Success rate"): week["success_rate"],
        ("Revenue", "All sales"): facts["revenue, all time"],
    }
    chance = book.numbers("deal_stage")
    stages = deals_by_stage(frames["Deals"], chance)
    expected[(FORECAST_SECTION, "All open deals")] = stages.loc[
        ~stages["stage"].isin(CLOSED), "weighted"
    ].sum()
    months = forecast(frames["Deals"], today, chance, months=len(FORECAST_MONTHS))
    expected |= {
        (FORECAST_SECTION, label): value
        for label, value in zip(FORECAST_MONTHS, months["expected"], strict=True)
    }
    ranked = source_effectiveness(frames, today=today)
    sources = {
        row.source: {
            "customers": row.new_customers,
            "revenue": row.revenue,
            "cost": row.cost,
            "roi": row.roi,
        }
        for row in ranked.itertuples()
        if row.source in set(frames["Sources"]["name"])
    }
    return expected, sources


def same(excel, python) -> bool:
    if python is None or (isinstance(python, float) and math.isnan(python)):
        return excel in (None, "")
    return excel not in (None, "") and math.isclose(float(excel), float(python), abs_tol=0.0015)


def assert_dashboard_matches(dashboard, book, today):
    figures, sources = dashboard
    expected, expected_sources = python_figures(book, today)
    stage = "Customers by stage"
    expected = {
        (section, book.words.value(label) if section == stage else label): value
        for (section, label), value in expected.items()
    }
    assert set(expected) <= set(figures)
    wrong = {k: (figures[k], v) for k, v in expected.items() if not same(figures[k], v)}
    assert not wrong, wrong
    assert set(sources) == set(expected_sources)
    for name, python in expected_sources.items():
        wrong = {
            k: (sources[name][k], v) for k, v in python.items() if not same(sources[name][k], v)
        }
        assert not wrong, (name, wrong)


def hand_edit(path, today):
    """What an owner does in Excel: retype stages, add a sale, a task due today, a campaign,
    a deal closing next month, and a stage's probability of their own."""
    wb = openpyxl.load_workbook(path)
    customers = wb["Customers"]
    header = [c.value for c in customers[1]]
    stage = header.index("stage") + 1
    birthday = header.index("birthday") + 1
    for row in range(2, 8):
        customers.cell(row, stage, "loyal")
    customers.cell(9, birthday, dt.datetime(1990, today.month, 1))
    first_customer = customers.cell(2, 1).value

    def append(sheet_name, values):
        ws = wb[sheet_name]
        names = [c.value for c in ws[1]]
        ws.append([values.get(n) for n in names])
        table = ws.tables[sheet_name]
        table.ref = f"A1:{openpyxl.utils.get_column_letter(len(names))}{ws.max_row}"
        table.autoFilter.ref = table.ref

    midnight = dt.datetime.combine(today, dt.time())
    append(
        "Sales",
        {"id": "S-900001", "customer_id": first_customer, "date": midnight, "amount": 1234.5},
    )
    append("Tasks", {"id": "T-900001", "due": midnight, "title": "Call back", "status": "open"})
    append("Sources", {"name": "Shop window", "channel": "print", "cost": 150.0})
    next_month = dt.datetime(today.year + today.month // 12, today.month % 12 + 1, 28)
    append(
        "Deals",
        {
            "id": "D-900001",
            "customer_id": first_customer,
            "title": "Team event",
            "stage": "proposal",
            "amount": 10000.0,
            "opened": midnight,
            "expected_close": next_month,
        },
    )
    lists = wb["Lists"]
    header = [c.value for c in lists[1]]
    for row in lists.iter_rows(min_row=2):
        if row[header.index("deal_stage")].value == "proposal":
            row[header.index("probability")].value = 0.6
    wb.save(path)


def german_demo(path, today):
    """The demo business in a workbook made with `crmbook init --lang de`."""
    data = generate_demo(60, None, 2024, today=today)
    book = crmbook.create(path, lang="de", user="demo")
    book.set_list("owner", data.owners)
    for name in [sheet.name for sheet in SCHEMA.reference_order()]:
        book.table(name).add_many(data.frames[name], keep_ids=True)
    book.save(backups=0)


def test_dashboard_formulas_equal_the_python_analytics(tmp_path):
    today = dt.date.today()
    demo = tmp_path / "demo.xlsx"
    build_demo_book(demo, customers=60, today=today).close()
    edited = tmp_path / "edited.xlsx"
    shutil.copy(demo, edited)
    hand_edit(edited, today)
    german = tmp_path / "german.xlsx"
    german_demo(german, today)
    on_demo, on_edited, on_german = recalculated([demo, edited, german], tmp_path)
    assert_dashboard_matches(on_demo, crmbook.open(demo), today)
    assert_dashboard_matches(on_edited, crmbook.open(edited), today)
    assert on_edited[1]["Shop window"]["cost"] == 150
    edited_book = crmbook.open(edited)
    assert edited_book.numbers("deal_stage")["proposal"] == 0.6
    assert on_edited[0][(FORECAST_SECTION, "Next month")] >= 6000
    assert_dashboard_matches(on_german, crmbook.open(german), today)


def test_every_dashboard_formula_names_existing_schema_columns():
    for _, figures in dashboard_figures(SCHEMA):
        for _, formula, _ in figures:
            assert formula.startswith("=")
