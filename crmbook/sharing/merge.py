"""Three-way merge of two copies of one workbook, by record key and field by field.

The pure part (plan_merge) compares typed frames: MINE, THEIRS and what is known of their
common ancestor (hashes from --base or from the copies' fingerprints, see fingerprints.py).
An edit on one side wins over the unchanged other side; the same field changed differently on
both sides is a conflict; new records on both sides are kept (THEIRS' are renumbered when
both sides gave out the same id, and references follow); a deletion is honoured unless the
other side changed the record or added something that refers to it.

Values are compared, never timestamps: rows edited by hand in Excel count as edits.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import pandas as pd

from crmbook.schema import Schema, Sheet
from crmbook.sharing.fingerprints import Ancestor
from crmbook.storage.state import canonical, merged_fields, value_hash

RECORD = "(record)"  # the field of a conflict about a whole record (deleted on one side)
PREFER = ("mine", "theirs", "newest")


@dataclass
class Conflict:
    """One place where the two copies disagree and no rule decides."""

    sheet: str
    record: str
    field: str
    mine: object
    theirs: object
    reason: str
    taken: str = ""  # "mine" or "theirs" when --prefer decided; "" while open

    def to_dict(self) -> dict:
        return {k: _plain(v) for k, v in asdict(self).items()}


@dataclass
class SheetPlan:
    """What to do to a copy of MINE for one sheet, and where every record came from."""

    sheet: str
    updates: dict[str, dict[str, object]] = field(default_factory=dict)
    adds: list[dict[str, object]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("from mine", "from theirs", "merged", "deleted", "conflicts", "renumbered"), 0
        )
    )


def _plain(value: object) -> object:
    text = canonical(value)
    return text if not isinstance(value, bool) else value


def _indexed(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    keyed = frame[frame[key].notna()]
    keyed = keyed[~keyed[key].astype(str).duplicated()]
    return keyed.set_index(keyed[key].astype(str))


def _newer(mine: pd.Series, theirs: pd.Series) -> str:
    """The side whose record was updated last (mine when unknown or equal)."""
    if "updated" not in mine.index:
        return "mine"
    a, b = mine["updated"], theirs["updated"]
    if pd.notna(b) and (pd.isna(a) or b > a):
        return "theirs"
    return "mine"


def _decide(prefer: str | None, mine: pd.Series, theirs: pd.Series) -> str:
    if prefer == "newest":
        return _newer(mine, theirs)
    return prefer or ""


def _unchanged(row: pd.Series, base: dict[str, str | None], names: list[str]) -> bool:
    return all(base.get(n) is not None and value_hash(row[n]) == base[n] for n in names)


def plan_sheet(
    sheet: Sheet,
    mine: pd.DataFrame,
    theirs: pd.DataFrame,
    ancestor: dict[str, dict[str, str | None]] | None,
    prefer: str | None = None,
    referenced: set[str] = frozenset(),
) -> SheetPlan:
    """Merge one sheet. ancestor None means a two-way merge: every difference is a conflict.

    referenced: keys of this sheet that THEIRS' new or changed records refer to (a deletion in
    MINE of such a record is a conflict, not silently honoured).
    """
    plan = SheetPlan(sheet.name)
    key = sheet.key
    names = [n for n in merged_fields(sheet) if n in mine.columns and n in theirs.columns]
    m, t = _indexed(mine, key), _indexed(theirs, key)
    base = ancestor or {}
    for k in t.index.difference(m.index, sort=False):
        row = t.loc[k]
        if ancestor is not None and k in base:
            if _unchanged(row, base[k], names):
                plan.counts["deleted"] += 1
                continue
            taken = prefer if prefer in ("mine", "theirs") else ""
            plan.conflicts.append(
                Conflict(
                    sheet.name,
                    k,
                    RECORD,
                    "deleted",
                    "changed",
                    "deleted in mine, changed in theirs",
                    taken,
                )
            )
            if taken == "mine":
                continue
        plan.adds.append({n: row[n] for n in [key, *names]})
        plan.counts["from theirs"] += 1
    for k in m.index.difference(t.index, sort=False):
        row = m.loc[k]
        if ancestor is not None and k in base:
            if _unchanged(row, base[k], names) and k not in referenced:
                plan.deletes.append(k)
                plan.counts["deleted"] += 1
                continue
            taken = prefer if prefer in ("mine", "theirs") else ""
            plan.conflicts.append(
                Conflict(
                    sheet.name,
                    k,
                    RECORD,
                    "changed",
                    "deleted",
                    "deleted in theirs, changed in mine",
                    taken,
                )
            )
            if taken == "theirs":
                plan.deletes.append(k)
                continue
        plan.counts["from mine"] += 1
    for k in m.index.intersection(t.index, sort=False):
        mine_row, theirs_row = m.loc[k], t.loc[k]
        known = base.get(k) if ancestor is not None else None
        changes, sides = {}, set()
        for n in names:
            a, b = mine_row[n], theirs_row[n]
            if canonical(a) == canonical(b):
                continue
            was = known.get(n) if known else None
            if was is not None and value_hash(a) == was:
                changes[n] = b
                sides.add("theirs")
                continue
            if was is not None and value_hash(b) == was:
                sides.add("mine")
                continue
            taken = _decide(prefer, mine_row, theirs_row)
            plan.conflicts.append(Conflict(sheet.name, k, n, a, b, "changed on both sides", taken))
            if taken == "theirs":
                changes[n] = b
            sides.update(("mine", "theirs"))
        if changes:
            plan.updates[k] = changes
        if sides == {"mine", "theirs"}:
            plan.counts["merged"] += 1
        elif sides:
            plan.counts["from " + sides.pop()] += 1
    plan.counts["conflicts"] = len(plan.conflicts)
    return plan


# ---------------------------------------------------------------- new records with the same id


def _number(key: str) -> int:
    match = re.search(r"(\d+)$", str(key))
    return int(match.group(1)) if match else 0


def _same_record(sheet: Sheet, mine: pd.Series, theirs: pd.Series) -> bool:
    """Two new records with one id are one record when their required fields agree."""
    names = [f.name for f in sheet.fields if f.required] or merged_fields(sheet)
    return all(canonical(mine[n]) == canonical(theirs[n]) for n in names)


def renumber(
    schema: Schema,
    mine: dict[str, pd.DataFrame],
    theirs: dict[str, pd.DataFrame],
    ancestor: Ancestor,
    next_numbers: dict[str, int],
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, str]]]:
    """Give THEIRS' new records that clash with MINE's new ids fresh ids; references follow."""
    moved: dict[str, dict[str, str]] = {}
    for sheet in schema.entities:
        if not sheet.id_prefix or sheet.name not in mine or sheet.name not in theirs:
            continue
        m, t = _indexed(mine[sheet.name], "id"), _indexed(theirs[sheet.name], "id")
        base = ancestor.records.get(sheet.name, {})
        clash = [
            k
            for k in t.index.intersection(m.index, sort=False)
            if k not in base and not _same_record(sheet, m.loc[k], t.loc[k])
        ]
        if not clash:
            continue
        start = max(
            next_numbers.get(sheet.name, 1),
            *(_number(k) + 1 for k in [*m.index, *t.index]),
        )
        moved[sheet.name] = {
            old: f"{sheet.id_prefix}-{start + i:06d}" for i, old in enumerate(sorted(clash))
        }
        next_numbers[sheet.name] = start + len(clash)
    if not moved:
        return theirs, moved
    out = {}
    for name, frame in theirs.items():
        frame = frame.copy()
        sheet = schema.sheet(name)
        if name in moved:
            frame["id"] = frame["id"].map(lambda v, m=moved[name]: m.get(v, v))
        for f in sheet.fields:
            if f.ref in moved and f.name in frame and f.name != sheet.key:
                frame[f.name] = frame[f.name].map(lambda v, m=moved[f.ref]: m.get(v, v))
        out[name] = frame
    return out, moved


def referenced_by_theirs(
    schema: Schema,
    mine: dict[str, pd.DataFrame],
    theirs: dict[str, pd.DataFrame],
) -> dict[str, set[str]]:
    """Per sheet, the keys that THEIRS' new or changed records refer to."""
    refs: dict[str, set[str]] = {}
    for sheet in schema.entities:
        if sheet.name not in theirs or sheet.name not in mine or not sheet.key:
            continue
        t, m = theirs[sheet.name], _indexed(mine[sheet.name], sheet.key)
        names = [n for n in merged_fields(sheet) if n in t.columns and n in m.columns]
        for _, row in t.iterrows():
            k = str(row[sheet.key])
            touched = k not in m.index or any(
                canonical(row[n]) != canonical(m.loc[k, n]) for n in names
            )
            if not touched:
                continue
            for f in sheet.fields:
                if f.ref and f.name in row.index and canonical(row[f.name]):
                    refs.setdefault(f.ref, set()).add(canonical(row[f.name]))
    return refs


