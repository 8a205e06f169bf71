"""Mailings: templates rendered per customer, consent enforced, senders, and the outbox journal.

from crmbook.mailing import load_config, mail
run = mail(book, "Newsletter", segment="Loyal with email consent",
           today=dt.date.today(), config=load_config(book.path), dry_run=True)
run.preview                     # every message, and who gets none and why: run.plan.skipped
"""

from crmbook.mailing.campaign import MailingRun, Plan, mail, plan_messages, select_customers
from crmbook.mailing.config import ConfigError, MailConfig, load_config
from crmbook.mailing.consent import Unsubscribed, eligible, read_addresses, unsubscribe
from crmbook.mailing.daily import DailyRun, daily
from crmbook.mailing.message import Message
from crmbook.mailing.outbox import Delivery, deliver, log_interactions
from crmbook.mailing.senders import (
    VIAS,
    EmlSender,
    HttpSender,
    RateLimit,
    Sender,
    SendError,
    SendResult,
    SmsCsvSender,
    SmtpSender,
    make_sender,
)
from crmbook.mailing.templates import MessageTemplate, TemplateError, customer_fields

__all__ = [
    "VIAS",
    "ConfigError",
    "DailyRun",
    "Delivery",
    "EmlSender",
    "HttpSender",
    "MailConfig",
    "MailingRun",
    "Message",
    "MessageTemplate",
    "Plan",
    "RateLimit",
    "SendError",
    "SendResult",
    "Sender",
    "SmsCsvSender",
    "SmtpSender",
    "TemplateError",
    "Unsubscribed",
    "customer_fields",
    "daily",
    "deliver",
    "eligible",
    "load_config",
    "log_interactions",
    "mail",
    "make_sender",
    "plan_messages",
    "read_addresses",
    "select_customers",
    "unsubscribe",
]
