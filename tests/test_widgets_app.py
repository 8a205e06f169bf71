"""The start page and the tabbed app over one session."""

from widget_support import OLGA, TODAY, text

from crmbook.widgets import app
from crmbook.widgets.overview import OverviewModel, OverviewView
from crmbook.widgets.session import Session

pytest_plugins = ["widget_support"]  # the shop fixtures


def test_the_app_has_every_page_and_the_card_leads_to_the_forms(session, known):
    view = app(session)
    pages = ["Overview", "Find a customer", "Enter data", "Reminders", "Segments", "Sources"]
    assert [title for title in view.pages if title in pages] == pages
    assert list(view.tabs.titles) == list(view.pages)
    finder = view.pages["Find a customer"]
    finder.box.value = OLGA
    finder.result_buttons[0].click()
    buttons = {b.description: b for b in finder.card_actions.children}
    buttons["Log an interaction"].click()
    assert view.tabs.selected_index == list(view.pages).index("Enter data")
    form = view.entry.forms["Log an interaction"]
    assert form.inputs["customer_id"].value.startswith(known.customer)
    buttons["Edit customer"].click()
    editor = view.entry.forms["Edit customer"]
    assert editor.model.editing == known.customer
    assert editor.inputs["name"].value == OLGA


def test_a_save_on_one_page_shows_on_the_others(session, known):
    view = app(session)
    board = view.pages["Reminders"]
    done, _ = board.task_buttons[known.today_task]
    done.click()
    assert board.alert.kind == "success"
    figures = view.pages["Overview"].model.figures.set_index("figure")["value"]
    tasks = session.book.tasks.df
    assert figures["open tasks"] == (tasks["status"] == "open").sum()


def test_the_overview_lists_what_is_wrong_in_a_hand_edited_workbook(hand_edited):
    view = OverviewView(OverviewModel(Session(hand_edited.path, today=TODAY)))
    assert view.alert.kind == "error"
    assert "error(s)" in view.alert.text
    issues = text(view.issues.html.value)
    assert "not an email address" in issues and "eva.example.com" in issues
    assert "customers" in text(view.figures.value)


def test_the_overview_of_a_sound_workbook(session):
    view = OverviewView(OverviewModel(session))
    assert view.alert.kind == "success" and view.issues.html.value == ""
    view.reread_button.click()
    assert view.alert.kind == "success"


def test_the_app_works_the_same_on_a_database(shop, known, tmp_path):
    """The pages save into a database like into the workbook, and a change someone else
    saved first is refused with a message that names the field."""
    import pytest

    import crmbook
    from crmbook.errors import SaveRefusedError
    from crmbook.sharing.migrate import copy_book

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    copy_book(crmbook.open(shop), url).book.close()
    session = Session(url, today=TODAY)
    view = app(session)
    board = view.pages["Reminders"]
    done, _ = board.task_buttons[known.today_task]
    done.click()
    assert board.alert.kind == "success"
    assert crmbook.open(url).tasks.get(known.today_task)["status"] == "done"
    other = crmbook.open(url, user="someone else")
    other.customers.update(known.customer, city="Tel Aviv")
    other.save()
    with pytest.raises(SaveRefusedError, match=r"city of customer .* read again"):
        session.change(lambda book: book.customers.update(known.customer, city="Eilat"))
    assert session.book.customers.get(known.customer)["city"] == "Tel Aviv"
