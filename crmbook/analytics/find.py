"""Find customers by what a person remembers of them: part of a name, company, email or phone.

The search forgives what people get wrong: typos ("Ivnaov"), initials ("Ivanov S. V." finds
"Ivanov Sergey Viktorovich"), another alphabet ("Ivanov" finds "Иванов", accents are ignored)
and phone formats ("030 1234567" finds "+49 30 1234567"). Every hit has a score from 0 to 100.

Words are compared one by one: each word of the query scores its best match among the
customer's words (name, company and the name part of the email), and the customer's score is
the average over the query's words. A whole email or phone number that matches scores on its
own. A query is a few vectorised passes over arrays prepared once (CustomerIndex), so one query
on 100,000 customers takes a fraction of a second.
"""

from __future__ import annotations

import re
from functools import cached_property

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from anyascii import anyascii
from rapidfuzz import fuzz, process

from crmbook.errors import RecordError
from crmbook.values import missing

SEARCHED = ("name", "company", "email", "phone")
MIN_SCORE = 60
# A word that starts another ("serg" -> "sergey") or is its initial ("s" -> "sergey") scores
# this much; a typo-level ratio below WORD_CUTOFF counts as no match at all.
PREFIX_SCORE = 90
INITIAL_SCORE = 90
WORD_CUTOFF = 70
# Hits this close to the best one are equally good answers to "which customer did you mean?".
AMBIGUITY_MARGIN = 5

_WORD = re.compile(r"[a-z0-9]+")
_NON_DIGIT = re.compile(r"\D")
_INTERNATIONAL = r"^\s*(?:\+|00)[\d\s\-./()]+$"
_COUNTRY_CODES = [str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE]


def fold(text: object) -> str:
    """Lower-case ASCII for comparing: Иванов -> ivanov, Zoë Ørsted -> zoe orsted."""
    if missing(text):
        return ""
    text = str(text)
    return (text if text.isascii() else anyascii(text)).lower()


def fold_column(column: pd.Series) -> pd.Series:
    """fold() for a whole column at once; a missing value folds to ""."""
    folded = _fold_arrow(pc.fill_null(_arrow(column), ""))
    return pd.Series(folded.to_numpy(zero_copy_only=False), index=column.index, dtype=object)


def words(text: object) -> list[str]:
    """The words of a text as fold() sees them, without punctuation."""
    return _WORD.findall(fold(text))


def phone_digits(phone: object, region: str | None = None) -> str:
    """The digits of a phone number in E.164 form (country code first), "" for no number.

    A number without a country code is read in `region` (e.g. "DE"); without a region its
    leading zeros are dropped, so "030 1234567" still matches "+49 30 1234567" as a substring.
    """
    if missing(phone):
        return ""
    text = str(phone).strip()
    try:
        number = phonenumbers.parse(text, region)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    except phonenumbers.NumberParseException:
        return _NON_DIGIT.sub("", text).lstrip("0")


def phone_digits_column(phones: pd.Series, region: str | None = None) -> pd.Series:
    """phone_digits() for a whole column; numbers already written "+<country> <number>"
    (the common case) are read without the parser, which keeps 100,000 numbers fast."""
    text = phones.astype("str").str.strip()
    digits = text.str.replace(r"\D", "", regex=True)
    digits = digits.where(~text.str.startswith("00"), digits.str.slice(2))
    plain = text.str.match(_INTERNATIONAL) & ~text.str.contains("(0", regex=False)
    trunk_zero = pd.Series(False, index=text.index)
    known = pd.Series(False, index=text.index)
    for length in (1, 2, 3):  # country codes are prefix-free: at most one length fits
        code = digits.str.slice(0, length).isin(_COUNTRY_CODES)
        trunk_zero |= code & (digits.str.slice(length, length + 1) == "0")
        known |= code
    fast = (plain & known & ~trunk_zero).fillna(False).astype(bool)
    out = digits.where(fast).astype(object)
    slow = ~fast & text.notna()
    out[slow] = [phone_digits(p, region) for p in text[slow]]
    return out.fillna("")


