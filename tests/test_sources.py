"""Source effectiveness on a small hand-built business whose right answers are written out."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crmbook.analytics.sources import COLUMNS, source_effectiveness
from crmbook.schema import SCHEMA

TODAY = dt.date(2026, 3, 31)
NAN = float("nan")


def table(sheet: str, *rows: dict) -> pd.DataFrame:
    """A typed frame like Book.table(sheet).df, from a few records (missing fields empty)."""
    return pd.DataFrame(
        {
            f.name: pd.Series([r.get(f.name) for r in rows], dtype=f.ftype.dtype)
            for f in SCHEMA.sheet(sheet).fields
        }
    )


def customer(n, source, created, referred_by=None):
    return {
        "id": f"C-{n:06d}",
        "name": f"Customer {n}",
        "source": source,
        "created": created,
        "referred_by": referred_by,
    }


def sale(n, customer_id, date, amount):
    return {"id": f"S-{n:06d}", "customer_id": customer_id, "date": date, "amount": amount}


def business() -> dict[str, pd.DataFrame]:
    return {
        "Sources": table(
            "Sources",
            {
                "name": "Fair",
                "channel": "exhibition",
                "start": "2026-01-10",
                "end": "2026-01-19",
                "cost": 1000,
            },  # ten days
            {
                "name": "Search",
                "channel": "search ad",
                "start": "2025-10-01",
                "cost": 3000,
            },  # ongoing: 1 Oct to 31 March is 182 days
            {"name": "Flyers", "channel": "print", "cost": 200},  # no dates: charged in full
            {"name": "Referral", "channel": "referral"},  # free
            {
                "name": "Radio",
                "channel": "radio",
                "start": "2026-05-01",
                "end": "2026-05-30",
                "cost": 600,
            },
        ),
        "Customers": table(
            "Customers",
            customer(1, "Fair", "2026-01-12 10:00"),
            customer(2, "Fair", "2026-01-15 10:00"),
            customer(3, "Search", "2025-12-01 10:00"),
            customer(4, "Search", "2026-02-01 10:00"),
            customer(5, "Referral", "2026-02-10 10:00", referred_by="C-000001"),
            customer(6, " Flyers ", "2026-01-05 10:00"),  # typed with spaces
            customer(7, None, "2026-01-20 10:00", referred_by="C-000003"),
        ),
        "Sales": table(
            "Sales",
            sale(1, "C-000001", "2026-01-20", 1500),
            sale(2, "C-000001", "2026-02-10", 500),
            sale(3, "C-000003", "2025-12-05", 900),
            sale(4, "C-000004", "2026-04-10", 700),
            sale(5, "C-000005", "2026-02-20", 300),
            sale(6, "C-000007", "2026-01-25", 100),
        ),
    }


def records(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(r) for r in frame[list(COLUMNS)].itertuples(index=False)]


def assert_same(found: list[tuple], expected: list[tuple]) -> None:
    assert len(found) == len(expected)
    for got, want in zip(found, expected, strict=True):
        np.testing.assert_equal(got, want)


def test_all_time_ranked_by_roi():
    found = source_effectiveness(business(), today=TODAY)
    # rank, source, channel, cost, new, converted, conversion, revenue, roi,
    # cost per acquired, revenue per acquired, referrals
    assert_same(
        records(found),
        [
            (1, "Fair", "exhibition", 1000.0, 2, 1, 0.5, 2000.0, 1.0, 1000.0, 2000.0, 1),
            (2, "Search", "search ad", 3000.0, 2, 2, 1.0, 1600.0, -0.467, 1500.0, 800.0, 1),
            (3, "Flyers", "print", 200.0, 1, 0, 0.0, 0.0, -1.0, NAN, NAN, 0),
            (4, "Radio", "radio", 600.0, 0, 0, NAN, 0.0, -1.0, NAN, NAN, 0),
            (5, "Referral", "referral", 0.0, 1, 1, 1.0, 300.0, NAN, 0.0, 300.0, 0),
            (6, "(no source)", NAN, 0.0, 1, 1, 1.0, 100.0, NAN, 0.0, 100.0, 0),
        ],
    )


def test_one_month_prorates_cost_and_counts_only_its_customers_and_sales():
    found = source_effectiveness(business(), dt.date(2026, 1, 1), dt.date(2026, 1, 31), today=TODAY)
    assert_same(
        records(found),
        [
            (1, "Fair", "exhibition", 1000.0, 2, 1, 0.5, 1500.0, 0.5, 1000.0, 1500.0, 0),
            (2, "Flyers", "print", 200.0, 1, 0, 0.0, 0.0, -1.0, NAN, NAN, 0),
            (3, "Search", "search ad", 510.99, 0, 0, NAN, 0.0, -1.0, NAN, NAN, 0),
            (4, "(no source)", NAN, 0.0, 1, 1, 1.0, 100.0, NAN, 0.0, 100.0, 0),
        ],
    )


def test_a_campaign_is_charged_for_its_days_in_the_period():
    found = source_effectiveness(
        business(), dt.date(2026, 1, 15), dt.date(2026, 2, 28), today=TODAY
    ).set_index("source")
    assert found.loc["Fair", "cost"] == 500.0  # 15 to 19 January: five of ten days
    assert found.loc["Search", "cost"] == round(3000 * 45 / 182, 2)
    assert found.loc["Flyers", "cost"] == 200.0
    assert "Radio" not in found.index  # nothing spent, nobody came


def test_two_campaigns_of_one_source_add_up():
    frames = business()
    again = table(
        "Sources", {"name": "Fair ", "start": "2026-01-20", "end": "2026-01-29", "cost": 400}
    )
    frames["Sources"] = pd.concat([frames["Sources"], again], ignore_index=True)
    found = source_effectiveness(frames, dt.date(2026, 1, 1), dt.date(2026, 1, 24), today=TODAY)
    assert found.set_index("source").loc["Fair", "cost"] == 1000.0 + 200.0


def test_without_today_an_ongoing_campaign_is_charged_in_full():
    found = source_effectiveness(business(), dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert found.set_index("source").loc["Search", "cost"] == 3000.0


@pytest.mark.parametrize(
    ("by", "order"),
    [
        ("revenue", ["Fair", "(no source)", "Flyers", "Search"]),
        ("conversion", ["(no source)", "Fair", "Flyers", "Search"]),
    ],
)
def test_other_rankings(by, order):
    found = source_effectiveness(
        business(), dt.date(2026, 1, 1), dt.date(2026, 1, 31), today=TODAY, by=by
    )
    assert found["source"].tolist() == order
    assert found["rank"].tolist() == [1, 2, 3, 4]


def test_an_unknown_ranking_is_refused():
    with pytest.raises(ValueError, match="rank by one of roi, revenue, conversion"):
        source_effectiveness(business(), by="profit")
