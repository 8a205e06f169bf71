"""Consent: only customers who agreed get messages, and saying stop turns consent off."""

import openpyxl
import pytest
from builders import sheet
from mailing_support import TODAY, run_cli

import crmbook
from crmbook.mailing.config import ConfigError, MailConfig, load_config
from crmbook.mailing.consent import (
    eligible,
    read_addresses,
    unsubscribe,
    unsubscribe_headers,
    unsubscribe_line,
)

pytest_plugins = ["mailing_support"]  # the mail_shop, smtp_server and mail_env fixtures

pytestmark = pytest.mark.usefixtures("mail_env")
CONFIG = MailConfig(sender="Horizon Travel <office@horizon.example>")
ONE_CLICK = MailConfig(
    sender="Horizon Travel <office@horizon.example>",
    unsubscribe_url="https://horizon.example/unsubscribe?email={email}&c={id}",
)


def _customers():
    return sheet(
        "Customers",
        [
            {"id": "C-000001", "name": "Anna", "email": "anna@x.com", "consent_email": True},
            {"id": "C-000002", "name": "Boris", "email": "boris@x.com", "consent_email": False,
             "phone": "+49 30 1234567", "consent_sms": True},
            {"id": "C-000003", "name": "Carla", "consent_email": True},
            {"id": "C-000004", "name": "Dan", "email": "dan.example.com", "consent_email": True},
            {"id": "C-000005", "name": "Anna again", "email": " ANNA@x.com ",
             "consent_email": True},
            {"id": "C-000006", "name": "Eva", "email": "eva@x.com"},
        ],
    )  # fmt: skip


def test_only_consent_and_an_address_let_an_email_through():
    allowed, refused = eligible(_customers(), "email")
    assert allowed["id"].tolist() == ["C-000001"]
    assert dict(zip(refused["id"], refused["reason"], strict=True)) == {
        "C-000002": "no consent to emails",
        "C-000003": "no email address",
        "C-000004": "email address 'dan.example.com' is not valid",
        "C-000005": "same email address as C-000001, which gets the message",
        "C-000006": "no consent to emails",
    }


def test_sms_needs_sms_consent_and_a_phone():
    allowed, refused = eligible(_customers(), "sms")
    assert allowed["id"].tolist() == ["C-000002"]
    assert set(refused["reason"]) == {"no consent to SMS"}


def test_list_unsubscribe_is_a_mailto_to_the_sender_without_a_url():
    headers = dict(unsubscribe_headers(CONFIG, "zoë+news@x.com", "C-000001"))
    assert headers == {
        "List-Unsubscribe": "<mailto:office@horizon.example?subject=unsubscribe%20"
        "zo%C3%AB%2Bnews%40x.com>"
    }


def test_one_click_unsubscribe_when_a_url_is_configured():
    headers = dict(unsubscribe_headers(ONE_CLICK, "anna@x.com", "C-000001"))
    assert headers["List-Unsubscribe"] == (
        "<https://horizon.example/unsubscribe?email=anna%40x.com&c=C-000001>, "
        "<mailto:office@horizon.example?subject=unsubscribe%20anna%40x.com>"
    )
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    line = unsubscribe_line(ONE_CLICK, "anna@x.com", "C-000001")
    assert "office@horizon.example" in line
    assert "https://horizon.example/unsubscribe?email=anna%40x.com&c=C-000001" in line
    assert "unsubscribe" in unsubscribe_line(CONFIG, "anna@x.com")


def test_the_unsubscribe_url_must_be_https(tmp_path):
    (tmp_path / "crmbook.toml").write_text(
        '[mail]\nunsubscribe_url = "http://shop.example/u?e={email}"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="https"):
        load_config(tmp_path / "shop.xlsx", env={})


def test_unsubscribe_turns_consent_off_through_the_book_and_the_log(mail_shop):
    book = crmbook.open(mail_shop, user="olga")
    customers = book.customers.df
    target = customers[customers["email"] == "sergey@example.ru"].iloc[0]
    done = unsubscribe(book, ["Sergey@Example.RU", "nobody@example.com"], TODAY)
    assert done.turned_off == [(target["id"], "Sergey@Example.RU")]
    assert done.unknown == ["nobody@example.com"]
    book.save()
    again = crmbook.open(mail_shop)
    record = again.customers.get(target["id"])
    assert record["consent_email"] is False or not record["consent_email"]
    assert record["consent_date"].date() == TODAY
    log = [[c.value for c in row] for row in openpyxl.load_workbook(mail_shop)["Log"].iter_rows()]
    changes = {(r[1], r[3], r[4], r[5], r[6]) for r in log}
    assert ("olga", target["id"], "consent_email", "True", "False") in changes
    assert ("olga", target["id"], "consent_date", "2025-01-01", "2026-03-15") in changes
    assert unsubscribe(again, ["sergey@example.ru"], TODAY).already_off == [
        (target["id"], "sergey@example.ru")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Email Address;Reason\nanna@x.com;bounced\n<boris@x.com>;complaint\n",
         ["anna@x.com", "boris@x.com"]),
        ("anna@x.com\nboris@x.com\n\nnot an address\n", ["anna@x.com", "boris@x.com"]),
        ("date,to,status\n2026-03-01,anna@x.com,550\n2026-03-02,anna@x.com,550\n",
         ["anna@x.com"]),
        ("recipient\tinfo\ncarla@x.com\treply-to: ops@x.com\n", ["carla@x.com"]),
    ],
)  # fmt: skip
def test_read_addresses_from_bounce_and_unsubscribe_lists(tmp_path, text, expected):
    path = tmp_path / "bounces.csv"
    path.write_text(text, encoding="utf-8")
    assert read_addresses(path) == expected


def test_cli_unsubscribe_one_address_and_a_file(mail_shop, tmp_path):
    customers = crmbook.open(mail_shop).customers.df
    consenting = customers[customers["consent_email"] & customers["email"].notna()]
    first, second, third = consenting["email"].iloc[:3]
    result = run_cli("unsubscribe", mail_shop, first, "--today", "2026-03-15", "--user", "olga")
    assert result.exit_code == 0, result.output
    assert "Email consent turned off for 1 customer(s)" in result.output
    bounces = tmp_path / "bounces.csv"
    bounces.write_text(f"email,reason\n{second},550\n{third},550\n{first},550\n", "utf-8")
    result = run_cli("unsubscribe", mail_shop, "--from-file", bounces, "--format", "json")
    assert result.exit_code == 0, result.output
    assert result.output.count("consent turned off") == 2
    assert result.output.count("consent was already off") == 1
    after = crmbook.open(mail_shop).customers.df.set_index("email")
    assert not after.loc[[first, second, third], "consent_email"].any()
    assert run_cli("unsubscribe", mail_shop).exit_code == 2


def test_consent_is_checked_at_send_time_not_only_in_the_rules(mail_shop):
    from crmbook.mailing import load_config, mail

    book = crmbook.open(mail_shop)
    run = mail(
        book,
        "Newsletter",
        rules="stage=loyal",
        today=TODAY,
        config=load_config(mail_shop, env={"CRMBOOK_SMTP_FROM": "Shop <o@shop.example>"}),
        dry_run=True,
    )
    customers = book.customers.df.set_index("id")
    sent_to = set(run.preview["customer_id"])
    assert sent_to and all(customers.loc[i, "consent_email"] for i in sent_to)
    refused = run.plan.skipped.set_index("id")["reason"]
    assert (refused == "no consent to emails").any()
