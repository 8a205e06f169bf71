"""The owner's app (`crmbook app`): start page, header, navigation and sections, in plain
pytest. The browser test (test_browser.py) runs the same app through the real command."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest
from widget_support import OLGA, TODAY, USER, day, reopened, text

import crmbook
from crmbook.recent import demo_workbook, recent_workbooks, remember_workbook
from crmbook.widgets.customers import CustomersView
from crmbook.widgets.reminders import RemindersView
from crmbook.widgets.shell import (
    APP_FOLDER_VARIABLE,
    APP_WORKBOOK_VARIABLE,
    SECTIONS,
    owner_app,
)

pytest_plugins = ["widget_support"]  # the shop fixtures


@pytest.fixture(autouse=True)
def own_folders(tmp_path, monkeypatch):
    """The user's config and data folders of this test alone; no workbook given."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv(APP_WORKBOOK_VARIABLE, raising=False)
    monkeypatch.delenv(APP_FOLDER_VARIABLE, raising=False)


def app(location=None):
    return owner_app(location, user=USER, today=TODAY)


def test_without_a_workbook_the_start_page_offers_to_open_create_or_try(shop):
    view = app()
    assert view.body.children == (view.start,)
    assert view.nav.layout.display == "none" and "crmbook" in text(view.title.value)
    view.start.path.value = str(shop.with_name("nope.xlsx"))
    view.start.open_button.click()
    assert view.start.alert.kind == "error" and "There is no workbook" in view.start.alert.text
    assert recent_workbooks() == []

    view.start.path.value = str(shop)
    view.start.open_button.click()
    assert view.nav.value == "Today" and view.nav.layout.display is None
    assert f"crmbook · {shop.name}" in text(view.title.value)
    assert isinstance(view.body.children[0], RemindersView)
    assert recent_workbooks() == [str(shop)]


def test_the_last_workbook_opens_again_and_the_given_one_wins(shop, tmp_path):
    remember_workbook(shop)
    assert app().model.session.path == shop
    other = tmp_path / "other.xlsx"
    crmbook.create(other).close()
    view = app(other)
    assert view.model.session.path == other
    assert recent_workbooks() == [str(other), str(shop)]
    view.switch_button.click()  # the start page lists both
    assert view.body.children == (view.start,)
    assert [b.tooltip for b in view.start.recent_buttons] == [str(other), str(shop)]
    view.start.recent_buttons[1].click()
    assert view.model.session.path == shop and view.nav.value == "Today"


def test_a_workbook_that_cannot_be_read_is_said_on_the_start_page(tmp_path):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    view = app(broken)
    assert view.body.children == (view.start,)
    assert view.start.alert.kind == "error" and "broken.xlsx" in view.start.alert.text


def test_a_new_workbook_is_created_and_opened(tmp_path, monkeypatch):
    monkeypatch.setenv(APP_FOLDER_VARIABLE, str(tmp_path))  # where `crmbook app` started
    view = app()
    view.start.new_path.value = "my shop"
    view.start.create_button.click()
    created = tmp_path / "my shop.xlsx"
    assert view.start.alert.kind == "", view.start.alert.text
    assert view.model.session.path == created and view.nav.value == "Today"
    assert "Customers" in openpyxl.load_workbook(created, read_only=True).sheetnames
    view.switch_button.click()
    view.start.new_path.value = str(created)
    view.start.create_button.click()  # never over an existing one
    assert "already exists" in view.start.alert.text
    view.start.new_path.value = str(tmp_path / "no such folder" / "shop.xlsx")
    view.start.create_button.click()
    assert "There is no folder" in view.start.alert.text


def test_the_demo_is_built_in_the_users_data_folder(tmp_path):
    view = app()
    view.start.demo_button.click()
    assert view.start.alert.kind == "", view.start.alert.text
    assert demo_workbook().is_relative_to(tmp_path / "data")
    assert view.model.session.path == demo_workbook()
    assert len(reopened(demo_workbook()).customers.df) == 600


def test_every_section_shows_its_page(shop):
    view = app(shop)
    assert list(view.nav.options) == list(SECTIONS)
    for name in SECTIONS:
        page = view.show(name)
        assert view.body.children == (page,) and view.alert.kind == "", name
    assert view.show("Today") is view.sections["Today"]  # built once


def test_an_owner_adds_a_customer_and_logs_a_call_with_a_next_step(shop, known):
    view = app(shop)
    people = view.show("Customers")
    assert isinstance(people, CustomersView)
    new = people.entry.show("New customer")
    new.inputs["name"].value = "Rivka Cohen"
    new.inputs["email"].value = "rivka@example.com"
    new.save_button.click()
    assert new.alert.kind == "success", new.alert.text
    added = reopened(shop).customers.df.query("name == 'Rivka Cohen'")
    assert added["email"].tolist() == ["rivka@example.com"]

    people.selected_index = 0
    people.finder.box.value = OLGA
    people.finder.result_buttons[0].click()
    actions = {b.description: b for b in people.finder.card_actions.children}
    actions["Log an interaction"].click()
    assert people.selected_index == 1
    call = people.entry.forms["Log an interaction"]
    assert call.inputs["customer_id"].value.startswith(known.customer)
    call.inputs["channel"].value = "call"
    call.inputs["summary"].value = "Asked about Lisbon in May"
    call.inputs["next_step"].value = "Send the May prices"
    call.inputs["next_date"].value = day(0)
    call.save_button.click()
    assert call.alert.kind == "success", call.alert.text
    logged = reopened(shop).interactions.get(call.model.last_key)
    assert logged["next_step"] == "Send the May prices"
    assert logged["next_date"] == dt.datetime.combine(day(0), dt.time())

    today = view.show("Today")
    shown = " ".join(
        text(row.value if hasattr(row, "value") else row.children[0].value)
        for row in today.section_boxes["today"].children
    )
    assert "Send the May prices" in shown


def test_the_app_works_on_a_database(shop, tmp_path):
    from crmbook.sharing.migrate import copy_book

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    copy_book(crmbook.open(shop), url).book.close()
    view = app(url)
    assert view.nav.value == "Today" and "shop.db" in text(view.title.value)
    assert recent_workbooks() == [url]
    new = view.show("Customers").entry.show("New customer")
    new.inputs["name"].value = "Database Customer"
    new.save_button.click()
    assert new.alert.kind == "success", new.alert.text
    assert "Database Customer" in set(crmbook.open(url).customers.df["name"])


def test_a_section_that_fails_says_so_in_the_alert(shop, monkeypatch):
    import crmbook.widgets.shell as shell

    def broken(session):
        raise crmbook.CrmbookError("the Segments sheet has a rule crmbook cannot read")

    monkeypatch.setitem(shell.SECTIONS, "Segments", broken)
    view = app(shop)
    view.nav.value = "Segments"
    assert view.alert.kind == "error" and "cannot read" in view.alert.text
    assert "Segments" not in view.sections
    view.nav.value = "Sources"
    assert view.alert.kind == "" and view.body.children == (view.sections["Sources"],)
