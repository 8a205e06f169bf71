"""Segments: customer filters written as rules, saved by name, plus RFM and the loyalty ladder.

A rule is whitespace-separated terms that must all hold, e.g.

    stage=loyal,promoter city="New York" revenue>=1000 last_contact<-90d tags~ski

    col=a,b     the value is one of a, b (case-insensitive; for tags: has one of the tags);
                col= means the cell is empty
    col!=a,b    the value is none of them; col!= means the cell is not empty
    col>=x  col<=x  col>x  col<x
                numbers, or dates: ISO (2024-01-01), today, or relative to today
                (-90d, +2w, -6m, -1y)
    col~text    contains text (case- and accent-insensitive); col!~text does not

Columns are the Customers columns (the user's own too) and the derived ones in DERIVED.
Every function takes `today`, so a segment never depends on the clock.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmbook.analytics.find import fold
from crmbook.analytics.history import HISTORY_COLUMNS, customer_history
from crmbook.errors import CrmbookError
from crmbook.schema import SCHEMA
from crmbook.values import missing, missing_mask, yes_no

# Per-customer columns computed from the history, with the kind of value they hold.
DERIVED = {
    "revenue": "number",
    "purchases": "number",
    "first_purchase": "date",
    "last_purchase": "date",
    "interactions": "number",
    "last_contact": "date",
    "days_since_contact": "number",
    "referrals": "number",
    "birthday_month": "number",
    "rfm_score": "number",
    "rfm_segment": "text",
    "suggested_stage": "text",
}
_KIND_OF_TYPE = {
    "date": "date",
    "datetime": "date",
    "money": "number",
    "integer": "number",
    "bool": "bool",
    "tags": "tags",
}
OPERATORS = ("!=", ">=", "<=", "!~", "=", ">", "<", "~")
_TERM = re.compile(r"^\s*([A-Za-z_][\w ]*?)\s*(!=|>=|<=|!~|=|>|<|~)(.*)$", re.DOTALL)
_RELATIVE = re.compile(r"^([+-])(\d+)([dwmy])$")
_MONTHS = {
    m: i
    for i, name in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
    for m in (name, name[:3])
}

# Loyalty ladder: who bought this many times stands on this step; a customer who bought but
# neither bought nor was contacted for LOST_AFTER_DAYS is lost.
LOYAL_PURCHASES = 4
LOST_AFTER_DAYS = 365

# The usual RFM segment map: rows are the recency score R (5 = bought most recently), columns
# the FM score, the rounded mean of the frequency and monetary scores, from 1 to 5.
RFM_SEGMENTS = {
    5: ("New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Loyal"),
    3: ("About to sleep", "About to sleep", "Needs attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"),
    1: ("Lost", "Lost", "At risk", "At risk", "Can't lose them"),
}


class RuleError(CrmbookError):
    """A segment rule that cannot be applied: unknown column or operator, or a bad value."""


@dataclass(frozen=True)
class Rule:
    """One term of a segment rule: column, operator and the value as typed."""

    column: str
    op: str
    value: str

    def __str__(self) -> str:
        value = self.value
        if value and (value != value.strip() or re.search(r"[\s'\"\\]", value)):
            value = shlex.quote(value)
        return f"{self.column}{self.op}{value}"


def parse_rules(rules: str | Sequence[str]) -> list[Rule]:
    """The terms of a rule text, or of terms given one by one (as on a command line).

    A term given alone may still hold several terms ("stage=loyal city=Berlin"); it is split
    when every part is a term of its own, so "city=New York" stays one term.
    """
    if isinstance(rules, str):
        return [_term(t) for t in _split(rules)]
    parsed = []
    for given in rules:
        try:
            parts = shlex.split(given)
        except ValueError:
            parts = [given]
        if len(parts) > 1 and all(_TERM.match(p) for p in parts):
            parsed += [_term(p) for p in parts]
        elif given.strip():
            parsed.append(_term(given))
    return parsed


def format_rules(rules: Iterable[Rule]) -> str:
    """Rules as text that parse_rules reads back the same (values with spaces are quoted)."""
    return " ".join(str(r) for r in rules)


def segment_customers(
    frames: dict[str, pd.DataFrame],
    rules: str | Sequence[str | Rule],
    today: dt.date,
    *,
    columns: Iterable[str] = (),
) -> pd.DataFrame:
    """The customers for whom every rule holds, in sheet order.

    The result has the Customers columns plus the derived columns the rules use and any
    derived `columns` asked for (e.g. ("rfm_score", "rfm_segment")).
    """
    parsed = _rules(rules)
    customers = frames["Customers"]
    kinds = column_kinds(customers)
    for rule in parsed:
        _check(rule, kinds)
    unknown = [c for c in columns if _canonical(c, kinds) is None]
    if unknown:
        raise RuleError(f"unknown column {unknown[0]!r}; {_valid_columns(kinds)}")
    names = [_canonical(r.column, kinds) for r in parsed]
    extra = [_canonical(c, kinds) for c in columns]
    facts = customer_facts(frames, today, [*names, *extra])
    keep = np.ones(len(facts), dtype=bool)
    for rule, name in zip(parsed, names, strict=True):
        keep &= _holds(facts[name], kinds[name], rule, today)
    return facts[keep]


def rule_columns(rules: str | Sequence[str | Rule], customers: pd.DataFrame) -> list[str]:
    """The columns the rules name, spelled as in the frame or DERIVED, each once."""
    kinds = column_kinds(customers)
    parsed = _rules(rules)
    for rule in parsed:
        _check(rule, kinds)
    return list(dict.fromkeys(_canonical(r.column, kinds) for r in parsed))


def column_kinds(customers: pd.DataFrame) -> dict[str, str]:
    """Every column a rule may name, with its kind: text, tags, number, date or bool."""
    sheet = SCHEMA.sheet("Customers")
    kinds = {}
    for name in customers.columns:
        if sheet.has(name):
            kinds[name] = _KIND_OF_TYPE.get(sheet.field(name).type, "text")
        else:
            kinds[name] = _kind_of_dtype(customers[name])
    kinds.update(DERIVED)
    return kinds


def customer_facts(
    frames: dict[str, pd.DataFrame], today: dt.date, columns: Iterable[str] | None = None
) -> pd.DataFrame:
    """The Customers frame with derived columns added (all of DERIVED when columns is None)."""
    customers = frames["Customers"]
    wanted = list(DERIVED) if columns is None else [c for c in columns if c in DERIVED]
    facts = customers.copy()
    if not wanted:
        return facts
    history = customer_history(frames, today)
    for name in HISTORY_COLUMNS:
        if name in wanted:
            facts[name] = history[name].reindex(customers["id"]).array
    if "birthday_month" in wanted:
        facts["birthday_month"] = customers["birthday"].dt.month.astype("Int64")
    if {"rfm_score", "rfm_segment"} & set(wanted):
        scores = rfm(frames, today, history=history).reindex(customers["id"])
        for name in ("rfm_score", "rfm_segment"):
            if name in wanted:
                facts[name] = scores[name].array
    if "suggested_stage" in wanted:
        facts["suggested_stage"] = (
            suggested_stages(frames, today, history=history).reindex(customers["id"]).array
        )
    return facts


def rfm(
    frames: dict[str, pd.DataFrame], today: dt.date, *, history: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Recency, frequency and monetary scores (1-5) of every customer who bought, by id.

    Scores are quintiles of the buyers: a customer's mid-rank percentile (ties share their
    average rank) times five, so equal values always score the same, a lone buyer or a
    column of ties scores 3, and five distinct buyers score 1 to 5. rfm_score is R, F and M
    as one three-digit number (545); rfm_segment names it (RFM_SEGMENTS).
    """
    if history is None:
        history = customer_history(frames, today)
    buyers = history[history["purchases"] > 0]
    recency = (pd.Timestamp(today) - buyers["last_purchase"].dt.normalize()).dt.days
    out = pd.DataFrame(index=buyers.index)
    out["recency_days"] = recency.astype("Int64")
    out["frequency"] = buyers["purchases"]
    out["monetary"] = buyers["revenue"]
    out["r"] = quintiles(-recency)
    out["f"] = quintiles(buyers["purchases"])
    out["m"] = quintiles(buyers["revenue"])
    out["rfm_score"] = (100 * out["r"] + 10 * out["f"] + out["m"]).astype("Int64")
    fm = (out["f"] + out["m"] + 1) // 2
    out["rfm_segment"] = [RFM_SEGMENTS[r][x - 1] for r, x in zip(out["r"], fm, strict=True)]
    return out


