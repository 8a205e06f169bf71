"""Segments, RFM, the loyalty ladder and per-customer history on the five-customer shop.

The answers are worked out by hand from tests/builders.py:shop(), today 2026-06-15:

    id  revenue purchases last purchase last contact        days  referrals  suggested
    C1  5000    4         2026-06-01    2026-06-10 10:00       5  2          promoter
    C2   300    1         2026-05-20    2026-05-20 12:00      26  0          customer
    C3     0    0         -             - (July is future)    14  0          prospect
    C4  2000    2         2024-06-01    2024-06-01 11:00     744  0          lost
    C5   100    1         2023-01-01    2026-01-10 09:30     156  0          customer

C3 was never contacted, so its days count from its creation (2026-06-01). RFM among the four
buyers (score = 1 + floor(5 * (rank - 0.5) / 4), ties share their average rank):
recency 14, 26, 744, 1261 days -> R 5, 4, 2, 1; purchases 4, 1, 2, 1 -> F 5, 2, 4, 2;
revenue 5000, 300, 2000, 100 -> M 5, 2, 4, 1; FM = round-half-up mean of F and M.
"""

import json

import openpyxl
import pandas as pd
import pytest
from builders import TODAY, customer, frames, sheet, shop, write_book
from click.testing import CliRunner

from crmbook.analytics.history import customer_history, open_follow_ups
from crmbook.analytics.segments import (
    RuleError,
    dormant,
    format_rules,
    parse_rules,
    quintiles,
    rfm,
    saved_rules,
    saved_segments,
    segment_customers,
    suggested_stages,
)
from crmbook.cli import main

C1, C2, C3, C4, C5 = (f"C-00000{i}" for i in range(1, 6))


@pytest.fixture(scope="module")
def data():
    return shop()


def ids(frame: pd.DataFrame) -> list[str]:
    return frame["id"].tolist()


# ---------------------------------------------------------------- history


def test_customer_history_adds_up_each_customer(data):
    history = customer_history(data, TODAY)
    assert history.index.tolist() == [C1, C2, C3, C4, C5]
    assert history["revenue"].tolist() == [5000.0, 300.0, 0.0, 2000.0, 100.0]
    assert history["purchases"].tolist() == [4, 1, 0, 2, 1]
    assert history["interactions"].tolist() == [2, 1, 0, 1, 1]
    assert history["first_purchase"].dt.strftime("%Y-%m-%d").fillna("-").tolist() == [
        "2025-07-01",
        "2026-05-20",
        "-",
        "2024-01-15",
        "2023-01-01",
    ]
    assert history["last_purchase"].dt.strftime("%Y-%m-%d").fillna("-").tolist() == [
        "2026-06-01",
        "2026-05-20",
        "-",
        "2024-06-01",
        "2023-01-01",
    ]
    assert history["last_contact"].dt.strftime("%Y-%m-%d %H:%M").fillna("-").tolist() == [
        "2026-06-10 10:00",
        "2026-05-20 12:00",
        "-",
        "2024-06-01 11:00",
        "2026-01-10 09:30",
    ]
    assert history["days_since_contact"].tolist() == [5, 26, 14, 744, 156]
    assert history["referrals"].tolist() == [2, 0, 0, 0, 0]


def test_open_follow_ups_are_those_no_later_interaction_took_care_of(data):
    # I-000004 asked for documents; the call of 2026-06-10 (I-000005) followed it.
    due = open_follow_ups(data["Interactions"], TODAY)
    assert ids(due) == ["I-000002", "I-000003"]
    assert due["next_step"].tolist() == ["Call back", "Send offer"]


def test_a_booked_future_meeting_does_not_close_a_follow_up():
    data = frames(
        Customers=[customer(1, "Anna")],
        Interactions=[
            {
                "id": "I-000001",
                "customer_id": C1,
                "when": "2026-06-01 10:00",
                "channel": "call",
                "next_step": "Send offer",
                "next_date": "2026-06-05",
            },
            {"id": "I-000002", "customer_id": C1, "when": "2026-06-20 10:00", "channel": "meeting"},
        ],
    )
    assert ids(open_follow_ups(data["Interactions"], TODAY)) == ["I-000001"]
    assert ids(open_follow_ups(data["Interactions"], TODAY.replace(day=21))) == []


