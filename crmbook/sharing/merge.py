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

from crmbook.schema import Schema, Sheet
from crmbook.sharing.ancestor import Ancestor
from crmbook.storage.hashes import canonical_column, canonical_value
from crmbook.storage.state import UNKNOWN, key_index, merged_fields
from crmbook.validation import highest_id_number

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
    """The records with a key, the first of each key, indexed by it (trimmed text)."""
    raw = frame[key]
    keys = key_index(raw.astype("str").str.strip())
    keep = raw.notna().to_numpy() & ~keys.duplicated()
    if keep.all():
        return frame.set_axis(keys, axis=0)
    return frame[keep].set_axis(keys[keep], axis=0)


def _held(keys: pd.Index, index: pd.Index) -> np.ndarray:
    """Per key, whether `index` holds it: a lookup in the index's own hash table, which it
    keeps between calls (isin hashes the whole index again each time)."""
    if index.is_unique:
        return index.get_indexer(keys) >= 0
    return keys.isin(index)


def _take(column: pd.Series, positions: np.ndarray) -> pd.Series:
    """The values at `positions`; a slice, not a copy, when they are the first n in order
    (the records both copies hold mostly stand in the same order in both)."""
    n = len(positions)
    if n and positions[0] == 0 and positions[-1] == n - 1 and (np.diff(positions) == 1).all():
        return column.iloc[:n]
    return column.iloc[positions]


@dataclass
class _Pair:
    """One sheet's records in both copies, matched by key once, by position: which records
    both hold, which only one side does, and per field where the two copies differ."""

    m: pd.DataFrame  # MINE's records, index the key
    t: pd.DataFrame  # THEIRS'
    common: np.ndarray  # positions in m of the records both hold, in MINE's order
    common_t: np.ndarray  # the same records' positions in t
    only_mine: np.ndarray  # positions in m, in MINE's order
    only_theirs: np.ndarray  # positions in t, in THEIRS' order
    _differs: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of(cls, m: pd.DataFrame, t: pd.DataFrame) -> _Pair:
        at = t.index.get_indexer(m.index)
        held = at >= 0
        common_t = at[held]
        in_mine = np.zeros(len(t), dtype=bool)
        in_mine[common_t] = True
        return cls(
            m, t, np.flatnonzero(held), common_t, np.flatnonzero(~held), np.flatnonzero(~in_mine)
        )

    def aligned(self, name: str) -> tuple[pd.Series, pd.Series]:
        """A field of the records both hold, MINE's and THEIRS', in MINE's order."""
        return _take(self.m[name], self.common), _take(self.t[name], self.common_t)

    def differs(self, name: str) -> np.ndarray:
        """Positions among the records both hold where the two copies' field differs."""
        if name not in self._differs:
            self._differs[name] = np.flatnonzero(differ(*self.aligned(name)))
        return self._differs[name]


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
    pair = _Pair.of(_indexed(mine, sheet.key), _indexed(theirs, sheet.key))
    return _plan_pair(sheet, pair, ancestor, prefer, referenced)


def _plan_pair(
    sheet: Sheet,
    pair: _Pair,
    ancestor: Ancestor | None,
    prefer: str | None,
    referenced: set[str],
) -> SheetPlan:
    plan = SheetPlan(sheet.name)
    key = sheet.key
    m, t = pair.m, pair.t
    names = [n for n in merged_fields(sheet) if n in m.columns and n in t.columns]
    base = ancestor.sheet(sheet) if ancestor is not None else None

    only_theirs = t.index[pair.only_theirs]
    added = only_theirs
    if base is not None:
        was_there = only_theirs[_held(only_theirs, base.index)]
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

    only_mine = m.index[pair.only_mine]
    kept = len(only_mine)
    if base is not None:
        was_there = only_mine[_held(only_mine, base.index)]
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

    _plan_common(plan, sheet, pair, names, base, ancestor, prefer)
    plan.counts["conflicts"] = len(plan.conflicts)
    return plan


