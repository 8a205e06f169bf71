"""The mailing page: preview first, then send once; errors on the page, never a traceback."""

import pytest
from mailing_support import TODAY, consenting
from widget_support import text

from crmbook.widgets.mailing import MailingModel, MailingView
from crmbook.widgets.session import Session

pytest_plugins = ["mailing_support"]  # the mail_shop, smtp_server and mail_env fixtures

pytestmark = pytest.mark.usefixtures("mail_env")


@pytest.fixture
def page(mail_shop) -> MailingView:
    return MailingView(MailingModel(Session(mail_shop, user="tester", today=TODAY)))


def test_preview_then_send_reaches_the_consenting_customers_once(page, mail_shop, smtp_server):
    page.template.value = "Привет"
    page.rules.value = "stage=loyal"
    assert page.via.value == "smtp" and page.send_button.disabled
    page.preview_button.click()
    expected = consenting(mail_shop, ("loyal",))
    assert page.alert.kind == "", page.alert.text
    assert f"{len(expected)} message(s) to send" in text(page.summary.value)
    assert "Zoë Ørsted-Ådahl" in text(page.skipped_table.html.value)
    page.recipient.value = next(
        v for label, v in page.recipient.options if "sergey@example.ru" in label
    )
    assert "Subject: Привет, Сергей! שלום, café ☕" in text(page.message.value)
    assert smtp_server.received == []
    assert not page.send_button.disabled
    assert page.send_button.description == f"Send {len(expected)}"

    page.send_button.click()
    assert page.alert.kind == "success", page.alert.text
    assert page.alert.text == (f"Sent {len(expected)}; {len(expected)} interaction(s) logged.")
    assert smtp_server.counts() == {e: 1 for e in expected["email"]}
    assert page.send_button.disabled  # sent: preview again to send more
    interactions = page.model.session.frames("Interactions")["Interactions"]
    assert interactions["summary"].str.startswith("Привет: email", na=False).sum() == len(expected)

    page.preview_button.click()
    assert "0 message(s) to send" in text(page.summary.value)
    assert f"{len(expected)} sent before" in text(page.summary.value)
    assert page.send_button.disabled


def test_changing_a_choice_needs_a_new_preview(page):
    page.template.value = "Newsletter"
    page.segment.value = "Loyal with email consent"
    page.via.value = "eml"
    page.preview_button.click()
    assert not page.send_button.disabled
    page.rules.value = "city=Berlin"
    assert page.send_button.disabled and page.model.run is None
    page.template.value = "Appointment reminder"
    assert [v for _, v in page.via.options] == ["sms-csv", "http"]
    assert page.via.value == "sms-csv"


def test_eml_files_into_a_folder(page, tmp_path):
    page.template.value = "Newsletter"
    page.segment.value = "Loyal with email consent"
    page.via.value = "eml"
    page.out.value = str(tmp_path / "out")
    page.preview_button.click()
    page.send_button.click()
    assert page.alert.kind == "success", page.alert.text
    files = list((tmp_path / "out").glob("*.eml"))
    assert files and f"Sent {len(files)};" in page.alert.text


def test_errors_land_on_the_page(page, mail_shop, monkeypatch):
    page.template.value = "Newsletter"
    page.preview_button.click()
    assert page.alert.kind == "error"
    assert "--segment NAME or --rules" in page.alert.text
    page.rules.value = "revenue>=lots"
    page.preview_button.click()
    assert page.alert.kind == "error" and "'lots' is not a number" in page.alert.text
    monkeypatch.delenv("CRMBOOK_SMTP_FROM")
    page.rules.value = "stage=loyal"
    page.preview_button.click()
    assert page.alert.kind == "error" and "no sender address" in page.alert.text
    assert page.send_button.disabled


def test_send_without_preview_is_refused(page):
    page.send_button.disabled = False
    page.send_button.click()
    assert page.alert.kind == "error"
    assert page.alert.text == "Preview the messages first: nothing is sent unseen."


def test_a_long_preview_is_paged_and_only_its_page_is_offered_to_read(page, mail_shop):
    page.template.value = "Привет"
    page.rules.value = "stage=loyal"
    page.table.pager.page_rows = 3
    page.preview_button.click()
    preview = page.model.run.preview
    assert len(preview) > 3
    assert [label for label, _ in page.recipient.options] == [
        f"{r.name} <{r.to}>" for r in preview.head(3).itertuples()
    ]
    page.table.pager.next_button.click()
    assert [v for _, v in page.recipient.options] == list(range(3, min(6, len(preview))))
    assert preview["to"].iloc[3] in text(page.table.html.value)
    assert preview["name"].iloc[3] in text(page.message.value)
