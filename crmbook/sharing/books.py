"""Merge and resolve on workbook files: open the copies, plan with merge.py, apply via Book.

The result starts as a byte copy of MINE and every change goes through the Book API, so the
part-level writer keeps MINE's own sheets, charts and formats, and the change log says what
the merge did. Conflicts are listed in a Conflicts sheet of the result; `resolve` applies the
choices typed into its `take` column (mine, theirs, or a value).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

import crmbook
from crmbook.book import Book
from crmbook.errors import CrmbookError, RecordError
from crmbook.sharing.ancestor import Ancestor, ancestor_from_frames, common_ancestor
from crmbook.sharing.merge import RECORD, Conflict, plan_merge
from crmbook.storage.encrypted import decrypt, is_encrypted
from crmbook.storage.hashes import canonical_value, column_hashes
from crmbook.values import missing

if TYPE_CHECKING:
    from crmbook.storage.sql import Progress

CONFLICTS_SHEET = "Conflicts"
CONFLICT_COLUMNS = ["sheet", "record", "field", "mine", "theirs", "reason", "take", "status"]


@dataclass
class MergeResult:
    path: Path
    how: str  # how the common ancestor was known, or why it was not
    three_way: bool
    counts: pd.DataFrame
    conflicts: list[Conflict]
    renumbered: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def open_conflicts(self) -> list[Conflict]:
        return [c for c in self.conflicts if not c.taken]


def _open(path: Path, password: str | None) -> Book:
    if is_encrypted(path):
        if not password:
            raise CrmbookError(f"{path} is password-protected; give its password (--password)")
        return crmbook.open(path, password=password)
    return crmbook.open(path)


def _frames(book: Book) -> dict[str, pd.DataFrame]:
    return {s.name: book.table(s.name).df.copy() for s in book.schema.entities if s.key}


def merge_books(
    mine: str | os.PathLike,
    theirs: str | os.PathLike,
    out: str | os.PathLike,
    *,
    base: str | os.PathLike | None = None,
    prefer: str | None = None,
    user: str | None = None,
    password: str | None = None,
    progress: Progress | None = None,
) -> MergeResult:
    """Merge THEIRS into a copy of MINE written to `out`; MINE and THEIRS are not changed.

    password opens the copies that are encrypted (the merged file is written without one).
    progress(step, done, total) hears of each step as it starts (a merge of two 100,000
    customer books takes about half a minute).
    """
    progress = progress or _quiet
    mine, theirs, out = Path(mine), Path(theirs), Path(out)
    if out.resolve() in (mine.resolve(), theirs.resolve()):
        raise CrmbookError(f"--out {out} is one of the copies; write the merge to a new file")
    _open(mine, password).close()  # a clear error for a file that is not a crmbook workbook
    other = _open(theirs, password)
    if is_encrypted(mine):
        decrypt(mine, out, password or "")
    else:
        shutil.copyfile(mine, out)
    book = crmbook.open(out, user=user)
    progress("Finding the common version", 0, 0)
    ancestor: Ancestor | None
    if base is not None:
        ancestor = ancestor_from_frames(_frames(_open(base, password)), book.schema)
        how = f"three-way, the original {Path(base).name} given with --base"
    else:
        ancestor, why = common_ancestor(
            book.meta,
            other.meta,
            book.storage.save_state(),
            other.storage.save_state(),
            book.schema,
        )
        how = (
            f"three-way, the common version known from the {ancestor.how}"
            if ancestor
            else f"two-way: {why}; every difference is listed as a conflict"
        )
    progress(f"Reading {mine.name}", 0, 0)
    mine_frames = _frames(book)
    progress(f"Reading {theirs.name}", 0, 0)
    theirs_frames = _frames(other)
    counters = {
        s.name: max(
            int(book.meta.get(f"next_id.{s.name}", 1) or 1),
            int(other.meta.get(f"next_id.{s.name}", 1) or 1),
        )
        for s in book.schema.entities
        if s.id_prefix
    }
    progress("Comparing the copies", 0, 0)
    plans, moved = plan_merge(book.schema, mine_frames, theirs_frames, ancestor, prefer, counters)
    progress(f"Taking the changes of {theirs.name}", 0, 0)
    for vocabulary, values in other.lists.items():
        extra = [v for v in values if v not in book.lists.get(vocabulary, [])]
        if extra:
            book.set_list(vocabulary, [*book.lists.get(vocabulary, []), *extra])
    refused: list[Conflict] = []
    order = book.schema.reference_order()
    for sheet in order:
        plan = plans.get(sheet.name)
        if plan and plan.adds:
            refused += _add(book, sheet.name, plan.adds)
    for sheet in order:
        plan = plans.get(sheet.name)
        if plan and plan.updates:
            refused += _update(book, sheet.name, plan.updates)
    for sheet in reversed(order):
        plan = plans.get(sheet.name)
        if plan and plan.deletes:
            book.table(sheet.name).delete_many(plan.deletes)
    _merge_log(book, other)
    for name, number in counters.items():
        book.meta[f"next_id.{name}"] = max(number, int(book.meta.get(f"next_id.{name}", 1)))
    theirs_state = other.storage.save_state()
    if theirs_state is not None and theirs_state.last is not None:
        book.join(_newest_last(theirs_state))
    book.touch()
    conflicts = [c for p in plans.values() for c in p.conflicts] + refused
    if conflicts:
        book.write_sheet(CONFLICTS_SHEET, conflicts_frame(conflicts), replace=True)
    progress(f"Saving {out.name}", 0, 0)
    book.save(backups=0)
    counts = pd.DataFrame([{"sheet": name, **plan.counts} for name, plan in plans.items()])
    if refused:
        counts.loc[len(counts)] = {"sheet": "(refused)", "conflicts": len(refused)}
        counts = counts.fillna(0)
    return MergeResult(out, how, ancestor is not None, counts, conflicts, moved)


def _quiet(step: str, done: int, total: int) -> None:
    pass


def _given(values: dict) -> dict:
    """Typed values as add/update take them: missing values as None."""
    return {k: None if missing(v) else v for k, v in values.items()}


def _refusal(sheet: str, key: str, name: str, value: object, error: Exception) -> Conflict:
    first = str(error).splitlines()[-1].strip(" -")
    return Conflict(sheet, key, name, "", value, f"refused by validation: {first}")


def _newest_last(state) -> list:
    """The other copy's generations, the one it saved last at the end (the merge follows it)."""
    newest = state.generations[state.last]
    return [*(g for g in state.generations.values() if g.id != newest.id), newest]