def _plan_common(
    plan: SheetPlan,
    sheet: Sheet,
    pair: _Pair,
    names: list[str],
    base: pd.DataFrame | None,
    ancestor: Ancestor | None,
    prefer: str | None,
) -> None:
    """The records both copies hold: field by field, the side that changed wins."""
    n = len(pair.common)
    mine_side, theirs_side = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    theirs_newer = _theirs_newer(pair) if prefer == "newest" else None
    for name in names:
        where = pair.differs(name)
        if not len(where):
            continue
        a = pair.m[name].iloc[pair.common[where]]
        b = pair.t[name].iloc[pair.common_t[where]]
        keys = pair.m.index[pair.common[where]]
        mine_same = np.zeros(len(where), dtype=bool)
        theirs_same = np.zeros(len(where), dtype=bool)
        if base is not None:
            was = np.full(len(where), UNKNOWN, dtype=np.int64)
            at = _held(keys, base.index)
            was[at] = base[name].reindex(keys[at]).to_numpy(dtype=np.int64)
            known = was != UNKNOWN
            mine_same = known & (ancestor.code(a) == was)
            theirs_same = known & (ancestor.code(b) == was)
        take = mine_same & ~theirs_same
        keep = theirs_same & ~mine_same
        clash = ~(take | keep)
        mine_side[where[keep | clash]] = True
        theirs_side[where[take | clash]] = True
        for i in np.flatnonzero(take | clash):
            k = keys[i]
            if clash[i]:
                if prefer == "newest":
                    taken = "theirs" if theirs_newer[where[i]] else "mine"
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


def _theirs_newer(pair: _Pair) -> np.ndarray:
    """Per record both hold, whether THEIRS was updated last (mine when unknown or equal)."""
    if "updated" not in pair.m.columns or "updated" not in pair.t.columns:
        return np.zeros(len(pair.common), dtype=bool)
    mine, theirs = pair.aligned("updated")
    a = pd.to_datetime(mine, errors="coerce").reset_index(drop=True)
    b = pd.to_datetime(theirs, errors="coerce").reset_index(drop=True)
    return (b.notna() & (a.isna() | (b > a))).to_numpy(dtype=bool)


# ---------------------------------------------------------------- new records with the same id


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
    indexed: _Indexed | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, str]]]:
    """Give THEIRS' new records that clash with MINE's new ids fresh ids; references follow.
    The frames it changes are new ones; the others are handed back as they were."""
    indexed = indexed or _Indexed(schema, mine, theirs)
    moved: dict[str, dict[str, str]] = {}
    for sheet in schema.reference_order():  # a sheet after those it refers to
        if not sheet.id_prefix or sheet.name not in mine or sheet.name not in theirs:
            continue
        pair = indexed.pair(sheet.name)
        m, t = pair.m, pair.t
        base = ancestor.sheet(sheet)
        both = m.index[pair.common]
        both = both[~_held(both, key_index(base.index))]
        clash = list(both[~_same_records(sheet, m.loc[both], t.loc[both], moved)])
        if not clash:
            continue
        start = max(
            next_numbers.get(sheet.name, 1),
            (highest_id_number(pd.Series(m.index, dtype=object)) or 0) + 1,
            (highest_id_number(pd.Series(t.index, dtype=object)) or 0) + 1,
        )
        moved[sheet.name] = {
            old: f"{sheet.id_prefix}-{start + i:06d}" for i, old in enumerate(sorted(clash))
        }
        next_numbers[sheet.name] = start + len(clash)
    if not moved:
        return theirs, moved
    out = dict(theirs)
    for name, frame in theirs.items():
        sheet = schema.sheet(name)
        changed = {}
        for f in sheet.fields:
            if f.name == sheet.key and name in moved:
                ids = moved[name]
            elif f.ref in moved and f.name in frame and f.name != sheet.key:
                ids = moved[f.ref]
            else:
                continue
            column = frame[f.name]
            renamed = _renamed(column, ids)
            if renamed is not column:
                changed[f.name] = renamed
        if changed:
            out[name] = frame.assign(**changed)
    return out, moved


