"""The outbox journal: every message once, even across crashes and kills; each logged once."""

import asyncio
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
    Inbox,
    consenting,
    display_name,
    run_cli,
    start_smtp,
    write_config,
)

import crmbook
from crmbook.mailing.message import Message, message_id
from crmbook.mailing.outbox import deliver, log_interactions, send_all
from crmbook.mailing.senders import Sender, SendError, SendResult
from crmbook.storage.journal import FileJournal, journal_path
from crmbook.storage.sql import database_url, make_engine
from crmbook.storage.sql_journal import SqlJournal

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


@pytest.fixture(params=["file", "sqlite", "postgresql"])
def journal(request, tmp_path):
    """An empty journal: the file beside a workbook, a SQLite and a PostgreSQL table."""
    if request.param == "file":
        return FileJournal(tmp_path / "shop.xlsx")
    url = (
        f"sqlite:///{tmp_path / 'shop.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = make_engine(database_url(url))
    request.addfinalizer(engine.dispose)
    return SqlJournal(engine, url)


def test_each_message_goes_once_across_runs(journal):
    sender = FakeSender()
    first = deliver(_messages(3), sender, journal, clock=lambda: CLOCK)
    assert first.summary() == "sent 3"
    again = deliver(_messages(4), sender, journal, clock=lambda: CLOCK)
    assert again.summary() == "sent 1, already sent 3"
    assert sender.sent == ["c-000001@x.com", "c-000002@x.com", "c-000003@x.com", "c-000004@x.com"]
    assert deliver(_messages(4), sender, journal).summary() == "already sent 4"
    assert sender.opened == 2  # nothing left to send: no connection at all


def test_the_file_journal_lives_beside_the_workbook(tmp_path):
    journal = FileJournal(tmp_path / "shop.xlsx")
    deliver(_messages(1), FakeSender(), journal)
    assert journal.path == journal_path(tmp_path / "shop.xlsx")
    assert journal.path == tmp_path / ".shop.xlsx.crmbook-outbox.jsonl"


def test_a_claim_without_an_answer_is_possibly_sent_and_never_resent(journal):
    messages = _messages(2)
    record = {"to": messages[0].to, "customer_id": "C-000001", "kind": "follow-up"}
    assert journal.claim(messages[0].key, 1, CLOCK, record)  # then the process was killed
    sender = FakeSender()
    result = deliver(messages, sender, journal)
    assert sender.sent == ["c-000002@x.com"]
    assert [r["status"] for r in result.rows] == ["possibly sent", "sent"]
    assert "not sent again" in result.rows[0]["detail"]


def test_a_line_torn_by_a_kill_is_ignored(tmp_path):
    journal = FileJournal(tmp_path / "shop.xlsx")
    deliver(_messages(1), FakeSender(), journal)
    with journal.path.open("a", encoding="utf-8") as f:
        f.write('{"at": "2026-03-15T09:31:00", "event": "intent", "key": "News/C-0')  # torn
    sender = FakeSender()
    assert deliver(_messages(2), sender, journal).summary() == "sent 1, already sent 1"
    assert sender.sent == ["c-000002@x.com"]


def test_a_refused_address_is_failed_and_tried_again_next_run(journal):
    refusing = FakeSender({"c-000001@x.com": SendResult(False, "550 no such user")})
    assert deliver(_messages(2), refusing, journal).summary() == "sent 1, failed 1"
    sender = FakeSender()
    assert deliver(_messages(2), sender, journal).summary() == "sent 1, already sent 1"
    assert sender.sent == ["c-000001@x.com"]
    assert journal.entries()["News/C-000001/2026-03-15"].attempt == 2


def test_only_one_run_claims_a_message(journal):
    """Two runs that read the journal at the same moment: the second claim of a new message,
    and of the retry of a failed one, is refused."""
    record = {"to": "a@x.com"}
    assert journal.claim("News/C-1", 1, CLOCK, record)
    if isinstance(journal, SqlJournal):  # a file is claimed in under a lock instead
        assert not journal.claim("News/C-1", 1, CLOCK, record)
    journal.answer("News/C-1", 1, "failed", "550", CLOCK)
    assert journal.claim("News/C-1", 2, CLOCK, record)
    if isinstance(journal, SqlJournal):
        assert not journal.claim("News/C-1", 2, CLOCK, record)
    journal.answer("News/C-1", 2, "sent", "250 OK", CLOCK)
    assert not isinstance(journal, SqlJournal) or not journal.claim("News/C-1", 3, CLOCK, record)
    assert journal.entries(["News/C-1", "News/C-2"])["News/C-1"].state == "sent"


def test_a_connection_lost_mid_send_stops_the_run_and_is_not_resent(journal):
    broken = SendError("connection reset", maybe_sent=True)
    result = deliver(_messages(3), FakeSender({"c-000002@x.com": broken}), journal)
    assert [r["status"] for r in result.rows] == ["sent", "possibly sent", "not sent"]
    assert result.error == "connection reset"
    sender = FakeSender()
    rerun = deliver(_messages(3), sender, journal)
    assert sender.sent == ["c-000003@x.com"]
    assert rerun.summary() == "sent 1, already sent 1, possibly sent 1"


def test_a_server_that_cannot_be_reached_sends_nothing_and_marks_nothing(journal):
    class Unreachable(FakeSender):
        def open(self):
            raise SendError("cannot connect to the SMTP server")

    result = deliver(_messages(2), Unreachable(), journal)
    assert result.summary() == "not sent 2" and result.error
    assert journal.entries() == {}


def test_the_journal_is_written_before_the_send(journal):
    class Peeking(FakeSender):
        def send(self, message):
            entry = journal.entries([message.key])[message.key]
            assert (entry.state, entry.record["to"]) == ("intent", message.to)
            return super().send(message)

    deliver(_messages(2), Peeking(), journal)
    assert {e.state for e in journal.entries().values()} == {"sent"}


def test_message_ids_are_deterministic():
    first = message_id("wb-1", "News/C-000001/2026-03-15", "office@shop.example")
    assert first == message_id("wb-1", "News/C-000001/2026-03-15", "office@shop.example")
    assert first.startswith("<") and first.endswith(".crmbook@shop.example>")
    assert first != message_id("wb-2", "News/C-000001/2026-03-15", "office@shop.example")


def test_each_attempt_is_logged_once_as_an_interaction(mail_shop):
    customers = crmbook.open(mail_shop).customers.df
    ids = customers["id"].iloc[:3].tolist()
    book = crmbook.open(mail_shop)
    journal = book.storage.journal()
    refusing = FakeSender({f"{ids[1].lower()}@x.com": SendResult(False, "550 no such user")})
    with journal.sending():
        deliver(_messages(3, ids), refusing, journal, clock=lambda: CLOCK)
    with journal.logging():
        assert log_interactions(book, journal, user="robot", clock=lambda: CLOCK) == 3
        assert log_interactions(book, journal, user="robot") == 0
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
    book = crmbook.open(mail_shop)
    ids = book.customers.df["id"].iloc[:2].tolist()
    journal = book.storage.journal()
    delivery = send_all([(FakeSender(), _messages(2, ids))], journal, book, clock=lambda: CLOCK)
    assert delivery.summary() == "sent 2" and delivery.logged == 0
    assert "not yet logged" in delivery.log_error and "open in Excel" in delivery.log_error
    lock.unlink()
    later = send_all([(FakeSender(), _messages(2, ids))], journal, book)
    assert later.summary() == "already sent 2" and later.logged == 2
    assert SENDER_ADDRESS  # the sender is configured for the CLI tests of this module


# ---------------------------------------------------------------- a database's journal

BIRTHDAYS = 24  # customers added whose birthday is TODAY, each to be greeted once


def _database_shop(mail_shop, url):
    """The mailing shop with BIRTHDAYS more customers born today, moved into the database at
    `url`; owners and sender in crmbook.toml in the folder the runs start in."""
    from crmbook.sharing.migrate import copy_book

    book = crmbook.open(mail_shop)
    for n in range(BIRTHDAYS):
        book.customers.add(name=f"Geburtstag Nr. {n}", email=f"born{n}@example.de",
                           birthday=f"{1960 + n}-03-15", consent_email=True,
                           consent_date="2025-01-01", owner="Anna Schmidt")  # fmt: skip
    book.save(backups=0)
    owners = book.customers.df["owner"].dropna().unique()
    write_config(mail_shop, owners={o: f"{o.split()[0].lower()}@horizon.example" for o in owners})
    copy_book(crmbook.open(mail_shop), url).book.close()
    return url


def _crmbook(*args, cwd):
    command = [sys.executable, "-m", "crmbook", *map(str, args)]
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class Rendezvous(Inbox):
    """An SMTP server that holds the first message until a second connection is sending too
    (at most 30 s), then takes each message a little slowly: two runs started together send
    at the same time, message after message."""

    def __init__(self):
        super().__init__()
        self.clients = set()

    async def handle_DATA(self, server, session, envelope):
        self.clients.add(session.peer)
        for _ in range(300):
            if len(self.clients) >= 2:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.03)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_machines_running_daily_on_one_database_send_each_message_once(
    mail_shop, postgres_url, smtp_server, monkeypatch, tmp_path
):
    url = _database_shop(mail_shop, postgres_url)
    inbox = Rendezvous()
    controller = start_smtp(inbox)
    monkeypatch.setenv("CRMBOOK_SMTP_PORT", str(inbox.port))
    try:
        runs = [_crmbook("daily", url, "--today", TODAY, "--format", "json", cwd=tmp_path)
                for _ in range(2)]  # fmt: skip
        answers = [run.communicate(timeout=180) for run in runs]
    finally:
        controller.stop()
    for run, (_, err) in zip(runs, answers, strict=True):
        assert run.returncode == 0, err.decode()
    results = [json.loads(out)["results"] for out, _ in answers]
    book = crmbook.open(url)
    customers = book.customers.df
    born = customers[customers["birthday"].dt.strftime("%m-%d") == "03-15"]
    greeted = born[born["consent_email"] & born["email"].notna()]
    owners = {r["to"] for r in results[0] if r["name"] in set(customers["owner"])}
    assert len(greeted) >= BIRTHDAYS and owners
    assert inbox.counts() == {address: 1 for address in {*greeted["email"], *owners}}
    sent = [[r["to"] for r in result if r["status"] == "sent"] for result in results]
    assert all(sent), "both runs sent a share"
    assert sorted(sent[0] + sent[1]) == sorted(inbox.counts())
    others = [r["status"] for result in results for r in result if r["status"] != "sent"]
    assert set(others) <= {"already sent", "possibly sent"}
    interactions = book.interactions.df
    logged = interactions[interactions["summary"].str.startswith("Birthday greeting", na=False)]
    assert sorted(logged["customer_id"]) == sorted(greeted["id"])  # each logged once
    assert set(logged["outcome"]) == {"success"}
    assert not list(tmp_path.glob(".*crmbook-outbox*"))  # nothing kept in the folder