def _update(book: Book, sheet: str, updates: dict[str, dict]) -> list[Conflict]:
    """Apply THEIRS' changes together; record by record when some are refused."""
    table = book.table(sheet)
    given = {key: _given(values) for key, values in updates.items()}
    try:
        table.update_many(given)
        return []
    except RecordError:
        pass
    refused = []
    for key, values in given.items():
        try:
            table.update_many({key: values})
        except RecordError as e:
            refused += [_refusal(sheet, key, n, v, e) for n, v in values.items()]
    return refused


def _add(book: Book, sheet: str, rows: list[dict]) -> list[Conflict]:
    """Add THEIRS' new records together; one by one when some are refused."""
    table = book.table(sheet)
    rows = [_given(row) for row in rows]
    try:
        table.add_many(rows, keep_ids=True)
        return []
    except RecordError:
        pass
    refused = []
    for row in rows:
        try:
            table.add_many([row], keep_ids=True)
        except RecordError as e:
            refused.append(_refusal(sheet, str(row[table.sheet.key]), RECORD, "new", e))
    return refused


def _merge_log(book: Book, other: Book) -> None:
    """THEIRS' change log rows that MINE lacks join the log, so no history is lost."""
    mine_log, theirs_log = book.table("Log").df, other.table("Log").df
    columns = [c for c in book.schema.sheet("Log").columns if c in theirs_log and c in mine_log]
    new = ~_row_hashes(theirs_log, columns).isin(set(_row_hashes(mine_log, columns)))
    extra = theirs_log.loc[new.to_numpy(), columns].astype(object)
    book.pending_log[:0] = [
        {c: (None if pd.isna(v) else v) for c, v in row.items()} for row in extra.to_dict("records")
    ]


def _row_hashes(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One hash per row of the values in `columns` (canonical text, so 7 and 7.0 agree)."""
    out = np.zeros(len(frame), dtype=np.uint64)
    for column in columns:
        out = out * np.uint64(1_000_003) ^ column_hashes(frame[column])
    return pd.Series(out)


def conflicts_frame(conflicts: list[Conflict]) -> pd.DataFrame:
    rows = []
    for c in conflicts:
        d = c.to_dict()
        rows.append(
            {
                **{k: d[k] for k in ("sheet", "record", "field", "reason")},
                "mine": canonical_value(c.mine),
                "theirs": canonical_value(c.theirs),
                "take": d["taken"],
                "status": f"resolved: {c.taken}" if c.taken else "open",
            }
        )
    return pd.DataFrame(rows, columns=CONFLICT_COLUMNS).astype(str)


# ---------------------------------------------------------------- resolve


@dataclass
class Resolved:
    applied: list[dict]
    still_open: pd.DataFrame


def read_conflicts(book: Book) -> pd.DataFrame:
    if CONFLICTS_SHEET not in book.sheet_names:
        raise CrmbookError(f"{book.path.name} has no {CONFLICTS_SHEET} sheet: nothing to resolve")
    raw = book.read_sheet(CONFLICTS_SHEET)
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    return raw.fillna("").astype(str).map(str.strip)


def resolve(
    path: str | os.PathLike,
    *,
    take: str | None = None,
    user: str | None = None,
    force: bool = False,
) -> Resolved:
    """Apply the choices in the Conflicts sheet (`take`: mine, theirs or a value to set).

    take= decides every conflict still open. The merged copy already holds MINE's value of
    each open field conflict and keeps a record deleted on one side, so choosing mine for
    those changes nothing.
    """
    book = crmbook.open(path, user=user)
    frame = read_conflicts(book)
    applied = []
    for i, row in frame.iterrows():
        if row["status"] != "open":
            continue
        choice = row["take"] or (take or "")
        if not choice:
            continue
        table = book.table(row["sheet"])
        deleted_side = {"mine": row["mine"], "theirs": row["theirs"]}.get(choice.lower())
        if row["field"] == RECORD:
            if deleted_side == "deleted" and row["record"] in table.keys:
                table.delete(row["record"])
            elif deleted_side is None:
                raise CrmbookError(
                    f"{row['sheet']} {row['record']}: take 'mine' or 'theirs' for a record"
                )
        else:
            value = {"mine": row["mine"], "theirs": row["theirs"]}.get(choice.lower(), choice)
            if row["record"] in table.keys:
                table.update(row["record"], **{row["field"]: value if value != "" else None})
        frame.loc[i, "status"] = f"resolved: {choice}"
        frame.loc[i, "take"] = choice
        applied.append(row.to_dict() | {"take": choice})
    book.write_sheet(CONFLICTS_SHEET, frame[CONFLICT_COLUMNS], replace=True)
    book.save(force=force)
    return Resolved(applied, frame[frame["status"] == "open"])