def quintiles(values: pd.Series) -> pd.Series:
    """Scores 1-5 by mid-rank percentile: 1 + floor(5 * (rank - 0.5) / n), ties averaged.

    A missing value ranks lowest.
    """
    if values.empty:
        return pd.Series([], index=values.index, dtype="int64")
    rank = values.rank(method="average", na_option="top")
    score = 1 + np.floor(5 * (rank - 0.5) / len(values))
    return score.clip(1, 5).astype("int64")


def suggested_stages(
    frames: dict[str, pd.DataFrame], today: dt.date, *, history: pd.DataFrame | None = None
) -> pd.Series:
    """The loyalty-ladder stage each customer's history shows, by customer id.

    prospect: never contacted; potential: contacted, never bought; customer: bought once;
    repeat: 2-3 purchases; loyal: 4 or more; promoter: loyal and referred someone;
    lost: bought, then neither bought nor was contacted for LOST_AFTER_DAYS days.
    """
    if history is None:
        history = customer_history(frames, today)
    purchases = history["purchases"]
    quiet_since = pd.Timestamp(today) - pd.Timedelta(days=LOST_AFTER_DAYS)
    last_sign = history[["last_purchase", "last_contact"]].max(axis=1)
    stage = np.select(
        [
            (purchases > 0) & (last_sign < quiet_since),
            (purchases >= LOYAL_PURCHASES) & (history["referrals"] > 0),
            purchases >= LOYAL_PURCHASES,
            purchases >= 2,
            purchases == 1,
            history["interactions"] > 0,
        ],
        ["lost", "promoter", "loyal", "repeat", "customer", "potential"],
        default="prospect",
    )
    return pd.Series(stage, index=history.index, name="suggested_stage", dtype="str")


