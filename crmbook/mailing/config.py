"""Where mail goes out: settings from a TOML file or the environment, never from the workbook.

The workbook travels by email, so the SMTP password must never live in it. crmbook reads one
config file, the first that exists of: the path given (--config or $CRMBOOK_CONFIG),
`crmbook.toml` beside the workbook, and the user's `crmbook/config.toml`
(~/.config on Linux and macOS, %APPDATA% on Windows). The environment variables
CRMBOOK_SMTP_HOST, _PORT, _USER, _PASSWORD, _FROM and _SECURITY override the file.

    [mail]
    from = "Horizon Travel <office@horizon-travel.example>"
    unsubscribe_url = "https://horizon-travel.example/unsubscribe?email={email}"
    rate_per_minute = 60

    [smtp]
    host = "smtp.example.com"
    port = 587
    security = "starttls"      # starttls, ssl or none
    user = "office@horizon-travel.example"

    [http]                     # a generic SMS gateway
    url = "https://sms.example.com/api/send"
    headers = { Authorization = "Bearer ..." }
    body = { to = "{to}", text = "{text}" }

    [owners]                   # where the daily digest of each owner goes
    "Anna Schmidt" = "anna@horizon-travel.example"

    [daily]
    birthday_template = "Birthday greeting"
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from pathlib import Path

from crmbook.errors import CrmbookError

CONFIG_NAME = "crmbook.toml"
SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
DEFAULT_RATE = 60.0
DEFAULT_BIRTHDAY_TEMPLATE = "Birthday greeting"
ENVIRONMENT = {
    "CRMBOOK_SMTP_HOST": ("smtp", "host"),
    "CRMBOOK_SMTP_PORT": ("smtp", "port"),
    "CRMBOOK_SMTP_USER": ("smtp", "user"),
    "CRMBOOK_SMTP_PASSWORD": ("smtp", "password"),
    "CRMBOOK_SMTP_SECURITY": ("smtp", "security"),
    "CRMBOOK_SMTP_FROM": ("mail", "from"),
}
_KEYS = {
    "mail": {"from", "unsubscribe_url", "unsubscribe_text", "rate_per_minute"},
    "smtp": {"host", "port", "user", "password", "security", "timeout"},
    "http": {"url", "method", "headers", "body", "timeout"},
    "owners": None,
    "daily": {"birthday_template"},
}


class ConfigError(CrmbookError):
    """The mail settings are missing something or cannot be read."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    security: str = "starttls"
    timeout: float = 30.0

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]


@dataclass(frozen=True)
class HttpSettings:
    url: str | None = None
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    body: Mapping[str, object] | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class MailConfig:
    """Everything crmbook needs to send: the sender, the servers, the owners' addresses."""

    sender: str | None = None
    unsubscribe_url: str | None = None
    unsubscribe_text: str | None = None
    rate_per_minute: float = DEFAULT_RATE
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    owners: Mapping[str, str] = field(default_factory=dict)
    birthday_template: str = DEFAULT_BIRTHDAY_TEMPLATE
    source: Path | None = None

    @property
    def sender_address(self) -> str:
        """The bare address of `sender` (office@example.com); a ConfigError says how to set it."""
        address = parseaddr(self.sender or "")[1]
        if "@" not in address:
            where = f"in {self.source}" if self.source else f"in {CONFIG_NAME} beside the workbook"
            raise ConfigError(
                'no sender address: set [mail] from = "Your Shop <office@example.com>" '
                f"{where}, or the environment variable CRMBOOK_SMTP_FROM"
            )
        return address

    def owner_address(self, owner: str) -> str | None:
        wanted = owner.strip().casefold()
        for name, address in self.owners.items():
            if name.strip().casefold() == wanted:
                return address
        return None


def user_config_file() -> Path:
    """~/.config/crmbook/config.toml ($XDG_CONFIG_HOME), %APPDATA%\\crmbook on Windows."""
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        base = Path(os.environ["APPDATA"])
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "crmbook" / "config.toml"


