"""One message ready to send, and its deterministic identity.

The key names what the message is (campaign or template, customer, day); the Message-ID is
derived from it, so a message written twice is recognisably the same message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

# Headers crmbook sets itself (List-Unsubscribe) are kept on one line as written: folding a
# long URL would turn it into an encoded word no mail client reads (RFC 2369 forbids it).
EMAIL_POLICY = policy.default.clone(refold_source="none")
FILE_POLICY = EMAIL_POLICY.clone(linesep="\r\n")


@dataclass(frozen=True)
class Message:
    """A rendered email or SMS for one recipient.

    kind is the Interactions kind it is logged as; None for messages to staff (the digest),
    which are not part of any customer's history. headers are ASCII header lines added as
    they are (List-Unsubscribe...).
    """

    key: str
    channel: str
    to: str
    body: str
    subject: str | None = None
    customer_id: str | None = None
    name: str | None = None
    template: str | None = None
    sender: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    message_id: str | None = None
    kind: str | None = "follow-up"

    def email(self, date: dt.datetime | None = None) -> EmailMessage:
        """The message as an email (UTF-8; names and subjects in any script survive)."""
        msg = EmailMessage(policy=EMAIL_POLICY)
        sender_name, sender_address = parseaddr(self.sender or "")
        msg["From"] = Address(display_name=sender_name, addr_spec=sender_address)
        msg["To"] = Address(display_name=self.name or "", addr_spec=self.to)
        msg["Subject"] = self.subject or ""
        msg["Date"] = format_datetime((date or dt.datetime.now()).astimezone())
        if self.message_id:
            msg["Message-ID"] = self.message_id
        for name, value in self.headers:
            msg.set_raw(name, value)
        msg.set_content(self.body)
        return msg


def message_id(workbook_id: str, key: str, sender_address: str) -> str:
    """A Message-ID that is the same every time for the same workbook and key."""
    digest = hashlib.sha256(f"{workbook_id}\n{key}".encode()).hexdigest()[:32]
    domain = sender_address.rpartition("@")[2] or "crmbook.invalid"
    return f"<{digest}.crmbook@{domain}>"


def message_key(campaign: str, customer_id: str, day: dt.date | None) -> str:
    """campaign/customer/day: once per customer and day; without a day, once per customer."""
    return "/".join(p for p in (campaign.strip(), customer_id, day and day.isoformat()) if p)