def dormant(frames: dict[str, pd.DataFrame], days: int, today: dt.date) -> pd.DataFrame:
    """Customers with no contact for at least `days` days, the longest silent first.

    A customer never contacted counts from the day the record was created.
    """
    facts = customer_facts(frames, today, ["last_contact", "days_since_contact"])
    quiet = facts[facts["days_since_contact"].fillna(-1) >= days]
    return quiet.sort_values("days_since_contact", ascending=False, kind="stable")


def saved_rules(segments: pd.DataFrame, name: str) -> str:
    """The rules of the segment saved under `name` (case-insensitive) in the Segments sheet."""
    names = segments["name"].astype("str")
    hit = segments[names.str.strip().str.casefold() == name.strip().casefold()]
    if hit.empty:
        known = ", ".join(repr(n) for n in names.dropna()) or "none yet"
        raise RuleError(f"no saved segment called {name!r}; saved segments: {known}")
    rules = hit["rules"].iloc[0]
    return "" if missing(rules) else str(rules)


def saved_segments(frames: dict[str, pd.DataFrame], today: dt.date) -> pd.DataFrame:
    """The saved segments with how many customers each holds today (or why it cannot run)."""
    rows = []
    for record in frames["Segments"].itertuples(index=False):
        rules = "" if missing(record.rules) else record.rules
        try:
            size, problem = len(segment_customers(frames, rules, today)), None
        except RuleError as e:
            size, problem = None, str(e)
        rows.append((record.name, record.rules, size, record.notes, problem))
    out = pd.DataFrame(rows, columns=["name", "rules", "customers", "notes", "problem"])
    out["customers"] = out["customers"].astype("Int64")
    return out


# ---------------------------------------------------------------- applying a term


def _rules(rules: str | Sequence[str | Rule]) -> list[Rule]:
    if isinstance(rules, str):
        return parse_rules(rules)
    parsed: list[Rule] = []
    for rule in rules:
        parsed += [rule] if isinstance(rule, Rule) else parse_rules([rule])
    return parsed


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as e:
        raise RuleError(f"cannot read the rules {text!r}: {e}") from None


def _term(text: str) -> Rule:
    match = _TERM.match(text)
    if not match:
        raise RuleError(
            f"cannot read the rule {text!r}: write column, operator and value, such as "
            f"stage=loyal or revenue>=1000 (operators: {' '.join(OPERATORS)})"
        )
    column, op, value = match.groups()
    return Rule(column.strip(), op, value.strip())


def _key(name: str) -> str:
    return re.sub(r"[\s_]+", "_", name.strip().casefold())


def _canonical(name: str, kinds: dict[str, str]) -> str | None:
    by_key = {_key(c): c for c in kinds}
    return by_key.get(_key(name))


def _valid_columns(kinds: dict[str, str]) -> str:
    return "columns are: " + ", ".join(kinds)