# ---------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ("stage=loyal,promoter", [C1]),
        ("STAGE=Loyal", [C1]),
        ("city=Berlin", [C1, C3, C5]),
        ("city!=Berlin", [C2, C4]),
        ('city="New York"', [C2]),
        ("city=berlin stage!=lost", [C1, C3]),
        ("consent_email=true", [C1]),
        ("consent_email=no", [C2, C3, C4, C5]),
        ("revenue>=2000", [C1, C4]),
        ("revenue>2000", [C1]),
        ("revenue<300", [C3, C5]),
        ("purchases=1", [C2, C5]),
        ("purchases<=0", [C3]),
        ("last_purchase>=2026-01-01", [C1, C2]),
        ("last_contact<-90d", [C4, C5]),
        ("last_contact>=-4w", [C1, C2]),
        ("last_contact>=today", []),
        ("days_since_contact>=90 stage!=lost", [C4]),
        ("tags~ski", [C1]),
        ("tags=vip", [C1]),
        ("tags=ski,beach", [C1, C2]),
        ("tags!=vip", [C2, C3, C4, C5]),
        ("tags=", [C3, C4, C5]),
        ("email=", [C4]),
        ("email!=", [C1, C2, C3, C5]),
        ("email~EXAMPLE.com", [C1, C2, C3, C5]),
        ("name!~o", [C1, C4]),
        ("birthday_month=may", [C1]),
        ("birthday_month=12", [C2]),
        ("rfm_segment=Champions", [C1]),
        ('rfm_segment="At risk",lost', [C4, C5]),
        ("rfm_score>=400", [C1, C2]),
        ("suggested_stage=lost", [C4]),
        ("suggested_stage=customer stage!=customer", [C5]),
        ("referred_by=c-000001", [C2, C4]),
        ("referrals>=1", [C1]),
        ("created<2024-01-01", [C4, C5]),
        ("created<=2024-01-10", [C1, C4, C5]),
        ("interactions=0", [C3]),
        ("", [C1, C2, C3, C4, C5]),
    ],
)
def test_rules_select_exactly(data, rules, expected):
    assert ids(segment_customers(data, rules, TODAY)) == expected


def test_the_result_has_the_derived_columns_the_rules_use(data):
    found = segment_customers(data, "revenue>=2000 rfm_segment!=Lost", TODAY)
    assert found["revenue"].tolist() == [5000.0, 2000.0]
    assert found["rfm_segment"].tolist() == ["Champions", "At risk"]
    assert "purchases" not in found
    asked = segment_customers(data, "city=Hamburg", TODAY, columns=["purchases"])
    assert asked["purchases"].tolist() == [2]


def test_terms_given_one_by_one_as_on_a_command_line(data):
    assert ids(segment_customers(data, ["city=New York"], TODAY)) == [C2]
    assert ids(segment_customers(data, ["city=Berlin stage=lost", "revenue>=100"], TODAY)) == [C5]


def test_the_users_own_column_can_be_filtered():
    customers = sheet(
        "Customers",
        [customer(1, "Anna"), customer(2, "Boris"), customer(3, "Carla")],
        **{"Favourite colour": ["green", "blue", None], "Visits": [3, 10, None]},
    )
    data = frames(Customers=customers)
    assert ids(segment_customers(data, '"favourite colour=green"', TODAY)) == [C1]
    assert ids(segment_customers(data, "visits>=5", TODAY)) == [C2]


def test_rules_read_back_the_same_after_formatting():
    rules = parse_rules(["city=New York", "stage=loyal,promoter", "notes~it's"])
    text = format_rules(rules)
    assert text == "city='New York' stage=loyal,promoter notes~'it'\"'\"'s'"
    assert parse_rules(text) == rules


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("foo=1", "rule 'foo=1': unknown column 'foo'; columns are: id, name,"),
        ("city>=3", "rule 'city>=3': city holds text, which cannot be compared with >="),
        ("revenue>=lots", "rule 'revenue>=lots': 'lots' is not a number"),
        ("last_contact>=yesterday", "'yesterday' is not a date; write 2024-01-31, today"),
        ("consent_email=maybe", "consent_email is true or false, not 'maybe'"),
        ("stage", "cannot read the rule 'stage': write column, operator and value"),
        ('city="New', "cannot read the rules 'city=\"New': No closing quotation"),
        ("revenue>=", "rule 'revenue>=': a value is missing after >="),
    ],
)
def test_a_bad_rule_says_what_is_wrong(data, rules, message):
    with pytest.raises(RuleError) as caught:
        segment_customers(data, rules, TODAY)
    assert message in str(caught.value)


def test_an_unknown_column_lists_the_derived_ones_too(data):
    with pytest.raises(RuleError) as caught:
        segment_customers(data, "revenu>=1", TODAY)
    assert "revenue, purchases, first_purchase" in str(caught.value)
    assert "rfm_segment, suggested_stage" in str(caught.value)


# ---------------------------------------------------------------- RFM, ladder, dormant


