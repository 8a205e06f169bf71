"""Activity statistics: meetings held and their success, appointments coming, open complaints.

A meeting is a face-to-face interaction (channel meeting or visit); it was held when its time
is before the end of `today`, and it is an appointment when it lies ahead.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from crmbook.analytics._frames import attach_customer, day, last_when

MEETING_CHANNELS = ("meeting", "visit")
RESOLVING_KINDS = ("service",)  # a later service interaction settles a complaint
SUCCESS = "success"


def meetings(interactions: pd.DataFrame, channels: tuple[str, ...] = MEETING_CHANNELS):
    """The interactions that were (or will be) face-to-face meetings."""
    return interactions[interactions["channel"].isin(channels)]


def meetings_per_week(
    interactions: pd.DataFrame,
    today: dt.date,
    weeks: int = 12,
    by_owner: bool = False,
    channels: tuple[str, ...] = MEETING_CHANNELS,
) -> pd.DataFrame:
    """Meetings held per week (weeks start on Monday; the last is the current week).

    Columns: week, [owner,] meetings, successful, success_rate. Every week of the period is
    listed, also a week without meetings; with `by_owner`, every owner who met someone.
    """
    start = day(today)
    first_week = _monday(start) - pd.Timedelta(weeks=weeks - 1)
    held = meetings(interactions, channels)
    held = held[(held["when"] >= first_week) & (held["when"] < start + pd.Timedelta(days=1))]
    week = _monday(held["when"])
    frame = pd.DataFrame(
        {
            "week": week,
            "owner": held["owner"].fillna("(no owner)"),
            "meetings": 1,
            "successful": (held["outcome"] == SUCCESS).astype(int),
        }
    )
    weeks_index = pd.date_range(first_week, periods=weeks, freq="7D").astype("datetime64[us]")
    keys = ["week", "owner"] if by_owner else ["week"]
    counts = frame.groupby(keys)[["meetings", "successful"]].sum()
    if by_owner:
        owners = sorted(frame["owner"].unique())
        full = pd.MultiIndex.from_product([weeks_index, owners], names=keys)
    else:
        full = pd.Index(weeks_index, name="week")
    counts = counts.reindex(full, fill_value=0).reset_index()
    counts["success_rate"] = _rate(counts["successful"], counts["meetings"])
    return counts


def meetings_by_owner(
    interactions: pd.DataFrame,
    today: dt.date,
    weeks: int = 12,
    channels: tuple[str, ...] = MEETING_CHANNELS,
) -> pd.DataFrame:
    """Per owner over the last `weeks` weeks: meetings, successful, success_rate, per_week."""
    weekly = meetings_per_week(interactions, today, weeks, by_owner=True, channels=channels)
    totals = weekly.groupby("owner")[["meetings", "successful"]].sum().reset_index()
    totals["success_rate"] = _rate(totals["successful"], totals["meetings"])
    totals["per_week"] = (totals["meetings"] / weeks).round(1)
    return totals.sort_values(["meetings", "owner"], ascending=[False, True], ignore_index=True)


def appointments(
    interactions: pd.DataFrame,
    customers: pd.DataFrame,
    today: dt.date,
    days: int = 30,
) -> pd.DataFrame:
    """Interactions booked from `today` up to `days` days ahead, in time order."""
    start = day(today)
    ahead = interactions[
        (interactions["when"] >= start)
        & (interactions["when"] < start + pd.Timedelta(days=days + 1))
    ]
    ahead = attach_customer(ahead.sort_values("when", kind="stable"), customers)
    return ahead[["when", "customer_id", "customer", "channel", "owner", "summary"]].reset_index(
        drop=True
    )


def open_complaints(
    interactions: pd.DataFrame, customers: pd.DataFrame, today: dt.date
) -> pd.DataFrame:
    """Complaints not yet settled, oldest first.

    A complaint is settled when it ended in success itself, or when a later interaction with the
    customer (up to `today`) was a success or a service.
    """
    start = day(today)
    happened = interactions["when"] < start + pd.Timedelta(days=1)
    success = interactions["outcome"] == SUCCESS
    settling = happened & (success | interactions["kind"].isin(RESOLVING_KINDS))
    last_settled = last_when(interactions, settling)
    complaints = interactions[happened & (interactions["kind"] == "complaint") & ~success]
    settled_after = last_settled.reindex(complaints["customer_id"].to_numpy()).to_numpy()
    still_open = complaints[~(settled_after > complaints["when"].to_numpy())]
    out = attach_customer(still_open.sort_values("when", kind="stable"), customers)
    out["days_open"] = (start - out["when"].dt.normalize()).dt.days.astype("int64")
    return out[["when", "customer_id", "customer", "owner", "summary", "days_open"]].reset_index(
        drop=True
    )


def last_met(
    frames: dict[str, pd.DataFrame],
    customer_id: str,
    today: dt.date | None = None,
    channels: tuple[str, ...] = MEETING_CHANNELS,
) -> dict | None:
    """When did we last meet this customer? The last meeting as a dict, or None if never.

    With `today`, a meeting booked for later does not count.
    """
    met = meetings(frames["Interactions"], channels)
    met = met[met["customer_id"] == customer_id]
    if today is not None:
        met = met[met["when"] < day(today) + pd.Timedelta(days=1)]
    if met.empty:
        return None
    last = met.loc[met["when"].idxmax()]
    return {k: (None if pd.isna(v) else v) for k, v in last.items()}


def activity_report(
    frames: dict[str, pd.DataFrame], today: dt.date, weeks: int = 12
) -> dict[str, pd.DataFrame]:
    """The activity report as named tables."""
    interactions, customers = frames["Interactions"], frames["Customers"]
    return {
        "meetings per week": meetings_per_week(interactions, today, weeks),
        "meetings per owner": meetings_by_owner(interactions, today, weeks),
        "appointments next month": appointments(interactions, customers, today),
        "open complaints": open_complaints(interactions, customers, today),
    }


def _monday(when):
    """The Monday that starts the week of each timestamp."""
    if isinstance(when, pd.Timestamp):
        return when.normalize() - pd.Timedelta(days=when.day_of_week)
    normal = when.dt.normalize()
    return normal - pd.to_timedelta(normal.dt.day_of_week, unit="D")


def _rate(part: pd.Series, whole: pd.Series) -> pd.Series:
    return pd.Series(
        np.where(whole > 0, part / whole.where(whole > 0, 1), np.nan), index=part.index
    ).round(3)