def _check(rule: Rule, kinds: dict[str, str]) -> None:
    name = _canonical(rule.column, kinds)
    if name is None:
        raise RuleError(
            f"rule {str(rule)!r}: unknown column {rule.column!r}; {_valid_columns(kinds)}"
        )
    kind = kinds[name]
    if rule.op in (">=", "<=", ">", "<") and kind not in ("number", "date"):
        raise RuleError(
            f"rule {str(rule)!r}: {name} holds {kind}, which cannot be compared with "
            f"{rule.op}; use = != or ~"
        )
    if rule.op in (">=", "<=", ">", "<") and not rule.value:
        raise RuleError(f"rule {str(rule)!r}: a value is missing after {rule.op}")


def _holds(column: pd.Series, kind: str, rule: Rule, today: dt.date) -> np.ndarray:
    op, value = rule.op, rule.value
    if op in ("=", "!=") and not value:
        blank = missing_mask(column).to_numpy(dtype=bool)
        return blank if op == "=" else ~blank
    if op in ("~", "!~"):
        text = column.map(fold, na_action="ignore").astype(object).fillna("")
        hit = np.zeros(len(column), dtype=bool)
        for part in _alternatives(value):
            hit |= text.str.contains(fold(part), regex=False).to_numpy(dtype=bool)
        return hit if op == "~" else ~hit
    if op in ("=", "!="):
        hit = _equals(column, kind, rule, today)
        return hit if op == "=" else ~hit
    bound = _scalar(kind, value, rule, today, column.name)
    values = column.dt.normalize() if kind == "date" else column.astype("Float64")
    compare = {
        ">=": values >= bound,
        "<=": values <= bound,
        ">": values > bound,
        "<": values < bound,
    }
    return compare[op].fillna(False).to_numpy(dtype=bool)


def _equals(column: pd.Series, kind: str, rule: Rule, today: dt.date) -> np.ndarray:
    wanted = _alternatives(rule.value)
    if kind == "tags":
        tags = (
            column.astype(object)
            .fillna("")
            .map(lambda cell: {t.strip().casefold() for t in str(cell).split(",")})
        )
        wanted_set = {w.casefold() for w in wanted}
        return tags.map(lambda have: bool(have & wanted_set)).to_numpy(dtype=bool)
    if kind in ("number", "date", "bool"):
        values = [_scalar(kind, w, rule, today, column.name) for w in wanted]
        series = column.dt.normalize() if kind == "date" else column
        return series.isin(values).fillna(False).to_numpy(dtype=bool)
    text = column.astype(object).map(lambda v: str(v).strip().casefold(), na_action="ignore")
    return text.isin([w.casefold() for w in wanted]).to_numpy(dtype=bool)


def _scalar(kind: str, value: str, rule: Rule, today: dt.date, column: str) -> object:
    if kind == "bool":
        answer = yes_no(value)
        if answer is not None:
            return answer
        raise RuleError(f"rule {str(rule)!r}: {column} is true or false, not {value!r}")
    if kind == "number":
        if column == "birthday_month" and value.casefold() in _MONTHS:
            return _MONTHS[value.casefold()]
        try:
            return float(value)
        except ValueError:
            raise RuleError(f"rule {str(rule)!r}: {value!r} is not a number") from None
    return _date(value, rule, today)


def _date(value: str, rule: Rule, today: dt.date) -> pd.Timestamp:
    text = value.strip().casefold()
    if text == "today":
        return pd.Timestamp(today)
    relative = _RELATIVE.match(text)
    if relative:
        sign, amount, unit = relative.groups()
        step = int(amount) * (1 if sign == "+" else -1)
        offset = {
            "d": pd.DateOffset(days=step),
            "w": pd.DateOffset(weeks=step),
            "m": pd.DateOffset(months=step),
            "y": pd.DateOffset(years=step),
        }[unit]
        return pd.Timestamp(today) + offset
    try:
        return pd.Timestamp(dt.date.fromisoformat(text))
    except ValueError:
        raise RuleError(
            f"rule {str(rule)!r}: {value!r} is not a date; write 2024-01-31, today, "
            f"or a distance from today such as -90d, +2w, -6m, -1y"
        ) from None


def _alternatives(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _kind_of_dtype(column: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(column.dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        return "date"
    if pd.api.types.is_numeric_dtype(column.dtype):
        return "number"
    return "text"
