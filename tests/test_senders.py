"""Senders against real local servers: SMTP (plain, STARTTLS, SSL, login), .eml files, the SMS
CSV and an HTTP gateway. Every server listens on 127.0.0.1."""

import csv
import json
import ssl
import threading
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from aiosmtpd.smtp import AuthResult
from mailing_support import (
    REFUSED,
    SENDER,
    Inbox,
    display_name,
    free_port,
    self_signed_certificate,
    start_smtp,
)

from crmbook.mailing.config import ConfigError, HttpSettings, SmtpSettings, load_config
from crmbook.mailing.message import Message
from crmbook.mailing.senders import (
    EmlSender,
    HttpSender,
    RateLimit,
    SendError,
    SmsCsvSender,
    SmtpSender,
    e164,
)

pytest_plugins = ["mailing_support"]  # the mail_shop, smtp_server and mail_env fixtures

HEADERS = (
    ("List-Unsubscribe", "<https://shop.example/u?e=x%40y.z&token=0123456789abcdef0123456789>, "
     "<mailto:office@horizon.example?subject=unsubscribe%20x%40y.z>"),
    ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
)  # fmt: skip


def _email(to="sergey@example.ru", name="Иванов Сергей Викторович", key="Привет/C-1/2026-03-15"):
    return Message(
        key=key,
        channel="email",
        to=to,
        name=name,
        subject="Привет, Сергей! שלום, café ☕ " + "long subject " * 8,
        body="Дорогой Сергей,\n\nשלום! Noël à Köln. " + "A long line of text. " * 10 + "\n",
        customer_id="C-1",
        sender=SENDER,
        headers=HEADERS,
        message_id="<abc123.crmbook@horizon.example>",
    )


def _check_unicode_email(received, raw):
    assert received["Subject"] == _email().subject
    assert display_name(raw) == "Иванов Сергей Викторович"
    assert received["From"].addresses[0].display_name == "Horizon Travel"
    assert received.get_content().replace("\r\n", "\n") == _email().body
    assert received["List-Unsubscribe"] == HEADERS[0][1]
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received["Message-ID"] == "<abc123.crmbook@horizon.example>"


def test_smtp_delivers_unicode_intact_with_its_headers(smtp_server):
    settings = load_config().smtp
    with SmtpSender(settings, "office@horizon.example") as sender:
        assert sender.send(_email()).ok
    [received] = smtp_server.received
    assert received.mail_from == "office@horizon.example"
    assert received.rcpt_tos == ["sergey@example.ru"]
    _check_unicode_email(received.message, received.raw)


def test_a_refused_recipient_is_a_failed_result_not_an_error(smtp_server):
    with SmtpSender(load_config().smtp, "office@horizon.example") as sender:
        result = sender.send(_email(to=REFUSED))
        assert not result.ok and "550" in result.detail
        assert sender.send(_email()).ok  # the connection goes on
    assert smtp_server.counts() == {"sergey@example.ru": 1}


def test_no_server_is_a_send_error_before_anything_is_sent():
    sender = SmtpSender(SmtpSettings(host="127.0.0.1", port=free_port(), security="none"), "o@x")
    with pytest.raises(SendError, match="cannot connect") as error:
        sender.open()
    assert error.value.maybe_sent is False


def test_no_smtp_host_is_a_config_error_naming_the_setting(mail_env):
    with pytest.raises(ConfigError, match="CRMBOOK_SMTP_HOST"):
        SmtpSender(load_config().smtp, "o@x")


@pytest.fixture
def tls(tmp_path, monkeypatch):
    """A server certificate for 127.0.0.1 that the client trusts (through SSL_CERT_FILE)."""
    made = self_signed_certificate(tmp_path)
    if made is None:
        pytest.skip("openssl is not installed")
    cert, key = made
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def _login(logins):
    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)

    return authenticator


def test_starttls_and_login(tls):
    inbox, logins = Inbox(), []
    controller = start_smtp(
        inbox,
        tls_context=tls,
        require_starttls=True,
        authenticator=_login(logins),
    )
    try:
        settings = SmtpSettings(
            "127.0.0.1", inbox.port, "office@horizon.example", "s3cret", "starttls", 10
        )
        with SmtpSender(settings, "office@horizon.example") as sender:
            assert sender.send(_email()).ok
        wrong = SmtpSender(
            SmtpSettings("127.0.0.1", inbox.port, "office", "wrong", "starttls", 10), "o@x"
        )
        with pytest.raises(SendError, match="refused the login of office"):
            wrong.open()
    finally:
        controller.stop()
    assert logins[0] == ("office@horizon.example", "s3cret")
    _check_unicode_email(inbox.received[0].message, inbox.received[0].raw)


def test_implicit_ssl(tls):
    inbox = Inbox()
    controller = start_smtp(inbox, ssl_context=tls)
    try:
        settings = SmtpSettings("127.0.0.1", inbox.port, security="ssl", timeout=10)
        with SmtpSender(settings, "office@horizon.example") as sender:
            assert sender.send(_email()).ok
    finally:
        controller.stop()
    assert len(inbox.received) == 1


def test_eml_files_parse_back_and_are_named_by_the_key(tmp_path):
    folder = tmp_path / "out"
    with EmlSender(folder) as sender:
        first = sender.send(_email())
        sender.send(_email())  # the same key: the same file, rewritten whole
        sender.send(_email(key="Привет/C-2/2026-03-15"))
    files = sorted(folder.glob("*.eml"))
    assert len(files) == 2 and not list(folder.glob(".*"))
    assert str(files[0]) in first.detail or str(files[1]) in first.detail
    raw = files[0].read_bytes()
    _check_unicode_email(BytesParser(policy=policy.default).parsebytes(raw), raw)
    assert b"\r\n" in files[0].read_bytes()


