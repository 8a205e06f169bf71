"""Which customers are one and the same person: one matcher for dedupe and for import.

Comparing every customer with every other grows with the square of the base (about an hour at
100,000 customers). The matcher compares only the candidates that blocking puts side by side:

- the same email address (trimmed, lower case) or phone number (E.164 digits, phonenumbers);
- the same name words in any order and any alphabet: a name's *key* is its words folded to
  lower-case ASCII (anyascii: Иванов -> ivanov) and sorted, so customers with one key are
  compared once, as one;
- name keys close to each other: neighbours when the keys are sorted by their words in order,
  in reverse order (a typo in either word still lands nearby) and without vowels (Müller
  and Mueller), and keys that
  share the start of a word and the same initials (Ivanov S. V. and Иванов Сергей
  Викторович; A. Schmidt and Anna Schmit).

Candidates are scored in a few vectorised passes: rapidfuzz compares each distinct pair of words
once (process.cpdist), numpy adds the words up per name, and pandas joins the customers of
similar keys by company and city.

Import asks a narrower question (a name at least SIMILAR_NAME close), which an index answers
exactly: the customers' names are indexed once (sorted_names.py) and each distinct incoming
name is compared only with those that can reach the score, so the blocking above never hides
a customer that comparing the record with every customer would find.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from crmbook.analytics.find import (
    INITIAL_SCORE,
    PREFIX_SCORE,
    WORD_CUTOFF,
    fold_column,
    phone_digits_column,
)
from crmbook.analytics.sorted_names import SortedNames

# How many sorted name keys further on a key is compared with; how many first letters of a
# word, with the name's initials, make a block; and the most keys one block may hold before
# it is too common to say anything.
NEIGHBOURS = 8
PREFIX = 4
MAX_BLOCK = 50

MIN_SCORE = 85
SAME_COMPANY = 80
SAME_EMAIL, SAME_PHONE = 100, 95
# A similar name alone is weak evidence (namesakes exist): it scores less without a shared
# company or city; each further piece of evidence adds a little.
CITY_ONLY, NAME_ONLY, MORE_EVIDENCE = 10, 20, 5
# Import updates an existing customer only for a name this close (rapidfuzz token_sort_ratio
# of the folded names) at a company this close, or where either has no company.
SIMILAR_NAME = 92
SIMILAR_COMPANY = 85

REASONS = (
    "same email",
    "same phone",
    "similar name and company",
    "similar name, same city",
    "similar name",
)
EMAIL, PHONE, NAME_COMPANY, NAME_CITY, NAME_ALONE = range(len(REASONS))
PAIR_COLUMNS = ["score", "a", "a_name", "b", "b_name", "reasons"]


@dataclass(frozen=True)
class NameKeys:
    """The distinct name keys of some names, their words, and which name has which key."""

    keys: np.ndarray  # the distinct keys, sorted
    of_name: np.ndarray  # each name's key number, -1 for a name without words
    word_ids: list[np.ndarray]  # per key: its words, as numbers into `vocabulary`
    vocabulary: np.ndarray  # the distinct words

    @classmethod
    def of(cls, names: pd.Series) -> NameKeys:
        codes, distinct = pd.factorize(names.astype(object))  # -1 for a missing name
        spaced = fold_column(pd.Series(distinct, dtype=object))
        spaced = spaced.str.replace(r"[^a-z0-9]+", " ", regex=True)
        keyed = np.array([" ".join(sorted(text.split())) for text in spaced], dtype=object)
        keys = np.unique(keyed[keyed != ""]).astype(object)
        key_of = np.where(keyed != "", np.searchsorted(keys, keyed), -1)
        of_name = np.where(codes >= 0, key_of[codes] if len(key_of) else -1, -1)
        key_words = [k.split(" ") for k in keys]
        flat = np.array([w for ws in key_words for w in ws], dtype=object)
        vocabulary, ids = np.unique(flat, return_inverse=True)
        ends = np.cumsum([len(ws) for ws in key_words], dtype=np.int64)
        word_ids = np.split(ids.astype(np.int64), ends[:-1]) if len(keys) else []
        return cls(keys, of_name.astype(np.int64), word_ids, vocabulary.astype(str))

    def candidates(self) -> pd.DataFrame:
        """Pairs of distinct keys (a < b) worth scoring: sorted neighbours and initials blocks."""
        n = len(self.keys)
        found = []
        reverse = np.array([" ".join(sorted(k.split(" "), reverse=True)) for k in self.keys])
        skeleton = np.array([_skeleton(k) for k in self.keys])
        orders = (np.arange(n), *(np.argsort(o, kind="stable") for o in (reverse, skeleton)))
        for order in orders:
            for step in range(1, min(NEIGHBOURS, n - 1) + 1):
                found.append((order[:-step], order[step:]))
        blocks: dict[tuple[str, str], list[int]] = {}
        for k, ids in enumerate(self.word_ids):
            spelt = self.vocabulary[ids]
            initials = "".join(sorted(w[0] for w in spelt))
            for start in {w[:PREFIX] for w in spelt if len(w) > 1}:
                blocks.setdefault((start, initials), []).append(k)
        for members in blocks.values():
            if 1 < len(members) <= MAX_BLOCK:
                a, b = zip(*combinations(members, 2), strict=True)
                found.append((np.array(a), np.array(b)))
        a = np.concatenate([f[0] for f in found] or [np.zeros(0, dtype=np.int64)])
        b = np.concatenate([f[1] for f in found] or [np.zeros(0, dtype=np.int64)])
        pairs = pd.DataFrame({"a": np.minimum(a, b), "b": np.maximum(a, b)})
        return pairs[pairs["a"] != pairs["b"]].drop_duplicates(ignore_index=True)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """How well the words of key a find themselves among those of key b, 0-100, per pair.

        The rules of find, word by word: each word of a scores its best match among b's words
        (typos forgiven down to WORD_CUTOFF; a word that starts another, or that an initial
        stands for, scores PREFIX_SCORE or INITIAL_SCORE), and the name scores their average.
        A whole word must match: initials alone only confirm.
        """
        if not len(a):
            return np.zeros(0)
        lengths = np.array([len(ids) for ids in self.word_ids])
        na, nb = lengths[a], lengths[b]
        per_pair = na * nb
        # one row per (pair, word of a, word of b), in that order
        pair = np.repeat(np.arange(len(a)), per_pair)
        within = np.arange(per_pair.sum()) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
        q_at = np.repeat(np.cumsum(na) - na, per_pair) + within // nb[pair]
        v_at = np.repeat(np.cumsum(nb) - nb, per_pair) + within % nb[pair]
        q = np.concatenate([self.word_ids[k] for k in a])[q_at]
        v = np.concatenate([self.word_ids[k] for k in b])[v_at]
        score = self._word_scores(q, v)
        runs = np.repeat(nb, na)  # rows come in runs of nb per (pair, word of a)
        starts = np.cumsum(runs) - runs
        best = np.maximum.reduceat(score, starts)
        whole = np.char.str_len(self.vocabulary[q[starts]]) > 1
        owner = np.repeat(np.arange(len(a)), na)
        total = np.bincount(owner, weights=best, minlength=len(a))
        initials_only = np.bincount(owner, weights=whole, minlength=len(a)) == 0
        anchor = (best > 0) & (whole | initials_only[owner])
        anchored = np.bincount(owner, weights=anchor, minlength=len(a)) > 0
        return np.where(anchored, total / na, 0.0)

    def both_ways(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """similarity() of each pair of keys in both directions, each distinct pair once."""
        if not len(a):
            return np.zeros(0), np.zeros(0)
        distinct, back = np.unique(np.stack([a, b]), axis=1, return_inverse=True)
        back = back.ravel()
        forward = self.similarity(distinct[0], distinct[1])[back]
        backward = self.similarity(distinct[1], distinct[0])[back]
        return forward, backward

    def _word_scores(self, q: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The score of word q against word v for each row, each distinct pair computed once."""
        size = len(self.vocabulary)
        pairs, back = np.unique(q.astype(np.int64) * size + v, return_inverse=True)
        qs, vs = self.vocabulary[pairs // size], self.vocabulary[pairs % size]
        ratio = process.cpdist(
            qs.tolist(), vs.tolist(), scorer=fuzz.ratio, dtype=np.float32, workers=-1
        ).astype(np.float64)  # float32 as find's cdist, so equal names score alike
        ratio[ratio < WORD_CUTOFF] = 0.0
        starts = np.strings.startswith(vs, qs)
        v_initial = np.char.str_len(vs) == 1
        stands_for = v_initial & (np.strings.slice(qs, 0, 1) == vs)
        whole = np.maximum(ratio, np.where(starts, PREFIX_SCORE, 0.0))
        whole = np.maximum(whole, np.where(stands_for, INITIAL_SCORE, 0.0))
        initial = np.where(starts, np.where(v_initial, 100.0, INITIAL_SCORE), 0.0)
        return np.where(np.char.str_len(qs) == 1, initial, whole)[back.ravel()]


class CustomerMatcher:
    """Customers prepared for matching: build once, then find duplicates among them
    (dedupe) or the customer each imported record already is (import)."""

    def __init__(self, customers: pd.DataFrame):
        self.customers = customers.reset_index(drop=True)
        c = self.customers
        self.emails = _emails(c["email"]).to_numpy()
        self.phones = _phones(c["phone"]).to_numpy()
        self.companies = fold_column(c["company"]).str.strip().to_numpy(dtype=object)
        self.cities = fold_column(c["city"]).str.strip().to_numpy(dtype=object)

    @cached_property
    def names(self) -> NameKeys:
        """The name keys dedupe blocks on (import needs none of them)."""
        return NameKeys.of(self.customers["name"])

    # ------------------------------------------------------------ import

    def existing(self, records: pd.DataFrame) -> pd.Series:
        """The id of the customer each record already is, None for a new one: the same email,
        else the same phone, else a name this close (SIMILAR_NAME, token_sort_ratio of the
        folded names) where the companies are this close or either has none. The first such
        customer in the sheet wins."""
        found = pd.Series([None] * len(records), index=records.index, dtype=object)
        ids = self.customers["id"].to_numpy(dtype=object)
        incoming = records.reset_index(drop=True)
        for mine, theirs in (
            (self.emails, _emails(_column(incoming, "email"))),
            (self.phones, _phones(_column(incoming, "phone"))),
        ):
            first = pd.Series(np.arange(len(mine)), index=mine).groupby(level=0).min()
            first = first[first.index != ""]
            hit = theirs.map(first).to_numpy()
            todo = found.isna().to_numpy() & ~pd.isna(hit)
            found.iloc[np.flatnonzero(todo)] = ids[hit[todo].astype(np.int64)]
        todo = np.flatnonzero(found.isna().to_numpy())
        if len(todo):
            hit = self._same_person(incoming.iloc[todo])
            named = hit >= 0
            found.iloc[todo[named]] = ids[hit[named]]
        return found

    def _same_person(self, records: pd.DataFrame) -> np.ndarray:
        """Per record, the first customer with a very similar name at a similar company
        (-1 for none): each distinct name compared once with the customers' names of a length
        that can score SIMILAR_NAME, then the companies of those customers only."""
        n = len(self.customers)
        theirs = SortedNames.of(_column(records, "name"))
        pairs = self._sorted_names.close_to(theirs, SIMILAR_NAME)
        incoming = pd.DataFrame(
            {
                "record": np.arange(len(records)),
                "theirs": theirs.of_record,
                "company": fold_column(_column(records, "company")).str.strip(),
            }
        )
        hits = incoming.merge(pairs, on="theirs")
        mine = hits["mine"].to_numpy()
        no_company = (hits["company"] == "").to_numpy()
        first, first_without_company, with_company = self._namesakes
        best = np.full(len(records), n, dtype=np.int64)
        np.minimum.at(
            best,
            hits["record"].to_numpy(),
            np.where(no_company, first[mine], first_without_company[mine]),
        )
        both = hits[~no_company].merge(with_company, on="mine", suffixes=("", "_mine"))
        close = _ratios(both["company"].to_numpy(), both["company_mine"].to_numpy())
        both = both[close >= SIMILAR_COMPANY]
        np.minimum.at(best, both["record"].to_numpy(), both["first"].to_numpy())
        return np.where(best < n, best, -1)

    @cached_property
    def _sorted_names(self) -> SortedNames:
        return SortedNames.of(self.customers["name"])

    @cached_property
    def _namesakes(self) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        """Per sorted name: the first customer with it, the first with it and no company
        (len(customers) for none), and the first one per (sorted name, company)."""
        n = len(self.customers)
        names = self._sorted_names
        given = pd.DataFrame(
            {"mine": names.of_record, "company": self.companies, "first": range(n)}
        )
        given = given[given["mine"] >= 0]
        alone = given["company"] == ""
        first = _first_of(given, len(names.texts), n)
        first_without_company = _first_of(given[alone], len(names.texts), n)
        with_company = given[~alone].groupby(["mine", "company"], as_index=False)["first"].min()
        return first, first_without_company, with_company

    # ------------------------------------------------------------ dedupe

    def duplicate_pairs(self, min_score: float = MIN_SCORE) -> pd.DataFrame:
        """Pairs of customers that are likely one: a, b (a first), score 0-100 and the reasons.

        Evidence: the same email or phone, and a name similar both ways (at least
        min_score + CITY_ONLY - MORE_EVIDENCE) at a similar company, in the same city or alone.
        """
        emails = _sharing(self.emails, EMAIL, SAME_EMAIL)
        phones = _sharing(self.phones, PHONE, SAME_PHONE)
        contact = pd.concat([emails, phones])[["i", "j"]].drop_duplicates()
        names = self._name_notes(min_score, contact)
        found = _combined(pd.concat([emails, phones, names], ignore_index=True))
        found = found[found["score"] >= min_score]
        c = self.customers
        id_rank = np.empty(len(c), dtype=np.int64)
        id_rank[np.argsort(c["id"].to_numpy(dtype=object).astype(str), kind="stable")] = np.arange(
            len(c)
        )
        i, j = found["i"].to_numpy(), found["j"].to_numpy()
        score = found["score"].round().astype("int64").to_numpy()
        order = np.lexsort((id_rank[j], id_rank[i], -score))
        i, j = i[order], j[order]
        return pd.DataFrame(
            {
                "score": score[order],
                "a": c["id"].take(i).reset_index(drop=True),
                "a_name": c["name"].take(i).reset_index(drop=True),
                "b": c["id"].take(j).reset_index(drop=True),
                "b_name": c["name"].take(j).reset_index(drop=True),
                "reasons": found["reasons"].take(order).reset_index(drop=True),
            },
            columns=PAIR_COLUMNS,
        )

    def _name_notes(self, min_score: float, contact: pd.DataFrame) -> pd.DataFrame:
        """Customer pairs with names similar both ways, noted as their company or city says.

        Customers of one key are all alike (100); pairs of similar keys are expanded into
        customer pairs only as far as they can reach min_score: at a similar company always,
        in the same city or alone only when the names are similar enough to make up the
        difference. Pairs that share an email or phone are scored directly, whatever blocking
        found, since the name adds to that evidence.
        """
        wanted = min_score + CITY_ONLY - MORE_EVIDENCE
        keys = self.names
        pairs = keys.candidates()
        forward, backward = keys.both_ways(pairs["a"].to_numpy(), pairs["b"].to_numpy())
        pairs = pairs.assign(similar=np.minimum(forward, backward))
        pairs = pairs[(forward >= wanted) & (backward >= wanted)]
        alike = np.arange(len(keys.keys))
        similar = pd.concat(
            [pd.DataFrame({"a": alike, "b": alike, "similar": 100.0}), pairs], ignore_index=True
        )
        members = pd.DataFrame(
            {
                "i": np.arange(len(self.customers)),
                "key": keys.of_name,
                "company": self.companies,
                "city": self.cities,
            }
        )
        members = members[members["key"] >= 0]
        with_company = members[members["company"] != ""]
        company = _member_pairs(similar, with_company)
        city = _member_pairs(
            similar[similar["similar"] >= min_score + CITY_ONLY],
            members[members["city"] != ""],
            same="city",
        )
        alone = _member_pairs(similar[similar["similar"] >= min_score + NAME_ONLY], members)
        return pd.concat(
            [
                self._noted(company),
                self._noted(city[~self._both_companies(city)]),
                self._noted(alone[~self._both_companies(alone) & ~self._same_city(alone)]),
                self._noted(self._contact_similar(contact, wanted)),
            ],
            ignore_index=True,
        ).drop_duplicates(["i", "j"])

    def _contact_similar(self, contact: pd.DataFrame, wanted: float) -> pd.DataFrame:
        keys = self.names.of_name
        pairs = contact.assign(a=keys[contact["i"]], b=keys[contact["j"]])
        pairs = pairs[(pairs["a"] >= 0) & (pairs["b"] >= 0)]
        forward, backward = self.names.both_ways(pairs["a"].to_numpy(), pairs["b"].to_numpy())
        pairs = pairs.assign(similar=np.minimum(forward, backward))
        return pairs[(forward >= wanted) & (backward >= wanted)]

    def _noted(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """The name evidence of each pair: a different company rules it out."""
        both = self._both_companies(pairs)
        same_company = np.zeros(len(pairs), dtype=bool)
        same_company[both] = (
            _ratios(self.companies[pairs["i"][both]], self.companies[pairs["j"][both]])
            >= SAME_COMPANY
        )
        city = ~both & self._same_city(pairs)
        reason = np.select([both, city], [NAME_COMPANY, NAME_CITY], NAME_ALONE)
        drop = np.select([both, city], [0, CITY_ONLY], NAME_ONLY)
        keep = ~both | same_company
        return _notes(
            pairs["i"][keep], pairs["j"][keep], (pairs["similar"] - drop)[keep], reason[keep]
        )

    def _both_companies(self, pairs: pd.DataFrame) -> np.ndarray:
        return (self.companies[pairs["i"]] != "") & (self.companies[pairs["j"]] != "")

    def _same_city(self, pairs: pd.DataFrame) -> np.ndarray:
        city = self.cities[pairs["i"]]
        return (city != "") & (city == self.cities[pairs["j"]])


_VOWELS = re.compile(r"[aeiouy]+")
_REPEATED = re.compile(r"(.)\1+")


def _skeleton(key: str) -> str:
    """A key without vowels and doubled letters, its words sorted: Jürgen Müller and Juergen
    Mueller (anyascii folds ü to u, people type ue) both become "jrgn mlr"."""
    words = (_REPEATED.sub(r"\1", _VOWELS.sub("", w)) or w for w in key.split(" "))
    return " ".join(sorted(words))


def _ratios(a: np.ndarray, b: np.ndarray, scorer=fuzz.ratio) -> np.ndarray:
    """scorer(a[k], b[k]) for each k, in one vectorised pass."""
    if not len(a):
        return np.zeros(0)
    return process.cpdist(list(a), list(b), scorer=scorer, workers=-1)


def _first_of(given: pd.DataFrame, size: int, none: int) -> np.ndarray:
    """The smallest "first" per "mine" number (0 to size - 1), `none` where there is none."""
    first = np.full(size, none, dtype=np.int64)
    np.minimum.at(first, given["mine"].to_numpy(), given["first"].to_numpy())
    return first


def _emails(column: pd.Series) -> pd.Series:
    """Addresses trimmed and in lower case as Python writes them ("" for none), so İ and Σ
    fold as in a per-record comparison, not as Arrow's simpler case mapping."""
    return column.astype(object).map(lambda v: v.strip().lower() if isinstance(v, str) else "")


def _phones(column: pd.Series) -> pd.Series:
    return phone_digits_column(column).where(column.notna(), "")


def _column(records: pd.DataFrame, name: str) -> pd.Series:
    """A column of the records, or an empty one when the source has no such column."""
    if name in records:
        return records[name].astype(object).reset_index(drop=True)
    return pd.Series([None] * len(records), dtype=object)


def _member_pairs(
    similar: pd.DataFrame, members: pd.DataFrame, same: str | None = None
) -> pd.DataFrame:
    """Every pair of customers (i < j) whose keys are a similar pair (and who have the same
    value in the column `same`, when given)."""
    columns = ["i", "key", *([same] if same else [])]
    left = similar.merge(members[columns], left_on="a", right_on="key")
    pairs = left.merge(
        members[columns],
        left_on=["b", *([same] if same else [])],
        right_on=["key", *([same] if same else [])],
        suffixes=("", "_b"),
    )
    i, j = pairs["i"].to_numpy(), pairs["i_b"].to_numpy()
    pairs = pd.DataFrame(
        {"i": np.minimum(i, j), "j": np.maximum(i, j), "similar": pairs["similar"].to_numpy()}
    )
    return pairs[pairs["i"] != pairs["j"]].drop_duplicates(["i", "j"], ignore_index=True)


def _notes(i, j, score, reason) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": np.asarray(i, dtype=np.int64),
            "j": np.asarray(j, dtype=np.int64),
            "score": np.asarray(score, dtype=np.float64),
            "reason": np.broadcast_to(np.asarray(reason, dtype=np.int64), (len(np.asarray(i)),)),
        }
    )


