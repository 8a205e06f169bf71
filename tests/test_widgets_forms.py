"""Entry forms, used as a person uses them: type into the widgets, press Save, then read the
workbook on disk with crmbook and with openpyxl."""

import datetime as dt

import ipywidgets as widgets
import pytest
from widget_support import OLGA, TODAY, day, excel_rows, fingerprint, open_in_excel, reopened

from crmbook.schema import SCHEMA
from crmbook.widgets.forms import ENTRY_FORMS, DataEntryView, FormModel, FormView

pytest_plugins = ["widget_support"]  # the shop fixtures

# A valid value per field type, as a person types it into the widget the form gives.
TYPED = {
    "text": "Sample",
    "longtext": "A note\nover two lines",
    "email": "sample@example.com",
    "phone": "+49 30 1234567",
    "date": dt.date(2026, 3, 1),
    "datetime": "2026-03-01 09:30",
    "money": 99.5,
    "integer": 30,
    "bool": True,
    "tags": "vip",
}


def form(session, title: str) -> FormView:
    for name, sheet, edit in ENTRY_FORMS:
        if name == title:
            return FormView(FormModel(session, sheet), title=title, edit=edit)
    raise KeyError(title)


def fill(view: FormView, **values) -> None:
    for name, value in values.items():
        view.inputs[name].value = value


def test_the_form_has_one_widget_per_field_chosen_by_its_type(session):
    view = form(session, "New customer")
    sheet = SCHEMA.sheet("Customers")
    assert list(view.inputs) == [f.name for f in sheet.fields if not f.auto]
    expected = {
        "name": widgets.Text,
        "kind": widgets.Dropdown,  # a closed list
        "owner": widgets.Combobox,  # an open list: a new owner may be typed
        "birthday": widgets.DatePicker,
        "consent_email": widgets.Checkbox,
        "contact_every_days": widgets.IntText,
        "referred_by": widgets.Combobox,  # a reference to another customer
        "notes": widgets.Textarea,
    }
    for name, kind in expected.items():
        assert type(view.inputs[name]) is kind, name
    assert list(view.inputs["stage"].options) == ["", *session.book.lists["stage"]]
    assert view.inputs["stage"].value == "prospect"  # the schema's default
    sale = form(session, "Record a sale")
    assert type(sale.inputs["amount"]) is widgets.FloatText
    assert sale.inputs["date"].value == TODAY  # a required date starts at today


def test_dropdowns_follow_the_lists_sheet_of_the_workbook(session):
    session.change(lambda book: book.set_list("stage", ["lead", "client", "fan"]))
    view = form(session, "New customer")
    assert list(view.inputs["stage"].options) == ["", "lead", "client", "fan"]


def test_a_new_customer_is_saved_to_the_workbook(session, shop):
    view = form(session, "New customer")
    fill(
        view,
        name="Анна Петрова",
        email="anna.petrova@example.com",
        phone="+49 30 5550001",
        birthday=dt.date(1990, 5, 17),
        stage="potential",
        consent_email=True,
        tags="newsletter",
    )
    view.save_button.click()

    assert view.alert.kind == "success"
    assert "Added customer C-" in view.alert.text and "Анна Петрова" in view.alert.text
    assert view.inputs["name"].value == ""  # ready for the next one
    customer_id = view.model.last_key
    record = reopened(shop).customers.get(customer_id)
    assert record["name"] == "Анна Петрова" and record["stage"] == "potential"
    assert record["consent_email"] is True or record["consent_email"] == True  # noqa: E712
    row = next(r for r in excel_rows(shop, "Customers") if r["id"] == customer_id)
    assert row["email"] == "anna.petrova@example.com"
    assert row["birthday"] == dt.datetime(1990, 5, 17)  # a real Excel date, not text
    assert row["consent_email"] is True
    log = excel_rows(shop, "Log")
    assert any(r["record"] == customer_id and r["new"] == "added" for r in log)


def test_a_bad_email_is_shown_next_to_the_field_and_nothing_is_written(session, shop):
    before = fingerprint(shop)
    view = form(session, "New customer")
    fill(view, name="Eva Novak", email="eva.example.com")
    view.save_button.click()

    assert view.alert.kind == "error"
    assert "Nothing was saved" in view.alert.text and "Email" in view.alert.text
    assert "not an email address" in view.messages["email"].value
    assert "anna@example.com" in view.messages["email"].value  # how to fix it
    assert view.messages["name"].value == ""
    assert fingerprint(shop) == before
    assert view.inputs["email"].value == "eva.example.com"  # kept, to be corrected

    fill(view, email="eva@example.com")
    view.save_button.click()
    assert view.alert.kind == "success" and view.messages["email"].value == ""


def test_a_workbook_open_in_excel_is_not_saved_and_the_page_says_why(session, shop):
    before = fingerprint(shop)
    lock = open_in_excel(shop)
    view = form(session, "New customer")
    fill(view, name="Felix Wolf", email="felix@example.com")
    view.save_button.click()

    assert view.alert.kind == "error"
    assert "open in Excel" in view.alert.text
    assert "nothing was saved" in view.alert.text
    assert "Close it in Excel" in view.alert.text
    assert fingerprint(shop) == before
    assert view.inputs["name"].value == "Felix Wolf"  # nothing lost on the page either

    lock.unlink()
    view.save_button.click()  # the same press, once Excel is closed
    assert view.alert.kind == "success"
    felix = reopened(shop).customers.df.query("name == 'Felix Wolf'")
    assert len(felix) == 1  # the refused press left nothing behind to save twice


