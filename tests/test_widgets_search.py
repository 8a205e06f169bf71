"""Search as you type and the customer card with its history."""

import datetime as dt

from widget_support import OLGA, text

from crmbook.widgets.forms import FormModel, FormView
from crmbook.widgets.search import SearchModel, SearchView

pytest_plugins = ["widget_support"]  # the shop fixtures


def page(session) -> SearchView:
    return SearchView(SearchModel(session))


def test_results_follow_what_is_typed_and_forgive_typos(session, known):
    view = page(session)
    view.box.value = "O"
    assert view.result_buttons == []  # one letter is not a search yet
    view.box.value = "Olga Ivnaova"  # a typo
    assert view.result_buttons, view.alert.text
    assert view.result_buttons[0].description.startswith(OLGA)
    assert "Berlin" in view.result_buttons[0].description
    assert known.customer in view.result_buttons[0].tooltip
    view.box.value = "+49 30 9876543"
    assert view.result_buttons[0].description.startswith(OLGA)


def test_nothing_found_says_so(session):
    view = page(session)
    view.box.value = "Zebediah Quoxworth"
    assert view.result_buttons == []
    assert view.alert.kind == "info" and "No customer matches" in view.alert.text


def test_a_result_opens_the_card_with_the_whole_history_newest_first(session, known):
    view = page(session)
    view.box.value = "olga@example.com"
    view.result_buttons[0].click()

    card = text(view.card.value)
    assert OLGA in card and known.customer in card
    assert "olga@example.com" in card and "stage customer" in card
    assert "Open follow-ups" in card and "Send the Lisbon offer" in card
    assert "2,400.00 from 1 purchase(s)" in card
    history = card[card.index("History") :]
    newest_first = [
        "Ask Olga for feedback",  # a task due in four days
        "Send Olga the tickets",
        "Call Olga about the hotel",
        "Lisbon city break",  # the sale five days ago
        "Asked about a Lisbon trip for two",  # the meeting ten days ago
    ]
    positions = [history.index(entry) for entry in newest_first]
    assert positions == sorted(positions)
    assert view.model.card.id == known.customer


def test_the_card_follows_a_save_made_on_another_page(session, known):
    view = page(session)
    view.box.value = OLGA
    view.result_buttons[0].click()
    form = FormView(FormModel(session, "Interactions"))
    form.inputs["customer_id"].value = known.customer
    form.inputs["when"].value = "2026-03-15 09:00"
    form.inputs["channel"].value = "call"
    form.inputs["summary"].value = "Sent the Lisbon offer by phone"
    form.save_button.click()
    assert form.alert.kind == "success", form.alert.text

    card = text(view.card.value)
    assert "Sent the Lisbon offer by phone" in card
    assert "Open follow-ups" not in card  # the call after the meeting did the next step
    assert view.model.card.last_contact == dt.datetime(2026, 3, 15, 9, 0)


def test_card_buttons_hand_the_customer_to_their_action(session, known):
    view = page(session)
    chosen = []
    view.add_action("Log an interaction", chosen.append)
    view.box.value = OLGA
    view.result_buttons[0].click()
    [button] = view.card_actions.children
    button.click()
    assert chosen == [known.customer]


def test_a_long_history_is_paged_newest_first(session, known):
    view = page(session)
    view.history_pager.page_rows = 2
    view.box.value = "olga@example.com"
    view.result_buttons[0].click()
    first = text(view.card.value)
    assert "Ask Olga for feedback" in first and "Send Olga the tickets" in first
    assert "Lisbon city break" not in first
    view.history_pager.next_button.click()
    second = text(view.card.value)
    assert "Call Olga about the hotel" in second and "Lisbon city break" in second
    assert "Ask Olga for feedback" not in second
    assert text(view.history_pager.label.value).startswith("entries 3–4 of ")
