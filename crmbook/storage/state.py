"""The save state by generation: what each crmbook save knew of every record, so two copies
of one workbook can be merged from the newest save they share (sharing/ancestor.py).

Every crmbook save is a generation: an id, when, who, and the generation(s) it follows. A
generation records, per record sheet, the records that differ from the state before it: new
ones and changed ones with a short hash of each field, deleted ones by key. A change typed
into the workbook by hand shows as a field whose hash differs from the state; a save that read
the sheet records it as this copy's change, on top of what earlier generations recorded,
which stay as they were. The state at any generation of this copy is therefore known: the
rows of the generations up to it, each record as the last of them left it.

Two very hidden sheets hold it, one row per chunk of records of one generation and sheet:

    generation | sheet     | fields                | records      | hashes
    g1a2b3c4d5 |           | {"when": ..., "who": ..., "parents": [...]}
    g1a2b3c4d5 | Customers | name,kind,company,... | C-000001*500 | field by field
    g1a2b3c4d5 | Customers | -                     | C-000007     |   (deleted)

`_crmbook_saves` takes the rows of each new save, appended (a save that adds one record
adds two rows); when it holds more than MOVE_RECORDS records its rows move to
`_crmbook_base`, which is written rarely, so appending stays cheap. Chunks hold at most
CELL characters a cell (Excel allows 32,767). Hashes are 15 bits of the SipHash of the value's
canonical text, 3 characters (storage/hashes.py); a field that holds few distinct values in a
chunk is kept as a dictionary and one character a record. At 100,000 customers and 500,000
interactions the state is under a tenth of the file (benchmarks/README.md).

Pure functions and values; the workbook storage reads and writes the sheets.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd

from crmbook.schema import Schema, Sheet
from crmbook.storage.hashes import CHARS, column_hashes, decode, encode, short

if TYPE_CHECKING:
    from crmbook.storage.changes import Changes, SheetChanges

SAVES_SHEET = "_crmbook_saves"
BASE_SHEET = "_crmbook_base"
COLUMNS = ("generation", "sheet", "fields", "records", "hashes")
DELETED = "-"  # the fields cell of a row of deleted records
LEGACY = "legacy"  # the generation cell of rows keeping an earlier crmbook's fingerprints
CELL = 30_000  # characters a cell holds at most
MAX_RECORDS = CELL // CHARS
MOVE_RECORDS = 20_000  # _crmbook_saves moves to _crmbook_base past this many records
UNKNOWN = np.iinfo(np.int64).min  # a field whose hash a generation did not record
_DICTIONARY = "~"  # a field's hashes given as a dictionary plus one character a record
_ONE = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._"
_RUN = re.compile(r"^(.*?)(\d+)\*(\d+)$")
_NUMBERED = re.compile(r"^(.*?)(\d+)$")
_PLAIN = re.compile(r"^[A-Za-z0-9_.-]+$")


def merged_fields(sheet: Sheet) -> list[str]:
    """The fields compared by merge: everything but the key and the created/updated stamps."""
    return [f.name for f in sheet.fields if f.name != sheet.key and not f.auto]


def key_index(values: object, name: str | None = None) -> pd.Index:
    """Record keys as an index of Python strings. pandas 3 makes text an Arrow string index,
    whose isin looks each value up in Python (seconds at 100,000 keys); this one hashes."""
    return pd.Index(np.asarray(values, dtype=object), dtype=object, name=name)


def record_sheets(schema: Schema) -> list[Sheet]:
    """The sheets whose records the state follows."""
    return [s for s in schema.entities if s.key]


@dataclass(frozen=True)
class Generation:
    """One save: its id, when and by whom, and the generation(s) it follows (two for a merge).

    here: its records are in this copy's state (False for a generation known only as an
    ancestor, brought in by a merge with the copy that made it).
    lost: known only as the generation this copy was at when its state sheets were removed
    (by another program or by hand): its when, who and records are not known here.
    """

    id: str
    when: str
    who: str
    parents: tuple[str, ...] = ()
    here: bool = True
    lost: bool = False

    @classmethod
    def lost_one(cls, gen: str) -> Generation:
        return cls(gen, "", "", (), here=False, lost=True)

    @classmethod
    def new(cls, when: object, who: str, parents: Iterable[str]) -> Generation:
        stamp = pd.Timestamp(when).isoformat(timespec="seconds")
        return cls(f"g{uuid.uuid4().hex[:10]}", stamp, str(who), tuple(parents))

    def row(self) -> list[str]:
        about = {"when": self.when, "who": self.who, "parents": list(self.parents)}
        if not self.here:
            about["here"] = False
        if self.lost:
            about["lost"] = True
        return [self.id, "", json.dumps(about, ensure_ascii=False), "", ""]

    @classmethod
    def from_row(cls, gen: str, about: str) -> Generation:
        info = json.loads(about)
        return cls(
            gen,
            str(info.get("when", "")),
            str(info.get("who", "")),
            tuple(info.get("parents", ())),
            bool(info.get("here", True)),
            bool(info.get("lost", False)),
        )


# ---------------------------------------------------------------- hashes of records


def record_codes(sheet: Sheet, frame: pd.DataFrame) -> pd.DataFrame:
    """The short hash of every merged field of every keyed record: index the key."""
    keyed = frame[frame[sheet.key].notna()] if sheet.key in frame else frame.iloc[0:0]
    keys = keyed[sheet.key].astype(str).str.strip() if len(keyed) else pd.Series([], dtype=str)
    empty = pd.Series([None] * len(keyed), index=keyed.index, dtype=object)
    codes = {
        name: short(column_hashes(keyed.get(name, empty))).astype(np.int64)
        for name in merged_fields(sheet)
    }
    out = pd.DataFrame(codes, index=key_index(keys.to_numpy(dtype=object), sheet.key))
    return out[~out.index.duplicated(keep="last")]


# ---------------------------------------------------------------- keys as text


def encode_keys(keys: Iterable[str]) -> str:
    """Keys separated by spaces; numbered runs (C-000001 C-000002 ...) as C-000001*2."""
    tokens: list[str] = []
    run: tuple[str, int, int, int] | None = None  # prefix, first number, width, count
    for key in keys:
        match = _NUMBERED.match(key) if _PLAIN.match(key) else None
        if match:
            prefix, digits = match.group(1), match.group(2)
            number = int(digits)
            if run and run[0] == prefix and run[2] == len(digits) and run[1] + run[3] == number:
                run = (run[0], run[1], run[2], run[3] + 1)
                continue
            if run:
                tokens.append(_run_token(run))
            run = (prefix, number, len(digits), 1)
            continue
        if run:
            tokens.append(_run_token(run))
            run = None
        tokens.append(key if _PLAIN.match(key) else quote(key, safe=""))
    if run:
        tokens.append(_run_token(run))
    return " ".join(tokens)


def _run_token(run: tuple[str, int, int, int]) -> str:
    prefix, first, width, count = run
    start = f"{prefix}{first:0{width}d}"
    return start if count == 1 else f"{start}*{count}"


def decode_keys(text: str) -> list[str]:
    keys: list[str] = []
    for token in text.split():
        match = _RUN.match(token)
        if match:
            prefix, digits, count = match.group(1), match.group(2), int(match.group(3))
            first, width = int(digits), len(digits)
            numbered = prefix.replace("%", "%%") + f"%0{width}d"  # C-level formatting
            keys.extend(map(numbered.__mod__, range(first, first + count)))
        else:
            keys.append(unquote(token))
    return keys


# ---------------------------------------------------------------- hashes as text


def _encode_field(codes: np.ndarray) -> str:
    """One field's hashes of a chunk: 3 characters each, or a dictionary of the few values
    it holds and one character each (deflate packs that near its entropy)."""
    values, positions = np.unique(codes, return_inverse=True)
    if len(values) > len(_ONE) or 3 * len(values) + 2 >= 2 * len(codes):
        return encode(codes)
    return (
        _DICTIONARY
        + _ONE[len(values) - 1]
        + encode(values)
        + "".join(np.array(list(_ONE))[positions].tolist())
    )


def _decode_fields(text: str, n: int, count: int) -> np.ndarray | None:
    """The (n records x count fields) hashes of one chunk; None when the text is damaged."""
    out = np.empty((n, count), dtype=np.int64)
    at = 0
    for column in range(count):
        if text.startswith(_DICTIONARY, at):
            size = _ONE.find(text[at + 1]) + 1 if at + 1 < len(text) else 0
            values = decode(text[at + 2 : at + 2 + size * CHARS], size) if size else None
            start = at + 2 + size * CHARS
            picks = np.frombuffer(text[start : start + n].encode("ascii", "replace"), np.uint8)
            lookup = np.full(256, 255, dtype=np.uint8)
            lookup[np.frombuffer(_ONE.encode(), np.uint8)] = np.arange(len(_ONE), dtype=np.uint8)
            positions = lookup[picks]
            if values is None or len(picks) != n or (positions >= size).any():
                return None
            out[:, column] = values[positions]
            at = start + n
        else:
            codes = decode(text[at : at + n * CHARS], n)
            if codes is None:
                return None
            out[:, column] = codes
            at += n * CHARS
    return out if at == len(text) else None


# ---------------------------------------------------------------- rows


def record_rows(gen: str, sheet: str, codes: pd.DataFrame) -> list[list[str]]:
    """The rows recording `codes` (index key, columns fields) for one generation."""
    rows = []
    keys = [str(k) for k in codes.index]
    names = ",".join(codes.columns)
    values = codes.to_numpy(dtype=np.int64)
    start = 0
    while start < len(keys):
        end = min(len(keys), start + max(1, CELL // (CHARS * max(1, codes.shape[1]))))
        text = encode_keys(keys[start:end])
        while len(text) > CELL and end - start > 1:
            end = start + (end - start) // 2
            text = encode_keys(keys[start:end])
        chunk = values[start:end]
        hashes = "".join(_encode_field(chunk[:, i]) for i in range(chunk.shape[1]))
        rows.append([gen, sheet, names, text, hashes])
        start = end
    return rows


def deleted_rows(gen: str, sheet: str, keys: Iterable[str]) -> list[list[str]]:
    rows, chunk = [], []
    for key in keys:
        chunk.append(str(key))
        if len(chunk) >= MAX_RECORDS // 4:
            rows.append([gen, sheet, DELETED, encode_keys(chunk), ""])
            chunk = []
    if chunk:
        rows.append([gen, sheet, DELETED, encode_keys(chunk), ""])
    return rows


def legacy_rows(meta: Mapping[str, object]) -> list[list[str]]:
    """An earlier crmbook's fingerprints (metadata entries) as rows, kept for merges with
    copies still in that format."""
    rows = []
    for key, value in meta.items():
        text = str(value)
        for start in range(0, max(1, len(text)), CELL):
            rows.append([LEGACY, key, text[start : start + CELL], "", ""])
    return rows


def frame_of(rows: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(COLUMNS), dtype=object)


# ---------------------------------------------------------------- reading


@dataclass
class SaveState:
    """One copy's save state: its generations in order and the rows recording them."""

    generations: dict[str, Generation] = field(default_factory=dict)
    rows: pd.DataFrame = field(default_factory=lambda: frame_of([]))
    legacy: dict[str, str] = field(default_factory=dict)  # an earlier format's entries
    # The two sheets' rows as read (text), for moving the waiting generations to the base.
    raw_base: pd.DataFrame = field(default_factory=lambda: frame_of([]))
    raw_saves: pd.DataFrame = field(default_factory=lambda: frame_of([]))

    @classmethod
    def read(cls, base: pd.DataFrame, saves: pd.DataFrame) -> SaveState:
        """The state from the two sheets' values (each with the five columns, as text)."""
        frames = [_as_text(base), _as_text(saves)]
        rows = pd.concat(frames, ignore_index=True)
        legacy_at = rows["generation"] == LEGACY
        legacy: dict[str, str] = {}
        for key, text in zip(
            rows.loc[legacy_at, "sheet"], rows.loc[legacy_at, "fields"], strict=True
        ):
            legacy[key] = legacy.get(key, "") + text
        rows = rows[~legacy_at & (rows["generation"] != "")].reset_index(drop=True)
        generations = {}
        heads = rows["sheet"] == ""
        for gen, about in zip(
            rows.loc[heads, "generation"], rows.loc[heads, "fields"], strict=True
        ):
            try:
                generations[gen] = Generation.from_row(gen, about)
            except (ValueError, TypeError):
                continue  # a damaged row: that generation is not known
        return cls(generations, rows[~heads].reset_index(drop=True), legacy, *frames)

    @property
    def empty(self) -> bool:
        return not self.generations

    @property
    def last(self) -> str | None:
        """The newest generation made in this copy."""
        here = [g for g in self.generations.values() if g.here]
        return here[-1].id if here else None

    def holds(self, gen: str) -> bool:
        """Whether this copy can tell the state at `gen` (it made that generation)."""
        known = self.generations.get(gen)
        return known is not None and known.here

    def state_at(
        self, gen: str | None = None, sheets: Iterable[str] | None = None
    ) -> dict[str, pd.DataFrame]:
        """Per sheet, each record's field hashes as generation `gen` (default: the newest)
        left them: index the key, columns the fields, UNKNOWN where not recorded."""
        gen = gen or self.last
        order = [g.id for g in self.generations.values() if g.here]
        if gen not in order:
            return {}
        upto = set(order[: order.index(gen) + 1])
        rows = self.rows[self.rows["generation"].isin(upto)]
        if sheets is not None:
            rows = rows[rows["sheet"].isin(set(sheets))]
        out = {}
        for name, part in rows.groupby("sheet", sort=False):
            out[name] = _replay(part)
        return out


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    if frame is None or frame.empty:
        return frame_of([])
    values = frame.iloc[:, : len(COLUMNS)].copy()
    while values.shape[1] < len(COLUMNS):
        values[f"extra{values.shape[1]}"] = None
    values.columns = list(COLUMNS)
    return values.astype(object).where(values.notna(), "").map(str)


