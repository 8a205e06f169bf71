"""The common ancestor of two copies of one workbook, from their save states.

Each copy's state (storage/state.py) lists its generations (saves) with the generations they
follow. Two copies made from one workbook share the generations made before they parted;
after a merge, the result knows the other copy's generations too. The newest generation both
know, of which one of them holds the records, is the common ancestor: its state says what
every record held then, so an edit made later on either side (through crmbook or typed by
hand) shows as a field whose hash differs from it.

Books saved before generations keep the earlier fingerprints (storage/legacy_state.py): when
the copies share no generation, those are compared instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmbook.schema import Schema, Sheet
from crmbook.storage.hashes import column_hashes, short
from crmbook.storage.legacy_state import hash_number, legacy_ancestor, read_store, value_hash
from crmbook.storage.state import UNKNOWN, SaveState, key_index, merged_fields, record_sheets


def short_codes(values: pd.Series) -> np.ndarray:
    """Values as the save state records them: 15-bit hashes."""
    return short(column_hashes(values)).astype(np.int64)


def full_codes(values: pd.Series) -> np.ndarray:
    """Values as 64-bit hashes (an ancestor given as a file)."""
    return column_hashes(values).view(np.int64)


def legacy_codes(values: pd.Series) -> np.ndarray:
    """Values as the earlier fingerprints recorded them."""
    return np.array([hash_number(value_hash(v)) for v in values], dtype=np.int64)


@dataclass
class Ancestor:
    """What is known of the common ancestor of two copies.

    frames[sheet]: per record that existed then (index its key), each field's hash then,
    UNKNOWN where that is not known; `code` hashes values the same way.
    """

    frames: dict[str, pd.DataFrame]
    code: Callable[[pd.Series], np.ndarray]
    how: str

    def sheet(self, sheet: Sheet) -> pd.DataFrame:
        """The sheet's ancestor records with every merged field as a column."""
        frame = self.frames.get(sheet.name)
        names = merged_fields(sheet)
        if frame is None or frame.empty:
            return pd.DataFrame(columns=names, index=pd.Index([], dtype=object), dtype=np.int64)
        return frame.reindex(columns=names, fill_value=UNKNOWN)


def newest_shared(mine: SaveState, theirs: SaveState) -> tuple[str, SaveState] | None:
    """The newest generation both copies know and one of them holds, with that copy."""
    shared = set(mine.generations) & set(theirs.generations)
    usable = {g for g in shared if mine.holds(g) or theirs.holds(g)}
    if not usable:
        return None
    parents: dict[str, set[str]] = {}
    for state in (mine, theirs):
        for gen in state.generations.values():
            parents.setdefault(gen.id, set()).update(gen.parents)
    older: set[str] = set()  # every generation some usable one follows
    todo = [p for g in usable for p in parents.get(g, ())]
    while todo:
        gen = todo.pop()
        if gen not in older:
            older.add(gen)
            todo.extend(parents.get(gen, ()))
    newest = [g for g in usable if g not in older] or sorted(usable)
    when = {g: (mine if mine.holds(g) else theirs).generations[g].when for g in newest}
    best = max(newest, key=lambda g: (when[g], g))
    return best, mine if mine.holds(best) else theirs


def common_ancestor(
    mine_meta: Mapping[str, object],
    theirs_meta: Mapping[str, object],
    mine: SaveState | None,
    theirs: SaveState | None,
    schema: Schema,
) -> tuple[Ancestor | None, str]:
    """The ancestor known from the two copies' save states, or None and the reason why not."""
    if str(mine_meta.get("workbook_id", "")) != str(theirs_meta.get("workbook_id", "x")):
        return None, "the two files are not copies of one workbook (different workbook ids)"
    if mine is None or theirs is None:
        return None, "a copy keeps no save state (a database)"
    found = newest_shared(mine, theirs) if not (mine.empty or theirs.empty) else None
    if found is not None:
        gen, holder = found
        known = holder.generations[gen]
        frames = holder.state_at(gen, [s.name for s in record_sheets(schema)])
        how = f"last save both copies share ({known.when} by {known.who})"
        if any(state.generations[gen].lost for state in (mine, theirs)):
            how += (
                "; one copy's save state had been removed (its very hidden sheets), so all "
                "its records are compared with that save"
            )
        return Ancestor(frames, short_codes, how), ""
    records, why = legacy_ancestor(
        read_store(mine.legacy, schema), read_store(theirs.legacy, schema), schema
    )
    if records is None:
        if not (mine.empty or theirs.empty):
            why = "the copies share no save, so their common version is unknown"
            if any(g.lost for state in (mine, theirs) for g in state.generations.values()):
                why += " (one copy's save state had been removed: its very hidden sheets)"
        return None, why
    return Ancestor(_legacy_frames(records), legacy_codes, f"fingerprints of shared save {why}"), ""


def _legacy_frames(records: dict[str, dict[str, dict[str, str | None]]]) -> dict[str, pd.DataFrame]:
    frames = {}
    for name, known in records.items():
        rows = {
            key: {f: UNKNOWN if h is None else hash_number(h) for f, h in fields.items()}
            for key, fields in known.items()
        }
        frame = pd.DataFrame.from_dict(rows, orient="index")
        frames[name] = frame.fillna(UNKNOWN).astype(np.int64) if len(frame) else frame
    return frames


def ancestor_from_frames(frames: dict[str, pd.DataFrame], schema: Schema) -> Ancestor:
    """The ancestor given as a file (--base): every field of every record is known."""
    out = {}
    for sheet in record_sheets(schema):
        frame = frames.get(sheet.name)
        if frame is None or sheet.key not in frame:
            continue
        keyed = frame[frame[sheet.key].notna()]
        keys = key_index(keyed[sheet.key].astype(str).str.strip())
        codes = {n: full_codes(keyed[n]) for n in merged_fields(sheet) if n in keyed}
        coded = pd.DataFrame(codes, index=keys)
        out[sheet.name] = coded[~coded.index.duplicated()]
    return Ancestor(out, full_codes, "the original given with --base")
