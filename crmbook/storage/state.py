"""The save state: per-record fingerprints, so two copies of one workbook can be merged
without the original (sharing/fingerprints.py finds their common ancestor from it).

Every crmbook save records, in the hidden _crmbook sheet:

- `lineage`: the ids of every save this copy descends from, oldest first (a new random id is
  appended at each save; a merge adds the other copy's ids too);
- per sheet, for each record it saved: a 24-bit hash of every field, the save at which each
  field last changed (its stamp, an index into the lineage) and the save the record was born.

Two copies made from one workbook share the saves made before they parted. A field whose
stamp is a shared save had, at that save, the value whose hash is recorded: that is the common
ancestor's value, so an edit made later on either side (by crmbook or by hand in Excel) shows
as a different hash. Fields changed after the parting on both sides have no known ancestor and
need none: equal values agree, different values are a conflict.

Pure functions on frames and the meta dict; no file access. The workbook storage calls
record_save() on every save that writes the meta sheet.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd

from crmbook.schema import Schema, Sheet

CHUNK = 30_000  # characters per meta cell (Excel allows 32,767)
LINEAGE = "lineage"
PREFIX = "fingerprints."
FIELDS = "fingerprint_fields."


def merged_fields(sheet: Sheet) -> list[str]:
    """The fields compared by merge: everything but the key and the created/updated stamps."""
    return [f.name for f in sheet.fields if f.name != sheet.key and not f.auto]


def canonical(value: object) -> str:
    """One text per value, equal for equal values however they were read back from Excel."""
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


@dataclass
class Stamped:
    """What one copy knows of one record at its last save."""

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


def _put_chunks(meta: dict, key: str, text: str) -> None:
    for stale in [k for k in meta if k.startswith(f"{key}.")]:
        del meta[stale]
    for n, start in enumerate(range(0, len(text), CHUNK), start=1):
        meta[f"{key}.{n}"] = text[start : start + CHUNK]


def read_store(meta: dict, schema: Schema, only: set[str] | None = None) -> Store:
    """The fingerprints kept in `meta` (of the sheets in `only`, when given)."""
    lineage = _chunks(meta, LINEAGE).split()
    store = Store(lineage=lineage)
    for sheet in schema.entities:
        if only is not None and sheet.name not in only:
            continue
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


def _encode(records: dict[str, Stamped], names: list[str]) -> str:
    lines = []
    for key, rec in records.items():
        at = [rec.stamps.get(n, rec.born) for n in names]
        stamps = "" if all(a == rec.born for a in at) else ".".join(np.base_repr(a, 36) for a in at)
        hashes = "".join(rec.hashes.get(n, "____") for n in names)
        lines.append(f"{quote(str(key), safe='')},{np.base_repr(rec.born, 36)},{hashes},{stamps}")
    return " ".join(lines)


def frame_hashes(sheet: Sheet, frame: pd.DataFrame) -> dict[str, dict[str, str]]:
    """key -> field -> hash for every record of the frame that has a key."""
    names = [n for n in merged_fields(sheet) if n in frame]
    keyed = frame[frame[sheet.key].notna()]
    columns = {n: [value_hash(v) for v in keyed[n].tolist()] for n in names}
    return {
        str(key): {n: columns[n][i] for n in names}
        for i, key in enumerate(keyed[sheet.key].tolist())
    }


def record_save(
    meta: dict,
    schema: Schema,
    full: dict[str, pd.DataFrame],
    appended: dict[str, pd.DataFrame],
) -> None:
    """Update the fingerprints in `meta` for a save.

    full: sheets whose every record is known now (loaded); records missing from them are gone.
    appended: sheets not loaded whose new records are known; their other records keep theirs.
    """
    appended, appended_slow = dict(appended), {}
    for name in list(appended):  # the fields changed (an upgrade): re-encode the old records too
        stored = str(meta.get(f"{FIELDS}{name}", ""))
        if stored and stored != ",".join(merged_fields(schema.sheet(name))):
            appended_slow[name] = appended.pop(name)
    store = read_store(meta, schema, only={*full, *appended_slow})
    store.lineage.append(f"s{uuid.uuid4().hex[:8]}")
    now = len(store.lineage) - 1
    for name, frame in appended.items():
        # Only new records: their lines are added after the stored ones, nothing is decoded.
        sheet = schema.sheet(name)
        names = merged_fields(sheet)
        new = {
            key: Stamped(now, hashes, {n: now for n in hashes})
            for key, hashes in frame_hashes(sheet, frame).items()
        }
        text = " ".join(t for t in (_chunks(meta, f"{PREFIX}{name}"), _encode(new, names)) if t)
        meta[f"{FIELDS}{name}"] = ",".join(names)
        _put_chunks(meta, f"{PREFIX}{name}", text)
    for name, frame in [*full.items(), *appended_slow.items()]:
        sheet = schema.sheet(name)
        old = store.sheets.get(name, {})
        records = {} if name in full else dict(old)
        for key, hashes in frame_hashes(sheet, frame).items():
            before = old.get(key)
            if before is None:
                records[key] = Stamped(now, hashes, {n: now for n in hashes})
                continue
            stamps = {
                n: before.stamps.get(n, before.born) if before.hashes.get(n) == h else now
                for n, h in hashes.items()
            }
            records[key] = Stamped(before.born, hashes, stamps)
        store.sheets[name] = records
    write_store(meta, schema, store)


def write_store(meta: dict, schema: Schema, store: Store) -> None:
    _put_chunks(meta, LINEAGE, " ".join(store.lineage))
    for name, records in store.sheets.items():
        names = merged_fields(schema.sheet(name))
        meta[f"{FIELDS}{name}"] = ",".join(names)
        _put_chunks(meta, f"{PREFIX}{name}", _encode(records, names))


def lineage(meta: dict) -> list[str]:
    """The ids of the saves this copy descends from, oldest first."""
    return _chunks(meta, LINEAGE).split()


def set_lineage(meta: dict, saves: str) -> None:
    _put_chunks(meta, LINEAGE, saves)
