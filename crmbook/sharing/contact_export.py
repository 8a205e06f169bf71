"""Customers taken to a phone or back to another address book: vCard, Google or Outlook CSV.

The files are written so that importing them again (into crmbook, Google, Outlook or a phone)
gives the same people: every email and phone (the other_emails and other_phones columns
too), birthdays with or without year, tags, city and country, notes.
"""

from __future__ import annotations

import os

import pandas as pd

from crmbook.sharing.contacts import customer_contacts
from crmbook.sharing.presets import EXPORTS, Written, write_csv
from crmbook.sharing.vcard import write_vcards

FORMATS = {"vcard": "vCard 3.0", **{name: preset.name for name, preset in EXPORTS.items()}}


def export_contacts(customers: pd.DataFrame, fmt: str, path: str | os.PathLike) -> Written:
    """Write `customers` (a Customers frame, or a segment of it) in format `fmt` (FORMATS)."""
    contacts = customer_contacts(customers)
    if fmt == "vcard":
        return Written(write_vcards(contacts, path), len(contacts), {})
    return write_csv(contacts, EXPORTS[fmt], path)