def test_rfm_scores_and_segments(data):
    scores = rfm(data, TODAY)
    assert scores.index.tolist() == [C1, C2, C4, C5]
    assert scores["recency_days"].tolist() == [14, 26, 744, 1261]
    assert scores["r"].tolist() == [5, 4, 2, 1]
    assert scores["f"].tolist() == [5, 2, 4, 2]
    assert scores["m"].tolist() == [5, 2, 4, 1]
    assert scores["rfm_score"].tolist() == [555, 422, 244, 121]
    assert scores["rfm_segment"].tolist() == ["Champions", "Potential loyalist", "At risk", "Lost"]


@pytest.mark.parametrize(
    ("values", "scores"),
    [
        ([], []),
        ([7], [3]),
        ([1, 1, 1], [3, 3, 3]),
        ([1, 2], [2, 4]),
        ([5, 1, 4, 2, 3], [5, 1, 4, 2, 3]),
        (list(range(1, 11)), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]),
        ([1, 1, 1, 1, 9], [3, 3, 3, 3, 5]),
    ],
)
def test_quintiles_are_robust_to_ties_and_small_counts(values, scores):
    assert quintiles(pd.Series(values, dtype=float)).tolist() == scores


def test_a_sale_without_a_date_scores_the_lowest_recency():
    data = frames(
        Customers=[customer(1, "Anna"), customer(2, "Boris")],
        Sales=[
            {"id": "S-000001", "customer_id": C1, "date": "2026-06-01", "amount": 10},
            {"id": "S-000002", "customer_id": C2, "date": None, "amount": 10},
        ],
    )
    scores = rfm(data, TODAY)
    assert scores["recency_days"].tolist() == [14, pd.NA]
    assert scores["r"].tolist() == [4, 2]


def test_suggested_stages_follow_the_ladder(data):
    assert suggested_stages(data, TODAY).tolist() == [
        "promoter",
        "customer",
        "prospect",
        "lost",
        "customer",
    ]


def test_a_loyal_customer_without_referrals_and_a_potential_one():
    data = frames(
        Customers=[customer(1, "Anna"), customer(2, "Boris"), customer(3, "Carla")],
        Sales=[
            {"id": f"S-00000{i}", "customer_id": C1, "date": f"2026-0{i}-01", "amount": 10}
            for i in range(1, 5)
        ],
        Interactions=[
            {"id": "I-000001", "customer_id": C2, "when": "2025-01-01 10:00", "channel": "call"}
        ],
    )
    assert suggested_stages(data, TODAY).tolist() == ["loyal", "potential", "prospect"]


def test_dormant_lists_the_longest_silent_first(data):
    assert ids(dormant(data, 30, TODAY)) == [C4, C5]
    quiet = dormant(data, 20, TODAY)
    assert ids(quiet) == [C4, C5, C2]
    assert quiet["days_since_contact"].tolist() == [744, 156, 26]


# ---------------------------------------------------------------- saved segments


def test_saved_rules_are_found_by_name_in_any_case(data):
    assert saved_rules(data["Segments"], "BIG spenders ") == "revenue>=2000"
    with pytest.raises(
        RuleError, match="no saved segment called 'vip'; saved segments: 'Big spenders', 'Berlin'"
    ):
        saved_rules(data["Segments"], "vip")


def test_saved_segments_with_their_sizes_and_problems(data):
    data = {
        **data,
        "Segments": sheet(
            "Segments",
            [
                {"name": "Big spenders", "rules": "revenue>=2000"},
                {"name": "Broken", "rules": "colour=red"},
            ],
        ),
    }
    listed = saved_segments(data, TODAY)
    assert listed["name"].tolist() == ["Big spenders", "Broken"]
    assert listed["customers"].tolist() == [2, pd.NA]
    assert pd.isna(listed["problem"].iloc[0])
    assert "unknown column 'colour'" in listed["problem"].iloc[1]


# ---------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def shop_book(tmp_path_factory, data):
    return write_book(tmp_path_factory.mktemp("segments") / "shop.xlsx", data)


@pytest.fixture
def book_copy(shop_book, tmp_path):
    copy = tmp_path / "shop.xlsx"
    copy.write_bytes(shop_book.read_bytes())
    return copy


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_cli_segment_prints_the_customers_as_json(shop_book):
    result = run(
        "segment", shop_book, "city=Berlin", "stage!=lost", "--today", TODAY, "--format", "json"
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["id"] for r in rows] == [C1, C3]
    assert list(rows[0]) == ["id", "name", "email", "phone", "city", "stage"]


def test_cli_segment_with_rfm_and_a_value_with_spaces(shop_book):
    result = run(
        "segment", shop_book, "city=New York", "--rfm", "--today", TODAY, "--format", "csv"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "id,name,email,phone,city,stage,revenue,purchases,last_purchase,rfm_score,rfm_segment",
        "C-000002,Boris Ivanov,boris@example.com,,New York,customer,300.0,1,2026-05-20 00:00,"
        "422,Potential loyalist",
    ]


