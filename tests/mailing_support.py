"""What the mailing tests share: a demo shop with Unicode customers whose birthday is TODAY,
a real SMTP server on 127.0.0.1 that keeps what it receives, and an environment holding no
mail settings but the test's own. Nothing is ever sent anywhere but 127.0.0.1.

Test modules load the fixtures (mail_shop, smtp_server, mail_env) with
`pytest_plugins = ["mailing_support"]`, so the shop is built once per run, and import the
helpers. (PYTEST_DONT_REWRITE: it is imported before it is registered as a plugin; it holds
no assertions to rewrite.)
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import subprocess
from dataclasses import dataclass
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from pathlib import Path

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

import crmbook
from crmbook.cli import main
from crmbook.demo import build_demo_book

TODAY = dt.date(2026, 3, 15)
SENDER = "Horizon Travel <office@horizon.example>"
SENDER_ADDRESS = "office@horizon.example"
REFUSED = "refuse-me@example.com"  # the test server refuses this recipient

# Customers added to the demo shop: the Unicode names, birthdays today, consent or not.
UNICODE_CUSTOMERS = (
    {
        "name": "מרים לוי",
        "email": "miriam@example.co.il",
        "birthday": "1985-03-15",
        "consent_email": True,
        "stage": "loyal",
        "owner": "Anna Schmidt",
    },
    {
        "name": "Иванов Сергей Викторович",
        "email": "sergey@example.ru",
        "phone": "+7 495 123-45-67",
        "birthday": "1964-03-15",
        "consent_email": True,
        "consent_sms": True,
        "stage": "loyal",
        "owner": "Daniel Levi",
    },
    {
        "name": "Zoë Ørsted-Ådahl",
        "email": "zoe@example.dk",
        "birthday": "1990-03-15",
        "consent_email": False,
        "stage": "loyal",
        "owner": "Maria Rossi",
    },
    {
        "name": "Renée Refused",
        "email": REFUSED,
        "city": "Berlin",
        "consent_email": True,
        "stage": "prospect",
        "owner": "Tom Becker",
    },
)
UNICODE_TEMPLATE = {
    "name": "Привет",
    "channel": "email",
    "subject": "Привет, {first_name}! שלום, café ☕",
    "body": "Дорогой {first_name},\n\nשלום {name}! Noël à {city | default('Köln')}.\n{owner}",
}


@pytest.fixture(scope="session")
def mailing_master(tmp_path_factory) -> Path:
    """The demo shop (60 customers) plus UNICODE_CUSTOMERS and UNICODE_TEMPLATE; never
    changed by a test (use `mail_shop`)."""
    path = tmp_path_factory.mktemp("mailing") / "shop.xlsx"
    book = build_demo_book(path, customers=60, today=TODAY)
    for customer in UNICODE_CUSTOMERS:
        book.customers.add(consent_date="2025-01-01", **customer)
    book.templates.add(**UNICODE_TEMPLATE)
    book.save(backups=0)
    return path


@pytest.fixture
def mail_shop(mailing_master: Path, tmp_path: Path) -> Path:
    """A copy of the mailing shop of this test's own, with a crmbook.toml beside it that
    lifts the rate limit (see write_config)."""
    path = tmp_path / "shop.xlsx"
    shutil.copy(mailing_master, path)
    write_config(path)
    return path


def write_config(workbook: Path, **sections: dict[str, object]) -> Path:
    """Write crmbook.toml beside the workbook: no rate limit (tests send at once), plus the
    sections given, e.g. owners={"Anna Schmidt": "anna@example.com"}."""
    sections = {"mail": {"rate_per_minute": 0, **sections.pop("mail", {})}, **sections}
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [
            f"{json.dumps(k)} = {json.dumps(v, ensure_ascii=False)}" for k, v in values.items()
        ]
    path = workbook.parent / "crmbook.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def mail_env(monkeypatch, tmp_path):
    """No mail settings from the machine: only SENDER, and a config folder of the test's own."""
    for name in (
        "CRMBOOK_CONFIG",
        "CRMBOOK_SMTP_HOST",
        "CRMBOOK_SMTP_PORT",
        "CRMBOOK_SMTP_USER",
        "CRMBOOK_SMTP_PASSWORD",
        "CRMBOOK_SMTP_SECURITY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))
    monkeypatch.setenv("CRMBOOK_SMTP_FROM", SENDER)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


def display_name(raw: bytes, header: str = "To") -> str:
    """The display name of an address header, decoded as RFC 2047 says.

    Python's modern parser (before gh-128110) puts a space between two encoded words of one
    name that the generator had to split; the classic decoder joins them, as mail programs do.
    """
    value = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)[header]
    return parseaddr(str(make_header(decode_header(value))))[0]


class Inbox:
    """An aiosmtpd handler keeping every message; `on_message(n)` runs after the n-th."""

    def __init__(self):
        self.received: list[Received] = []
        self.on_message = None
        self.host = "127.0.0.1"
        self.port = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == REFUSED:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message, envelope.content)
        )
        if self.on_message is not None:
            self.on_message(len(self.received))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.rcpt_tos]

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for r in self.received:
            for address in r.rcpt_tos:
                found[address] = found.get(address, 0) + 1
        return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_smtp(inbox: Inbox, **smtp_options) -> Controller:
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, **smtp_options)
    controller.start()
    return controller


@pytest.fixture
def smtp_server(monkeypatch, mail_env) -> Inbox:
    """A real SMTP server on 127.0.0.1 (no TLS, no login), set as crmbook's server."""
    inbox = Inbox()
    controller = start_smtp(inbox)
    monkeypatch.setenv("CRMBOOK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CRMBOOK_SMTP_PORT", str(inbox.port))
    monkeypatch.setenv("CRMBOOK_SMTP_SECURITY", "none")
    yield inbox
    controller.stop()


def self_signed_certificate(folder: Path) -> tuple[Path, Path] | None:
    """A certificate for 127.0.0.1 (and its key) made with openssl, or None without it."""
    if shutil.which("openssl") is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def run_cli(*args, env: dict | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, env=env)


def consenting(path: Path, rules_stage: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The customers who may get an email: consent TRUE and a usable address, one per address."""
    from crmbook.mailing.consent import eligible

    customers = crmbook.open(path).customers.df
    if rules_stage:
        customers = customers[customers["stage"].isin(rules_stage)]
    return eligible(customers, "email")[0]