class _Indexed:
    """Each sheet's records of both copies indexed by key and paired, each done once."""

    def __init__(
        self, schema: Schema, mine: dict[str, pd.DataFrame], theirs: dict[str, pd.DataFrame]
    ):
        self.schema, self.mine, self.theirs = schema, mine, theirs
        self._mine: dict[str, pd.DataFrame] = {}
        self._theirs: dict[str, pd.DataFrame] = {}
        self._pairs: dict[str, _Pair] = {}

    def names(self) -> list[str]:
        """The sheets both copies hold records of (by key)."""
        return [
            s.name
            for s in self.schema.entities
            if s.key and s.name in self.mine and s.name in self.theirs
        ]

    def with_theirs(self, theirs: dict[str, pd.DataFrame]) -> _Indexed:
        """The same with THEIRS' frames replaced (renumbered): only changed ones again."""
        out = _Indexed(self.schema, self.mine, theirs)
        out._mine = self._mine
        out._theirs = {n: f for n, f in self._theirs.items() if theirs.get(n) is self.theirs.get(n)}
        out._pairs = {n: p for n, p in self._pairs.items() if n in out._theirs}
        return out

    def pair(self, name: str) -> _Pair:
        if name not in self._pairs:
            key = self.schema.sheet(name).key
            if name not in self._mine:
                self._mine[name] = _indexed(self.mine[name], key)
            if name not in self._theirs:
                self._theirs[name] = _indexed(self.theirs[name], key)
            self._pairs[name] = _Pair.of(self._mine[name], self._theirs[name])
        return self._pairs[name]


def referenced_by_theirs(
    schema: Schema,
    mine: dict[str, pd.DataFrame],
    theirs: dict[str, pd.DataFrame],
    indexed: _Indexed | None = None,
) -> dict[str, set[str]]:
    """Per sheet, the keys that THEIRS' new or changed records refer to."""
    indexed = indexed or _Indexed(schema, mine, theirs)
    refs: dict[str, set[str]] = {}
    for name in indexed.names():
        sheet = schema.sheet(name)
        pointers = [f for f in sheet.fields if f.ref and f.name in theirs[name]]
        if not pointers:
            continue
        pair = indexed.pair(name)
        names = [n for n in merged_fields(sheet) if n in pair.t.columns and n in pair.m.columns]
        touched = np.zeros(len(pair.t), dtype=bool)
        touched[pair.only_theirs] = True
        for n in names:
            touched[pair.common_t[pair.differs(n)]] = True
        for f in pointers:
            values = canonical_column(pair.t[f.name][touched])
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
    """Plan the whole merge: per sheet plans and THEIRS' renumbered ids. Each sheet's records
    are indexed and matched once, and each field of the records both hold compared once."""
    if prefer not in (None, *PREFER):
        raise ValueError(f"prefer must be one of {', '.join(PREFER)}")
    moved: dict[str, dict[str, str]] = {}
    indexed = _Indexed(schema, mine, theirs)
    if ancestor is not None:
        renumbered, moved = renumber(
            schema, mine, theirs, ancestor, dict(next_numbers or {}), indexed
        )
        indexed, theirs = indexed.with_theirs(renumbered), renumbered
    referenced = referenced_by_theirs(schema, mine, theirs, indexed)
    plans = {}
    for name in indexed.names():
        sheet = schema.sheet(name)
        plan = _plan_pair(sheet, indexed.pair(name), ancestor, prefer, referenced.get(name, set()))
        plan.counts["renumbered"] = len(moved.get(name, {}))
        plans[name] = plan
    return plans, moved
