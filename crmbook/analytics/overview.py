"""A few headline figures about a whole book, for `crmbook summary` and the demo."""

from __future__ import annotations

import datetime as dt

import pandas as pd


def overview(frames: dict[str, pd.DataFrame], today: dt.date) -> pd.DataFrame:
    """Headline figures as a two-column frame (figure, value)."""
    now = pd.Timestamp(today)
    customers, sales = frames["Customers"], frames["Sales"]
    tasks, interactions = frames["Tasks"], frames["Interactions"]
    open_tasks = tasks[tasks["status"] == "open"]
    year_ago = now - pd.DateOffset(years=1)
    rows: list[tuple[str, object]] = [
        (f"{name.lower()}", len(frame)) for name, frame in frames.items()
    ]
    rows += [
        (f"customers at stage {stage}", int(count))
        for stage, count in customers["stage"].value_counts().items()
    ]
    rows += [
        ("revenue, all time", round(float(sales["amount"].sum()), 2)),
        (
            "revenue, last 12 months",
            round(float(sales.loc[sales["date"] > year_ago, "amount"].sum()), 2),
        ),
        (
            "interactions, last 30 days",
            int((interactions["when"].between(now - pd.Timedelta(days=30), now)).sum()),
        ),
        ("open tasks", len(open_tasks)),
        ("open tasks overdue", int((open_tasks["due"] < now).sum())),
    ]
    return pd.DataFrame(
        {"figure": [r[0] for r in rows], "value": pd.Series([r[1] for r in rows], dtype=object)}
    )