def _replay(rows: pd.DataFrame) -> pd.DataFrame:
    """Each record's hashes as the last row naming it left them; deleted records dropped.
    One matrix for the sheet, filled chunk by chunk (a frame per chunk and their concat
    took seconds at 900,000 records)."""
    chunks: list[tuple[list[str], list[str] | None, np.ndarray | None]] = []
    columns: dict[str, int] = {}
    for names, keys_text, hashes in zip(
        rows["fields"], rows["records"], rows["hashes"], strict=True
    ):
        keys = decode_keys(keys_text)
        if names == DELETED:
            chunks.append((keys, None, None))
            continue
        fields = names.split(",")
        codes = _decode_fields(hashes, len(keys), len(fields))
        if codes is None:
            continue  # a damaged chunk: those records count as unknown
        for name in fields:
            columns.setdefault(name, len(columns))
        chunks.append((keys, fields, codes))
    if not chunks:
        return pd.DataFrame()
    total = sum(len(keys) for keys, _, _ in chunks)
    codes = np.full((total, len(columns)), UNKNOWN, dtype=np.int64)
    deleted = np.zeros(total, dtype=bool)
    at = 0
    for keys, fields, chunk in chunks:
        if fields is None:
            deleted[at : at + len(keys)] = True
        else:
            codes[at : at + len(keys), [columns[name] for name in fields]] = chunk
        at += len(keys)
    index = key_index([key for keys, _, _ in chunks for key in keys])
    keep = ~index.duplicated(keep="last") & ~deleted
    return pd.DataFrame(codes[keep], index=index[keep], columns=list(columns))


