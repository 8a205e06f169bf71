"""The pipeline: deals by stage with their weighted value, the monthly forecast, the board's
cards, what we won and lost and why, and the customers' own funnel, the loyalty ladder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

from crmbook.analytics._frames import attach_customer, customer_lookup, day
from crmbook.schema import SCHEMA

# The chance that a deal at each stage is won, unless the caller passes the workbook's own
# (Book.numbers("deal_stage"), from the Lists sheet).
STAGE_PROBABILITY: dict[str, float] = SCHEMA.vocabulary("deal_stage").default_numbers()
DEAL_STAGES = SCHEMA.vocabulary("deal_stage").values
LADDER = SCHEMA.vocabulary("stage").values
CLOSED = ("won", "lost")
_DEFAULT_STAGE = SCHEMA.sheet("Deals").field("stage").default
_DEFAULT_LADDER = SCHEMA.sheet("Customers").field("stage").default


def deals_by_stage(
    deals: pd.DataFrame, probabilities: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Per stage: deals, amount, probability and weighted value (amount x probability).

    Every stage of the vocabulary is listed in order, then stages typed by hand. A stage
    without a probability counts at 0. A deal without a stage is at the default stage.
    """
    chance = {**STAGE_PROBABILITY, **(probabilities or {})}
    stage = _stage(deals)
    amount = deals["amount"].fillna(0.0)
    grouped = amount.groupby(stage).agg(["size", "sum"])
    order = [*DEAL_STAGES, *sorted(set(grouped.index) - set(DEAL_STAGES))]
    grouped = grouped.reindex(order, fill_value=0)
    out = pd.DataFrame(
        {
            "stage": pd.Series(order, dtype="str"),
            "deals": grouped["size"].to_numpy(dtype="int64"),
            "amount": grouped["sum"].to_numpy(dtype=float),
            "probability": [float(chance.get(s, 0.0)) for s in order],
        }
    )
    out["weighted"] = (out["amount"] * out["probability"]).round(2)
    return out


def open_stages(stages: list[str] | tuple[str, ...]) -> list[str]:
    """The stages a deal moves through before it is won or lost, in the order given."""
    return [s for s in stages if s not in CLOSED]


def forecast(
    deals: pd.DataFrame,
    today: dt.date,
    probabilities: Mapping[str, float] | None = None,
    months: int = 6,
) -> pd.DataFrame:
    """Expected revenue per month: each open deal's amount x its stage's probability, in the
    month of its expected close, for `months` months from the current one.

    Columns: month (its first day), deals, amount (open), expected. An open deal past its
    expected close counts in the current month: it has slipped, not vanished. Deals without an
    expected close, or expected later, are not in it.
    """
    chance = {**STAGE_PROBABILITY, **(probabilities or {})}
    start = day(today)
    months = max(months, 0)
    stage = _stage(deals)
    when = deals["expected_close"]
    counted = ~stage.isin(CLOSED) & when.notna()
    ahead = ((when.dt.year - start.year) * 12 + when.dt.month - start.month).clip(lower=0)
    counted &= ahead < months
    ahead = ahead[counted].to_numpy(dtype="int64")
    amount = deals["amount"][counted].fillna(0.0).to_numpy(dtype=float)
    weight = stage[counted].map(lambda s: float(chance.get(s, 0.0))).to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "month": pd.date_range(start.replace(day=1), periods=months, freq="MS").astype(
                "datetime64[us]"
            ),
            "deals": np.bincount(ahead, minlength=months).astype("int64"),
            "amount": np.bincount(ahead, weights=amount, minlength=months).round(2),
            "expected": np.bincount(ahead, weights=amount * weight, minlength=months).round(2),
        }
    )


BOARD_ORDERS = ("amount", "expected_close")
CARD_COLUMNS = (
    "id",
    "stage",
    "customer_id",
    "customer",
    "title",
    "amount",
    "expected_close",
    "age_days",
    "owner",
    "overdue",
)


def deals_of(deals: pd.DataFrame, customers: pd.DataFrame, owner: str | None) -> pd.DataFrame:
    """One person's deals: those they own, and those without an owner whose customer is theirs
    (case and spaces ignored). None: everyone's."""
    if owner is None:
        return deals
    return deals[_owners(deals, customers).str.strip().str.casefold() == owner.strip().casefold()]


