"""The customer card on the five-customer shop of tests/builders.py (today 2026-06-15)."""

import json

import pandas as pd
import pytest
from builders import TODAY, shop, write_book
from click.testing import CliRunner

from crmbook.analytics.card import customer_card, plain, timeline
from crmbook.cli import main
from crmbook.errors import RecordError


@pytest.fixture(scope="module")
def data():
    return shop()


def test_the_card_of_a_loyal_customer_who_referred_two(data):
    card = customer_card(data, "C-000001", TODAY)
    assert (card.id, card.name, card.stage, card.suggested_stage) == (
        "C-000001",
        "Anna Schmidt",
        "loyal",
        "promoter",
    )
    assert (card.revenue, card.purchases, card.referrals) == (5000.0, 4, 2)
    assert card.last_contact == pd.Timestamp("2026-06-10 10:00")
    assert card.days_since_contact == 5
    assert card.customer["city"] == "Berlin"
    assert card.contacts["name"].tolist() == ["Lena Weber"]
    # The follow-up of 2026-06-01 was done by the call of 2026-06-10.
    assert card.follow_ups.empty


def test_the_timeline_merges_every_sheet_in_time_order(data):
    card = customer_card(data, "C-000001", TODAY)
    line = card.timeline
    assert list(line.columns) == ["when", "kind", "id", "what", "status", "amount", "owner", "next"]
    assert list(
        zip(line["when"].dt.strftime("%Y-%m-%d %H:%M"), line["kind"], line["id"], strict=True)
    ) == [
        ("2025-07-01 00:00", "sale", "S-000001"),
        ("2025-12-01 00:00", "sale", "S-000002"),
        ("2026-03-01 00:00", "sale", "S-000003"),
        ("2026-05-01 00:00", "deal", "D-000001"),
        ("2026-06-01 00:00", "sale", "S-000004"),
        ("2026-06-01 09:00", "interaction", "I-000004"),
        ("2026-06-10 10:00", "interaction", "I-000005"),
        ("2026-06-20 00:00", "task", "T-000001"),
    ]
    rows = {r["id"]: r for r in line.to_dict("records")}
    assert rows["S-000002"]["what"] == "Ski week, promo WELCOME10"
    assert rows["S-000002"]["amount"] == 2000.0
    assert (rows["D-000001"]["status"], rows["D-000001"]["next"]) == ("won", "closed 2026-06-01")
    assert rows["I-000004"]["what"] == "visit, sale: Booked the ski week"
    assert rows["I-000004"]["next"] == "Send documents by 2026-06-05"
    assert (rows["T-000001"]["what"], rows["T-000001"]["status"]) == ("Call about the trip", "open")
    assert rows["I-000005"]["next"] is None


def test_an_open_follow_up_and_a_lost_deal(data):
    card = customer_card(data, "C-000002", TODAY)
    assert card.follow_ups.to_dict("records") == [
        {
            "next_date": pd.Timestamp("2026-06-01"),
            "next_step": "Send offer",
            "asked": pd.Timestamp("2026-05-20 12:00"),
            "id": "I-000003",
            "owner": "Tom",
            "overdue": True,
        }
    ]
    deal = card.timeline[card.timeline["kind"] == "deal"].iloc[0]
    assert (deal["what"], deal["status"], deal["amount"]) == (
        "Cruise",
        "lost: price, to TravelNow",
        4000,
    )


def test_a_prospect_with_only_a_booked_meeting(data):
    card = customer_card(data, "C-000003", TODAY)
    assert (card.suggested_stage, card.last_contact, card.days_since_contact) == (
        "prospect",
        None,
        14,
    )
    assert card.timeline["id"].tolist() == ["I-000006"]
    assert card.revenue == 0 and card.purchases == 0


def test_an_unknown_id_is_a_record_error(data):
    with pytest.raises(RecordError, match="no customer with id 'C-000404'"):
        customer_card(data, "C-000404", TODAY)


def test_the_card_as_json_ready_values(data):
    card = customer_card(data, "C-000002", TODAY).to_dict()
    assert json.loads(json.dumps(card)) == card
    assert card["customer"]["birthday"] == "1985-12-24"
    assert card["customer"]["created"] == "2025-01-01T12:00:00"
    assert card["customer"]["company"] is None
    assert card["last_contact"] == "2026-05-20T12:00:00"
    assert [e["id"] for e in card["timeline"]] == ["D-000002", "S-000005", "I-000003"]
    assert card["follow_ups"][0]["next_date"] == "2026-06-01"


def test_an_empty_history_gives_an_empty_timeline(data):
    empty = {name: data[name].iloc[0:0] for name in ("Interactions", "Deals", "Sales", "Tasks")}
    line = timeline(empty)
    assert line.empty and list(line.columns)[:3] == ["when", "kind", "id"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (pd.NaT, None),
        (float("nan"), None),
        (pd.Timestamp("2026-01-02"), "2026-01-02"),
        (pd.Timestamp("2026-01-02 10:30"), "2026-01-02T10:30:00"),
        (pd.NA, None),
        ("x", "x"),
    ],
)
def test_plain_values(value, expected):
    assert plain(value) == expected


# ---------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def shop_book(tmp_path_factory, data):
    return write_book(tmp_path_factory.mktemp("card") / "shop.xlsx", data)


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_cli_card_by_name_as_a_readable_card(shop_book):
    result = run("card", shop_book, "anna schmit", "--today", TODAY)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Anna Schmidt (C-000001)" in out
    assert "stage: loyal   suggested by the history: promoter" in out
    assert "last contact: 2026-06-10 10:00 (5 days ago)   revenue: 5,000   purchases: 4" in out
    assert "Lena Weber" in out and "Open follow-ups: none" in out
    assert out.index("S-000001") < out.index("D-000001") < out.index("T-000001")


def test_cli_card_as_json_and_csv(shop_book):
    as_json = json.loads(
        run("card", shop_book, "C-000002", "--today", TODAY, "--format", "json").stdout
    )
    assert as_json["suggested_stage"] == "customer"
    assert [f["next_step"] for f in as_json["follow_ups"]] == ["Send offer"]
    as_csv = run("card", shop_book, "C-000002", "--today", TODAY, "--format", "csv").stdout
    assert as_csv.splitlines()[0] == "when,kind,id,what,status,amount,owner,next"
    assert [line.split(",")[2] for line in as_csv.splitlines()[1:]] == [
        "D-000002",
        "S-000005",
        "I-000003",
    ]


def test_cli_card_lists_the_candidates_of_an_ambiguous_name(tmp_path, data):
    customers = pd.concat(
        [data["Customers"], data["Customers"].iloc[[0]].assign(id="C-000006")], ignore_index=True
    )
    book = write_book(tmp_path / "twins.xlsx", {**data, "Customers": customers})
    result = run("card", book, "Anna Schmidt", "--format", "csv")
    assert result.exit_code == 1
    assert result.stderr == "error: 2 customers match 'Anna Schmidt'; give one of their ids\n"
    assert [line.split(",")[1] for line in result.stdout.splitlines()[1:]] == [
        "C-000001",
        "C-000006",
    ]


def test_cli_card_of_nobody(shop_book):
    result = run("card", shop_book, "Nobody Known")
    assert result.exit_code == 1
    assert "no customer matches 'Nobody Known'" in result.stderr
