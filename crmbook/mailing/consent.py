"""Consent: who may receive a message, how they say stop, and how crmbook listens.

A message goes only to customers whose consent for its channel is TRUE and who have an
address for it; two records with the same address get one message. Every email carries an
unsubscribe line and List-Unsubscribe headers: a mailto to the sender always (a file-based
CRM has no web server to click), and RFC 8058 one-click when an https URL is configured.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from crmbook.mailing.config import MailConfig

CONSENT = {"email": "consent_email", "sms": "consent_sms"}
ADDRESS = {"email": "email", "sms": "phone"}
DEFAULT_UNSUBSCRIBE_TEXT = (
    "You receive this email because you agreed to hear from us. To unsubscribe, reply "
    'with the subject "unsubscribe" or write to {address}.'
)
ONE_CLICK_TEXT = " Or unsubscribe in one click: {url}"
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
_ADDRESS_HEADERS = {"email", "e-mail", "email address", "e-mail address", "address", "recipient"}


def eligible(customers: pd.DataFrame, channel: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The customers who may get a message on `channel`, and the others with the reason.

    Returns (allowed, refused); refused has the columns id, name, reason.
    """
    consent = customers[CONSENT[channel]].eq(True).to_numpy(dtype=bool)
    address = (
        customers[ADDRESS[channel]]
        .astype(object)
        .map(lambda v: str(v).strip() if isinstance(v, str) else "")
    )
    valid = address.map(valid_email if channel == "email" else _valid_phone).to_numpy(dtype=bool)
    reasons = pd.Series("", index=customers.index, dtype=object)
    word = "email address" if channel == "email" else "phone number"
    reasons[~valid] = [f"{word} {a!r} is not valid" if a else f"no {word}" for a in address[~valid]]
    reasons[~consent] = f"no consent to {'emails' if channel == 'email' else 'SMS'}"
    normal = address.map(lambda a: _normal(a, channel))
    seen: dict[str, str] = {}
    for index in customers.index[(reasons == "").to_numpy()]:
        first = seen.setdefault(normal[index], customers.at[index, "id"])
        if first != customers.at[index, "id"]:
            reasons[index] = f"same {word} as {first}, which gets the message"
    ok = (reasons == "").to_numpy()
    refused = pd.DataFrame(
        {
            "id": customers["id"][~ok].astype(str),
            "name": customers["name"][~ok].astype(str),
            "reason": reasons[~ok],
        }
    )
    return customers[ok], refused.reset_index(drop=True)


def valid_email(address: str) -> bool:
    return bool(_EMAIL.match(address))


def _valid_phone(number: str) -> bool:
    return sum(c.isdigit() for c in number) >= 5


def _normal(address: str, channel: str) -> str:
    if channel == "email":
        return address.casefold()
    return "+" + "".join(c for c in address if c.isdigit())


# ---------------------------------------------------------------- the unsubscribe line


def unsubscribe_url(config: MailConfig, email: str, customer_id: str = "") -> str | None:
    """The one-click URL for one recipient ({email} and {id} in the configured URL filled)."""
    if not config.unsubscribe_url:
        return None
    return config.unsubscribe_url.replace("{email}", quote(email, safe="")).replace(
        "{id}", quote(customer_id, safe="")
    )


def unsubscribe_headers(
    config: MailConfig, email: str, customer_id: str = ""
) -> tuple[tuple[str, str], ...]:
    """List-Unsubscribe (mailto always, the URL when configured) and List-Unsubscribe-Post."""
    mailto = f"mailto:{config.sender_address}?subject=" + quote(f"unsubscribe {email}")
    url = unsubscribe_url(config, email, customer_id)
    if url is None:
        return (("List-Unsubscribe", f"<{mailto}>"),)
    return (
        ("List-Unsubscribe", f"<{url}>, <{mailto}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    )


def unsubscribe_line(config: MailConfig, email: str, customer_id: str = "") -> str:
    """The line below every email saying how to stop receiving them."""
    url = unsubscribe_url(config, email, customer_id)
    text = config.unsubscribe_text or DEFAULT_UNSUBSCRIBE_TEXT + (ONE_CLICK_TEXT if url else "")
    return (
        text.replace("{address}", config.sender_address)
        .replace("{email}", email)
        .replace("{url}", url or "")
    )


# ---------------------------------------------------------------- turning consent off


@dataclass
class Unsubscribed:
    """What an unsubscribe did: consent turned off, already off, addresses of nobody."""

    turned_off: list[tuple[str, str]] = field(default_factory=list)
    already_off: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        rows = [(i, a, "consent turned off") for i, a in self.turned_off]
        rows += [(i, a, "consent was already off") for i, a in self.already_off]
        rows += [("", a, "no customer has this address") for a in self.unknown]
        return pd.DataFrame(rows, columns=["id", "email", "result"])


def unsubscribe(book, addresses: Iterable[str], today: dt.date) -> Unsubscribed:
    """Turn consent_email off (consent_date = today) for every customer with these addresses.

    The change goes through the Book, so the Log sheet records it; the caller saves.
    """
    customers = book.customers.df
    emails = (
        customers["email"]
        .astype(object)
        .map(lambda v: v.strip().casefold() if isinstance(v, str) else None)
    )
    done = Unsubscribed()
    for address in dict.fromkeys(a.strip() for a in addresses if a and a.strip()):
        hits = customers[(emails == address.casefold()).to_numpy()]
        if hits.empty:
            done.unknown.append(address)
        for customer_id, consent in zip(hits["id"], hits["consent_email"], strict=True):
            if consent is True or consent == True:  # noqa: E712 (numpy bools)
                book.customers.update(customer_id, consent_email=False, consent_date=today)
                done.turned_off.append((customer_id, address))
            else:
                done.already_off.append((customer_id, address))
    return done


def read_addresses(path: str | Path) -> list[str]:
    """The email addresses in a bounce or unsubscribe list (CSV with any delimiter, or text).

    A column headed email, e-mail, address or recipient is used when there is one; otherwise
    every cell that is an email address.
    """
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    if not rows:
        return []
    header = [c.strip().casefold() for c in rows[0]]
    columns = [i for i, h in enumerate(header) if h in _ADDRESS_HEADERS]
    if columns:
        cells = [r[columns[0]] for r in rows[1:] if len(r) > columns[0]]
    else:
        cells = [c for r in rows for c in r]
    found = [c.strip().strip("<>").strip() for c in cells]
    return list(dict.fromkeys(a for a in found if valid_email(a)))
