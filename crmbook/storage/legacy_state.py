"""The save state of crmbook before generations (read only, for books still in that format).

Until then every save rewrote, in the hidden _crmbook sheet:

- `lineage`: the ids of every save this copy descends from, oldest first (a new random id was
  appended at each save; a merge added the other copy's ids too);
- per sheet, for each record it saved: a 24-bit hash of every field, the save at which each
  field last changed (its stamp, an index into the lineage) and the save the record was born.

A field whose stamp is a save both copies share had, at that save, the value whose hash is
recorded. The first save by this crmbook moves these entries into the state sheets unchanged
(storage/state.py, LEGACY rows), so a copy still in the old format can be merged with one in
the new; sharing/ancestor.py reads them with legacy_ancestor().
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from urllib.parse import unquote

import numpy as np
import pandas as pd

from crmbook.schema import Schema

LINEAGE = "lineage"
PREFIX = "fingerprints."
FIELDS = "fingerprint_fields."


def is_legacy_key(key: str) -> bool:
    """Whether a metadata entry belongs to the earlier format's fingerprints."""
    return key.startswith((f"{LINEAGE}.", PREFIX, FIELDS))


def canonical(value: object) -> str:
    """The earlier format's text of a value (its hashes were taken of this)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return ""
        return str(int(value)) if float(value).is_integer() else repr(round(float(value), 9))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value).strip()


def value_hash(value: object) -> str:
    """4 characters: a 24-bit hash of the value's canonical text."""
    digest = hashlib.blake2b(canonical(value).encode("utf-8"), digest_size=3).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def hash_number(text: str) -> int:
    """A stored 4-character hash as a number (to compare in arrays)."""
    return int.from_bytes(base64.urlsafe_b64decode(text), "big")


@dataclass
class Stamped:
    """What one copy knew of one record at its last save."""

    born: int
    hashes: dict[str, str]
    stamps: dict[str, int]


@dataclass
class Store:
    """The fingerprints of one copy: its lineage and its records per sheet."""

    lineage: list[str] = field(default_factory=list)
    sheets: dict[str, dict[str, Stamped]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.lineage or not self.sheets


def _chunks(meta: dict, key: str) -> str:
    parts, n = [], 1
    while f"{key}.{n}" in meta:
        parts.append(str(meta[f"{key}.{n}"]))
        n += 1
    return "".join(parts)


def read_store(meta: dict, schema: Schema) -> Store:
    """The fingerprints kept in `meta` (the _crmbook sheet's entries, or the LEGACY rows)."""
    store = Store(lineage=_chunks(meta, LINEAGE).split())
    for sheet in schema.entities:
        fields_text = str(meta.get(f"{FIELDS}{sheet.name}", ""))
        body = _chunks(meta, f"{PREFIX}{sheet.name}")
        if not fields_text or not body:
            continue
        names = fields_text.split(",")
        records = {}
        for line in body.split():
            key, born, hashes, stamps = line.split(",")
            born_at = int(born, 36)
            values = [hashes[i : i + 4] for i in range(0, len(hashes), 4)]
            at = [int(s, 36) for s in stamps.split(".")] if stamps else [born_at] * len(names)
            records[unquote(key)] = Stamped(
                born_at, dict(zip(names, values, strict=True)), dict(zip(names, at, strict=True))
            )
        store.sheets[sheet.name] = records
    return store


def _shared(store: Store, at: int, other: set[str]) -> bool:
    return 0 <= at < len(store.lineage) and store.lineage[at] in other


def legacy_ancestor(
    mine: Store, theirs: Store, schema: Schema
) -> tuple[dict[str, dict[str, dict[str, str | None]]] | None, str]:
    """Per sheet, record and field the common ancestor's hash (None where both copies
    changed it since they parted), from the two copies' fingerprints; or None and why."""
    if mine.empty or theirs.empty:
        return None, "a copy has no save state (it was never saved by crmbook)"
    mine_saves, theirs_saves = set(mine.lineage), set(theirs.lineage)
    if not mine_saves & theirs_saves:
        return None, "the copies share no save, so their common version is unknown"
    records: dict[str, dict[str, dict[str, str | None]]] = {}
    for sheet in schema.entities:
        known: dict[str, dict[str, str | None]] = {}
        for store, other in ((mine, theirs_saves), (theirs, mine_saves)):
            for key, rec in store.sheets.get(sheet.name, {}).items():
                if not _shared(store, rec.born, other):
                    continue
                fields = known.setdefault(key, {})
                for name, h in rec.hashes.items():
                    fields.setdefault(name, None)
                    if _shared(store, rec.stamps.get(name, rec.born), other):
                        fields[name] = h
        records[sheet.name] = known
    shared = [s for s in mine.lineage if s in theirs_saves]
    return records, shared[-1]