def config_file(
    workbook: Path | None = None, path: Path | None = None, env: Mapping[str, str] | None = None
) -> Path | None:
    """The config file crmbook reads for this workbook, or None when there is none."""
    given = path or (os.environ if env is None else env).get("CRMBOOK_CONFIG")
    if given:
        given = Path(given)
        if not given.is_file():
            raise ConfigError(f"the config file {given} does not exist")
        return given
    candidates = [Path(workbook).parent / CONFIG_NAME] if workbook else []
    candidates.append(user_config_file())
    return next((p for p in candidates if p.is_file()), None)


def load_config(
    workbook: str | os.PathLike | None = None,
    path: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
) -> MailConfig:
    """The mail settings for `workbook`: its config file, then the environment on top."""
    env = os.environ if env is None else env
    source = config_file(Path(workbook) if workbook else None, Path(path) if path else None, env)
    data: dict[str, dict] = {}
    if source is not None:
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"cannot read {source}: {e}") from None
    _check_keys(data, source)
    data = {name: dict(data.get(name, {})) for name in _KEYS}
    for variable, (section, key) in ENVIRONMENT.items():
        if env.get(variable):
            data[section][key] = env[variable]
    return _build(data, source)


def _check_keys(data: dict, source: Path | None) -> None:
    for section, value in data.items():
        if section not in _KEYS:
            raise ConfigError(
                f"{source}: unknown section [{section}]; sections are: {', '.join(_KEYS)}"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {section} must be a [{section}] table")
        allowed = _KEYS[section]
        unknown = sorted(set(value) - allowed) if allowed is not None else []
        if unknown:
            raise ConfigError(
                f"{source}: unknown key {unknown[0]!r} in [{section}]; "
                f"keys are: {', '.join(sorted(allowed))}"
            )


def _build(data: dict[str, dict], source: Path | None) -> MailConfig:
    mail, smtp, http = data["mail"], data["smtp"], data["http"]
    security = str(smtp.get("security", "starttls")).strip().lower()
    if security not in SECURITY:
        raise ConfigError(f"smtp security {security!r} is not one of: {', '.join(SECURITY)}")
    url = mail.get("unsubscribe_url")
    if url and not str(url).lower().startswith("https://"):
        raise ConfigError(
            f"unsubscribe_url {url!r} must start with https:// (RFC 8058 one-click unsubscribe)"
        )
    if url and any(c.isspace() or not c.isascii() for c in str(url)):
        raise ConfigError(
            f"unsubscribe_url {url!r} holds spaces or non-ASCII letters; write it URL-encoded"
        )
    gateway = http.get("url")
    if gateway and not str(gateway).lower().startswith(("https://", "http://")):
        raise ConfigError(f"[http] url {gateway!r} must start with https:// or http://")
    return MailConfig(
        sender=mail.get("from"),
        unsubscribe_url=url,
        unsubscribe_text=mail.get("unsubscribe_text"),
        rate_per_minute=_number(mail, "rate_per_minute", DEFAULT_RATE, "mail"),
        smtp=SmtpSettings(
            host=smtp.get("host"),
            port=int(_number(smtp, "port", 0, "smtp")) or None,
            user=smtp.get("user"),
            password=smtp.get("password"),
            security=security,
            timeout=_number(smtp, "timeout", 30.0, "smtp"),
        ),
        http=HttpSettings(
            url=gateway,
            method=str(http.get("method", "POST")).upper(),
            headers={str(k): str(v) for k, v in dict(http.get("headers", {})).items()},
            body=http.get("body"),
            timeout=_number(http, "timeout", 30.0, "http"),
        ),
        owners={str(k): str(v) for k, v in data["owners"].items()},
        birthday_template=str(data["daily"].get("birthday_template", DEFAULT_BIRTHDAY_TEMPLATE)),
        source=source,
    )


def _number(section: dict, key: str, default: float, name: str) -> float:
    value = section.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"[{name}] {key} must be a number, not {value!r}") from None
    if number < 0:
        raise ConfigError(f"[{name}] {key} must not be negative")
    return number


def with_rate(config: MailConfig, rate: float | None) -> MailConfig:
    """The config with another rate limit (messages per minute; 0 means no limit)."""
    return config if rate is None else replace(config, rate_per_minute=rate)