@pytest.mark.postgres
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_run_killed_mid_send_on_a_database_and_run_again_sends_everyone_exactly_once(
    kind, mail_shop, smtp_server, tmp_path, request
):
    url = (f"sqlite:///{tmp_path / 'shop.db'}" if kind == "sqlite"
           else request.getfixturevalue("postgres_url"))  # fmt: skip
    _database_shop(mail_shop, url)
    expected = consenting(mail_shop, ("loyal",))
    process = None

    def kill_on(count):
        if count == 4:
            os.kill(process.pid, signal.SIGKILL)

    smtp_server.on_message = kill_on
    process = _crmbook("mail", url, "--template", "Привет", "--rules", "stage=loyal",
                       "--today", TODAY, "--rate", "0", cwd=tmp_path)  # fmt: skip
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert len(smtp_server.received) == 4
    smtp_server.on_message = None
    rerun = _crmbook("mail", url, "--template", "Привет", "--rules", "stage=loyal",
                     "--today", TODAY, "--rate", "0", "--format", "json", cwd=tmp_path)  # fmt: skip
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err.decode()
    statuses = [r["status"] for r in json.loads(out)["results"]]
    assert statuses.count("already sent") == 3
    assert statuses.count("possibly sent") == 1
    assert statuses.count("sent") == len(expected) - 4
    assert smtp_server.counts() == {email: 1 for email in expected["email"]}
    interactions = crmbook.open(url).interactions.df
    mine = interactions[interactions["summary"].str.startswith("Привет: email", na=False)]
    assert sorted(mine["customer_id"]) == sorted(expected["id"])  # each logged once
    assert mine["outcome"].value_counts().to_dict() == {"success": len(expected) - 1, "neutral": 1}
    assert not list(tmp_path.glob(".*crmbook-outbox*"))


