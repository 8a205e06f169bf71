"""Senders: one small interface, send(message) -> SendResult, over SMTP, files and HTTP.

A SendResult says the message was accepted, or definitely refused (a bad address: nothing was
sent). A SendError stops the run: the server is unreachable or misconfigured (maybe_sent
False), or the connection broke while the message was on its way (maybe_sent True: it may
have arrived, so it is never sent again automatically).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import re
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import phonenumbers

from crmbook.errors import CrmbookError
from crmbook.mailing.config import ConfigError, HttpSettings, MailConfig, SmtpSettings
from crmbook.mailing.message import FILE_POLICY, Message

EMAIL_VIAS = ("smtp", "eml")
SMS_VIAS = ("sms-csv", "http")
VIAS = EMAIL_VIAS + SMS_VIAS
SMS_CSV_COLUMNS = ("phone", "message", "customer_id", "name", "reference")
DEFAULT_HTTP_BODY = {"to": "{to}", "text": "{text}", "reference": "{message_id}"}


class SendError(CrmbookError):
    """Sending cannot go on. maybe_sent: the message in flight may have been delivered."""

    def __init__(self, message: str, *, maybe_sent: bool = False):
        super().__init__(message)
        self.maybe_sent = maybe_sent


@dataclass(frozen=True)
class SendResult:
    ok: bool
    detail: str = ""


class Sender:
    """Base of the senders: a context manager whose send() delivers one message."""

    via = "none"
    network = False  # network senders are rate-limited; file writers are not

    def __enter__(self) -> Sender:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        """Connect (a connection error here means nothing was sent)."""

    def send(self, message: Message) -> SendResult:
        raise NotImplementedError

    def close(self) -> None:
        """Disconnect or close files."""


class SmtpSender(Sender):
    """An SMTP server, with STARTTLS (587), SSL (465) or neither, and a login if configured."""

    via = "smtp"
    network = True

    def __init__(self, settings: SmtpSettings, envelope_from: str):
        if not settings.host:
            raise ConfigError(
                "no SMTP server: set [smtp] host in crmbook.toml or CRMBOOK_SMTP_HOST "
                "(or send with --via eml to write .eml files instead)"
            )
        self.settings = settings
        self.envelope_from = envelope_from
        self._smtp: smtplib.SMTP | None = None

    def open(self) -> None:
        s = self.settings
        where = f"{s.host}:{s.effective_port}"
        try:
            if s.security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    s.host,
                    s.effective_port,
                    timeout=s.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(s.host, s.effective_port, timeout=s.timeout)
            if s.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if s.user:
                smtp.login(s.user, s.password or "")
        except smtplib.SMTPAuthenticationError as e:
            raise SendError(
                f"the SMTP server {where} refused the login of {s.user}: {_reply(e)}"
            ) from None
        except (smtplib.SMTPException, OSError) as e:
            raise SendError(f"cannot connect to the SMTP server {where}: {_reply(e)}") from None
        self._smtp = smtp

    def send(self, message: Message) -> SendResult:
        if self._smtp is None:
            self.open()
        try:
            self._smtp.send_message(
                message.email(), from_addr=self.envelope_from, to_addrs=[message.to]
            )
        except smtplib.SMTPRecipientsRefused as e:
            code, text = next(iter(e.recipients.values()))
            return SendResult(False, f"refused by the server: {code} {_text(text)}")
        except smtplib.SMTPDataError as e:
            return SendResult(False, f"refused by the server: {_reply(e)}")
        except smtplib.SMTPSenderRefused as e:
            raise SendError(
                f"the SMTP server refuses the sender {self.envelope_from}: {_reply(e)}"
            ) from None
        except (smtplib.SMTPException, OSError) as e:
            self._smtp = None
            raise SendError(
                f"the connection to the SMTP server broke while sending to {message.to}: "
                f"{_reply(e)}",
                maybe_sent=True,
            ) from None
        return SendResult(True, "accepted by the SMTP server")

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


class EmlSender(Sender):
    """Each email as an .eml file in a folder, to look at or to send with any mail program."""

    via = "eml"

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(self, message: Message) -> SendResult:
        digest = hashlib.sha1(message.key.encode()).hexdigest()[:8]
        path = self.folder / f"{_slug(message.key)[:80]}-{digest}.eml"
        _write_atomically(path, message.email().as_bytes(policy=FILE_POLICY))
        return SendResult(True, f"written to {path}")


class SmsCsvSender(Sender):
    """SMS as rows of a CSV file for an SMS provider's bulk upload (phone in E.164)."""

    via = "sms-csv"

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = None
        self._writer = None

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._file = self.path.open("a", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file)
        if new:
            self._writer.writerow(SMS_CSV_COLUMNS)
            self._sync()

    def send(self, message: Message) -> SendResult:
        if self._writer is None:
            self.open()
        reference = message.message_id or message.key
        self._writer.writerow(
            (
                e164(message.to),
                message.body,
                message.customer_id or "",
                message.name or "",
                reference,
            )
        )
        self._sync()
        return SendResult(True, f"added to {self.path}")

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None