# ---------------------------------------------------------------- what a save records


def changed_codes(now: pd.DataFrame, before: pd.DataFrame | None) -> pd.DataFrame:
    """The records of `now` (codes) that are new or differ from `before`."""
    if before is None or before.empty:
        return now
    known = now.index.isin(before.index)
    aligned = before.reindex(index=now.index[known], columns=now.columns, fill_value=UNKNOWN)
    differs = (aligned.to_numpy() != now.loc[known].to_numpy()).any(axis=1)
    changed = np.ones(len(now), dtype=bool)
    changed[np.flatnonzero(known)] = differs
    return now[changed]


@dataclass
class GenerationPlan:
    """What one save adds to the state: its generation and the rows recording it."""

    generation: Generation
    rows: list[list[str]]
    records: int  # record entries among the rows
    exact: set[str]  # sheets whose records as the Book holds them now match the state


def plan_generation(
    schema: Schema,
    changes: Changes,
    parents: list[str],
    exact: set[str],
    latest: Callable[[str], pd.DataFrame | None],
) -> GenerationPlan:
    """The generation a save makes (`changes`: storage.changes.Changes).

    A sheet given whole whose records were not checked against the state since they were
    read is compared record by record with the state (`latest(sheet)` gives it): every
    difference, typed by hand or not, is recorded. A sheet checked before records only the
    records this save touched; a sheet not read records its new records.
    """
    gen = Generation.new(changes.when, changes.who, [*parents, *_joined_heads(changes)])
    rows: list[list[str]] = [gen.row()]
    known = set(parents)
    for joined in changes.joined:
        if joined.id not in known:
            rows.append(Generation(joined.id, joined.when, joined.who, joined.parents, False).row())
            known.add(joined.id)
    records = 0
    now_exact: set[str] = set()
    for sheet in record_sheets(schema):
        changed = changes.sheets.get(sheet.name)
        if changed is None:
            continue
        deleted: list[str] = list(changed.deleted)
        if changed.records is not None and sheet.name not in exact:
            now = record_codes(sheet, changed.records)
            before = latest(sheet.name)
            delta = changed_codes(now, before)
            if before is not None and not before.empty:
                deleted = [str(k) for k in before.index[~before.index.isin(now.index)]]
        elif changed.records is not None:
            delta = record_codes(sheet, _touched(sheet, changed))
        else:
            delta = record_codes(sheet, changed.appended)
        if changed.records is not None:
            now_exact.add(sheet.name)
        rows += record_rows(gen.id, sheet.name, delta)
        rows += deleted_rows(gen.id, sheet.name, deleted)
        records += len(delta) + len(deleted)
    return GenerationPlan(gen, rows, records, now_exact)


