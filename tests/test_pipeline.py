"""The pipeline on a handful of deals whose right answers are written out."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from crmbook.analytics.pipeline import (
    board,
    deals_by_stage,
    forecast,
    lost_reasons,
    lost_to_competitors,
    loyalty_ladder,
    pipeline_report,
    won_lost,
)
from crmbook.schema import SCHEMA

TODAY = dt.date(2026, 3, 15)


def table(sheet: str, *rows: dict) -> pd.DataFrame:
    """A typed frame like Book.table(sheet).df, from a few records (missing fields empty)."""
    return pd.DataFrame(
        {
            f.name: pd.Series([r.get(f.name) for r in rows], dtype=f.ftype.dtype)
            for f in SCHEMA.sheet(sheet).fields
        }
    )


def deal(n, stage, amount, reason=None, competitor=None):
    return {
        "id": f"D-{n:06d}",
        "customer_id": "C-000001",
        "title": f"Deal {n}",
        "stage": stage,
        "amount": amount,
        "lost_reason": reason,
        "competitor": competitor,
    }


DEALS = table(
    "Deals",
    deal(1, "new", 1000),
    deal(2, "qualified", 2000),
    deal(3, "proposal", 4000),
    deal(4, "negotiation", 8000, competitor="BizTrip"),  # competing, not lost
    deal(5, "won", 5000),
    deal(6, "won", 3000),
    deal(7, "lost", 6000, "price", "BizTrip"),
    deal(8, "lost", 1000, "competitor", "BizTrip"),
    deal(9, "lost", 500),
    deal(10, None, 100),  # no stage: the default, new
    deal(11, "proposal", None),  # no amount yet
)


def test_deals_by_stage_with_weighted_value():
    stages = deals_by_stage(DEALS)
    assert stages.to_dict("records") == [
        {"stage": "new", "deals": 2, "amount": 1100.0, "probability": 0.1, "weighted": 110.0},
        {
            "stage": "qualified",
            "deals": 1,
            "amount": 2000.0,
            "probability": 0.25,
            "weighted": 500.0,
        },
        {"stage": "proposal", "deals": 2, "amount": 4000.0, "probability": 0.5, "weighted": 2000.0},
        {
            "stage": "negotiation",
            "deals": 1,
            "amount": 8000.0,
            "probability": 0.75,
            "weighted": 6000.0,
        },
        {"stage": "won", "deals": 2, "amount": 8000.0, "probability": 1.0, "weighted": 8000.0},
        {"stage": "lost", "deals": 3, "amount": 7500.0, "probability": 0.0, "weighted": 0.0},
    ]


def test_stage_probabilities_can_be_overridden_and_hand_typed_stages_are_kept():
    on_hold = pd.concat([DEALS, table("Deals", deal(12, "on hold", 700))], ignore_index=True)
    stages = deals_by_stage(on_hold, {"proposal": 0.6}).set_index("stage")
    assert stages.loc["proposal", "weighted"] == 2400.0
    assert stages.index[-1] == "on hold"
    assert stages.loc["on hold", ["deals", "amount", "weighted"]].tolist() == [1, 700.0, 0.0]


def test_won_and_lost():
    outcome = won_lost(DEALS)
    assert outcome["outcome"].tolist() == ["open", "won", "lost"]
    assert outcome["deals"].tolist() == [6, 2, 3]
    assert outcome["amount"].tolist() == [15100.0, 8000.0, 7500.0]
    np.testing.assert_array_equal(outcome["share_of_closed"], [np.nan, 0.4, 0.6])


def test_lost_reasons_most_frequent_first():
    assert lost_reasons(DEALS).to_dict("records") == [
        {"lost_reason": "(not given)", "deals": 1, "amount": 500.0, "share": 0.333},
        {"lost_reason": "competitor", "deals": 1, "amount": 1000.0, "share": 0.333},
        {"lost_reason": "price", "deals": 1, "amount": 6000.0, "share": 0.333},
    ]


def test_competitors_we_lost_to():
    assert lost_to_competitors(DEALS).to_dict("records") == [
        {"competitor": "BizTrip", "deals": 2, "amount": 7000.0, "share": 1.0},
    ]


def test_no_deals_gives_empty_tables_not_errors():
    empty = table("Deals")
    assert deals_by_stage(empty)["deals"].sum() == 0
    assert won_lost(empty)["deals"].tolist() == [0, 0, 0]
    assert lost_reasons(empty).empty and lost_to_competitors(empty).empty


def test_loyalty_ladder_in_ladder_order():
    customers = table(
        "Customers",
        *(
            {"id": f"C-{i:06d}", "name": f"N{i}", "stage": s}
            for i, s in enumerate(["prospect", "prospect", "loyal", "lost", None], 1)
        ),
    )
    ladder = loyalty_ladder(customers)
    assert ladder["stage"].tolist() == list(SCHEMA.vocabulary("stage").values)
    assert ladder["customers"].tolist() == [3, 0, 0, 0, 1, 0, 1]
    assert ladder["share"].tolist() == [0.6, 0.0, 0.0, 0.0, 0.2, 0.0, 0.2]


def test_pipeline_report_tables():
    report = pipeline_report({"Deals": DEALS, "Customers": table("Customers")}, TODAY)
    assert list(report) == [
        "deals by stage",
        "forecast",
        "won and lost",
        "lost reasons",
        "lost to competitors",
        "loyalty ladder",
    ]


def dated(n, stage, amount, expected, **more):
    return {**deal(n, stage, amount), "expected_close": expected, **more}


def test_forecast_weighs_open_deals_by_stage_in_the_month_they_close():
    deals = table(
        "Deals",
        dated(1, "new", 1000, "2026-03-20"),  # this month: 10%
        dated(2, "qualified", 2000, "2026-01-10"),  # slipped: counts in this month, 25%
        dated(3, "proposal", 4000, "2026-05-02"),  # May: 50%
        dated(4, "negotiation", 8000, "2026-09-01"),  # after the six months shown
        dated(5, "won", 5000, "2026-04-01"),  # closed: revenue, not forecast
        dated(6, "lost", 5000, "2026-04-01"),
        dated(7, "proposal", 3000, None),  # no expected close
        dated(8, "proposal", None, "2026-04-30"),  # no amount yet
        dated(9, "on hold", 700, "2026-04-10"),  # a stage typed by hand: no probability
    )
    months = forecast(deals, TODAY)
    assert months["month"].dt.strftime("%Y-%m").tolist() == [
        "2026-03",
        "2026-04",
        "2026-05",
        "2026-06",
        "2026-07",
        "2026-08",
    ]
    assert months["deals"].tolist() == [2, 2, 1, 0, 0, 0]
    assert months["amount"].tolist() == [3000.0, 700.0, 4000.0, 0.0, 0.0, 0.0]
    assert months["expected"].tolist() == [600.0, 0.0, 2000.0, 0.0, 0.0, 0.0]
    longer = forecast(deals, TODAY, {"negotiation": 0.9, "on hold": 0.5}, months=7)
    assert longer["expected"].tolist() == [600.0, 350.0, 2000.0, 0.0, 0.0, 0.0, 7200.0]


def test_forecast_of_no_deals_is_zero_per_month():
    months = forecast(table("Deals"), TODAY, months=2)
    assert months["deals"].tolist() == [0, 0] and months["expected"].tolist() == [0.0, 0.0]
    assert forecast(table("Deals"), TODAY, months=0).empty


CUSTOMERS = table(
    "Customers",
    {"id": "C-000001", "name": "Olga Ivanova", "owner": "Anna"},
    {"id": "C-000002", "name": "דוד כהן", "owner": "Tom"},
)


def test_board_cards_say_who_what_how_much_and_how_old():
    deals = table(
        "Deals",
        dated(1, "new", 1000, "2026-04-01", opened="2026-03-01", owner="Tom"),
        dated(2, "new", 9000, "2026-03-01", opened="2026-02-13", customer_id="C-000002"),
        dated(3, "won", 5000, "2026-02-01", opened="2026-01-01", closed="2026-02-03"),
        dated(4, "lost", 700, "2026-02-01", opened="2026-01-01", closed="2026-03-01"),
        dated(5, "new", None, None, opened=None),
    )
    cards = board(deals, CUSTOMERS, TODAY)
    assert cards["id"].tolist() == ["D-000002", "D-000001", "D-000005", "D-000004", "D-000003"]
    first = cards.iloc[0]
    assert first["customer"] == "דוד כהן" and first["title"] == "Deal 2"
    assert first["owner"] == "Tom"  # the customer's, the deal names none
    assert first["age_days"] == 30 and bool(first["overdue"])
    assert not cards.set_index("id").loc["D-000001", "overdue"]
    assert pd.isna(cards.set_index("id").loc["D-000005", "age_days"])
    soonest = board(deals, CUSTOMERS, TODAY, order="expected_close")
    assert soonest["id"].tolist()[:3] == ["D-000002", "D-000001", "D-000005"]
    toms = board(deals, CUSTOMERS, TODAY, owner=" tom ")
    assert toms["id"].tolist() == ["D-000002", "D-000001"]
    with pytest.raises(ValueError, match="order the board by"):
        board(deals, CUSTOMERS, TODAY, order="colour")


def test_board_keeps_the_first_cards_of_each_stage():
    deals = table(
        "Deals", *(dated(n, "new" if n % 2 else "won", 100 * n, None) for n in range(1, 9))
    )  # new: 1, 3, 5, 7; won: 2, 4, 6, 8 (none closed on a known day: sheet order)
    top = board(deals, CUSTOMERS, TODAY, per_stage=2)
    assert top["id"].tolist() == ["D-000007", "D-000005", "D-000002", "D-000004"]
    more = board(deals, CUSTOMERS, TODAY, per_stage={"new": 3})  # won: not named, all
    assert more["stage"].value_counts().to_dict() == {"new": 3, "won": 4}
