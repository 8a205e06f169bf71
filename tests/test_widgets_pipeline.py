"""The pipeline board: columns from the Lists sheet, moves saved at once, the forecast."""

import datetime as dt

import openpyxl
from widget_support import TODAY, excel_rows, fingerprint, open_in_excel, reopened, text

from crmbook.analytics.pipeline import forecast
from crmbook.schema import SCHEMA
from crmbook.widgets import pipeline_board
from crmbook.widgets.pipeline import PipelineModel, PipelineView

pytest_plugins = ["widget_support"]  # the shop fixtures

PNG = b"\x89PNG\r\n\x1a\n"
MIDNIGHT = dt.datetime.combine(TODAY, dt.time())


def page(session, **choices) -> PipelineView:
    return PipelineView(PipelineModel(session, **choices))


def deal_row(path, deal_id) -> dict:
    """The deal as openpyxl reads the file: an independent reader."""
    return next(r for r in excel_rows(path, "Deals") if r["id"] == deal_id)


def first_card(view, stage):
    return view.cards[view.model.column(stage)["id"].iloc[0]]


def test_one_column_per_stage_and_cards_that_say_what_the_deal_is(session):
    view = pipeline_board(session)
    assert list(view.columns) == list(SCHEMA.vocabulary("deal_stage").values)
    deals = session.book.deals.df
    for stage, column in view.columns.items():
        count = int((deals["stage"] == stage).sum())
        assert f"{count:,} deal" in text(column.title.value), stage
    card = first_card(view, "proposal")
    deal = session.book.deals.get(card.deal_id)
    customer = session.book.customers.get(deal["customer_id"])["name"]
    shown = text(card.text.value)
    assert customer in shown and deal["title"] in shown
    assert f"{deal['amount']:,.0f}" in shown
    assert f"close {deal['expected_close']:%Y-%m-%d}" in shown
    assert f"{(MIDNIGHT - deal['opened']).days} d old" in shown


def test_a_column_shows_its_top_cards_and_how_many_more(session):
    view = page(session, per_column=3)
    amounts = view.model.column("won")
    assert len(amounts) == 3
    won = view.columns["won"]
    left = view.model.total("won")[0] - 3
    assert left > 0 and won.more.description == f"Show more ({left:,} left)"
    assert len(view.cards) <= 3 * len(view.columns)
    open_amounts = view.model.column("proposal")["amount"].tolist()
    assert open_amounts == sorted(open_amounts, reverse=True)
    won.more.click()
    assert len(won.cards.children) == 6
    view.order.value = "expected_close"
    soonest = view.model.column("proposal")["expected_close"].tolist()
    assert soonest == sorted(soonest)


def test_forward_moves_the_deal_one_stage_and_saves_it(session, shop):
    view = page(session)
    card = first_card(view, "qualified")
    deal_id = card.deal_id
    card.forward.click()

    assert view.alert.kind == "success" and deal_id in view.alert.text
    moved = view.model.cards.set_index("id").loc[deal_id]
    assert moved["stage"] == "proposal"
    assert deal_row(shop, deal_id)["stage"] == "proposal"
    log = [r for r in excel_rows(shop, "Log") if r["record"] == deal_id]
    assert [(r["field"], r["old"], r["new"]) for r in log] == [("stage", "qualified", "proposal")]
    assert reopened(shop).deals.get(deal_id)["stage"] == "proposal"


def test_back_and_the_ends_of_the_pipeline(session, shop):
    view = page(session)
    first = first_card(view, "new")
    assert first.back.disabled and not first.forward.disabled
    last = first_card(view, "negotiation")
    assert last.forward.disabled and not last.back.disabled
    deal_id = last.deal_id
    last.back.click()
    assert deal_row(shop, deal_id)["stage"] == "proposal"


def test_won_closes_the_deal_today_and_changes_the_forecast(session, shop):
    view = page(session)
    card = first_card(view, "negotiation")
    deal_id = card.deal_id
    before = view.model.forecast["expected"].sum()
    card.won.click()

    row = deal_row(shop, deal_id)
    assert row["stage"] == "won" and row["closed"] == MIDNIGHT
    assert view.model.forecast["expected"].sum() < before
    assert bytes(view.forecast_image.value).startswith(PNG)
    assert deal_id in [c.deal_id for c in view.columns["won"].cards.children]
    reopen = view.cards[deal_id].back
    assert reopen.icon == "undo" and reopen.tooltip == "reopen: back to negotiation"
    reopen.click()
    row = deal_row(shop, deal_id)
    assert row["stage"] == "negotiation" and row["closed"] is None


def test_lost_asks_why_and_to_whom(session, shop):
    view = page(session)
    card = first_card(view, "proposal")
    deal_id = card.deal_id
    before = fingerprint(shop)
    card.lost.click()
    assert view.lost_form.layout.display is None and deal_id in text(view.lost_title.value)
    assert "price" in view.lost_reason.options
    competitors = set(session.book.table("Competitors").df["name"])
    assert set(view.lost_competitor.options[1:]) == {(c, c) for c in competitors}

    view.lost_confirm.click()  # no reason given
    assert view.alert.kind == "error" and "why" in view.alert.text
    assert fingerprint(shop) == before

    view.lost_reason.value = "went with a cheaper offer"  # typed: the list is open
    view.lost_competitor.value = "TravelNow Online"
    view.lost_confirm.click()
    assert view.alert.kind == "success"
    assert view.lost_form.layout.display == "none"
    row = deal_row(shop, deal_id)
    assert row["stage"] == "lost" and row["closed"] == MIDNIGHT
    assert row["lost_reason"] == "went with a cheaper offer"
    assert row["competitor"] == "TravelNow Online"


def test_one_owner_and_their_forecast(session):
    view = page(session)
    view.owner.value = "Maria Rossi"
    cards = view.model.cards
    assert len(cards) and set(cards["owner"]) == {"Maria Rossi"}
    deals = session.book.deals.df
    assert deals["owner"].notna().all()  # else the customer's owner would count
    theirs = deals[deals["owner"] == "Maria Rossi"]
    assert view.model.forecast.equals(forecast(theirs, TODAY))
    assert sum(view.model.total(s)[0] for s in view.columns) == len(theirs)
    assert f"{(theirs['stage'] == 'won').sum():,} deal" in text(view.columns["won"].title.value)
    view.owner.value = ""
    assert sum(view.model.total(s)[0] for s in view.columns) == len(deals)


def test_a_refused_save_changes_nothing_and_says_why(session, shop):
    view = page(session)
    card = first_card(view, "new")
    before = fingerprint(shop)
    open_in_excel(shop)
    card.forward.click()
    assert view.alert.kind == "error" and "open in Excel" in view.alert.text
    assert fingerprint(shop) == before
    assert session.book.deals.get(card.deal_id)["stage"] == "new"


def test_the_probabilities_come_from_the_lists_sheet(session, shop):
    view = page(session)
    assert "50%" in text(view.columns["proposal"].title.value)
    wb = openpyxl.load_workbook(shop)
    lists = wb["Lists"]
    header = [c.value for c in lists[1]]
    for row in lists.iter_rows(min_row=2):
        if row[header.index("deal_stage")].value == "proposal":
            row[header.index("probability")].value = 0.9  # the owner's own, typed in Excel
    wb.save(shop)
    session.reload()
    assert "90%" in text(view.columns["proposal"].title.value)
    deals = session.book.deals.df
    assert view.model.forecast.equals(forecast(deals, TODAY, {"proposal": 0.9}))
