"""Find customers by what a person remembers of them: part of a name, company, email or phone."""

from __future__ import annotations

import pandas as pd

SEARCHED = ("name", "company", "email", "phone")


def find_customers(customers: pd.DataFrame, text: str, limit: int = 20) -> pd.DataFrame:
    """Customers whose name, company, email or phone contains `text` (case-insensitive).

    Phone numbers match on digits alone, so "030 1234" finds "+49 30 1234567".
    """
    needle = text.strip().casefold()
    if not needle:
        return customers.iloc[0:0]
    hit = pd.Series(False, index=customers.index)
    for column in SEARCHED:
        values = customers[column].fillna("").astype(str).str.casefold()
        hit |= values.str.contains(needle, regex=False)
    digits = "".join(ch for ch in needle if ch.isdigit())
    if len(digits) >= 4:
        phone_digits = customers["phone"].fillna("").astype(str).str.replace(r"\D", "", regex=True)
        hit |= phone_digits.str.contains(digits.lstrip("0"), regex=False)
    return customers[hit].head(limit)