def board(
    deals: pd.DataFrame,
    customers: pd.DataFrame,
    today: dt.date,
    *,
    owner: str | None = None,
    order: str = "amount",
    per_stage: int | Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """The deals as cards of the pipeline board, in the order a column shows them.

    Columns: id, stage, customer_id, customer (the name), title, amount, expected_close,
    age_days (since opened), owner (the deal's, else the customer's) and overdue (open and
    past its expected close). Open deals come by `order`: "amount" the largest first,
    "expected_close" the soonest first; won and lost ones the most recently closed first.
    `owner` keeps one person's deals (see deals_of). `per_stage` keeps the first cards of
    each stage only: that many, or a number per stage (a stage not named keeps all), so a
    board over thousands of deals looks up the customers of the cards it shows only.
    """
    if order not in BOARD_ORDERS:
        raise ValueError(f"order the board by one of {', '.join(BOARD_ORDERS)}, not {order!r}")
    start = day(today)
    deals = deals_of(deals, customers, owner)
    stage = _stage(deals)
    closed = stage.isin(CLOSED)
    open_, done = deals[~closed], deals[closed]
    first = (
        _days(open_["expected_close"])
        if order == "expected_close"
        else -open_["amount"].to_numpy(dtype=float)
    )
    shown = open_.index[np.argsort(first, kind="stable")].append(
        done.index[np.argsort(-_days(done["closed"]), kind="stable")]
    )
    if per_stage is not None:
        stages = stage.loc[shown]
        rank = stages.groupby(stages, sort=False).cumcount().to_numpy()
        limit = (
            stages.map(per_stage).fillna(np.inf).to_numpy(dtype=float)
            if isinstance(per_stage, Mapping)
            else per_stage
        )
        shown = shown[rank < limit]
    cards = attach_customer(deals.loc[shown], customers)
    cards["stage"] = stage.loc[shown]
    cards["age_days"] = (start - cards["opened"]).dt.days.astype("Int64")
    cards["overdue"] = ~cards["stage"].isin(CLOSED) & (cards["expected_close"] < start)
    out = cards[list(CARD_COLUMNS)].reset_index(drop=True)
    for name in ("id", "stage", "customer_id", "customer", "title", "owner"):
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out


def _owners(deals: pd.DataFrame, customers: pd.DataFrame) -> pd.Series:
    """Each deal's owner, else its customer's ("" for none)."""
    owner = deals["owner"].astype(object)
    missing = owner.isna()
    if missing.any():
        lookup = customer_lookup(customers)["owner"]
        owner = owner.copy()
        owner[missing] = lookup.reindex(deals.loc[missing, "customer_id"].to_numpy()).to_numpy()
    return owner.fillna("").astype("str")


def _days(dates: pd.Series) -> np.ndarray:
    """Dates as day numbers to sort by; a missing one is NaN, which sorts last."""
    days = dates.to_numpy(dtype="datetime64[D]").astype("int64")
    return np.where(dates.isna().to_numpy(), np.nan, days)


def won_lost(deals: pd.DataFrame) -> pd.DataFrame:
    """Open, won and lost deals: count, amount, and the share of closed deals won or lost."""
    stage = _stage(deals)
    outcome = stage.where(stage.isin(CLOSED), "open")
    grouped = deals["amount"].fillna(0.0).groupby(outcome).agg(["size", "sum"])
    grouped = grouped.reindex(["open", *CLOSED], fill_value=0)
    closed = grouped.loc[list(CLOSED), "size"].sum()
    share = [np.nan, *(grouped.loc[c, "size"] / closed if closed else np.nan for c in CLOSED)]
    return pd.DataFrame(
        {
            "outcome": pd.Series(grouped.index, dtype="str"),
            "deals": grouped["size"].to_numpy(dtype="int64"),
            "amount": grouped["sum"].to_numpy(dtype=float),
            "share_of_closed": np.round(np.array(share, dtype=float), 3),
        }
    )


def lost_reasons(deals: pd.DataFrame) -> pd.DataFrame:
    """Why lost deals were lost: deals, amount and share per reason, the most frequent first."""
    lost = deals[_stage(deals) == "lost"]
    return _counted(lost, lost["lost_reason"].fillna("(not given)"), "lost_reason")


def lost_to_competitors(deals: pd.DataFrame) -> pd.DataFrame:
    """Lost deals per competitor named on them: deals, amount and share of those deals."""
    lost = deals[(_stage(deals) == "lost") & deals["competitor"].notna()]
    return _counted(lost, lost["competitor"], "competitor")


def loyalty_ladder(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers per loyalty-ladder stage, in ladder order, with each stage's share."""
    stage = customers["stage"].fillna(_DEFAULT_LADDER)
    counts = stage.value_counts()
    order = [*LADDER, *sorted(set(counts.index) - set(LADDER))]
    counts = counts.reindex(order, fill_value=0)
    total = counts.sum()
    return pd.DataFrame(
        {
            "stage": pd.Series(order, dtype="str"),
            "customers": counts.to_numpy(dtype="int64"),
            "share": np.round(counts.to_numpy() / total, 3) if total else np.nan,
        }
    )


def pipeline_report(
    frames: dict[str, pd.DataFrame],
    today: dt.date,
    probabilities: Mapping[str, float] | None = None,
    months: int = 6,
) -> dict[str, pd.DataFrame]:
    """The pipeline report as named tables."""
    deals = frames["Deals"]
    return {
        "deals by stage": deals_by_stage(deals, probabilities),
        "forecast": forecast(deals, today, probabilities, months),
        "won and lost": won_lost(deals),
        "lost reasons": lost_reasons(deals),
        "lost to competitors": lost_to_competitors(deals),
        "loyalty ladder": loyalty_ladder(frames["Customers"]),
    }


def _stage(deals: pd.DataFrame) -> pd.Series:
    return deals["stage"].fillna(_DEFAULT_STAGE).astype("str")


def _counted(deals: pd.DataFrame, key: pd.Series, name: str) -> pd.DataFrame:
    grouped = deals["amount"].fillna(0.0).groupby(key.astype("str")).agg(["size", "sum"])
    grouped = grouped.reset_index(names=name).rename(columns={"size": "deals", "sum": "amount"})
    grouped = grouped.sort_values(["deals", name], ascending=[False, True], ignore_index=True)
    total = grouped["deals"].sum()
    grouped["deals"] = grouped["deals"].astype("int64")
    grouped["share"] = (grouped["deals"] / total).round(3) if total else np.nan
    return grouped