def test_migrate_takes_the_journal_along(mail_shop, smtp_server, tmp_path):
    """Mailed from the workbook, then moved into a database: nothing goes again from there,
    and moved back out, nothing goes again from the new workbook either."""
    assert _mail(mail_shop).exit_code == 0
    counts = smtp_server.counts()
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    assert run_cli("migrate", mail_shop, url).exit_code == 0
    again = _mail(url)
    assert again.exit_code == 0 and f"Already sent {sum(counts.values())}" in again.output
    back = tmp_path / "back.xlsx"
    assert run_cli("export", url, back).exit_code == 0
    assert f"Already sent {sum(counts.values())}" in _mail(back).output
    assert smtp_server.counts() == counts
    assert "crmbook_outbox" not in crmbook.open(url).sheet_names
    assert "crmbook_outbox" not in crmbook.open(back).sheet_names


def test_a_database_takes_over_the_journal_file_an_earlier_crmbook_kept(
    mail_shop, smtp_server, tmp_path
):
    """Before the journal moved into the database it was a file named after the database
    (beside a SQLite file): what it knows is never sent again, and the file is retired."""
    url = _database_shop(mail_shop, f"sqlite:///{tmp_path / 'shop.db'}")
    expected = consenting(mail_shop, ("loyal",))
    sergey = expected[expected["email"] == "sergey@example.ru"]["id"].iloc[0]
    legacy = FileJournal(tmp_path / "shop.db")
    key = f"Привет/{sergey}/{TODAY.isoformat()}"
    assert legacy.claim(key, 1, CLOCK, {"to": "sergey@example.ru", "customer_id": sergey})
    legacy.answer(key, 1, "sent", "250 OK", CLOCK)
    legacy.logged(legacy.entries().values(), CLOCK)
    dry = _mail(url, "--dry-run", "--format", "json")
    assert dry.exit_code == 0 and legacy.path.exists()  # a dry run changes nothing
    assert [m["status"] for m in json.loads(dry.output)["messages"]].count("already sent") == 1
    result = _mail(url)
    assert result.exit_code == 0, result.output
    assert "sergey@example.ru" not in smtp_server.counts()
    assert len(smtp_server.received) == len(expected) - 1
    assert not legacy.path.exists()
    assert legacy.path.with_name(legacy.path.name + ".imported").exists()
    assert f"Already sent {len(expected)}" in _mail(url).output


@pytest.mark.postgres
def test_on_postgresql_logging_waits_until_no_run_is_sending(postgres_url, monkeypatch):
    """Runs send side by side; the attempts are logged only when none is sending, so a
    message another machine is sending right now is never logged as possibly sent."""
    from crmbook.errors import CrmbookError
    from crmbook.storage import sql_journal

    monkeypatch.setattr(sql_journal, "LOG_WAIT", "1s")
    monkeypatch.setattr(sql_journal, "SEND_WAIT", "1s")
    engines = [make_engine(database_url(postgres_url)) for _ in range(2)]
    first, second = (SqlJournal(engine, "shop") for engine in engines)
    with first.sending():
        with second.sending():  # two runs may send at once
            pass
        busy = pytest.raises(CrmbookError, match="another crmbook is sending from shop")
        with busy, second.logging():
            pass
    with second.logging():
        busy = pytest.raises(CrmbookError, match="another crmbook is logging the messages of")
        with busy, first.sending():
            pass
    with first.sending():  # free again
        pass
    with engines[0].connect() as conn:  # the lock's wait setting stayed with its connection
        assert conn.exec_driver_sql("SHOW lock_timeout").scalar() == "0"
    for engine in engines:
        engine.dispose()
