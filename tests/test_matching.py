"""The matcher finds what comparing every customer with every other finds, without doing that.

The exhaustive comparisons crmbook used before blocking (every pair for dedupe, every existing
customer for each imported record) live on here as the oracles, and the matcher must agree with
them on the demo business and on nasty hand-made duplicates.
"""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from crmbook.analytics.find import CustomerIndex, fold, phone_digits, phone_digits_column
from crmbook.analytics.matching import (
    CITY_ONLY,
    MIN_SCORE,
    MORE_EVIDENCE,
    NAME_ONLY,
    SAME_COMPANY,
    SIMILAR_COMPANY,
    SIMILAR_NAME,
    CustomerMatcher,
)
from crmbook.demo import generate_demo
from crmbook.values import missing

TODAY = dt.date(2026, 6, 15)


# ---------------------------------------------------------------- the oracles


def exhaustive_pairs(customers: pd.DataFrame, min_score: float = MIN_SCORE) -> pd.DataFrame:
    """crmbook's dedupe before blocking: every customer's name searched among all others."""
    frame = customers.reset_index(drop=True)
    found: dict[tuple[int, int], tuple[float, list[str]]] = {}

    def note(i: int, j: int, score: float, reason: str) -> None:
        pair = (min(i, j), max(i, j))
        best, reasons = found.get(pair, (0.0, []))
        if best:
            score = min(100.0, max(best, score) + MORE_EVIDENCE)
        found[pair] = (max(best, score), [*reasons, reason])

    def same_city(i: int, j: int) -> bool:
        a, b = frame.at[i, "city"], frame.at[j, "city"]
        return not missing(a) and not missing(b) and fold(a).strip() == fold(b).strip()

    emails = frame["email"].map(lambda e: e.strip().lower() if isinstance(e, str) else None)
    phones = phone_digits_column(frame["phone"]).where(frame["phone"].notna(), "")
    for values, reason, score in ((emails, "same email", 100), (phones, "same phone", 95)):
        for members in values[values.notna() & (values != "")].groupby(values).groups.values():
            members = list(members)
            for a in range(len(members)):
                for b in range(a + 1, len(members)):
                    note(members[a], members[b], score, reason)
    index = CustomerIndex(frame)
    scores = {}
    for i, name in enumerate(frame["name"]):
        if missing(name):
            continue
        row = index.scores(str(name))
        for j in np.flatnonzero(row >= min_score + CITY_ONLY - MORE_EVIDENCE):
            if j != i:
                scores[(i, int(j))] = float(row[j])
    for (i, j), forward in scores.items():
        if i > j or (j, i) not in scores:
            continue
        a, b = frame.at[i, "company"], frame.at[j, "company"]
        similar = min(forward, scores[(j, i)])
        if not missing(a) and not missing(b):
            if fuzz.ratio(fold(a).strip(), fold(b).strip()) < SAME_COMPANY:
                continue
            note(i, j, similar, "similar name and company")
        elif same_city(i, j):
            note(i, j, similar - CITY_ONLY, "similar name, same city")
        else:
            note(i, j, similar - NAME_ONLY, "similar name")
    rows = [
        {
            "score": round(score),
            "a": frame.at[i, "id"],
            "a_name": frame.at[i, "name"],
            "b": frame.at[j, "id"],
            "b_name": frame.at[j, "name"],
            "reasons": ", ".join(dict.fromkeys(reasons)),
        }
        for (i, j), (score, reasons) in found.items()
        if score >= min_score
    ]
    columns = ["score", "a", "a_name", "b", "b_name", "reasons"]
    return (
        pd.DataFrame(rows, columns=columns)
        .sort_values(["score", "a", "b"], ascending=[False, True, True])
        .reset_index(drop=True)
    )


def exhaustive_match(records: pd.DataFrame, customers: pd.DataFrame) -> pd.Series:
    """crmbook's import matching before blocking: each record against every customer."""

    def first(values, ids, normal):
        out = {}
        for value, cid in zip(values, ids, strict=True):
            if isinstance(value, str) and normal(value):
                out.setdefault(normal(value), cid)
        return out

    emails = first(customers["email"], customers["id"], lambda e: e.strip().lower())
    phones = first(customers["phone"], customers["id"], phone_digits)
    names = [
        (fold(n), fold(c).strip() if isinstance(c, str) else "", i)
        for n, c, i in zip(customers["name"], customers["company"], customers["id"], strict=True)
        if not missing(n)
    ]
    out = []
    for _, r in records.iterrows():
        found = None
        if isinstance(r.get("email"), str):
            found = emails.get(r["email"].strip().lower())
        if found is None and isinstance(r.get("phone"), str):
            found = phones.get(phone_digits(r["phone"]))
        if found is None and not missing(r.get("name")):  # a blank name matches nobody
            name = fold(r["name"])
            company = fold(r.get("company")).strip() if isinstance(r.get("company"), str) else ""
            for other, other_company, cid in names:
                if fuzz.token_sort_ratio(name, other) >= SIMILAR_NAME and (
                    not company
                    or not other_company
                    or fuzz.ratio(company, other_company) >= SIMILAR_COMPANY
                ):
                    found = cid
                    break
        out.append(found)
    return pd.Series(out, index=records.index, dtype=object)


