"""The segment explorer: filters give the same customers as the segment rules they write;
segments are saved to the workbook and exported to CSV."""

import pandas as pd
from widget_support import (
    OLGA,
    TODAY,
    excel_rows,
    fingerprint,
    open_in_excel,
    reopened,
    table_rows,
    text,
)

from crmbook.analytics.segments import segment_customers
from crmbook.widgets._base import PAGE_ROWS
from crmbook.widgets.segments import SEGMENT_SHEETS, SegmentModel, SegmentView

pytest_plugins = ["widget_support"]  # the shop fixtures


def page(session) -> SegmentView:
    return SegmentView(SegmentModel(session))


def library(session, rules: str) -> pd.DataFrame:
    return segment_customers(session.frames(*SEGMENT_SHEETS), rules, TODAY)


def count(view: SegmentView) -> int:
    return int(text(view.count.value).split()[0].replace(",", ""))


def test_without_filters_every_customer_is_in(session):
    view = page(session)
    customers = len(session.book.customers.df)
    assert count(view) == customers
    assert "every customer" in text(view.rule_label.value)
    assert table_rows(view.table.html.value) == min(customers, PAGE_ROWS)


def test_filters_write_rules_and_select_what_the_rules_select(session):
    view = page(session)
    view.stages.value = ("customer", "repeat")
    view.cities.value = ("Berlin",)
    view.consent.value = "email"
    rules = "stage=customer,repeat city=Berlin consent_email=true"
    assert text(view.rule_label.value) == f"Rules: {rules}"
    expected = library(session, rules)
    assert 0 < count(view) == len(expected)
    assert set(view.model.found["id"]) == set(expected["id"])
    assert OLGA in text(view.table.html.value)


def test_revenue_and_last_contact(session, known):
    view = page(session)
    _low, high = view.revenue.value
    view.revenue.value = (2000, high)
    view.last_contact.value = "30"
    rules = "revenue>=2000 last_contact>=-30d"
    assert text(view.rule_label.value) == f"Rules: {rules}"
    assert set(view.model.found["id"]) == set(library(session, rules)["id"])
    assert known.customer in set(view.model.found["id"])
    view.last_contact.value = "quiet90"
    assert known.customer not in set(view.model.found["id"])


def test_a_bad_rule_is_explained_on_the_page(session):
    view = page(session)
    view.more.value = "colour=green"
    assert view.alert.kind == "error" and "unknown column 'colour'" in view.alert.text
    assert count(view) == 0
    view.more.value = "tags~ski"
    assert view.alert.text == "" and count(view) == len(library(session, "tags~ski"))


def test_rfm_scores_and_their_segments(session):
    view = page(session)
    view.rfm.value = True
    assert {"rfm_score", "rfm_segment"} <= set(view.model.shown.columns)
    assert "rfm segment" in text(view.table.html.value)
    summary = view.model.rfm_summary()
    buyers = view.model.found["rfm_segment"].notna().sum()
    assert summary["customers"].sum() == buyers > 0
    assert "RFM segments in this selection" in text(view.rfm_table.value)
    view.rfm.value = False
    assert view.rfm_table.value == ""


def test_a_segment_is_saved_to_the_segments_sheet(session, shop):
    view = page(session)
    view.stages.value = ("loyal", "promoter")
    view.name.value = "Loyal ones"
    view.notes.value = "for the spring letter"
    view.save_button.click()
    assert view.alert.kind == "success" and "Saved the segment 'Loyal ones'" in view.alert.text

    saved = reopened(shop).segments.df.query("name == 'Loyal ones'")
    assert saved["rules"].tolist() == ["stage=loyal,promoter"]
    view.cities.value = ("Berlin",)
    view.save_button.click()  # the same name again replaces the rules
    rows = [r for r in excel_rows(shop, "Segments") if r["name"] == "Loyal ones"]
    assert [r["rules"] for r in rows] == ["stage=loyal,promoter city=Berlin"]
    assert rows[0]["notes"] == "for the spring letter"


def test_saving_needs_a_name_and_a_closed_workbook(session, shop):
    before = fingerprint(shop)
    view = page(session)
    view.stages.value = ("loyal",)
    view.save_button.click()
    assert view.alert.kind == "error" and "name" in view.alert.text
    view.name.value = "Loyal"
    lock = open_in_excel(shop)
    view.save_button.click()
    assert view.alert.kind == "error" and "open in Excel" in view.alert.text
    assert fingerprint(shop) == before
    lock.unlink()
    view.save_button.click()
    assert view.alert.kind == "success"


def test_export_writes_the_customers_beside_the_workbook(session, shop):
    view = page(session)
    view.stages.value = ("customer",)
    view.name.value = "Customers in Berlin"
    view.export_button.click()
    path = shop.parent / "customers-in-berlin.csv"
    assert view.alert.kind == "success" and str(path) in view.alert.text
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    exported = pd.read_csv(path, encoding="utf-8-sig")
    assert len(exported) == count(view) and set(exported["stage"]) == {"customer"}
    assert OLGA in set(exported["name"])
    view.csv_path.value = "list.txt"
    view.export_button.click()
    assert view.alert.kind == "error" and ".csv" in view.alert.text


def test_a_long_segment_is_paged_and_a_new_choice_starts_on_its_first_page(session, known):
    view = page(session)
    customers = session.book.customers.df["id"].tolist()
    assert len(customers) > 2 * PAGE_ROWS
    pager = view.table.pager
    assert text(pager.label.value) == f"customers 1–{PAGE_ROWS} of {len(customers):,}"
    pager.next_button.click()
    shown = view.table.html.value
    assert customers[PAGE_ROWS] in shown and customers[PAGE_ROWS - 1] not in shown
    assert table_rows(shown) == PAGE_ROWS
    view.model.session.change(lambda book: book.customers.update(known.customer, city="Köln"))
    assert pager.page == 1  # a save elsewhere keeps the page
    view.stages.value = ("customer",)
    assert pager.page == 0