def plan_merge(
    schema: Schema,
    mine: dict[str, pd.DataFrame],
    theirs: dict[str, pd.DataFrame],
    ancestor: Ancestor | None,
    prefer: str | None = None,
    next_numbers: dict[str, int] | None = None,
) -> tuple[dict[str, SheetPlan], dict[str, dict[str, str]]]:
    """Plan the whole merge: per sheet plans and THEIRS' renumbered ids."""
    if prefer not in (None, *PREFER):
        raise ValueError(f"prefer must be one of {', '.join(PREFER)}")
    moved: dict[str, dict[str, str]] = {}
    if ancestor is not None:
        theirs, moved = renumber(schema, mine, theirs, ancestor, dict(next_numbers or {}))
    referenced = referenced_by_theirs(schema, mine, theirs)
    plans = {}
    for sheet in schema.entities:
        if sheet.name not in mine or sheet.name not in theirs or not sheet.key:
            continue
        records = ancestor.records.get(sheet.name, {}) if ancestor is not None else None
        plan = plan_sheet(
            sheet,
            mine[sheet.name],
            theirs[sheet.name],
            records,
            prefer,
            referenced.get(sheet.name, set()),
        )
        plan.counts["renumbered"] = len(moved.get(sheet.name, {}))
        plans[sheet.name] = plan
    return plans, moved
