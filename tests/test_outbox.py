"""The outbox journal: every message once, even across crashes and kills; each logged once."""

import datetime as dt
import json
import os
import signal
import subprocess
import sys

import pytest
from mailing_support import (
    REFUSED,
    SENDER_ADDRESS,
    TODAY,
    consenting,
    display_name,
    run_cli,
    write_config,
)

import crmbook
from crmbook.mailing.message import Message, message_id
from crmbook.mailing.outbox import Outbox, deliver, journal_path, log_interactions, send_all
from crmbook.mailing.senders import Sender, SendError, SendResult

pytest_plugins = ["mailing_support"]  # the mail_shop, smtp_server and mail_env fixtures

pytestmark = pytest.mark.usefixtures("mail_env")
CLOCK = dt.datetime(2026, 3, 15, 9, 30)


class FakeSender(Sender):
    """Records what it was given; `fail` maps a recipient to a result or an exception."""

    via = "fake"

    def __init__(self, fail=None):
        self.sent, self.fail, self.opened = [], fail or {}, 0

    def open(self):
        self.opened += 1

    def send(self, message):
        outcome = self.fail.get(message.to)
        if isinstance(outcome, Exception):
            raise outcome
        self.sent.append(message.to)
        return outcome or SendResult(True, "ok")


def _messages(n, customer_ids=None):
    ids = customer_ids or [f"C-{i:06d}" for i in range(1, n + 1)]
    return [
        Message(key=f"News/{cid}/2026-03-15", channel="email", to=f"{cid.lower()}@x.com",
                body="Hi", subject="News", customer_id=cid, name=cid, template="News")
        for cid in ids
    ]  # fmt: skip


def test_each_message_goes_once_across_runs(tmp_path):
    outbox, sender = Outbox(tmp_path / "shop.xlsx"), FakeSender()
    first = deliver(_messages(3), sender, outbox, clock=lambda: CLOCK)
    assert first.summary() == "sent 3"
    again = deliver(_messages(4), sender, outbox, clock=lambda: CLOCK)
    assert again.summary() == "sent 1, already sent 3"
    assert sender.sent == ["c-000001@x.com", "c-000002@x.com", "c-000003@x.com", "c-000004@x.com"]
    assert deliver(_messages(4), sender, outbox).summary() == "already sent 4"
    assert sender.opened == 2  # nothing left to send: no connection at all
    assert outbox.path == tmp_path / ".shop.xlsx.crmbook-outbox.jsonl"


def test_an_intent_without_an_answer_is_possibly_sent_and_never_resent(tmp_path):
    outbox = Outbox(tmp_path / "shop.xlsx")
    messages = _messages(2)
    outbox.intent(messages[0], "smtp", 1, CLOCK)  # then the process was killed
    with outbox.path.open("a", encoding="utf-8") as f:
        f.write('{"at": "2026-03-15T09:31:00", "event": "intent", "key": "News/C-0')  # torn
    sender = FakeSender()
    result = deliver(messages, sender, outbox)
    assert sender.sent == ["c-000002@x.com"]
    assert [r["status"] for r in result.rows] == ["possibly sent", "sent"]
    assert "not sent again" in result.rows[0]["detail"]


def test_a_refused_address_is_failed_and_tried_again_next_run(tmp_path):
    outbox = Outbox(tmp_path / "shop.xlsx")
    refusing = FakeSender({"c-000001@x.com": SendResult(False, "550 no such user")})
    assert deliver(_messages(2), refusing, outbox).summary() == "sent 1, failed 1"
    sender = FakeSender()
    assert deliver(_messages(2), sender, outbox).summary() == "sent 1, already sent 1"
    assert sender.sent == ["c-000001@x.com"]
    assert outbox.entries()["News/C-000001/2026-03-15"].attempt == 2


def test_a_connection_lost_mid_send_stops_the_run_and_is_not_resent(tmp_path):
    outbox = Outbox(tmp_path / "shop.xlsx")
    broken = SendError("connection reset", maybe_sent=True)
    result = deliver(_messages(3), FakeSender({"c-000002@x.com": broken}), outbox)
    assert [r["status"] for r in result.rows] == ["sent", "possibly sent", "not sent"]
    assert result.error == "connection reset"
    sender = FakeSender()
    rerun = deliver(_messages(3), sender, outbox)
    assert sender.sent == ["c-000003@x.com"]
    assert rerun.summary() == "sent 1, already sent 1, possibly sent 1"


def test_a_server_that_cannot_be_reached_sends_nothing_and_marks_nothing(tmp_path):
    class Unreachable(FakeSender):
        def open(self):
            raise SendError("cannot connect to the SMTP server")

    outbox = Outbox(tmp_path / "shop.xlsx")
    result = deliver(_messages(2), Unreachable(), outbox)
    assert result.summary() == "not sent 2" and result.error
    assert not outbox.path.exists()


