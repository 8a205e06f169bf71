"""Names as rapidfuzz's token_sort_ratio compares them, indexed once for many exact look-ups.

Import asks, for each incoming name, which customers' names score at least SIMILAR_NAME by
token_sort_ratio of the folded names. Asking that of every customer name in turn took minutes
at 100,000 customers. Here each distinct name is compared once, in one rapidfuzz cdist per
name length, and only with the names whose length can reach the score at all: the ratio is
100 * (1 - distance / (la + lb)) and the distance is at least |la - lb|. Nothing is guessed
away, so the answer is the one comparing with every name gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from crmbook.analytics.find import fold_column
from crmbook.values import missing_mask

# The most bytes of scores one cdist call may hold (a few thousand names at a time).
CHUNK_BYTES = 64_000_000


def sorted_words(names: pd.Series) -> pd.Series:
    """Each name folded (Иванов -> ivanov) with its words sorted, as token_sort_ratio sorts
    them before it compares; None for a missing name, which is nobody's namesake."""
    folded = fold_column(names).to_numpy(dtype=object)
    words = [" ".join(sorted(text.split())) for text in folded]
    return pd.Series(words, index=names.index, dtype=object).where(~missing_mask(names), None)


@dataclass(frozen=True)
class SortedNames:
    """The distinct sorted names of some records, grouped by how many letters of each kind
    they hold, and which record has which name."""

    texts: np.ndarray  # the distinct sorted names, group after group
    of_record: np.ndarray  # each record's number in texts, -1 for a missing name
    groups: np.ndarray  # per group: the length, then the count of each kind (LETTER_KINDS)
    starts: np.ndarray  # where each group starts in texts, and len(texts) last

    @classmethod
    def of(cls, names: pd.Series) -> SortedNames:
        codes, distinct = pd.factorize(sorted_words(names))
        counts = _letter_counts(distinct)
        groups, group_of = np.unique(counts, axis=0, return_inverse=True)  # shortest first
        order = np.argsort(group_of.ravel(), kind="stable")
        place = np.empty_like(order)
        place[order] = np.arange(len(order))
        of_record = np.where(codes >= 0, place[np.maximum(codes, 0)], -1) if len(order) else codes
        starts = np.searchsorted(group_of.ravel()[order], np.arange(len(groups) + 1))
        texts = np.asarray(distinct, dtype=object)[order]
        return cls(texts, of_record.astype(np.int64), groups, starts)

    def close_to(self, other: SortedNames, cutoff: float) -> pd.DataFrame:
        """Every pair of a text of `other` ("theirs") and one of these ("mine") whose
        token_sort_ratio is at least `cutoff`, with its score."""
        most = 1 - (cutoff - 1) / 100  # the share of la + lb the distance may reach, and a
        # point to spare so that rounding never loses a pair
        lengths = self.groups[:, 0]
        theirs_found, mine_found = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for group, counts in enumerate(other.groups):
            length = counts[0]
            low = np.searchsorted(lengths, math.floor(length * (1 - most) / (1 + most)))
            high = np.searchsorted(lengths, math.ceil(length * (1 + most) / (1 - most)), "right")
            apart = np.abs(self.groups[low:high, 1:] - counts[1:]).sum(axis=1)
            near = low + np.flatnonzero(apart <= most * (lengths[low:high] + length))
            mine = _ranges(self.starts[near], self.starts[near + 1])
            theirs = np.arange(other.starts[group], other.starts[group + 1])
            if len(mine):
                pair = _scored_over(other.texts, theirs, self.texts, mine, cutoff - 1)
                theirs_found.append(pair[0])
                mine_found.append(pair[1])
        pairs = pd.DataFrame(
            {"theirs": np.concatenate(theirs_found), "mine": np.concatenate(mine_found)}
        )
        exact = _scores(other.texts[pairs["theirs"]], self.texts[pairs["mine"]])
        return pairs.assign(score=exact)[exact >= cutoff].reset_index(drop=True)


# Each insertion or deletion changes one letter's kind count by one, so the distance of two
# texts is at least the sum of the differences of their counts: texts whose counts differ by
# more than the score allows are never compared (for names, about 98% of the pairs).
LETTER_KINDS = ("aeiouy", "bcdfgh", "jklmn", "pqrst", "vwxz")


def _letter_counts(texts) -> np.ndarray:
    """Per text: its length, then how many letters of each kind and of none (ASCII only,
    as folding leaves it; anything else counts as one character of no kind)."""
    kind = np.full(256, len(LETTER_KINDS), dtype=np.int64)
    for number, letters in enumerate(LETTER_KINDS):
        kind[np.frombuffer(letters.encode(), dtype=np.uint8)] = number
    encoded = [t.encode("ascii", "replace") for t in texts]
    lengths = np.array([len(b) for b in encoded], dtype=np.int64)
    owner = np.repeat(np.arange(len(encoded)), lengths)
    letters = kind[np.frombuffer(b"".join(encoded), dtype=np.uint8)]
    width = len(LETTER_KINDS) + 1
    counts = np.bincount(owner * width + letters, minlength=len(encoded) * width)
    return np.column_stack([lengths, counts.reshape(len(encoded), width)])


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The numbers start..end-1 of each range, one after the other."""
    sizes = ends - starts
    offsets = np.repeat(starts - np.cumsum(sizes) + sizes, sizes)
    return offsets + np.arange(sizes.sum())


def _scored_over(
    their_texts: np.ndarray,
    theirs: np.ndarray,
    my_texts: np.ndarray,
    mine: np.ndarray,
    cutoff: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs of theirs x mine whose fuzz.ratio reaches cutoff, in bounded cdist calls
    (the longer list first: rapidfuzz compares several of those at once)."""
    found: list[tuple[np.ndarray, np.ndarray]] = []
    queries = their_texts[theirs].tolist()
    step = max(1, CHUNK_BYTES // len(theirs))
    for start in range(0, len(mine), step):
        part = mine[start : start + step]
        scores = process.cdist(
            my_texts[part].tolist(),
            queries,
            scorer=fuzz.ratio,
            score_cutoff=cutoff,
            dtype=np.uint8,
            workers=-1,
        )
        row, column = np.nonzero(scores)
        found.append((theirs[column], part[row]))
    return np.concatenate([f[0] for f in found]), np.concatenate([f[1] for f in found])


def _scores(theirs: np.ndarray, mine: np.ndarray) -> np.ndarray:
    """token_sort_ratio of each pair, the very function a per-record comparison calls."""
    if not len(theirs):
        return np.zeros(0)
    return process.cpdist(list(theirs), list(mine), scorer=fuzz.token_sort_ratio, workers=-1)
