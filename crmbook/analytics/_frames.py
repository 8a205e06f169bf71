"""Small helpers the reminder, activity and source analytics share."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd


def day(today: dt.date | pd.Timestamp) -> pd.Timestamp:
    """`today` as a midnight timestamp, comparable with the frames' datetime columns."""
    return pd.Timestamp(today).normalize()


def customer_lookup(customers: pd.DataFrame) -> pd.DataFrame:
    """Name and owner per customer id (a duplicated id keeps its first record)."""
    known = customers.dropna(subset=["id"]).drop_duplicates("id")
    return known.set_index("id")[["name", "owner"]]


def attach_customer(frame: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Add the customer's name as `customer` and fill a missing `owner` with the customer's."""
    lookup = customer_lookup(customers)
    ids = frame["customer_id"]
    found = lookup.reindex(ids.to_numpy())
    out = frame.copy()
    out["customer"] = found["name"].to_numpy()
    owner = out["owner"] if "owner" in out else pd.Series(np.nan, index=out.index, dtype=object)
    out["owner"] = owner.where(owner.notna(), found["owner"].to_numpy())
    return out


def last_when(interactions: pd.DataFrame, where: pd.Series | None = None) -> pd.Series:
    """The time of each customer's last interaction (of those `where` is true), by customer id."""
    when = interactions["when"] if where is None else interactions["when"].where(where)
    return when.groupby(interactions["customer_id"], sort=False).max()


def next_yearly(dates: pd.Series, today: dt.date | pd.Timestamp) -> pd.Series:
    """The first day on or after `today` with each date's month and day, the year ignored.

    29 February falls on 28 February in years without it. Missing dates stay missing.
    """
    start = day(today)
    known = dates.notna().to_numpy()
    month = dates.dt.month.fillna(1).to_numpy(dtype=int)
    dom = dates.dt.day.fillna(1).to_numpy(dtype=int)
    this_year = _on(start.year, month, dom)
    upcoming = np.where(
        this_year >= start.to_datetime64().astype("datetime64[D]"),
        this_year,
        _on(start.year + 1, month, dom),
    )
    result = pd.Series(upcoming.astype("datetime64[us]"), index=dates.index)
    return result.where(known)


def _on(year: int, month: np.ndarray, dom: np.ndarray) -> np.ndarray:
    first = np.datetime64(f"{year:04d}-01", "M") + (month - 1)
    length = ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(int)
    return first.astype("datetime64[D]") + (np.minimum(dom, length) - 1)