def _sharing(values: np.ndarray, reason: int, score: float) -> pd.DataFrame:
    """Every pair of customers (i < j) with the same non-empty value."""
    given = pd.DataFrame({"i": np.arange(len(values)), "value": values})
    given = given[(given["value"] != "") & given["value"].duplicated(keep=False)]
    pairs = given.merge(given, on="value", suffixes=("", "_b"))
    pairs = pairs[pairs["i"] < pairs["i_b"]]
    return _notes(pairs["i"], pairs["i_b"], score, reason)


def _combined(notes: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: the first note's score, each further piece of evidence adding
    MORE_EVIDENCE (up to 100), and the reasons in the order they were found."""
    i, j = notes["i"].to_numpy(), notes["j"].to_numpy()
    reason = notes["reason"].to_numpy()
    order = np.lexsort((reason, j, i))
    i, j, reason, given = i[order], j[order], reason[order], notes["score"].to_numpy()[order]
    first = np.r_[True, (i[1:] != i[:-1]) | (j[1:] != j[:-1])] if len(i) else np.zeros(0, bool)
    pair = np.cumsum(first) - 1
    nth = np.arange(len(i)) - np.flatnonzero(first)[pair]
    score = given[first].copy()
    said = reason[first] + 1  # the reasons as the digits of one number, base len(REASONS)+1
    for k in range(1, int(nth.max(initial=0)) + 1):
        later = nth == k
        rows = pair[later]
        score[rows] = np.minimum(100.0, np.maximum(score[rows], given[later]) + MORE_EVIDENCE)
        said[rows] = said[rows] * (len(REASONS) + 1) + reason[later] + 1
    codes, at = np.unique(said, return_inverse=True)
    words = pd.array([_reasons(code) for code in codes], dtype="str")
    return pd.DataFrame(
        {"i": i[first], "j": j[first], "score": score, "reasons": words.take(at.ravel())}
    )


def _reasons(code: int) -> str:
    said = []
    while code:
        code, digit = divmod(int(code), len(REASONS) + 1)
        said.append(REASONS[digit - 1])
    return ", ".join(reversed(said))