# ---------------------------------------------------------------- the data


@pytest.fixture(scope="module")
def demo_customers() -> pd.DataFrame:
    return generate_demo(600, today=TODAY).frames["Customers"]


def _customer(number: int, name: str, **fields) -> dict:
    return {"id": f"C-{number:06d}", "name": name, **fields}


NASTY = pd.DataFrame(
    [
        _customer(1, "Иванов Сергей Викторович", phone="+7 495 5870802", city="Москва"),
        _customer(2, "Ivanov Sergey V.", phone="+7 (495) 587-08-02", city="Moskva"),
        _customer(3, "Sergey Ivanov", city="Moskva"),
        _customer(4, "Anna Schmidt", email="ANNA@example.com ", company="Kranich GmbH"),
        _customer(5, "A. Schmidt", email="anna@example.com", company="Kranich Gmbh"),
        _customer(6, "Anna Schmit", company="Kranich GmbH"),
        _customer(7, "Anna Schmidt", company="Orion AG"),
        _customer(8, "דנה כהן", city="תל אביב", email="dana@example.co.il"),
        _customer(9, "Dana Cohen", city="Tel Aviv", email="dana@example.co.il"),
        _customer(10, '=HYPERLINK("http://evil","Dana")', city="Tel Aviv"),
        _customer(11, "Zoë Ørsted", city="København"),
        _customer(12, "Zoe Orsted", city="Kobenhavn"),
        _customer(13, "Jürgen Müller-Lüdenscheidt", city="Köln"),
        _customer(14, "Juergen Mueller-Luedenscheidt", city="Koeln"),
        _customer(15, "Jürgen Müller Lüdenscheidt", city="Köln"),
        _customer(16, "   ", email="nobody@example.com"),
        _customer(17, None, email="nobody@example.com"),
        _customer(18, "Alexandrova Ekaterina", city="Berlin"),
        _customer(19, "Aleksandrova Jekaterina", city="Berlin"),
        _customer(20, "O'Brien Mary-Kate", city="Dublin"),
        _customer(21, "Mary Kate OBrien", city="Dublin"),
        _customer(22, "Mia 🙂 Novak", city="Praha"),
        _customer(23, "Mia Novak", city="Praha"),
    ]
).reindex(columns=["id", "name", "company", "email", "phone", "city"])


def _nasty_in(demo: pd.DataFrame) -> pd.DataFrame:
    ids = [f"C-9{n:05d}" for n in range(len(NASTY))]
    return pd.concat([demo, NASTY.assign(id=ids)], ignore_index=True)


# ---------------------------------------------------------------- dedupe


def test_the_demo_gives_the_pairs_of_the_exhaustive_comparison(demo_customers):
    found = CustomerMatcher(demo_customers).duplicate_pairs()
    expected = exhaustive_pairs(demo_customers)
    assert len(expected) > 5  # the comparison means something
    pd.testing.assert_frame_equal(found, expected, check_dtype=False)


@pytest.mark.parametrize("min_score", [75, 85, 95])
def test_nasty_duplicates_among_the_demo_give_the_same_pairs(demo_customers, min_score):
    customers = _nasty_in(demo_customers)
    found = CustomerMatcher(customers).duplicate_pairs(min_score)
    expected = exhaustive_pairs(customers, min_score)
    pd.testing.assert_frame_equal(found, expected, check_dtype=False)


def test_what_the_nasty_ones_are_found_as():
    pairs = CustomerMatcher(NASTY).duplicate_pairs()
    found = {(r.a, r.b): r.reasons for r in pairs.itertuples()}
    assert found[("C-000001", "C-000002")] == "same phone, similar name, same city"
    assert found[("C-000004", "C-000005")] == "same email, similar name and company"
    assert "similar name and company" in found[("C-000004", "C-000006")]
    assert ("C-000004", "C-000007") not in found  # another company: a namesake
    assert found[("C-000008", "C-000009")].startswith("same email")
    assert found[("C-000011", "C-000012")] == "similar name, same city"
    assert ("C-000016", "C-000017") in found  # nameless, but the same email


def test_no_customers_no_pairs():
    empty = NASTY.iloc[0:0]
    assert CustomerMatcher(empty).duplicate_pairs().empty
    assert CustomerMatcher(empty).existing(NASTY).isna().all()


# ---------------------------------------------------------------- import


