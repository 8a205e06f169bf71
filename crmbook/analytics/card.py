"""The customer card: one customer with everything the business knows, so any colleague
meets a returning customer warm: their fields, contacts, one timeline of every interaction,
deal, sale and task, the follow-ups still open, and where they stand on the loyalty ladder.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmbook.analytics.history import customer_history, open_follow_ups
from crmbook.analytics.segments import suggested_stages
from crmbook.errors import RecordError
from crmbook.values import missing

TIMELINE_COLUMNS = ("when", "kind", "id", "what", "status", "amount", "owner", "next")
FOLLOW_UP_COLUMNS = ("next_date", "next_step", "asked", "id", "owner", "overdue")


@dataclass
class CustomerCard:
    """One customer's card. The frames are small: only this customer's records."""

    customer: dict[str, object]
    contacts: pd.DataFrame
    timeline: pd.DataFrame
    follow_ups: pd.DataFrame
    last_contact: pd.Timestamp | None
    days_since_contact: int | None
    revenue: float
    purchases: int
    referrals: int
    stage: str | None
    suggested_stage: str

    @property
    def id(self) -> str:
        return str(self.customer["id"])

    @property
    def name(self) -> str:
        return str(self.customer["name"])

    def to_dict(self) -> dict[str, object]:
        """The card as plain JSON-ready values (dates as ISO text, empty cells as None)."""
        return {
            "customer": {k: plain(v) for k, v in self.customer.items()},
            "stage": self.stage,
            "suggested_stage": self.suggested_stage,
            "last_contact": plain(self.last_contact),
            "days_since_contact": plain(self.days_since_contact),
            "revenue": plain(self.revenue),
            "purchases": plain(self.purchases),
            "referrals": plain(self.referrals),
            "contacts": records(self.contacts),
            "follow_ups": records(self.follow_ups),
            "timeline": records(self.timeline),
        }


def customer_card(
    frames: dict[str, pd.DataFrame], customer_id: str, today: dt.date
) -> CustomerCard:
    """The card of the customer with id `customer_id` (RecordError if there is none)."""
    customers = frames["Customers"]
    found = customers[customers["id"] == customer_id]
    if found.empty:
        raise RecordError(f"no customer with id {customer_id!r} in Customers")
    own = {name: _of(frames[name], customer_id) for name in _HISTORY_SHEETS}
    # The customer and those they referred: enough for the history of this one customer.
    circle = customers[(customers["id"] == customer_id) | (customers["referred_by"] == customer_id)]
    mine = {**own, "Customers": circle}
    history = customer_history(mine, today).loc[customer_id]
    stage = suggested_stages(mine, today).loc[customer_id]
    record = found.iloc[0].to_dict()
    return CustomerCard(
        customer=record,
        contacts=own["Contacts"].drop(columns=["customer_id"]).reset_index(drop=True),
        timeline=timeline(own),
        follow_ups=_follow_ups(own["Interactions"], today),
        last_contact=_or_none(history["last_contact"]),
        days_since_contact=_or_none(history["days_since_contact"]),
        revenue=float(history["revenue"]),
        purchases=int(history["purchases"]),
        referrals=int(history["referrals"]),
        stage=_or_none(record.get("stage")),
        suggested_stage=str(stage),
    )


def timeline(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Interactions, deals, sales and tasks as one frame in time order, `kind` telling which.

    A deal stands at the day it was opened, a task at its due day; records without a date
    come last.
    """
    interactions, deals = frames["Interactions"], frames["Deals"]
    sales, tasks = frames["Sales"], frames["Tasks"]
    parts = [
        _entries(
            interactions,
            "interaction",
            when=interactions["when"],
            what=_joined(
                _joined(interactions["channel"], interactions["kind"], ", "),
                interactions["summary"],
                ": ",
            ),
            status=interactions["outcome"],
            owner=interactions["owner"],
            next=_joined(interactions["next_step"], _day(interactions["next_date"]), " by "),
        ),
        _entries(
            deals,
            "deal",
            when=deals["opened"].fillna(deals["expected_close"]).fillna(deals["closed"]),
            what=deals["title"],
            status=_joined(
                deals["stage"],
                _joined(deals["lost_reason"], "to " + deals["competitor"].astype("str"), ", "),
                ": ",
            ),
            amount=deals["amount"],
            owner=deals["owner"],
            next=("closed " + _day(deals["closed"])).fillna(
                "expected close " + _day(deals["expected_close"])
            ),
        ),
        _entries(
            sales,
            "sale",
            when=sales["date"],
            what=_joined(sales["product"], "promo " + sales["promo_code"].astype("str"), ", "),
            amount=sales["amount"],
        ),
        _entries(
            tasks,
            "task",
            when=tasks["due"],
            what=tasks["title"],
            status=_joined(tasks["status"], _day(tasks["done_on"]), " "),
            owner=tasks["owner"],
        ),
    ]
    merged = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    merged = merged.sort_values("when", kind="stable", na_position="last")
    return merged.reset_index(drop=True)


def plain(value: object) -> object:
    """A cell as a JSON-ready value: dates as ISO text, numpy numbers as Python's, NaN as None."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """A frame as a list of JSON-ready dicts."""
    return [
        {str(k): plain(v) for k, v in zip(frame.columns, row, strict=True)}
        for row in frame.itertuples(index=False)
    ]


_HISTORY_SHEETS = ("Contacts", "Interactions", "Deals", "Sales", "Tasks")


def _of(frame: pd.DataFrame, customer_id: str) -> pd.DataFrame:
    return frame[frame["customer_id"] == customer_id]


def _entries(frame: pd.DataFrame, kind: str, **columns: pd.Series) -> pd.DataFrame:
    """One sheet's records as timeline rows; text columns hold None where they are empty."""
    out = pd.DataFrame(index=frame.index)
    out["when"] = columns["when"].astype("datetime64[us]")
    out["kind"] = kind
    columns = {"id": frame["id"], **columns}
    for name in TIMELINE_COLUMNS[2:]:
        if name == "amount":
            out[name] = columns.get(name, pd.Series(np.nan, index=frame.index)).astype(float)
        elif name in columns:
            text = columns[name].astype(object)
            out[name] = text.where(text.notna(), None)
        else:
            out[name] = None
    return out


def _joined(first: pd.Series, second: pd.Series, sep: str) -> pd.Series:
    """first + sep + second, or whichever of them is there."""
    a, b = first.astype(object), second.astype(object)
    both = a.notna() & b.notna()
    out = a.where(a.notna(), b)
    out[both] = a[both].astype(str) + sep + b[both].astype(str)
    return out


def _day(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%Y-%m-%d").astype("str")


def _follow_ups(interactions: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    due = open_follow_ups(interactions, today)
    return pd.DataFrame(
        {
            "next_date": due["next_date"],
            "next_step": due["next_step"].astype(object),
            "asked": due["when"],
            "id": due["id"].astype(object),
            "owner": due["owner"].astype(object),
            "overdue": (due["next_date"] < pd.Timestamp(today)).astype(bool),
        },
        columns=list(FOLLOW_UP_COLUMNS),
    ).reset_index(drop=True)


def _or_none(value: object) -> object:
    return None if missing(value) else value
