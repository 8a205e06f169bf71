"""Source effectiveness: which marketing source brought how many customers and how much money
for its cost, per period, ranked.

A period selects the customers created in it (the source's cohort) and counts their sales made
in it. A campaign's cost is spread evenly over its days (start to end; an ongoing campaign runs
to `today`) and the period is charged its share; a cost without dates is charged in full.
"Acquired" customers are the converted ones: they bought at least once in the period.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from crmbook.analytics._frames import day

RANKINGS = {"roi": "roi", "revenue": "revenue", "conversion": "conversion_rate"}
NO_SOURCE = "(no source)"
COLUMNS = (
    "rank",
    "source",
    "channel",
    "cost",
    "new_customers",
    "converted",
    "conversion_rate",
    "revenue",
    "roi",
    "cost_per_acquired",
    "revenue_per_acquired",
    "referrals",
)


def source_effectiveness(
    frames: dict[str, pd.DataFrame],
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    *,
    today: dt.date | None = None,
    by: str = "roi",
) -> pd.DataFrame:
    """One row per source, best first by `by` (roi, revenue or conversion).

    Columns: rank, source, channel, cost (the period's share), new_customers (created in the
    period), converted (of those, bought in the period), conversion_rate, revenue (their sales
    in the period), roi ((revenue - cost) / cost), cost_per_acquired, revenue_per_acquired
    and referrals (customers created in the period whose referrer is in the source's cohort).
    `date_from` and `date_to` are inclusive; leave one out for an open end.
    """
    if by not in RANKINGS:
        raise ValueError(f"rank by one of {', '.join(RANKINGS)}, not {by!r}")
    lo = day(date_from) if date_from is not None else None
    hi = day(date_to) + pd.Timedelta(days=1) if date_to is not None else None
    customers, sales, sources = frames["Customers"], frames["Sales"], frames["Sources"]

    source = customers["source"].str.strip().fillna(NO_SOURCE)
    source = source.where(source != "", NO_SOURCE)
    in_period = _within(customers["created"], lo, hi)
    cohort = pd.DataFrame(
        {"id": customers["id"][in_period], "source": source[in_period]}
    ).drop_duplicates("id")
    sold = sales[_within(sales["date"], lo, hi)]
    revenue = sold.groupby("customer_id", sort=False)["amount"].sum()
    bought = revenue.reindex(cohort["id"].to_numpy())
    cohort["revenue"] = bought.fillna(0.0).to_numpy()
    cohort["converted"] = bought.notna().to_numpy()

    referrer_source = cohort.set_index("id")["source"]
    referred_by = customers["referred_by"][in_period]
    brought = referrer_source.reindex(referred_by.dropna().to_numpy()).dropna()

    per_source = cohort.groupby("source").agg(
        new_customers=("id", "size"), converted=("converted", "sum"), revenue=("revenue", "sum")
    )
    per_source["referrals"] = brought.value_counts()
    campaigns = sources.dropna(subset=["name"]).reset_index(drop=True)
    campaigns["name"] = campaigns["name"].str.strip()
    share = _cost_share(campaigns, lo, hi, today)
    cost = (campaigns["cost"].fillna(0.0) * share).groupby(campaigns["name"]).sum()
    known = campaigns.drop_duplicates("name").set_index("name")

    names = list(dict.fromkeys([*known.index, *per_source.index]))
    out = per_source.reindex(names)
    out["cost"] = cost.reindex(names).fillna(0.0).round(2)
    out = out.fillna({"new_customers": 0, "converted": 0, "revenue": 0.0, "referrals": 0})
    out = out[(out["cost"] > 0) | (out["new_customers"] > 0) | (out["referrals"] > 0)]
    out = out.rename_axis("source").reset_index()
    out["channel"] = known["channel"].reindex(out["source"].to_numpy()).to_numpy()
    for name in ("new_customers", "converted", "referrals"):
        out[name] = out[name].astype("int64")
    out["revenue"] = out["revenue"].astype(float).round(2)
    out["conversion_rate"] = _ratio(out["converted"], out["new_customers"]).round(3)
    out["roi"] = _ratio(out["revenue"] - out["cost"], out["cost"]).round(3)
    out["cost_per_acquired"] = _ratio(out["cost"], out["converted"]).round(2)
    out["revenue_per_acquired"] = _ratio(out["revenue"], out["converted"]).round(2)
    out = out.sort_values(
        [RANKINGS[by], "revenue", "source"],
        ascending=[False, False, True],
        na_position="last",
        kind="stable",
        ignore_index=True,
    )
    out["rank"] = np.arange(1, len(out) + 1)
    out["source"] = out["source"].astype("str")
    out["channel"] = out["channel"].astype("str")
    return out[list(COLUMNS)]


def _within(when: pd.Series, lo: pd.Timestamp | None, hi: pd.Timestamp | None) -> pd.Series:
    """Rows whose time lies in [lo, hi); with no bounds at all, every row (dated or not)."""
    inside = pd.Series(True, index=when.index)
    if lo is not None:
        inside &= when >= lo
    if hi is not None:
        inside &= when < hi
    return inside


def _cost_share(
    sources: pd.DataFrame,
    lo: pd.Timestamp | None,
    hi: pd.Timestamp | None,
    today: dt.date | None,
) -> pd.Series:
    """The part of each source's cost that falls in [lo, hi), by the campaign's days."""
    start = sources["start"].dt.normalize()
    end = sources["end"].dt.normalize()
    if today is not None:
        end = end.fillna(day(today))
    end = end.where(~(end < start), start)
    spread = start.notna() & end.notna()
    days = (end - start).dt.days + 1
    first = start.clip(lower=lo) if lo is not None else start
    last = end.clip(upper=hi - pd.Timedelta(days=1)) if hi is not None else end
    overlap = ((last - first).dt.days + 1).clip(lower=0)
    share = pd.Series(1.0, index=sources.index)
    share[spread] = overlap[spread] / days[spread]
    if hi is not None:
        share[~spread & (start >= hi)] = 0.0
    if lo is not None:
        share[~spread & (end < lo)] = 0.0
    return share


def _ratio(part: pd.Series, whole: pd.Series) -> pd.Series:
    whole = whole.astype(float)
    return (part.astype(float) / whole.where(whole > 0)).astype(float)
