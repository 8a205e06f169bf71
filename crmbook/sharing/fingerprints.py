"""The common ancestor of two copies of one workbook, from their save state.

Two copies made from one workbook share the saves made before they parted. A field whose
stamp is a shared save had, at that save, the value whose hash is recorded (storage/state.py):
that is the common ancestor's value, so an edit made later on either side (by crmbook or by
hand in Excel) shows as a different hash. Fields changed after the parting on both sides have
no known ancestor and need none: equal values agree, different values are a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from crmbook.schema import Schema
from crmbook.storage.state import Store, frame_hashes, lineage, merged_fields, read_store


@dataclass
class Ancestor:
    """What is known of the common ancestor of two copies, per sheet.

    records[sheet][key] is present for every record that existed at a shared save; its dict
    maps each field to the ancestor's hash, or None where both sides changed it since.
    """

    records: dict[str, dict[str, dict[str, str | None]]]
    how: str


def _shared(store: Store, at: int, other: set[str]) -> bool:
    return 0 <= at < len(store.lineage) and store.lineage[at] in other


def common_ancestor(
    mine_meta: dict, theirs_meta: dict, schema: Schema
) -> tuple[Ancestor | None, str]:
    """The ancestor known from the two copies' fingerprints, or None and the reason why not."""
    if str(mine_meta.get("workbook_id", "")) != str(theirs_meta.get("workbook_id", "x")):
        return None, "the two files are not copies of one workbook (different workbook ids)"
    mine, theirs = read_store(mine_meta, schema), read_store(theirs_meta, schema)
    if mine.empty or theirs.empty:
        return None, "a copy has no fingerprints (it was never saved by this crmbook version)"
    mine_saves, theirs_saves = set(mine.lineage), set(theirs.lineage)
    if not mine_saves & theirs_saves:
        return None, "the copies share no save, so their common version is unknown"
    records: dict[str, dict[str, dict[str, str | None]]] = {}
    for sheet in schema.entities:
        known: dict[str, dict[str, str | None]] = {}
        sides = ((mine, theirs_saves), (theirs, mine_saves))
        for store, other in sides:
            for key, rec in store.sheets.get(sheet.name, {}).items():
                if not _shared(store, rec.born, other):
                    continue
                fields = known.setdefault(key, dict.fromkeys(merged_fields(sheet)))
                for name, h in rec.hashes.items():
                    if name in fields and _shared(store, rec.stamps.get(name, rec.born), other):
                        fields[name] = h
        records[sheet.name] = known
    shared = [s for s in mine.lineage if s in theirs_saves]
    return Ancestor(records, f"fingerprints of shared save {shared[-1]}"), ""


def ancestor_from_frames(frames: dict[str, pd.DataFrame], schema: Schema) -> Ancestor:
    """The ancestor given as a file (--base): every field of every record is known."""
    records = {}
    for sheet in schema.entities:
        frame = frames.get(sheet.name)
        records[sheet.name] = {} if frame is None else frame_hashes(sheet, frame)
    return Ancestor(records, "the original given with --base")


def joined_lineage(mine_meta: dict, theirs_meta: dict) -> str:
    """The lineage of a merge result: mine's saves, then theirs' that mine lacks."""
    mine = lineage(mine_meta)
    seen = set(mine)
    return " ".join([*mine, *(s for s in lineage(theirs_meta) if s not in seen)])