def test_a_workbook_changed_on_disk_is_not_overwritten(session, shop):
    other = reopened(shop)
    other.customers.add(name="Added in Excel meanwhile")
    other.save()
    view = form(session, "New customer")
    fill(view, name="Gita Roy")
    view.save_button.click()

    assert view.alert.kind == "error" and "changed on disk" in view.alert.text
    names = set(reopened(shop).customers.df["name"])
    assert "Added in Excel meanwhile" in names and "Gita Roy" not in names

    view.save_button.click()  # the workbook was read again: this press saves
    names = set(reopened(shop).customers.df["name"])
    assert {"Added in Excel meanwhile", "Gita Roy"} <= names


def test_an_interaction_with_its_next_step_finds_the_customer_by_name(session, shop, known):
    view = form(session, "Log an interaction")
    view.inputs["customer_id"].value = "Olga Ivan"
    assert any(o.startswith(known.customer) for o in view.inputs["customer_id"].options)
    fill(
        view,
        customer_id=OLGA,
        when="2026-03-14 16:45",
        channel="call",
        outcome="success",
        summary="Confirmed the dates",
        next_step="Book the hotel",
        next_date=day(2),
    )
    view.save_button.click()

    assert view.alert.kind == "success", view.alert.text
    saved = reopened(shop).interactions.get(view.model.last_key)
    assert saved["customer_id"] == known.customer
    assert saved["when"] == dt.datetime(2026, 3, 14, 16, 45)
    assert saved["next_step"] == "Book the hotel" and saved["next_date"] == dt.datetime(2026, 3, 17)


def test_a_name_several_customers_share_is_questioned_next_to_the_field(session, shop):
    for name in ("Maria Weber", "Maria Webber"):
        session.change(lambda book, name=name: book.customers.add(name=name))
    before = fingerprint(shop)
    view = form(session, "Schedule a task")
    fill(view, customer_id="Maria Weber", title="Call back")
    fill(view, customer_id="Maria")
    view.save_button.click()
    assert view.alert.kind == "error"
    assert "several customers match" in view.messages["customer_id"].value
    assert fingerprint(shop) == before


def test_a_required_field_left_empty_is_marked(session, shop):
    before = fingerprint(shop)
    view = form(session, "Record a sale")
    fill(view, customer_id=OLGA)  # the amount stays 0: not filled in
    view.save_button.click()
    assert "amount is required" in view.messages["amount"].value
    assert view.messages["date"].value == ""
    assert fingerprint(shop) == before


@pytest.mark.parametrize(
    "title", [title for title, _sheet, edit in ENTRY_FORMS if not edit and title != "New customer"]
)
def test_every_form_saves_a_record_built_from_the_schema(session, shop, known, title):
    view = form(session, title)
    for field in view.model.fields:
        widget = view.inputs[field.name]
        if field.ref == "Customers":
            widget.value = known.customer
        elif field.ref:
            continue  # optional links to deals or competitors
        elif field.vocabulary:
            widget.value = view.model.choices(field)[0]
        else:
            widget.value = TYPED[field.type]
    view.save_button.click()

    assert view.alert.kind == "success", view.alert.text
    sheet = view.model.sheet.name
    record = reopened(shop).table(sheet).get(view.model.last_key)
    assert record["customer_id"] == known.customer
    row = next(r for r in excel_rows(shop, sheet) if r["id"] == view.model.last_key)
    assert row["customer_id"] == known.customer


def test_editing_a_customer_changes_only_what_was_changed(session, shop, known):
    view = form(session, "Edit customer")
    assert view.save_button.disabled
    view.picker.value = "olga ivanova"
    view.load_button.click()

    assert view.model.editing == known.customer
    assert view.inputs["email"].value == "olga@example.com"
    assert view.inputs["birthday"].value == day(2).replace(year=1986)
    assert "Editing customer" in view.alert.text
    fill(view, phone="+49 30 1111111", stage="repeat")
    view.save_button.click()

    assert view.alert.kind == "success" and "Saved the changes" in view.alert.text
    record = reopened(shop).customers.get(known.customer)
    assert record["phone"] == "+49 30 1111111" and record["stage"] == "repeat"
    assert record["email"] == "olga@example.com"
    changes = [r for r in excel_rows(shop, "Log") if r["record"] == known.customer]
    assert sorted(r["field"] for r in changes if r["field"]) == ["phone", "stage"]

    view.save_button.click()
    assert view.alert.kind == "info" and "Nothing changed" in view.alert.text


def test_the_data_entry_page_opens_a_form_with_the_customer_filled_in(session, known):
    page = DataEntryView(session)
    assert list(page.forms) == [title for title, _, _ in ENTRY_FORMS]
    task = page.show("Schedule a task", customer_id=known.customer)
    assert page.tabs.selected_index == list(page.forms).index("Schedule a task")
    assert task.inputs["customer_id"].value.startswith(f"{known.customer}  {OLGA}")