def test_the_journal_is_written_before_the_send(tmp_path):
    outbox = Outbox(tmp_path / "shop.xlsx")

    class Peeking(FakeSender):
        def send(self, message):
            entry = outbox.entries()[message.key]
            assert (entry.state, entry.record["to"]) == ("intent", message.to)
            return super().send(message)

    deliver(_messages(2), Peeking(), outbox)
    events = [json.loads(line)["event"] for line in outbox.path.read_text().splitlines()]
    assert events == ["intent", "sent", "intent", "sent"]


def test_message_ids_are_deterministic():
    first = message_id("wb-1", "News/C-000001/2026-03-15", "office@shop.example")
    assert first == message_id("wb-1", "News/C-000001/2026-03-15", "office@shop.example")
    assert first.startswith("<") and first.endswith(".crmbook@shop.example>")
    assert first != message_id("wb-2", "News/C-000001/2026-03-15", "office@shop.example")


def test_each_attempt_is_logged_once_as_an_interaction(mail_shop):
    customers = crmbook.open(mail_shop).customers.df
    ids = customers["id"].iloc[:3].tolist()
    outbox = Outbox(mail_shop)
    refusing = FakeSender({f"{ids[1].lower()}@x.com": SendResult(False, "550 no such user")})
    with outbox.lock():
        deliver(_messages(3, ids), refusing, outbox, clock=lambda: CLOCK)
        assert log_interactions(mail_shop, outbox, user="robot", clock=lambda: CLOCK) == 3
        assert log_interactions(mail_shop, outbox, user="robot") == 0
    book = crmbook.open(mail_shop)
    logged = book.interactions.df.tail(3)
    assert logged["customer_id"].tolist() == ids
    assert logged["outcome"].tolist() == ["success", "failure", "success"]
    assert set(logged["channel"]) == {"email"} and set(logged["kind"]) == {"follow-up"}
    assert logged["when"].tolist() == [CLOCK] * 3
    assert logged["summary"].iloc[1] == (
        f'News: email "News" to {ids[1].lower()}@x.com; not delivered: 550 no such user'
    )
    owners = customers.set_index("id")["owner"]
    assert logged["owner"].tolist() == owners[ids].tolist()


def _mail(mail_shop, *extra):
    return run_cli(
        "mail", mail_shop, "--template", "Привет", "--rules", "stage=loyal", "--today", TODAY,
        "--rate", "0", *extra,
    )  # fmt: skip


def test_cli_mail_reaches_exactly_the_consenting_customers_once(mail_shop, smtp_server):
    expected = consenting(mail_shop, ("loyal",))
    assert "sergey@example.ru" in set(expected["email"])
    result = _mail(mail_shop)
    assert result.exit_code == 0, result.output
    counts = smtp_server.counts()
    assert counts == {email: 1 for email in expected["email"]}
    everyone = crmbook.open(mail_shop).customers.df
    loyal = everyone[everyone["stage"] == "loyal"]
    for email in loyal[~loyal["consent_email"]]["email"].dropna():
        assert email not in counts  # Zoë said no
    [sergey] = smtp_server.to("sergey@example.ru")
    raw = next(r.raw for r in smtp_server.received if r.message is sergey)
    assert sergey["Subject"] == "Привет, Сергей! שלום, café ☕"
    assert display_name(raw) == "Иванов Сергей Викторович"
    body = sergey.get_content()
    assert "Дорогой Сергей," in body and "שלום Иванов Сергей Викторович!" in body
    assert "Noël à Köln" in body
    assert "office@horizon.example" in body.split("-- ")[-1]  # the unsubscribe line
    assert sergey["List-Unsubscribe"] == (
        "<mailto:office@horizon.example?subject=unsubscribe%20sergey%40example.ru>"
    )
    assert sergey["Message-ID"].endswith(".crmbook@horizon.example>")
    assert f"Sent {len(expected)}" in result.output
    interactions = crmbook.open(mail_shop).interactions.df
    mine = interactions[interactions["summary"].str.startswith("Привет: email", na=False)]
    assert sorted(mine["customer_id"]) == sorted(expected["id"])
    assert set(mine["outcome"]) == {"success"}
    again = _mail(mail_shop)
    assert again.exit_code == 0 and f"Already sent {len(expected)}" in again.output
    assert smtp_server.counts() == counts
    assert len(crmbook.open(mail_shop).interactions.df) == len(interactions)


