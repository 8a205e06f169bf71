"""The pipeline on a handful of deals whose right answers are written out."""

import numpy as np
import pandas as pd

from crmbook.analytics.pipeline import (
    deals_by_stage,
    lost_reasons,
    lost_to_competitors,
    loyalty_ladder,
    pipeline_report,
    won_lost,
)
from crmbook.schema import SCHEMA


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
    report = pipeline_report({"Deals": DEALS, "Customers": table("Customers")})
    assert list(report) == [
        "deals by stage",
        "won and lost",
        "lost reasons",
        "lost to competitors",
        "loyalty ladder",
    ]