class CustomerIndex:
    """The customers prepared for many searches: build once, then call find() per query."""

    def __init__(self, customers: pd.DataFrame, region: str | None = None):
        self.customers = customers
        self.region = region
        emails = pc.utf8_lower(
            pc.utf8_trim_whitespace(pc.fill_null(_arrow(customers["email"]), ""))
        )
        self._emails = pd.Series(emails.to_numpy(zero_copy_only=False), dtype=object)
        local = pc.list_element(pc.split_pattern(emails, "@"), 0)
        text = pc.binary_join_element_wise(
            pc.fill_null(_arrow(customers["name"]), ""),
            pc.fill_null(_arrow(customers["company"]), ""),
            local,
            pa.scalar(" ", pa.large_string()),
        )
        spaced = pc.utf8_trim(pc.replace_substring_regex(_fold_arrow(text), "[^a-z0-9]+", " "), " ")
        split = pc.split_pattern(spaced, " ")
        flat = pc.list_flatten(split)
        owner = pc.list_parent_indices(split).to_numpy()
        keep = pc.not_equal(flat, "").to_numpy(zero_copy_only=False)
        encoded = pc.dictionary_encode(pc.filter(flat, keep))
        self._vocabulary = pd.Series(encoded.dictionary.to_pylist(), dtype=object)
        self._vocabulary_list = self._vocabulary.tolist()
        self._first_letter = self._vocabulary.str[0].to_numpy()
        self._initial = self._vocabulary.str.len().to_numpy() == 1
        # (customer, word) pairs grouped by customer: the best score of a query word per
        # customer is one np.maximum.reduceat over the groups.
        self._pair_word = encoded.indices.to_numpy(zero_copy_only=False)
        owner = owner[keep]
        self._starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(owner) else []
        self._with_words = owner[self._starts]

    def __len__(self) -> int:
        return len(self.customers)

    @cached_property
    def _phones(self) -> pd.Series:
        return phone_digits_column(self.customers["phone"], self.region).reset_index(drop=True)

    def scores(self, text: str) -> np.ndarray:
        """The score of every customer (in frame order) for the query `text`, 0 to 100."""
        best = self._word_scores(words(text))
        np.maximum(best, self._email_scores(text), out=best)
        np.maximum(best, self._phone_scores(text), out=best)
        return best

    def find(self, text: str, limit: int | None = 20, min_score: float = MIN_SCORE) -> pd.DataFrame:
        """The customers matching `text`, best first, with a `score` column (0-100).

        Equal scores are ordered by how close the whole name is to the query.
        """
        score = self.scores(text)
        hit = np.flatnonzero(score >= min_score)
        names = [fold(n) for n in self.customers["name"].iloc[hit]]
        closeness = process.cdist([fold(text)], names, scorer=fuzz.token_sort_ratio)[0]
        order = np.lexsort((hit, -closeness, -score[hit]))[:limit]
        found = self.customers.iloc[hit[order]].copy()
        found["score"] = np.round(score[hit[order]]).astype("int64")
        return found

    def _word_scores(self, query: list[str]) -> np.ndarray:
        """The average over the query's words of each word's best match in the customer.

        Initials only confirm: a customer none of whose words matches a full query word
        scores nothing, so "Ivanov S. V." does not find every S. V.
        """
        total = np.zeros(len(self.customers), dtype=np.float64)
        if not query or not self._vocabulary_list:
            return total
        anchored = np.zeros(len(self.customers), dtype=bool)
        ratios = process.cdist(
            query, self._vocabulary_list, scorer=fuzz.ratio, dtype=np.float32, workers=-1
        )
        for word, ratio in zip(query, ratios, strict=True):
            starts = self._vocabulary.str.startswith(word).to_numpy(dtype=bool)
            if len(word) == 1:
                ratio = np.where(starts, INITIAL_SCORE, 0.0)
                ratio[self._initial & starts] = 100
            else:
                ratio = np.where(ratio >= WORD_CUTOFF, ratio, 0.0)
                ratio[starts] = np.maximum(ratio[starts], PREFIX_SCORE)
                stands_for = self._initial & (self._first_letter == word[0])
                ratio[stands_for] = np.maximum(ratio[stands_for], INITIAL_SCORE)
            best = np.maximum.reduceat(ratio[self._pair_word], self._starts)
            total[self._with_words] += best
            if len(word) > 1 or all(len(w) == 1 for w in query):
                anchored[self._with_words] |= best > 0
        return np.where(anchored, total / len(query), 0.0)

    def _email_scores(self, text: str) -> np.ndarray:
        needle = text.strip().lower()
        score = np.zeros(len(self.customers), dtype=np.float64)
        if len(needle) < 3 or " " in needle:
            return score
        contains = self._emails.str.contains(needle, regex=False).to_numpy(dtype=bool)
        score[contains] = 100 if "@" in needle else PREFIX_SCORE
        if "@" in needle:
            ratio = process.cdist(
                [needle], self._emails.tolist(), scorer=fuzz.ratio, score_cutoff=85, workers=-1
            )[0]
            np.maximum(score, ratio, out=score)
        return score

    def _phone_scores(self, text: str) -> np.ndarray:
        """A number containing the query's digits scores 100; one digit off scores about 90."""
        score = np.zeros(len(self.customers), dtype=np.float64)
        digits = _NON_DIGIT.sub("", text)
        if len(digits) < 4 or len(digits) < 0.6 * len(re.sub(r"[\s\-./()+]", "", text)):
            return score
        needle = phone_digits(text, self.region)
        contains = self._phones.str.contains(needle, regex=False).to_numpy(dtype=bool)
        score[contains] = 100
        ratio = process.cdist(
            [needle], self._phones.tolist(), scorer=fuzz.ratio, score_cutoff=90, workers=-1
        )[0]
        np.maximum(score, ratio, out=score)
        return score