class HttpSender(Sender):
    """A generic HTTP gateway: the URL and a JSON body with {to}, {text}, {subject},
    {customer_id}, {name} and {message_id} filled in, sent with the configured headers."""

    via = "http"
    network = True

    def __init__(self, settings: HttpSettings, opener: Callable = urllib.request.urlopen):
        if not settings.url:
            raise ConfigError("no HTTP gateway: set [http] url in crmbook.toml")
        self.settings = settings
        self._open = opener

    def send(self, message: Message) -> SendResult:
        values = {
            "to": message.to,
            "text": message.body,
            "subject": message.subject or "",
            "customer_id": message.customer_id or "",
            "name": message.name or "",
            "message_id": message.message_id or message.key,
        }
        url = _fill(self.settings.url, {k: quote(v, safe="") for k, v in values.items()})
        body = _fill_json(self.settings.body or DEFAULT_HTTP_BODY, values)
        request = urllib.request.Request(
            url,
            data=json.dumps(body, ensure_ascii=False).encode(),
            method=self.settings.method,
            headers={"Content-Type": "application/json; charset=utf-8", **self.settings.headers},
        )
        try:
            with self._open(request, timeout=self.settings.timeout) as response:
                return SendResult(True, f"HTTP {response.status}")
        except urllib.error.HTTPError as e:
            answer = e.read(300).decode("utf-8", "replace").strip()
            return SendResult(False, f"the gateway answered HTTP {e.code}: {answer or e.reason}")
        except urllib.error.URLError as e:
            refused = isinstance(e.reason, ConnectionRefusedError | socket.gaierror)
            raise SendError(
                f"cannot reach the HTTP gateway: {e.reason}", maybe_sent=not refused
            ) from None
        except (TimeoutError, OSError) as e:
            raise SendError(f"the HTTP gateway did not answer: {e}", maybe_sent=True) from None


class RateLimit:
    """At most `per_minute` sends a minute, evenly spaced; 0 or None means no limit."""

    def __init__(
        self,
        per_minute: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.gap = 60.0 / per_minute if per_minute else 0.0
        self._clock, self._sleep = clock, sleep
        self._last: float | None = None

    def wait(self) -> None:
        if not self.gap:
            return
        if self._last is not None:
            left = self._last + self.gap - self._clock()
            if left > 0:
                self._sleep(left)
        self._last = self._clock()


def make_sender(
    via: str, config: MailConfig, *, folder: Path, name: str = "messages", day: dt.date
) -> Sender:
    """The sender called `via`; eml and sms-csv write into `folder`."""
    if via == "smtp":
        return SmtpSender(config.smtp, config.sender_address)
    if via == "eml":
        return EmlSender(folder)
    if via == "sms-csv":
        return SmsCsvSender(folder / f"sms-{_slug(name)}-{day.isoformat()}.csv")
    if via == "http":
        return HttpSender(config.http)
    raise ConfigError(f"cannot send via {via!r}; choose one of: {', '.join(VIAS)}")


def e164(number: str) -> str:
    """+4930123456 for "+49 30 123456"; a number without country code stays as typed."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number.strip()
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _fill(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def _fill_json(template: object, values: dict[str, str]) -> object:
    if isinstance(template, str):
        return _fill(template, values)
    if isinstance(template, dict):
        return {k: _fill_json(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill_json(v, values) for v in template]
    return template


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text, flags=re.ASCII).strip("-") or "message"


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _reply(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    return str(error) or type(error).__name__


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
