"""Time find, the customer card, segments, RFM and dormant on a big demo book (a script).

    .venv/bin/python benchmarks/find_segments.py [/tmp/bench/big.xlsx]

The book is loaded once (build it with `crmbook demo FILE --customers 100000` first); each
job then runs three times on the loaded frames and the median is printed. The plain pandas
substring search (case-insensitive contains over name, company, email and phone) is the
baseline the fuzzy search is measured against.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from _timing import load_frames, time_jobs

from crmbook.analytics.card import customer_card
from crmbook.analytics.find import SEARCHED, CustomerIndex, find_customers
from crmbook.analytics.segments import dormant, rfm, segment_customers

DEFAULT = Path("/tmp/bench/big.xlsx")


def substring_search(customers: pd.DataFrame, text: str) -> pd.DataFrame:
    needle = text.casefold()
    hit = pd.Series(False, index=customers.index)
    for column in SEARCHED:
        hit |= (
            customers[column]
            .astype(object)
            .fillna("")
            .str.casefold()
            .str.contains(needle, regex=False)
        )
    return customers[hit]


def main(path: Path = DEFAULT) -> int:
    if not path.exists():
        print(f"{path} is missing; build it with: crmbook demo {path} --customers 100000")
        return 2
    frames, loaded = load_frames(path)
    today = frames["Customers"]["created"].max().date()  # the day the demo was built
    customers = frames["Customers"]
    index = CustomerIndex(customers)
    someone = customers["id"].iloc[len(customers) // 2]
    jobs = {
        "plain substring search": lambda: substring_search(customers, "ivanov"),
        "find: build index + query": lambda: find_customers(customers, "Ivanov S. V."),
        "find: query on an index": lambda: index.find("Ivanov S. V."),
        "find: typo query": lambda: index.find("Shmidt Ana"),
        "find: phone query": lambda: index.find("030 1234567"),
        "customer card": lambda: customer_card(frames, someone, today),
        "segment: typed columns": lambda: segment_customers(
            frames, "stage=loyal,promoter consent_email=true city=Berlin", today
        ),
        "segment: history columns": lambda: segment_customers(
            frames, "days_since_contact>=90 stage!=lost revenue>=1000", today
        ),
        "segment: rfm_segment": lambda: segment_customers(frames, "rfm_segment=Champions", today),
        "rfm": lambda: rfm(frames, today),
        "dormant (90 days)": lambda: dormant(frames, 90, today),
    }
    return time_jobs(path, frames, loaded, today, jobs)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT))