def test_cli_mail_with_one_click_unsubscribe(mail_shop, smtp_server):
    write_config(mail_shop, mail={"unsubscribe_url": "https://horizon.example/u?e={email}"})
    assert _mail(mail_shop).exit_code == 0
    [sergey] = smtp_server.to("sergey@example.ru")
    assert sergey["List-Unsubscribe"] == (
        "<https://horizon.example/u?e=sergey%40example.ru>, "
        "<mailto:office@horizon.example?subject=unsubscribe%20sergey%40example.ru>"
    )
    assert sergey["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://horizon.example/u?e=sergey%40example.ru" in sergey.get_content()


def test_cli_mail_dry_run_shows_and_sends_nothing(mail_shop, smtp_server):
    result = _mail(mail_shop, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Subject: Привет, Сергей! שלום, café ☕" in result.output
    assert "Dry run:" in result.output and "nothing was sent" in result.output
    assert smtp_server.received == [] and not journal_path(mail_shop).exists()
    as_json = json.loads(_mail(mail_shop, "--dry-run", "--format", "json").output)
    assert {m["status"] for m in as_json["messages"]} == {"to send"}
    assert any(s["reason"] == "no consent to emails" for s in as_json["skipped"])


def test_cli_mail_a_refused_address_exits_1_and_is_logged_as_failure(mail_shop, smtp_server):
    result = run_cli(
        "mail", mail_shop, "--template", "Newsletter", "--rules", "stage=prospect",
        "--today", TODAY, "--rate", "0", "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 1
    results = json.loads(result.output)["results"]
    [refused] = [r for r in results if r["to"] == REFUSED]
    assert refused["status"] == "failed" and "550" in refused["detail"]
    assert REFUSED not in smtp_server.counts()


def test_cli_mail_errors_are_clear(mail_shop, smtp_server):
    unknown = _mail(mail_shop, "--template", "Nope")
    assert unknown.exit_code == 2 and "no template called 'Nope'" in unknown.output
    nobody = run_cli("mail", mail_shop, "--template", "Newsletter")
    assert nobody.exit_code == 2 and "--segment NAME or --rules" in nobody.output
    wrong = run_cli("mail", mail_shop, "--template", "Appointment reminder",
                    "--rules", "stage=loyal", "--via", "smtp")  # fmt: skip
    assert wrong.exit_code == 2 and "an sms template cannot go via smtp" in wrong.output
    field = run_cli("add", "template", mail_shop, "--name", "Typo", "--channel", "email",
                    "--subject", "Hi", "--body", "Dear {nmae}")  # fmt: skip
    assert field.exit_code == 0
    typo = run_cli("mail", mail_shop, "--template", "Typo", "--rules", "stage=loyal")
    assert typo.exit_code == 2
    assert "template 'Typo': unknown field {nmae} in the body (did you mean {name}?)" in typo.output
    assert smtp_server.received == []


def test_cli_mail_sms_to_a_csv_for_the_provider(mail_shop, tmp_path):
    out = tmp_path / "out"
    result = run_cli("mail", mail_shop, "--template", "Appointment reminder", "--rules",
                     "stage=loyal", "--out", out, "--today", TODAY)  # fmt: skip
    assert result.exit_code == 0, result.output
    [csv_file] = out.glob("sms-*.csv")
    text = csv_file.read_text(encoding="utf-8")
    assert "+74951234567" in text and "Иванов Сергей Викторович" in text


def test_a_run_killed_mid_send_and_run_again_sends_everyone_exactly_one(mail_shop, smtp_server):
    """The mail command runs in a process of its own; the SMTP server kills it (SIGKILL) while
    it waits for the answer to the 4th message, which did arrive. The rerun sends the rest,
    reports the 4th as possibly sent, and never sends it twice."""
    expected = consenting(mail_shop, ("loyal",))
    assert len(expected) > 6
    process = None

    def kill_on(count):
        if count == 4:
            os.kill(process.pid, signal.SIGKILL)

    smtp_server.on_message = kill_on
    command = [sys.executable, "-m", "crmbook", "mail", str(mail_shop), "--template", "Привет",
               "--rules", "stage=loyal", "--today", TODAY.isoformat(), "--rate", "0"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert len(smtp_server.received) == 4
    smtp_server.on_message = None
    rerun = _mail(mail_shop, "--format", "json")
    assert rerun.exit_code == 0, rerun.output
    statuses = [r["status"] for r in json.loads(rerun.output)["results"]]
    assert statuses.count("already sent") == 3
    assert statuses.count("possibly sent") == 1
    assert statuses.count("sent") == len(expected) - 4
    assert smtp_server.counts() == {email: 1 for email in expected["email"]}
    interactions = crmbook.open(mail_shop).interactions.df
    mine = interactions[interactions["summary"].str.startswith("Привет: email", na=False)]
    assert sorted(mine["customer_id"]) == sorted(expected["id"])  # each logged once
    assert mine["outcome"].value_counts().to_dict() == {"success": len(expected) - 1, "neutral": 1}


def test_send_all_keeps_the_log_for_later_when_the_workbook_is_open_in_excel(mail_shop):
    lock = mail_shop.with_name("~$" + mail_shop.name)
    lock.write_text("excel")
    ids = crmbook.open(mail_shop).customers.df["id"].iloc[:2].tolist()
    outbox = Outbox(mail_shop)
    delivery = send_all([(FakeSender(), _messages(2, ids))], outbox, clock=lambda: CLOCK)
    assert delivery.summary() == "sent 2" and delivery.logged == 0
    assert "not yet logged" in delivery.log_error and "open in Excel" in delivery.log_error
    lock.unlink()
    later = send_all([(FakeSender(), _messages(2, ids))], outbox)
    assert later.summary() == "already sent 2" and later.logged == 2
    assert SENDER_ADDRESS  # the sender is configured for the CLI tests of this module