def _joined_heads(changes: Changes) -> list[str]:
    """The other copy's newest generation, when the save is a merge (its second parent)."""
    return [changes.joined[-1].id] if changes.joined else []


def _touched(sheet: Sheet, changed: SheetChanges) -> pd.DataFrame:
    """The records of a sheet given whole that this save added or changed."""
    records = changed.records
    new = changed.read_positions.isna().to_numpy() if changed.read_positions is not None else None
    keys = records[sheet.key].astype(str)
    picked = keys.isin(
        {str(k) for k in changed.updated} | {str(v) for v in changed.given_ids.values()}
    )
    if new is not None:
        picked = picked | new
    return records[picked.to_numpy()]


# ---------------------------------------------------------------- moving and compacting


KEEP_DAYS = 90  # generations this recent stay whole: copies may travel by email that long


def moved_rows(state: SaveState, new_rows: list[list[str]], now: object) -> pd.DataFrame:
    """The rows of _crmbook_base after the waiting generations (and `new_rows`) move there.

    When the rows hold more than twice the records there are, the generations older than
    KEEP_DAYS are compacted: the newest of them keeps the whole state as it left it, the
    older ones only their ids (a copy that parted before then merges from that one, or from
    the other copy's state if it still holds theirs), and the earlier format's rows go.
    """
    every = pd.concat([state.raw_base, state.raw_saves, frame_of(new_rows)], ignore_index=True)
    records = every[(every["sheet"] != "") & (every["generation"] != LEGACY)]
    entries = sum(_count_keys(text) for text in records["records"])
    moved = SaveState.read(every, frame_of([]))
    live = sum(len(frame) for frame in moved.state_at().values())
    cutoff = (pd.Timestamp(now) - pd.Timedelta(days=KEEP_DAYS)).isoformat(timespec="seconds")
    old = [g for g in moved.generations.values() if g.here and g.when < cutoff]
    if entries <= 2 * live + MOVE_RECORDS or not old:
        return every
    keep = old[-1]
    order = [g.id for g in moved.generations.values() if g.here]
    gone = set(order[: order.index(keep.id)])
    heads = [
        Generation(g.id, g.when, g.who, g.parents, g.here and g.id not in gone).row()
        for g in moved.generations.values()
    ]
    snapshot = [
        row
        for sheet, frame in moved.state_at(keep.id).items()
        for row in _known_rows(keep.id, sheet, frame)
    ]
    later = records[~records["generation"].isin(gone | {keep.id})]
    return pd.concat([frame_of(heads + snapshot), later], ignore_index=True)


def _known_rows(gen: str, sheet: str, codes: pd.DataFrame) -> list[list[str]]:
    """record_rows() of a replayed state, leaving out the fields it does not know (a field
    added by an upgrade after a record was recorded): each group of records by the fields
    known. A record with no field known is left out (it counts as unknown, as before)."""
    known = pd.DataFrame(codes.to_numpy() != UNKNOWN, index=codes.index, columns=codes.columns)
    if known.to_numpy().all():
        return record_rows(gen, sheet, codes)
    rows = []
    for pattern, part in codes.groupby([known[c] for c in known.columns], sort=False):
        names = [c for c, present in zip(codes.columns, pattern, strict=True) if present]
        if names:
            rows += record_rows(gen, sheet, part[names])
    return rows


def _count_keys(text: str) -> int:
    count = 0
    for token in text.split():
        match = _RUN.match(token)
        count += int(match.group(3)) if match else 1
    return count