def test_cli_segment_table_and_its_empty_answer(shop_book):
    result = run("segment", shop_book, "revenue>=2000", "--today", TODAY)
    assert result.exit_code == 0
    assert "revenue>=2000: 2 customers" in result.stdout
    assert "Anna Schmidt" in result.stdout and "Dan Levi" in result.stdout
    nobody = run("segment", shop_book, "revenue>=1000000", "--today", TODAY)
    assert nobody.stdout == "No customer is in the segment 'revenue>=1000000'.\n"


def test_cli_segment_without_rules_lists_the_saved_ones(shop_book):
    result = run("segment", shop_book, "--today", TODAY, "--format", "json")
    listed = json.loads(result.stdout)
    assert [(s["name"], s["customers"]) for s in listed] == [("Big spenders", 2), ("Berlin", 3)]


def test_cli_segment_saves_and_reuses_a_named_segment(book_copy):
    saved = run(
        "segment",
        book_copy,
        "city=New York",
        "revenue>=100",
        "--save",
        "NY buyers",
        "--notes",
        "for the autumn letter",
        "--user",
        "olga",
        "--today",
        TODAY,
    )
    assert saved.exit_code == 0, saved.output
    assert "Saved segment 'NY buyers': city='New York' revenue>=100" in saved.stdout
    sheet_rows = list(openpyxl.load_workbook(book_copy)["Segments"].iter_rows(values_only=True))
    assert sheet_rows[-1][:3] == (
        "NY buyers",
        "city='New York' revenue>=100",
        "for the autumn letter",
    )
    again = run("segment", book_copy, "--name", "ny BUYERS", "--today", TODAY, "--format", "json")
    assert [r["id"] for r in json.loads(again.stdout)] == [C2]
    changed = run("segment", book_copy, "city=Berlin", "--save", "NY buyers", "--today", TODAY)
    assert changed.exit_code == 0
    sheet_rows = list(openpyxl.load_workbook(book_copy)["Segments"].iter_rows(values_only=True))
    assert [r[:2] for r in sheet_rows[1:]] == [
        ("Big spenders", "revenue>=2000"),
        ("Berlin", "city=Berlin"),
        ("NY buyers", "city=Berlin"),
    ]


def test_cli_segment_combines_a_saved_segment_with_more_rules(shop_book):
    result = run(
        "segment",
        shop_book,
        "--name",
        "Berlin",
        "email!=",
        "stage!=lost",
        "--today",
        TODAY,
        "--format",
        "json",
    )
    assert [r["id"] for r in json.loads(result.stdout)] == [C1, C3]


def test_cli_segment_writes_csv_and_a_workbook_of_its_own(shop_book, tmp_path):
    csv_path, xlsx_path = tmp_path / "berlin.csv", tmp_path / "berlin.xlsx"
    result = run(
        "segment",
        shop_book,
        "--name",
        "Berlin",
        "--rfm",
        "--csv",
        csv_path,
        "--xlsx",
        xlsx_path,
        "--today",
        TODAY,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    written = pd.read_csv(csv_path)
    assert written["id"].tolist() == [C1, C3, C5]
    assert list(written.columns[:3]) == ["id", "name", "kind"]
    assert written["rfm_segment"].fillna("").tolist() == ["Champions", "", "Lost"]
    workbook = openpyxl.load_workbook(xlsx_path)
    assert workbook.sheetnames == ["Berlin"]
    rows = list(workbook["Berlin"].iter_rows(values_only=True))
    assert rows[0][:3] == ("id", "name", "kind")
    assert [r[0] for r in rows[1:]] == [C1, C3, C5]
    assert rows[1][rows[0].index("revenue")] == 5000
    assert workbook["Berlin"].freeze_panes == "A2"


def test_the_segment_workbook_keeps_formula_looking_text_as_text(tmp_path):
    data = frames(Customers=[customer(1, '=HYPERLINK("http://x")', city="Berlin")])
    book = write_book(tmp_path / "shop.xlsx", data)
    out = tmp_path / "out.xlsx"
    assert run("segment", book, "city=Berlin", "--xlsx", out, "--today", TODAY).exit_code == 0
    cell = openpyxl.load_workbook(out)["city=Berlin"]["B2"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://x")', "s")


def test_cli_segment_rejects_a_bad_rule_with_exit_2(shop_book):
    result = run("segment", shop_book, "colour=red", "--today", TODAY)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: rule 'colour=red': unknown column 'colour';")


def test_cli_dormant(shop_book):
    result = run("dormant", shop_book, "--days", 30, "--today", TODAY, "--format", "json")
    rows = json.loads(result.stdout)
    assert [(r["id"], r["days_since_contact"]) for r in rows] == [(C4, 744), (C5, 156)]
