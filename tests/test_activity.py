"""Activity statistics on a small hand-built business whose right answers are written out."""

import datetime as dt

import numpy as np
import pandas as pd

from crmbook.analytics.activity import (
    activity_report,
    appointments,
    last_met,
    meetings_by_owner,
    meetings_per_week,
    open_complaints,
)
from crmbook.schema import SCHEMA

TODAY = dt.date(2026, 3, 11)  # a Wednesday; weeks start on 23 Feb, 2 Mar, 9 Mar


def table(sheet: str, *rows: dict) -> pd.DataFrame:
    """A typed frame like Book.table(sheet).df, from a few records (missing fields empty)."""
    return pd.DataFrame(
        {
            f.name: pd.Series([r.get(f.name) for r in rows], dtype=f.ftype.dtype)
            for f in SCHEMA.sheet(sheet).fields
        }
    )


def visit(n, customer, when, channel="meeting", kind=None, outcome=None, owner=None, summary=None):
    return {
        "id": f"I-{n:06d}",
        "customer_id": customer,
        "when": when,
        "channel": channel,
        "kind": kind,
        "outcome": outcome,
        "owner": owner,
        "summary": summary,
    }


def business() -> dict[str, pd.DataFrame]:
    return {
        "Customers": table(
            "Customers",
            {"id": "C-000001", "name": "Ivanov Sergey V.", "owner": "Anna Schmidt"},
            {"id": "C-000002", "name": "Boris Levi", "owner": "Ben Cohen"},
            {"id": "C-000003", "name": "Cedar GmbH", "owner": "Anna Schmidt"},
        ),
        "Interactions": table(
            "Interactions",
            visit(1, "C-000001", "2026-02-20 10:00", outcome="success", owner="Anna Schmidt"),
            visit(2, "C-000001", "2026-02-24 10:00", outcome="success", owner="Anna Schmidt"),
            visit(3, "C-000002", "2026-02-26 14:00", outcome="failure", owner="Ben Cohen"),
            visit(
                4, "C-000001", "2026-03-03 09:00", "call", outcome="success", owner="Anna Schmidt"
            ),
            visit(
                5,
                "C-000001",
                "2026-03-10 16:00",
                "visit",
                outcome="success",
                owner="Anna Schmidt",
                summary="Signed the contract",
            ),
            visit(
                6,
                "C-000002",
                "2026-03-11 17:00",
                outcome="neutral",
                owner="Ben Cohen",
                summary="Went through the offer",
            ),
            visit(7, "C-000002", "2026-03-20 10:00", summary="Meeting booked"),
            visit(8, "C-000003", "2026-04-15 10:00", "call", summary="Call booked"),
            # complaints: settled later, still open, settled by itself, settled by a service
            visit(
                9,
                "C-000001",
                "2026-01-10 12:00",
                "call",
                "complaint",
                "failure",
                summary="Hotel was noisy",
            ),
            visit(
                10,
                "C-000002",
                "2026-03-01 12:00",
                "email",
                "complaint",
                "failure",
                owner="Ben Cohen",
                summary="Invoice was wrong",
            ),
            visit(11, "C-000002", "2026-03-25 12:00", "call", "service", summary="Booked fix"),
            visit(12, "C-000003", "2026-02-01 12:00", "call", "complaint", "success"),
            visit(13, "C-000003", "2026-02-10 12:00", "call", "complaint", "neutral"),
            visit(14, "C-000003", "2026-02-12 12:00", "email", "service", "neutral"),
        ),
    }


def test_meetings_per_week_lists_every_week_with_its_success_rate():
    weekly = meetings_per_week(business()["Interactions"], TODAY, weeks=3)
    assert weekly["week"].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-02-23",
        "2026-03-02",
        "2026-03-09",
    ]
    assert weekly["meetings"].tolist() == [2, 0, 2]
    assert weekly["successful"].tolist() == [1, 0, 1]
    np.testing.assert_array_equal(weekly["success_rate"], [0.5, np.nan, 0.5])


def test_meetings_per_week_per_owner():
    weekly = meetings_per_week(business()["Interactions"], TODAY, weeks=3, by_owner=True)
    shown = weekly[weekly["meetings"] > 0][["week", "owner", "meetings", "successful"]]
    assert [tuple(r) for r in shown.astype(str).itertuples(index=False)] == [
        ("2026-02-23", "Anna Schmidt", "1", "1"),
        ("2026-02-23", "Ben Cohen", "1", "0"),
        ("2026-03-09", "Anna Schmidt", "1", "1"),
        ("2026-03-09", "Ben Cohen", "1", "0"),
    ]
    assert len(weekly) == 6  # three weeks x two owners


def test_meetings_by_owner_over_the_period():
    owners = meetings_by_owner(business()["Interactions"], TODAY, weeks=3)
    assert owners.to_dict("records") == [
        {
            "owner": "Anna Schmidt",
            "meetings": 2,
            "successful": 2,
            "success_rate": 1.0,
            "per_week": 0.7,
        },
        {
            "owner": "Ben Cohen",
            "meetings": 2,
            "successful": 0,
            "success_rate": 0.0,
            "per_week": 0.7,
        },
    ]


def test_appointments_from_today_for_thirty_days():
    frames = business()
    coming = appointments(frames["Interactions"], frames["Customers"], TODAY)
    assert coming["when"].dt.strftime("%Y-%m-%d %H:%M").tolist() == [
        "2026-03-11 17:00",
        "2026-03-20 10:00",
        "2026-03-25 12:00",
    ]
    assert coming["customer"].tolist() == ["Boris Levi"] * 3
    assert coming["owner"].tolist() == ["Ben Cohen"] * 3  # the customer's owner when none given


def test_only_unsettled_complaints_are_open():
    frames = business()
    complaints = open_complaints(frames["Interactions"], frames["Customers"], TODAY)
    assert complaints.to_dict("records") == [
        {
            "when": pd.Timestamp("2026-03-01 12:00"),
            "customer_id": "C-000002",
            "customer": "Boris Levi",
            "owner": "Ben Cohen",
            "summary": "Invoice was wrong",
            "days_open": 10,
        },
    ]
    # once the booked service call of 25 March has happened, the complaint is settled
    later = open_complaints(frames["Interactions"], frames["Customers"], dt.date(2026, 3, 26))
    assert later.empty


def test_when_did_we_last_meet():
    frames = business()
    met = last_met(frames, "C-000001", TODAY)
    assert (met["when"], met["channel"], met["summary"]) == (
        pd.Timestamp("2026-03-10 16:00"),
        "visit",
        "Signed the contract",
    )
    assert last_met(frames, "C-000002", TODAY)["when"] == pd.Timestamp("2026-03-11 17:00")
    assert last_met(frames, "C-000002")["when"] == pd.Timestamp("2026-03-20 10:00")  # booked
    assert last_met(frames, "C-000003", TODAY) is None


def test_activity_report_has_its_four_tables():
    report = activity_report(business(), TODAY, weeks=3)
    assert list(report) == [
        "meetings per week",
        "meetings per owner",
        "appointments next month",
        "open complaints",
    ]
    assert [len(t) for t in report.values()] == [3, 2, 3, 1]