def find_customers(
    customers: pd.DataFrame, text: str, limit: int | None = 20, min_score: float = MIN_SCORE
) -> pd.DataFrame:
    """Customers matching `text` by name, company, email or phone, best first, with a score.

    For many queries on the same customers build a CustomerIndex once and call its find().
    """
    return CustomerIndex(customers).find(text, limit=limit, min_score=min_score)


class AmbiguousCustomer(RecordError):
    """Several customers match about equally well; `candidates` lists them."""

    def __init__(self, text: str, candidates: pd.DataFrame):
        self.candidates = candidates
        super().__init__(f"{len(candidates)} customers match {text!r}; give one of their ids")


def resolve_customer(customers: pd.DataFrame, text: str) -> str:
    """The id of the one customer `text` names: an id, or a name that find_customers finds.

    A name nobody else has wins outright; otherwise the best hit must beat the next one by
    more than AMBIGUITY_MARGIN. Raises RecordError when nothing matches and AmbiguousCustomer
    when several customers match about equally well.
    """
    wanted = text.strip()
    ids = customers["id"].astype("str")
    exact_id = ids[ids.str.upper() == wanted.upper()]
    if len(exact_id):
        return str(exact_id.iloc[0])
    hits = find_customers(customers, wanted, limit=50)
    if hits.empty:
        raise RecordError(f"no customer matches {text!r}; try crmbook find with fewer words")
    same_name = hits[hits["name"].map(fold) == fold(wanted)]
    if len(same_name) == 1:
        return str(same_name["id"].iloc[0])
    close = hits[hits["score"] >= hits["score"].iloc[0] - AMBIGUITY_MARGIN]
    if len(close) > 1:
        raise AmbiguousCustomer(text, close)
    return str(close["id"].iloc[0])


def _arrow(column: pd.Series) -> pa.Array:
    """The column as Arrow strings: nearly free for pandas' Arrow-backed text columns."""
    array = column.array
    if hasattr(array, "__arrow_array__") and pd.api.types.is_string_dtype(column.dtype):
        return pc.cast(array.__arrow_array__(), pa.large_string()).combine_chunks()
    values = [None if missing(v) else str(v) for v in column.astype(object)]
    return pa.array(values, type=pa.large_string())


def _fold_arrow(text: pa.Array) -> pa.Array:
    """fold() for a whole column: only the values that are not ASCII go through anyascii."""
    foreign = np.flatnonzero(pc.invert(pc.string_is_ascii(text)).to_numpy(zero_copy_only=False))
    if len(foreign):
        values = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
        values[foreign] = [anyascii(v) for v in values[foreign]]
        text = pa.array(values, type=pa.large_string())
    return pc.utf8_lower(text)
