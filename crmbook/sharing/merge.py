"""Three-way merge of two copies of one workbook, by record key and field by field.

The pure part (plan_merge) compares typed frames: MINE, THEIRS and what is known of their
common ancestor (hashes from --base or from the copies' save states, see ancestor.py).
An edit on one side wins over the unchanged other side; the same field changed differently on
both sides is a conflict; new records on both sides are kept (THEIRS' are renumbered when
both sides gave out the same id, and references follow); a deletion is honoured unless the
other side changed the record or added something that refers to it.

Values are compared, never timestamps: rows edited by hand in Excel count as edits. The
comparison runs column by column over all records at once (pandas), and only the cells where
the two copies differ are hashed and looked up in the ancestor, so a merge of two 100,000
customer books costs about what reading them does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crmbook.schema import Schema, Sheet
from crmbook.sharing.ancestor import Ancestor
from crmbook.storage.hashes import canonical_column, canonical_value
from crmbook.storage.state import UNKNOWN, key_index, merged_fields

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
    text = canonical_value(value)
    return text if not isinstance(value, bool) else value


def _indexed(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    keys = frame[key].astype("str").str.strip()
    keep = (frame[key].notna() & ~keys.duplicated()).to_numpy()
    return frame[keep].set_axis(key_index(keys[keep]), axis=0)


def differ(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Per position, whether two columns hold different values (after canonical text: 7 and
    7.0, a date and the same date-time at midnight agree)."""
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    missing = a.isna().to_numpy() & b.isna().to_numpy()
    try:
        same = (a == b).fillna(False).to_numpy(dtype=bool)
    except (TypeError, ValueError):
        same = np.zeros(len(a), dtype=bool)
    out = ~(same | missing)
    where = np.flatnonzero(out)
    if len(where):
        out[where] = canonical_column(a.iloc[where]) != canonical_column(b.iloc[where])
    return out


def _unchanged(
    rows: pd.DataFrame, base: pd.DataFrame, names: list[str], ancestor: Ancestor
) -> np.ndarray:
    """Per record of `rows` (all in `base`), whether every field still has the ancestor's hash."""
    same = np.ones(len(rows), dtype=bool)
    was = base.loc[rows.index]
    for n in names:
        known = was[n].to_numpy() != UNKNOWN
        same &= known & (ancestor.code(rows[n]) == was[n].to_numpy())
    return same


def _deletion_conflict(sheet: str, key: str, deleted_in: str, prefer: str | None) -> Conflict:
    other = "theirs" if deleted_in == "mine" else "mine"
    taken = prefer if prefer in ("mine", "theirs") else ""
    mine, theirs = ("deleted", "changed") if deleted_in == "mine" else ("changed", "deleted")
    return Conflict(
        sheet, key, RECORD, mine, theirs, f"deleted in {deleted_in}, changed in {other}", taken
    )