def _as_imported(customers: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The customers as another tool exports them: some retyped, some new, fields dropped."""
    rng = random.Random(seed)
    rows = []
    for record in customers.sample(frac=0.3, random_state=seed).to_dict("records"):
        change = rng.choice(["email case", "no email", "typo", "order", "new", "company"])
        if change == "email case" and isinstance(record["email"], str):
            record["email"] = " " + record["email"].upper()
        elif change in ("no email", "typo", "order", "company"):
            record["email"] = None
            record["phone"] = None if rng.random() < 0.5 else record["phone"]
            name = str(record["name"])
            if change == "typo" and len(name) > 6:
                at = rng.randrange(1, len(name) - 1)
                name = name[:at] + name[at + 1] + name[at] + name[at + 2 :]
            if change == "order":
                name = " ".join(reversed(name.split()))
            if change == "company":
                record["company"] = "Completely Different Holding"
            record["name"] = name
        else:
            record.update(name=f"Newcomer {rng.randrange(10**6)}", email=None, phone=None)
        rows.append(record)
    return pd.DataFrame(rows).drop(columns=["id"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_import_matches_what_comparing_with_every_customer_matches(demo_customers, seed):
    customers = _nasty_in(demo_customers)
    records = pd.concat([_as_imported(customers, seed), NASTY.drop(columns=["id"])])
    found = CustomerMatcher(customers).existing(records)
    expected = exhaustive_match(records, customers)
    assert found.notna().sum() > 50 and found.isna().sum() > 10
    pd.testing.assert_series_equal(found, expected)


def test_import_records_without_email_phone_or_company_columns(demo_customers):
    records = pd.DataFrame({"name": [demo_customers["name"].iloc[3], "Nobody Known Here"]})
    found = CustomerMatcher(demo_customers).existing(records)
    assert found.iloc[1] is None
    assert found.iloc[0] == exhaustive_match(records, demo_customers).iloc[0]


# ---------------------------------------------------------------- random small books

_NAME_PARTS = [
    "Anna", "Ana", "Anne", "Schmidt", "Schmitt", "Schmid", "Müller", "Mueller", "Muller",
    "Иванов", "Иванова", "Ivanov", "Сергей", "Sergey", "Sergei", "С.", "דנה", "כהן", "Dana",
    "Cohen", "Kohen", "Zoë", "Zoe", "Ørsted", "O'Brien", "OBrien", "Mary-Kate", "J.", "🙂",
    "=A1", "Ali", "ALİ",
]  # fmt: skip
_SPACES = st.sampled_from([" ", "  ", "\t", "\u00a0", " \n"])
_NAMES = st.one_of(
    st.none(),
    st.sampled_from(["", "   ", "\u200b", "!!!"]),
    st.builds(
        lambda parts, gaps, case: case(
            "".join(p + g for p, g in zip(parts, gaps[: len(parts)], strict=True))
        ),
        st.lists(st.sampled_from(_NAME_PARTS), min_size=1, max_size=3),
        st.lists(_SPACES, min_size=3, max_size=3),
        st.sampled_from([str, str.upper, str.lower, str.title]),
    ),
    st.text(alphabet="anñsчдשּׁ .-", max_size=8),
)
_COMPANIES = st.sampled_from(
    [None, "", "  ", "Kranich GmbH", " kranich gmbh", "Kranich AG", "Орион", "Orion ", "ORION"]
)
_AROUND = st.sampled_from(["", " ", "\t", "\n", "\u00a0", "  \r\n"])
_EMAILS = st.one_of(
    st.sampled_from([None, "", "  "]),
    st.builds(
        lambda before, address, case, after: before + case(address) + after,
        _AROUND,
        st.sampled_from(
            ["anna@example.com", "dana@example.co.il", "sergey@почта.рф", "ali@örnek.com.tr"]
        ),
        st.sampled_from([str, str.upper, str.lower, str.title, str.swapcase]),
        _AROUND,
    ),
)
_PHONES = st.sampled_from(
    [
        None, "", "  ", "n/a", "12", "+49 30 1234567", "0049 30 1234567", "+49 (0)30 1234567",
        "030 1234567", "+49-30-123 45 67", "+7 (495) 587-08-02", "8 495 587 08 02",
        "+7 495 5870802", "+972 3-555-1234", "03-555-1234", "+1 212 555 0100",
        "(212) 555-0100", "+44 20 7946 0958", "0 20 7946 0958", " +49 30 1234567 ",
    ]
)  # fmt: skip
_PEOPLE = st.fixed_dictionaries(
    {"name": _NAMES, "company": _COMPANIES, "email": _EMAILS, "phone": _PHONES}
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_PEOPLE, max_size=8),
    st.lists(_PEOPLE, max_size=8),
    st.sampled_from(["str", object]),
)
def test_import_matches_the_per_record_comparison_on_random_small_books(customers, records, text):
    """Random names in three alphabets, phones written every way, emails in any case with
    blanks around: the indexed matcher finds what comparing each record with every customer
    finds."""
    book = pd.DataFrame(customers, columns=["name", "company", "email", "phone"])
    book.insert(0, "id", [f"C-{n:06d}" for n in range(1, len(book) + 1)])
    book["city"] = None
    book = book.astype(text)  # as the book types text columns, and as a plain frame holds it
    incoming = pd.DataFrame(records, columns=["name", "company", "email", "phone"], dtype=object)
    found = CustomerMatcher(book).existing(incoming)
    pd.testing.assert_series_equal(found, exhaustive_match(incoming, book))