def test_sms_csv_for_bulk_upload(tmp_path):
    path = tmp_path / "sms" / "birthday.csv"
    sms = Message(
        key="k1", channel="sms", to="+7 495 123-45-67", body="С днём рождения, Сергей! 🎂",
        customer_id="C-1", name="Иванов Сергей", message_id="<m1@x>",
    )  # fmt: skip
    with SmsCsvSender(path) as sender:
        assert sender.send(sms).ok
    with SmsCsvSender(path) as sender:  # a second run appends, with no second header
        sender.send(Message(key="k2", channel="sms", to="030 1234567", body="Hi", name="Bo"))
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    assert rows == [
        ["phone", "message", "customer_id", "name", "reference"],
        ["+74951234567", "С днём рождения, Сергей! 🎂", "C-1", "Иванов Сергей", "<m1@x>"],
        ["030 1234567", "Hi", "", "Bo", "k2"],
    ]


@pytest.mark.parametrize(("typed", "expected"), [("+49 30 1234567", "+49301234567"),
                                                 ("+972 3-609-1692", "+97236091692"),
                                                 ("0049", "0049")])  # fmt: skip
def test_e164(typed, expected):
    assert e164(typed) == expected


class _Gateway(BaseHTTPRequestHandler):
    requests: ClassVar[list] = []
    status = 200

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append((self.path, dict(self.headers), json.loads(body)))
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(b'{"error": "no credit left"}' if self.status >= 400 else b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    _Gateway.requests, _Gateway.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server, _Gateway
    server.shutdown()
    server.server_close()


def test_http_gateway_gets_the_url_template_and_a_json_body(gateway):
    server, handler = gateway
    settings = HttpSettings(
        url=f"http://127.0.0.1:{server.server_address[1]}/send/{{customer_id}}?to={{to}}",
        headers={"Authorization": "Bearer t0ken"},
        body={"recipient": "{to}", "text": "{text}", "meta": {"ref": "{message_id}"}},
    )
    sms = Message(key="k", channel="sms", to="+7 495 1234567", body="Привет, שלום!",
                  customer_id="C-000002", message_id="<m@x>")  # fmt: skip
    assert HttpSender(settings).send(sms).ok
    [(path, headers, body)] = handler.requests
    assert path == "/send/C-000002?to=%2B7%20495%201234567"
    assert headers["Authorization"] == "Bearer t0ken"
    assert body == {
        "recipient": "+7 495 1234567",
        "text": "Привет, שלום!",
        "meta": {"ref": "<m@x>"},
    }
    handler.status = 402
    refused = HttpSender(settings).send(sms)
    assert not refused.ok and "402" in refused.detail and "no credit left" in refused.detail


def test_http_gateway_unreachable_is_a_send_error_nothing_sent():
    sender = HttpSender(HttpSettings(url=f"http://127.0.0.1:{free_port()}/send"))
    with pytest.raises(SendError) as error:
        sender.send(Message(key="k", channel="sms", to="+1", body="x"))
    assert error.value.maybe_sent is False


def test_rate_limit_spaces_the_sends_evenly():
    now, slept = [100.0], []

    def sleep(seconds):
        slept.append(round(seconds, 6))
        now[0] += seconds

    limit = RateLimit(120, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limit.wait()
        now[0] += 0.1  # the send itself
    assert slept == [0.4, 0.4]
    unlimited = RateLimit(0, clock=lambda: now[0], sleep=sleep)
    unlimited.wait()
    unlimited.wait()
    assert len(slept) == 2


def test_config_file_beside_the_workbook_and_the_environment_on_top(tmp_path, mail_env):
    (tmp_path / "crmbook.toml").write_text(
        '[mail]\nfrom = "Shop <shop@x.com>"\nrate_per_minute = 30\n'
        '[smtp]\nhost = "smtp.x.com"\nsecurity = "ssl"\nuser = "shop"\n'
        '[owners]\n"Anna Schmidt" = "anna@x.com"\n',
        encoding="utf-8",
    )
    config = load_config(tmp_path / "shop.xlsx", env={"CRMBOOK_SMTP_PASSWORD": "pw"})
    assert config.sender_address == "shop@x.com"
    assert (config.smtp.host, config.smtp.effective_port, config.smtp.password) == (
        "smtp.x.com",
        465,
        "pw",
    )
    assert config.rate_per_minute == 30
    assert config.owner_address(" anna schmidt ") == "anna@x.com"
    assert "pw" not in repr(config)
    env = {"CRMBOOK_SMTP_HOST": "127.0.0.1", "CRMBOOK_SMTP_SECURITY": "none"}
    assert load_config(tmp_path / "shop.xlsx", env=env).smtp.effective_port == 25


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[smtp]\npasword = 1\n", "unknown key 'pasword' in \\[smtp\\]"),
        ("[smpt]\n", "unknown section \\[smpt\\]"),
        ('[smtp]\nsecurity = "tls"\n', "not one of: starttls, ssl, none"),
        ('[mail]\nrate_per_minute = "fast"\n', "must be a number"),
        ("[mail\n", "cannot read"),
    ],
)
def test_a_bad_config_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "mail.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path=path, env={})


def test_no_sender_says_how_to_set_it(tmp_path, mail_env):
    config = load_config(tmp_path / "shop.xlsx", env={})
    with pytest.raises(ConfigError, match="CRMBOOK_SMTP_FROM"):
        _ = config.sender_address