def plan_sheet(
    sheet: Sheet,
    mine: pd.DataFrame,
    theirs: pd.DataFrame,
    ancestor: Ancestor | None,
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
    base = ancestor.sheet(sheet) if ancestor is not None else None

    only_theirs = t.index.difference(m.index, sort=False)
    added = only_theirs
    if base is not None:
        was_there = only_theirs[only_theirs.isin(base.index)]
        unchanged = _unchanged(t.loc[was_there], base, names, ancestor)
        plan.counts["deleted"] += int(unchanged.sum())
        conflicts = [
            _deletion_conflict(sheet.name, k, "mine", prefer) for k in was_there[~unchanged]
        ]
        plan.conflicts += conflicts
        dropped = set(was_there[unchanged]) | {c.record for c in conflicts if c.taken == "mine"}
        added = only_theirs[~only_theirs.isin(dropped)]
    plan.adds = t.loc[added, [key, *names]].to_dict("records")
    plan.counts["from theirs"] += len(added)

    only_mine = m.index.difference(t.index, sort=False)
    kept = len(only_mine)
    if base is not None:
        was_there = only_mine[only_mine.isin(base.index)]
        unchanged = _unchanged(m.loc[was_there], base, names, ancestor)
        unchanged &= ~was_there.isin(list(referenced))
        plan.deletes += list(was_there[unchanged])
        plan.counts["deleted"] += int(unchanged.sum())
        kept -= int(unchanged.sum())
        for k in was_there[~unchanged]:
            conflict = _deletion_conflict(sheet.name, k, "theirs", prefer)
            plan.conflicts.append(conflict)
            if conflict.taken == "theirs":
                plan.deletes.append(k)
                kept -= 1
    plan.counts["from mine"] += kept

    common = m.index.intersection(t.index, sort=False)
    _plan_common(plan, sheet, m.loc[common], t.loc[common], names, base, ancestor, prefer)
    plan.counts["conflicts"] = len(plan.conflicts)
    return plan


def _plan_common(
    plan: SheetPlan,
    sheet: Sheet,
    m: pd.DataFrame,
    t: pd.DataFrame,
    names: list[str],
    base: pd.DataFrame | None,
    ancestor: Ancestor | None,
    prefer: str | None,
) -> None:
    """The records both copies hold: field by field, the side that changed wins."""
    n = len(m)
    mine_side, theirs_side = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    theirs_newer = _theirs_newer(m, t) if prefer == "newest" else None
    in_base = m.index.isin(base.index) if base is not None else np.zeros(n, dtype=bool)
    for name in names:
        where = np.flatnonzero(differ(m[name], t[name]))
        if not len(where):
            continue
        a, b = m[name].iloc[where], t[name].iloc[where]
        mine_same = np.zeros(len(where), dtype=bool)
        theirs_same = np.zeros(len(where), dtype=bool)
        if base is not None:
            was = np.full(len(where), UNKNOWN, dtype=np.int64)
            at = in_base[where]
            was[at] = base[name].reindex(m.index[where][at]).to_numpy(dtype=np.int64)
            known = was != UNKNOWN
            mine_same = known & (ancestor.code(a) == was)
            theirs_same = known & (ancestor.code(b) == was)
        take = mine_same & ~theirs_same
        keep = theirs_same & ~mine_same
        clash = ~(take | keep)
        mine_side[where[keep | clash]] = True
        theirs_side[where[take | clash]] = True
        for i in np.flatnonzero(take | clash):
            row = where[i]
            k = m.index[row]
            if clash[i]:
                if prefer == "newest":
                    taken = "theirs" if theirs_newer[row] else "mine"
                else:
                    taken = prefer or ""
                plan.conflicts.append(
                    Conflict(
                        sheet.name, k, name, a.iloc[i], b.iloc[i], "changed on both sides", taken
                    )
                )
                if taken != "theirs":
                    continue
            plan.updates.setdefault(k, {})[name] = b.iloc[i]
    both = mine_side & theirs_side
    plan.counts["merged"] += int(both.sum())
    plan.counts["from mine"] += int((mine_side & ~both).sum())
    plan.counts["from theirs"] += int((theirs_side & ~both).sum())


def _theirs_newer(m: pd.DataFrame, t: pd.DataFrame) -> np.ndarray:
    """Per record, whether THEIRS was updated last (mine when unknown or equal)."""
    if "updated" not in m.columns or "updated" not in t.columns:
        return np.zeros(len(m), dtype=bool)
    a = pd.to_datetime(m["updated"], errors="coerce").reset_index(drop=True)
    b = pd.to_datetime(t["updated"], errors="coerce").reset_index(drop=True)
    return (b.notna() & (a.isna() | (b > a))).to_numpy(dtype=bool)


# ---------------------------------------------------------------- new records with the same id


def _numbers(keys: pd.Index) -> np.ndarray:
    """The number each key ends in (0 for none): C-000123 -> 123."""
    found = pc.extract_regex(pa.array(keys.astype(str), pa.string()), r"(?P<n>\d+)$")
    digits = pc.struct_field(found, [0]).to_numpy(zero_copy_only=False)
    return (
        pd.to_numeric(pd.Series(digits, dtype=object), errors="coerce")
        .fillna(0)
        .to_numpy(dtype=np.int64)
    )


def _renamed(column: pd.Series, moved: dict[str, str]) -> pd.Series:
    """`column` with the keys in `moved` replaced (Series.replace is slow on a long column)."""
    hit = column.astype(object).isin(moved).to_numpy()
    if not hit.any():
        return column
    out = column.astype(object).copy()
    out[hit] = [moved[v] for v in out[hit]]
    return out.astype(column.dtype)


def _same_records(
    sheet: Sheet, mine: pd.DataFrame, theirs: pd.DataFrame, moved: dict[str, dict[str, str]]
) -> np.ndarray:
    """Per key, whether the new records of both sides with that id are one record: their
    required fields agree, references compared as THEIRS' after renumbering (two new calls
    with one id, each for its side's new customer, are two calls)."""
    names = [f.name for f in sheet.fields if f.required] or merged_fields(sheet)
    same = np.ones(len(mine), dtype=bool)
    for name in names:
        if name not in mine or name not in theirs:
            continue
        ref = sheet.field(name).ref
        values = theirs[name]
        if ref in moved:
            values = _renamed(values, moved[ref])
        same &= ~differ(mine[name], values)
    return same


def renumber(
    schema: Schema,
    mine: dict[str, pd.DataFrame],
    theirs: dict[str, pd.DataFrame],
    ancestor: Ancestor,
    next_numbers: dict[str, int],
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, str]]]:
    """Give THEIRS' new records that clash with MINE's new ids fresh ids; references follow."""
    moved: dict[str, dict[str, str]] = {}
    for sheet in schema.reference_order():  # a sheet after those it refers to
        if not sheet.id_prefix or sheet.name not in mine or sheet.name not in theirs:
            continue
        m, t = _indexed(mine[sheet.name], "id"), _indexed(theirs[sheet.name], "id")
        base = ancestor.sheet(sheet)
        both = t.index.intersection(m.index, sort=False)
        both = both[~both.isin(key_index(base.index))]
        clash = list(both[~_same_records(sheet, m.loc[both], t.loc[both], moved)])
        if not clash:
            continue
        start = max(
            next_numbers.get(sheet.name, 1),
            int(_numbers(m.index).max(initial=0)) + 1,
            int(_numbers(t.index).max(initial=0)) + 1,
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
            frame["id"] = _renamed(frame["id"], moved[name])
        for f in sheet.fields:
            if f.ref in moved and f.name in frame and f.name != sheet.key:
                frame[f.name] = _renamed(frame[f.name], moved[f.ref])
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
        pointers = [f for f in sheet.fields if f.ref and f.name in theirs[sheet.name]]
        if not pointers:
            continue
        t, m = _indexed(theirs[sheet.name], sheet.key), _indexed(mine[sheet.name], sheet.key)
        names = [n for n in merged_fields(sheet) if n in t.columns and n in m.columns]
        touched = ~t.index.isin(m.index)
        common = np.flatnonzero(~touched)
        if len(common):
            mt, mm = t.iloc[common], m.loc[t.index[common]]
            changed = np.zeros(len(common), dtype=bool)
            for n in names:
                changed |= differ(mt[n], mm[n])
            touched[common] = changed
        for f in pointers:
            values = canonical_column(t[f.name][touched])
            refs.setdefault(f.ref, set()).update(v for v in values if v)
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
        plan = plan_sheet(
            sheet,
            mine[sheet.name],
            theirs[sheet.name],
            ancestor,
            prefer,
            referenced.get(sheet.name, set()),
        )
        plan.counts["renumbered"] = len(moved.get(sheet.name, {}))
        plans[sheet.name] = plan
    return plans, moved
