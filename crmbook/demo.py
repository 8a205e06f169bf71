"""A believable demo CRM: a travel agency with a business-travel side, generated from a seed.

Pure and vectorized so `make demo`, notebooks and tests get the same records for the same seed
and 100,000 customers take seconds: no files, no clock (``today`` is a parameter).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from crmbook.errors import CrmbookError
from crmbook.io.safety import Temporary
from crmbook.schema import SCHEMA
from crmbook.storage import is_database_url

OWNERS = ("Anna Schmidt", "Daniel Levi", "Maria Rossi", "Tom Becker")
_OWNER_SHARE = (0.35, 0.3, 0.2, 0.15)

# name, channel, started days ago, ran for days (None: ongoing), cost per 600 customers,
# share of new customers, conversion, revenue factor, share of companies, notes
_SOURCES = (
    (
        "Google Ads: holidays",
        "search ad",
        730,
        None,
        36000,
        16,
        0.40,
        1.0,
        0.03,
        "Always-on search campaign for leisure trips",
    ),
    (
        "Google Ads: business travel",
        "search ad",
        540,
        None,
        24000,
        5,
        0.45,
        1.6,
        0.6,
        "Keywords around conferences and team events",
    ),
    (
        "Website (organic)",
        "website",
        730,
        None,
        6000,
        14,
        0.35,
        1.0,
        0.1,
        "Contact form; the cost is SEO and hosting",
    ),
    (
        "Customer referrals",
        "referral",
        730,
        None,
        4000,
        9,
        0.70,
        1.3,
        0.05,
        "EUR 50 voucher for every friend who books",
    ),
    (
        "Partner hotels",
        "referral",
        600,
        None,
        9000,
        4,
        0.55,
        1.2,
        0.1,
        "Commission paid to partner hotels",
    ),
    (
        "Facebook & Instagram",
        "social",
        540,
        None,
        24000,
        15,
        0.18,
        0.7,
        0.02,
        "Always-on social ads, young audience",
    ),
    (
        "Banner: city portal",
        "banner",
        480,
        180,
        22000,
        7,
        0.10,
        0.6,
        0.02,
        "Half-year banner on the city news portal",
    ),
    (
        "Travel fair Berlin",
        "exhibition",
        420,
        4,
        28000,
        7,
        0.40,
        1.2,
        0.1,
        "Stand, staff and travel; leads from the visitor list",
    ),
    (
        "B2B trade show Munich",
        "exhibition",
        220,
        3,
        35000,
        4,
        0.50,
        2.4,
        0.7,
        "Stand at the business travel show",
    ),
    (
        "Radio spring campaign",
        "radio",
        330,
        60,
        26000,
        7,
        0.12,
        0.8,
        0.0,
        "30-second spots on the local station",
    ),
    (
        "Newsletter sign-up",
        "email",
        700,
        None,
        1500,
        8,
        0.30,
        0.9,
        0.05,
        "Sign-up incentive: a 10 EUR voucher",
    ),
    (
        "City magazine ad",
        "print",
        260,
        90,
        12000,
        4,
        0.15,
        0.9,
        0.05,
        "Quarter-page ad in three issues",
    ),
)
_REFERRAL_SOURCE = "Customer referrals"
_LEAD_DAYS = 30  # leads keep arriving for a month after a campaign ends
_RECENT_DAYS = 21  # interactions this recent mostly promise a next step
_OVERDUE_DAYS = 28  # what is still open is at most this late: the office keeps up
_CADENCES = np.array([30, 60, 90, 180, 365])  # contact_every_days people choose

_COUNTRIES = {  # phone code, legal form, web domain ending, local mail provider
    "Germany": ("+49", "GmbH", ".de", "web.de"),
    "Austria": ("+43", "GmbH", ".at", "gmx.at"),
    "Switzerland": ("+41", "AG", ".ch", "bluewin.ch"),
    "Netherlands": ("+31", "B.V.", ".nl", "ziggo.nl"),
    "United Kingdom": ("+44", "Ltd", ".co.uk", "btinternet.com"),
    "United States": ("+1", "Inc.", ".com", "aol.com"),
    "Israel": ("+972", "Ltd", ".co.il", "walla.co.il"),
    "Russia": ("+7", "LLC", ".ru", "mail.ru"),
}
_CITIES = (  # city, country, area code, share of customers
    ("Berlin", "Germany", "30", 30),
    ("Hamburg", "Germany", "40", 9),
    ("Munich", "Germany", "89", 9),
    ("Cologne", "Germany", "221", 6),
    ("Frankfurt", "Germany", "69", 6),
    ("Vienna", "Austria", "1", 5),
    ("Zurich", "Switzerland", "44", 3),
    ("Amsterdam", "Netherlands", "20", 3),
    ("London", "United Kingdom", "20", 5),
    ("Manchester", "United Kingdom", "161", 2),
    ("New York", "United States", "212", 4),
    ("Chicago", "United States", "312", 2),
    ("Tel Aviv", "Israel", "3", 6),
    ("Haifa", "Israel", "4", 2),
    ("Moscow", "Russia", "495", 4),
    ("Saint Petersburg", "Russia", "812", 2),
)
_FIRST = (
    "Anna",
    "Lukas",
    "Sophie",
    "Jonas",
    "Marie",
    "Felix",
    "Laura",
    "Paul",
    "Julia",
    "Max",
    "Emma",
    "Leon",
    "Hannah",
    "David",
    "Sarah",
    "Michael",
    "Lisa",
    "Thomas",
    "Katharina",
    "Daniel",
    "Claudia",
    "Stefan",
    "Nina",
    "Andreas",
    "Eva",
    "Peter",
    "Olivia",
    "James",
    "Emily",
    "Oliver",
    "Chloé",
    "René",
    "Jürgen",
    "Søren",
    "Noah",
    "Mia",
    "Elias",
    "Lena",
)
_LAST = (
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Neumann",
    "Schwarz",
    "Braun",
    "Zimmermann",
    "Krüger",
    "Hartmann",
    "Lange",
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Wilson",
    "Evans",
    "Cohen",
    "Levy",
    "Friedman",
    "Bauer",
    "de Vries",
    "Jansen",
    "Novak",
    "Horváth",
    "Dubois",
    "Lefèvre",
    "García",
    "Rossi",
)
_SPECIAL = (  # name, email local part, city: the names that prove Unicode round-trips
    ("דוד כהן", "david.cohen", "Tel Aviv"),
    ("מרים לוי", "miriam.levi", "Haifa"),
    ("Иванов Сергей Викторович", "sergey.ivanov", "Moscow"),
    ("Ivanov Sergey V.", "ivanov.sv", "Moscow"),  # the same man typed twice: same phone
    ("Смирнова Анна Павловна", "anna.smirnova", "Saint Petersburg"),
    ("José Müller-Lüdenscheid", "jose.mueller-luedenscheid", "Cologne"),
    ("Zoë Ørsted", "zoe.orsted", "Amsterdam"),
)
_COMPANY_WORDS = (
    "Nordwind",
    "Bluestone",
    "Alpenblick",
    "Harbor",
    "Silverline",
    "Kranich",
    "Meridian",
    "Lindner",
    "Cedar",
    "Orion",
    "Falkenberg",
    "Summit",
)
_COMPANY_TRADES = (
    "Logistics",
    "Consulting",
    "Software",
    "Engineering",
    "Medical",
    "Events",
    "Trading",
    "Architects",
)
_ROLES = (
    "Travel manager",
    "Office manager",
    "Managing director",
    "Assistant",
    "HR manager",
    "Procurement",
)
_MAILBOXES = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com")
_TAGS = (
    "beach",
    "city trips",
    "ski",
    "cruise",
    "family",
    "adventure",
    "wellness",
    "groups",
    "business travel",
    "last minute",
    "luxury",
    "long-haul",
)
_CUSTOMER_NOTES = (
    "Prefers calls after 17:00",
    "Travels with two children",
    "Vegetarian meals",
    "Speaks German and Russian",
    "Pays by invoice only",
    "Afraid of flying",
    "Wants aisle seats",
    "Allergic to cats; no pet-friendly hotels",
)
_CONTACT_NOTES = ("Books for the whole team", "Approves budgets above 5,000 EUR", "Prefers email")
_PRODUCTS = (  # product, typical price, bought by companies
    ("Beach holiday Crete", 2400, False),
    ("City break Lisbon", 900, False),
    ("Ski week Tyrol", 3100, False),
    ("Mediterranean cruise", 4200, False),
    ("Family holiday Mallorca", 3600, False),
    ("Safari Kenya", 6800, False),
    ("Wellness weekend Baden-Baden", 650, False),
    ("Travel insurance", 180, False),
    ("Conference travel package", 9500, True),
    ("Corporate retreat Lake Garda", 24000, True),
    ("Team event Berlin", 7800, True),
    ("Business travel contract", 15000, True),
    ("Incentive trip Dubai", 38000, True),
)
_PROMO_CODES = ("WELCOME10", "SPRING15", "FAIR20", "FRIENDS10", "BIRTHDAY5")

_STAGES = SCHEMA.vocabulary("stage").values
_KINDS = SCHEMA.vocabulary("interaction_kind").values
_ST = {name: i for i, name in enumerate(_STAGES)}
# per customer stage: interactions weight, deals (min, max)
_ACTIVITY = {
    "prospect": 1,
    "potential": 2,
    "customer": 2.5,
    "repeat": 3.5,
    "loyal": 5,
    "promoter": 6,
    "lost": 1.5,
}
_DEALS = {
    "prospect": (0, 0),
    "potential": (1, 1),
    "customer": (1, 1),
    "repeat": (1, 2),
    "loyal": (1, 3),
    "promoter": (2, 3),
    "lost": (1, 1),
}
# probability rows; columns in vocabulary order (interaction_kind, channel, outcome, deal_stage)
_KIND_BY_STAGE = {
    "prospect": (45, 0, 0, 0, 40, 10, 5),
    "potential": (30, 0, 0, 0, 55, 10, 5),
    "customer": (15, 25, 15, 7, 25, 3, 10),
    "repeat": (12, 28, 15, 7, 23, 2, 13),
    "loyal": (10, 30, 17, 5, 20, 1, 17),
    "promoter": (10, 30, 15, 3, 20, 1, 21),
    "lost": (10, 10, 10, 25, 15, 25, 5),
}
_CHANNEL_BY_KIND = {
    "inquiry": (30, 5, 30, 2, 10, 20, 3),
    "sale": (25, 30, 15, 0, 25, 5, 0),
    "service": (35, 5, 30, 5, 10, 15, 0),
    "complaint": (45, 5, 30, 0, 10, 10, 0),
    "follow-up": (45, 15, 25, 10, 0, 5, 0),
    "refusal": (40, 5, 45, 5, 0, 5, 0),
    "feedback": (15, 0, 50, 5, 5, 20, 5),
}
_OUTCOME_BY_KIND = {
    "inquiry": (35, 55, 10),
    "sale": (90, 8, 2),
    "service": (70, 20, 10),
    "complaint": (30, 25, 45),
    "follow-up": (40, 45, 15),
    "refusal": (0, 10, 90),
    "feedback": (60, 35, 5),
}
_DEAL_STAGE_BY_STAGE = {
    "prospect": (40, 30, 20, 10, 0, 0),
    "potential": (20, 25, 30, 20, 0, 5),
    "customer": (3, 3, 4, 5, 70, 15),
    "repeat": (3, 3, 5, 5, 70, 14),
    "loyal": (3, 3, 5, 6, 72, 11),
    "promoter": (3, 3, 5, 6, 75, 8),
    "lost": (0, 0, 0, 0, 30, 70),
}
# days from today an open deal at each stage is expected to close: (from, to)
_CLOSE_IN = {
    "new": (30, 180),
    "qualified": (14, 150),
    "proposal": (0, 100),
    "negotiation": (-12, 60),
}
_LOST_REASON_SHARE = {
    "price": 30,
    "timing": 15,
    "competitor": 25,
    "no budget": 10,
    "no response": 15,
    "other": 5,
}
# when tasks fall due: long ago (done or cancelled), lately and still open, or ahead
_TASK_TIMING = {"past": 0.62, "overdue": 0.03, "ahead": 0.35}
_TASK_DONE_SHARE = 0.88
_SUMMARIES = {
    "inquiry": (
        "Asked for prices of a family holiday in summer.",
        "Wants ideas for a city break in autumn.",
        "Asked about visas for Kenya.",
        "Requested the ski catalogue.",
        "Compared our offer with an online portal.",
        "Asked about group rates for a team trip.",
    ),
    "sale": (
        "Booked the trip and paid the deposit.",
        "Signed the contract for the retreat.",
        "Added travel insurance to the booking.",
        "Booked the same hotel as last year.",
        "Paid the balance; documents sent.",
    ),
    "service": (
        "Changed the flight dates on request.",
        "Sent the travel documents again.",
        "Helped with a seat reservation.",
        "Arranged an airport transfer.",
        "Updated passport details.",
    ),
    "complaint": (
        "Hotel room did not match the description.",
        "Flight delayed six hours; asks for compensation.",
        "Transfer driver did not show up.",
        "Invoice amount was wrong.",
        "Unhappy with the hotel food.",
    ),
    "follow-up": (
        "Discussed the offer; still deciding.",
        "Sent the revised quote.",
        "Reminded about the expiring offer.",
        "Asked how the trip went.",
        "Checked whether the budget is approved.",
    ),
    "refusal": (
        "Booked elsewhere; our price was too high.",
        "Trip cancelled for personal reasons.",
        "No budget for travel this year.",
        "Chose a competitor's package.",
    ),
    "feedback": (
        "Loved the trip, will recommend us.",
        "Happy; asks for more vegetarian options.",
        "Rated the hotel five stars.",
        "Sent photos from the cruise.",
        "Would like faster replies by email.",
    ),
}
_NEXT_STEPS = {
    "inquiry": ("Send offer", "Send catalogue", "Call back"),
    "sale": ("Send travel documents", "Confirm booking"),
    "service": ("Check with the airline", "Confirm the change"),
    "complaint": ("Check refund status", "Call back with a solution"),
    "follow-up": ("Call back", "Send revised quote", "Schedule meeting"),
    "refusal": ("Send the spring newsletter",),
    "feedback": ("Ask for a review", "Offer loyalty discount"),
}
_SCHEDULED = (
    "Meeting booked to go through the offer.",
    "Appointment to sign the contract.",
    "Consultation about the next holiday.",
)
_TASK_TITLES = {
    "call": ("Call back about the offer", "Call to confirm travel dates"),
    "meeting": ("Present the proposal", "Plan the group trip together"),
    "email": ("Send catalogue and prices", "Email the booking confirmation"),
    "visit": ("Visit the client's office", "Bring the travel documents"),
    "follow-up": ("Follow up on the quote", "Ask for feedback after the trip"),
    "other": ("Update passport details", "Check visa requirements"),
}
_OFFICE_TASKS = (
    "Prepare the monthly newsletter",
    "Order brochures for the travel fair",
    "Review supplier contracts",
    "Update the price list",
)
_TEMPLATES = (
    {
        "name": "Birthday greeting",
        "channel": "email",
        "subject": "Happy birthday, {name}!",
        "body": "Dear {name},\n\nall of us at Horizon Travel wish you a happy birthday! Your next "
        "trip comes with 5% off: mention the code BIRTHDAY5 when you book.\n\n"
        "Warm regards,\n{owner}",
    },
    {
        "name": "Newsletter",
        "channel": "email",
        "subject": "New trips from {city} this season",
        "body": "Hello {name},\n\nour favourite trips from {city} this month: a cruise in the "
        "Mediterranean, ski weeks in Tyrol and city breaks in Lisbon. Reply to this email "
        "or call us to book.\n\nHorizon Travel",
    },
    {
        "name": "Appointment reminder",
        "channel": "sms",
        "body": "Hi {name}, a reminder of your appointment with {owner} at Horizon Travel "
        "tomorrow. To change it, just reply to this message.",
    },
    {
        "name": "Follow-up",
        "channel": "email",
        "subject": "Your trip plans, {name}",
        "body": "Dear {name},\n\nthank you for your time. As promised, the offer is attached; it "
        "is valid for 14 days. Call me if anything is unclear.\n\nBest regards,\n{owner}",
    },
)
# Saved segments in the rule language of crmbook.analytics.segments.
_SEGMENTS = (
    {
        "name": "Loyal with email consent",
        "rules": "stage=loyal,promoter consent_email=true",
        "notes": "for the newsletter",
    },
    {"name": "Big spenders", "rules": "revenue>=10000"},
    {
        "name": "Dormant for 90 days",
        "rules": "days_since_contact>=90 stage!=lost",
        "notes": "call them before they drift away",
    },
    {"name": "Berlin prospects", "rules": "city=Berlin stage=prospect,potential"},
)

_COMPETITORS = (  # "losses": their share of the deals we lose to a competitor
    {
        "name": "TravelNow Online",
        "strengths": "Low prices; booking around the clock",
        "weaknesses": "No personal advice; slow help when plans change",
        "notes": "Big portal, strong on Google Ads",
        "losses": 40,
    },
    {
        "name": "Sonnenreisen GmbH",
        "strengths": "Office in the city centre; loyal old customers",
        "weaknesses": "Small choice of long-haul trips",
        "notes": "Local agency, fights on price in spring",
        "losses": 25,
    },
    {
        "name": "BizTrip Solutions",
        "strengths": "Corporate travel tool with monthly invoicing",
        "weaknesses": "Expensive; no leisure trips",
        "notes": "Competes for company accounts",
        "losses": 20,
    },
    {
        "name": "LastMinute Direct",
        "strengths": "Cheap last-minute offers",
        "weaknesses": "Hidden fees; poor complaint handling",
        "losses": 15,
    },
)
# per city: name, country, area code, phone code, legal form, web domain ending, mail provider
_CITY = np.array([(c, k, a, *_COUNTRIES[k]) for c, k, a, _ in _CITIES], dtype=object)
_NAT = np.datetime64("NaT", "D")


@dataclass(frozen=True)
class DemoData:
    """Demo records per sheet name, and the salespeople to add to the "owner" list."""

    frames: dict[str, pd.DataFrame]
    owners: tuple[str, ...]


@dataclass(frozen=True)
class _Customers:
    """The customers as arrays, so the other sheets can be drawn consistently with them."""

    ids: np.ndarray
    stage: np.ndarray
    created: np.ndarray  # datetime64[m]
    active_until: np.ndarray  # datetime64[D]: lost customers stopped buying and talking
    is_company: np.ndarray
    owner: np.ndarray
    revenue: np.ndarray
    sales: np.ndarray
    city: np.ndarray
    domain: np.ndarray


def generate_demo(
    customers: int = 600, interactions: int | None = None, seed: int = 2024, *, today: dt.date
) -> DemoData:
    """Generate the demo records; the same arguments always give the same frames."""
    if customers < 1:
        raise ValueError("customers must be at least 1")
    rng = np.random.default_rng(seed)
    day = np.datetime64(today, "D")
    people, frames = _customers(rng, customers, day)
    deals, deal_customer = _deals(rng, people, day)
    talks, last_contact = _interactions(
        rng, people, day, 5 * customers if interactions is None else interactions
    )
    frames["Customers"]["contact_every_days"] = pd.array(
        _cadence(rng, people, last_contact, day), dtype="Int64"
    )
    frames |= {
        "Contacts": _contacts(rng, people, day),
        "Interactions": talks,
        "Deals": deals,
        "Sales": _sales(rng, people, deals, deal_customer),
        "Tasks": _tasks(rng, people, day),
        "Templates": _records("Templates", _TEMPLATES),
        "Competitors": _records("Competitors", _COMPETITORS),
        "Segments": _records("Segments", _SEGMENTS),
    }
    return DemoData({s.name: frames[s.name] for s in SCHEMA.entities}, OWNERS)


def _customers(rng, n: int, day: np.datetime64) -> tuple[_Customers, dict[str, pd.DataFrame]]:
    src = np.array(_SOURCES, dtype=object)
    start = day - src[:, 2].astype(int)
    end = np.array([s + d if d else _NAT for s, d in zip(start, src[:, 3], strict=True)])
    lead_end = np.where(np.isnat(end), day, np.minimum(end + _LEAD_DAYS, day))
    scale = n / 600
    sources = _frame(
        "Sources",
        {
            "name": src[:, 0],
            "channel": src[:, 1],
            "start": start,
            "end": end,
            "notes": src[:, 9],
            "cost": np.round(src[:, 4].astype(float) * scale, -2),
        },
    )
    share = src[:, 5].astype(float)
    s = rng.choice(len(src), n, p=share / share.sum())
    created = _office_time(rng, _days_in(rng, start[s], lead_end[s]))
    order = np.argsort(created, kind="stable")  # ids grow with time, like records typed in
    s, created = s[order], created[order]
    created_day = created.astype("datetime64[D]")
    age = (day - created_day).astype(int)
    tenure = age / 730
    convert, revenue = src[s, 6].astype(float), src[s, 7].astype(float)

    special = rng.permutation(n)[: len(_SPECIAL) + 1]  # the last one is born on 29 February
    is_company = rng.random(n) < src[s, 8].astype(float)
    is_company[special] = False
    city_share = np.array([c[3] for c in _CITIES], float)
    city = rng.choice(len(_CITIES), n, p=city_share / city_share.sum())
    specials = special[: len(_SPECIAL)]
    city_index = {c[0]: i for i, c in enumerate(_CITIES)}
    city[specials] = [city_index[c] for _, _, c in _SPECIAL][: len(specials)]
    country, legal, tld, local_mail = _CITY[city, 1], _CITY[city, 4], _CITY[city, 5], _CITY[city, 6]

    converted = rng.random(n) < convert * (0.8 + tenure)
    sales = np.where(converted, 1 + rng.poisson(0.5 + 6 * tenure * convert), 0)
    ladder = np.array([_ST[x] for x in ("customer", "repeat", "loyal", "promoter")])
    stage = np.where(
        converted, ladder[np.searchsorted([2, 4, 7], sales, side="right")], _ST["prospect"]
    )
    r = rng.random(n)
    stage[~converted & (r < 0.3)] = _ST["potential"]
    stage[(~converted & (r > 0.75)) | (converted & (r < 0.1))] = _ST["lost"]

    referred_by = np.full(n, -1)
    referred = np.flatnonzero((src[s, 0] == _REFERRAL_SOURCE) & (np.arange(n) > 0))
    good = np.flatnonzero(np.isin(stage, ladder[1:]))
    below = np.searchsorted(good, referred)
    r = rng.random(len(referred))
    to_good = (below > 0) & (rng.random(len(referred)) < 0.8)
    referred_by[referred] = np.where(
        to_good, np.append(good, 0)[(r * below).astype(int)], (r * referred).astype(int)
    )
    referrals = np.bincount(referred_by[referred_by >= 0], minlength=n)
    stage[(referrals > 0) & (stage == _ST["loyal"])] = _ST["promoter"]  # loyal and recommends
    active_until = np.where(stage == _ST["lost"], created_day + 1 + (0.4 * age).astype(int), day)

    first, last = rng.integers(len(_FIRST), size=n), rng.integers(len(_LAST), size=n)
    word = rng.integers(len(_COMPANY_WORDS), size=n)
    trade = rng.integers(len(_COMPANY_TRADES), size=n)
    firm = _obj(_COMPANY_WORDS)[word] + " " + _obj(_COMPANY_TRADES)[trade] + " " + legal
    domain = (
        _obj(_ascii(w) for w in _COMPANY_WORDS)[word]
        + _obj(_ascii(t) for t in _COMPANY_TRADES)[trade]
        + tld
    )
    name = np.where(is_company, firm, _obj(_FIRST)[first] + " " + _obj(_LAST)[last])
    number = np.where(rng.random(n) < 0.3, rng.integers(1, 100, n).astype(str).astype(object), "")
    mailbox = np.where(rng.random(n) < 0.55, _obj(_MAILBOXES)[rng.integers(4, size=n)], local_mail)
    local = _obj(_ascii(f) for f in _FIRST)[first] + "." + _obj(_ascii(x) for x in _LAST)[last]
    email = np.where(
        is_company,
        np.where(rng.random(n) < 0.5, "info@", "office@") + domain,
        local + number + "@" + mailbox,
    )
    phone = _phone(rng, city)
    name[specials] = [x[0] for x in _SPECIAL][: len(specials)]
    email[specials] = [x[1] + "@" + m for x, m in zip(_SPECIAL, mailbox[specials], strict=False)]
    if len(specials) == len(_SPECIAL):
        phone[specials[3]] = phone[specials[2]]
    email[rng.random(n) < 0.06] = None
    phone[rng.random(n) < 0.05] = None

    birthday = np.where(
        ~is_company & (rng.random(n) < 0.85), day - rng.integers(19 * 365, 78 * 365, n), _NAT
    )
    has_birthday = np.flatnonzero(~np.isnat(birthday))
    has_birthday = has_birthday[has_birthday != special[-1]]
    soon = rng.choice(has_birthday, min(len(has_birthday), max(3, n // 40)), replace=False)
    birthday[soon] = _years_before(
        day + rng.integers(0, 15, len(soon)), 4 * rng.integers(5, 18, len(soon))
    )
    birthday[special[-1]] = np.datetime64(f"{(day.astype(object).year - 30) // 4 * 4:04d}-02-29")

    combos = ["", *_TAGS, *(", ".join(c) for c in combinations(_TAGS, 2))]
    pairs = len(combos) - 1 - len(_TAGS)
    weights = np.r_[35, np.full(len(_TAGS), 40 / len(_TAGS)), np.full(pairs, 25 / pairs)]
    tags = _obj(combos)[rng.choice(len(combos), n, p=weights / weights.sum())]
    tags = _prefix(tags, "vip", np.isin(stage, ladder[2:]) & (rng.random(n) < 0.5))
    tags = _prefix(tags, "b2b", is_company)
    consent_email = ~pd.isna(email) & (rng.random(n) < 0.64)
    consent_sms = ~pd.isna(phone) & (rng.random(n) < 0.42)
    consent_date = np.where(consent_email | consent_sms, _days_in(rng, created_day, day + 1), _NAT)
    owner = rng.choice(len(OWNERS), n, p=_OWNER_SHARE)
    edited = np.maximum(created, _office_time(rng, _days_in(rng, created_day, day)))
    updated = np.where(rng.random(n) < 0.45, created, edited)
    ids = _ids("Customers", n)
    customers = _frame(
        "Customers",
        {
            "id": ids,
            "name": name,
            "kind": np.where(is_company, "company", "person"),
            "company": np.where(is_company | (rng.random(n) < 0.12), firm, None),
            "email": email,
            "phone": phone,
            "birthday": birthday,
            "city": _CITY[city, 0],
            "country": country,
            "source": src[s, 0],
            "stage": _obj(_STAGES)[stage],
            "owner": _obj(OWNERS)[owner],
            "tags": np.where(tags == "", None, tags),
            "consent_email": consent_email,
            "consent_sms": consent_sms,
            "consent_date": consent_date,
            "referred_by": np.append(ids, None)[referred_by],  # -1 picks the None
            "created": created,
            "updated": updated,
            "notes": _sometimes(rng, _CUSTOMER_NOTES, n, 0.06),
        },
    )
    people = _Customers(
        ids, stage, created, active_until, is_company, owner, revenue, sales, city, domain
    )
    return people, {"Customers": customers, "Sources": sources}


def _cadence(rng, c: _Customers, last_contact: np.ndarray, day: np.datetime64) -> np.ndarray:
    """contact_every_days for the customers someone keeps in touch with (most of those who
    come back, a few others): the cadence that suits the time since their last contact, so
    the next contact falls due from a few days ago to the coming weeks."""
    n = len(c.ids)
    wants = rng.random(n) < np.where(c.stage >= _ST["repeat"], 0.7, 0.25)
    wants &= c.stage != _ST["lost"]
    last = np.where(np.isnat(last_contact), c.created, last_contact).astype("datetime64[D]")
    since = (day - last).astype(int)
    slack = rng.integers(0, _OVERDUE_DAYS // 2, n)  # due at most this many days ago
    fits = np.minimum((_CADENCES[None, :] < (since - slack)[:, None]).sum(1), len(_CADENCES) - 1)
    every = _CADENCES[fits]
    wants &= every >= since - slack
    return np.where(wants, every, np.nan)


def _contacts(rng, c: _Customers, day: np.datetime64) -> pd.DataFrame:
    company = np.flatnonzero(c.is_company)
    at = np.repeat(company, rng.integers(1, 4, len(company)))
    k = len(at)
    first, last = rng.integers(len(_FIRST), size=k), rng.integers(len(_LAST), size=k)
    return _frame(
        "Contacts",
        {
            "id": _ids("Contacts", k),
            "customer_id": c.ids[at],
            "name": _obj(_FIRST)[first] + " " + _obj(_LAST)[last],
            "role": _obj(_ROLES)[rng.integers(len(_ROLES), size=k)],
            "email": _obj(_ascii(f) for f in _FIRST)[first]
            + "."
            + _obj(_ascii(x) for x in _LAST)[last]
            + "@"
            + c.domain[at],
            "phone": _phone(rng, c.city[at]),
            "birthday": np.where(
                rng.random(k) < 0.3, day - rng.integers(22 * 365, 65 * 365, k), _NAT
            ),
            "notes": _sometimes(rng, _CONTACT_NOTES, k, 0.1),
        },
    )


def _interactions(
    rng, c: _Customers, day: np.datetime64, m: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Every customer's first contact is an inquiry when the record was created; the rest
    fall in the customer's active time, more often for customers higher up the ladder.
    Also returns each customer's last contact up to today."""
    n = len(c.ids)
    first = np.arange(n) if m >= n else np.empty(0, int)
    activity = np.array([_ACTIVITY[x] for x in _STAGES])[c.stage]
    rest = rng.choice(n, m - len(first), p=activity / activity.sum())
    cust = np.concatenate([first, rest])
    created_day = c.created.astype("datetime64[D]")
    when = np.concatenate(
        [
            c.created[first] + rng.integers(0, 20, len(first)),
            _office_time(rng, _days_in(rng, created_day[rest], c.active_until[rest])),
        ]
    )
    when = np.maximum(when, c.created[cust])
    kind = _draw(rng, _KIND_BY_STAGE, _STAGES, c.stage[cust])
    kind[: len(first)] = _KINDS.index("inquiry")
    future = (np.arange(m) >= len(first)) & (c.stage[cust] != _ST["lost"]) & (rng.random(m) < 0.01)
    when[future] = _office_time(rng, day + rng.integers(1, 31, future.sum()))
    kind[future] = _KINDS.index("follow-up")
    channels = SCHEMA.vocabulary("channel").values
    channel = _obj(channels)[_draw(rng, _CHANNEL_BY_KIND, _KINDS, kind)]
    channel[future] = "meeting"
    outcome = _obj(SCHEMA.vocabulary("outcome").values)[_draw(rng, _OUTCOME_BY_KIND, _KINDS, kind)]
    outcome[future] = None
    summary = _phrases(rng, _SUMMARIES, _KINDS, kind)
    summary[future] = _obj(_SCHEDULED)[rng.integers(len(_SCHEDULED), size=future.sum())]
    recent = when >= (day - _RECENT_DAYS).astype("datetime64[m]")
    has_next = ~future & (rng.random(m) < np.where(recent, 0.75, 0.25))
    next_date = np.where(has_next, when.astype("datetime64[D]") + rng.integers(1, 15, m), _NAT)
    owner = np.where(rng.random(m) < 0.85, c.owner[cust], rng.integers(len(OWNERS), size=m))
    order = np.argsort(when, kind="stable")
    last = _last_contact(cust[order], when[order], n, day)
    next_date = _followed_up(rng, cust, when, next_date, last, day)
    has_next = ~np.isnat(next_date)
    frame = _frame(
        "Interactions",
        {
            "id": _ids("Interactions", m),
            "customer_id": c.ids[cust][order],
            "when": when[order],
            "channel": channel[order],
            "kind": _obj(_KINDS)[kind][order],
            "outcome": outcome[order],
            "owner": _obj(OWNERS)[owner][order],
            "summary": summary[order],
            "next_step": np.where(has_next, _phrases(rng, _NEXT_STEPS, _KINDS, kind), None)[order],
            "next_date": next_date[order],
        },
    )
    return frame, last


def _last_contact(cust: np.ndarray, when: np.ndarray, n: int, day: np.datetime64) -> np.ndarray:
    """Each customer's last interaction up to today (NaT for none), from interactions in time
    order: what ends a follow-up and what a contact cadence counts from."""
    past = np.flatnonzero(when < (day + 1).astype("datetime64[m]"))[::-1]
    customers, first = np.unique(cust[past], return_index=True)
    last = np.full(n, np.datetime64("NaT"), "datetime64[m]")
    last[customers] = when[past[first]]
    return last


def _followed_up(
    rng, cust: np.ndarray, when: np.ndarray, next_date: np.ndarray, last: np.ndarray, day
) -> np.ndarray:
    """The next dates of interactions, with most promises kept.

    A next step is kept by the customer's next interaction, so only a customer's last contact
    (`last`: per customer) can leave one open. When its day has passed it stays open, days to
    a few weeks late, for some; the others were simply dropped, as a busy office does.
    """
    at_last = np.flatnonzero(when == last[cust])
    late = (day - next_date[at_last]).astype("timedelta64[D]").astype(float)  # NaN: none
    kept = ~(late > 0) | ((late <= _OVERDUE_DAYS) & (rng.random(len(at_last)) < 0.3))
    out = next_date.copy()
    out[at_last[~kept]] = _NAT
    return out


def _deals(rng, c: _Customers, day: np.datetime64) -> tuple[pd.DataFrame, np.ndarray]:
    """Won deals only for customers who bought (each becomes a sale); open ones are recent."""
    lo, hi = np.array([_DEALS[x] for x in _STAGES]).T
    cust = np.repeat(np.arange(len(c.ids)), rng.integers(lo[c.stage], hi[c.stage] + 1))
    k = len(cust)
    stages = SCHEMA.vocabulary("deal_stage").values
    won, lost = stages.index("won"), stages.index("lost")
    stage = _draw(rng, _DEAL_STAGE_BY_STAGE, _STAGES, c.stage[cust])
    stage[(stage == won) & (c.sales[cust] == 0)] = lost
    done = (stage == won) | (stage == lost)
    created = c.created.astype("datetime64[D]")[cust]
    opened = np.where(
        done,
        _days_in(rng, created, c.active_until[cust] - 7),
        np.maximum(created, day - rng.integers(0, 120, k)),
    )
    product = _product(rng, c.is_company[cust])
    price = np.array([p[1] for p in _PRODUCTS], float)[product]
    reasons = SCHEMA.vocabulary("lost_reason").values
    share = np.array([_LOST_REASON_SHARE[x] for x in reasons], float)
    reason = _obj(reasons)[rng.choice(len(reasons), k, p=share / share.sum())]
    r = rng.random(k)
    rival = (stage == lost) & ((reason == "competitor") | ((reason == "price") & (r < 0.4))) | (
        (stage == stages.index("negotiation")) & (r < 0.2)
    )
    losses = np.array([x["losses"] for x in _COMPETITORS], float)
    rivals = _obj(x["name"] for x in _COMPETITORS)[
        rng.choice(len(_COMPETITORS), k, p=losses / losses.sum())
    ]
    owner = np.where(rng.random(k) < 0.9, c.owner[cust], rng.integers(len(OWNERS), size=k))
    order = np.argsort(opened, kind="stable")
    frame = _frame(
        "Deals",
        {
            "id": _ids("Deals", k),
            "customer_id": c.ids[cust][order],
            "title": _obj(p[0] for p in _PRODUCTS)[product][order],
            "stage": _obj(stages)[stage][order],
            "amount": np.maximum(
                np.round(price * rng.lognormal(0, 0.3, k) * c.revenue[cust], -1), 50
            )[order],
            "opened": opened[order],
            "expected_close": np.where(
                done,
                opened + rng.integers(14, 76, k),
                np.maximum(opened + 7, day + _days_to_close(rng, stage)),
            )[order],
            "closed": np.where(done, np.minimum(opened + rng.integers(5, 61, k), day), _NAT)[order],
            "lost_reason": np.where(stage == lost, reason, None)[order],
            "competitor": np.where(rival, rivals, None)[order],
            "owner": _obj(OWNERS)[owner][order],
        },
    )
    return frame, cust[order]


def _days_to_close(rng, stage: np.ndarray) -> np.ndarray:
    """Days from today to an open deal's expected close: soon for a deal in negotiation
    (some have slipped a little), months ahead for a new one."""
    lo, hi = np.array([_CLOSE_IN.get(s, (0, 1)) for s in SCHEMA.vocabulary("deal_stage").values]).T
    return lo[stage] + (rng.random(len(stage)) * (hi - lo)[stage]).astype(int)


def _sales(rng, c: _Customers, deals: pd.DataFrame, deal_customer: np.ndarray) -> pd.DataFrame:
    """A sale for every won deal, plus purchases without a deal up to the customer's count."""
    won = (deals["stage"] == "won").to_numpy()
    extra = np.maximum(c.sales - np.bincount(deal_customer[won], minlength=len(c.ids)), 0)
    cust = np.repeat(np.arange(len(c.ids)), extra)
    k = len(cust)
    product = _product(rng, c.is_company[cust])
    price = np.array([p[1] for p in _PRODUCTS], float)[product]
    date = np.concatenate(
        [
            _days_in(rng, c.created.astype("datetime64[D]")[cust], c.active_until[cust]),
            deals["closed"].to_numpy()[won].astype("datetime64[D]"),
        ]
    )
    order = np.argsort(date, kind="stable")
    return _frame(
        "Sales",
        {
            "id": _ids("Sales", len(date)),
            "date": date[order],
            "customer_id": np.concatenate([c.ids[cust], deals["customer_id"].to_numpy()[won]])[
                order
            ],
            "amount": np.concatenate(
                [
                    np.round(price * rng.lognormal(0, 0.35, k) * c.revenue[cust]),
                    deals["amount"].to_numpy()[won],
                ]
            )[order],
            "product": np.concatenate(
                [_obj(p[0] for p in _PRODUCTS)[product], deals["title"].to_numpy()[won]]
            )[order],
            "deal_id": np.concatenate([np.full(k, None), deals["id"].to_numpy()[won]])[order],
            "promo_code": np.concatenate(
                [_sometimes(rng, _PROMO_CODES, k, 0.07), np.full(won.sum(), None)]
            )[order],
        },
    )


def _tasks(rng, c: _Customers, day: np.datetime64) -> pd.DataFrame:
    """Done and cancelled tasks lie in the past; open ones are due today or in the coming
    month, and a few are overdue by days to two weeks."""
    k = max(1, round(0.75 * len(c.ids)))
    office = rng.random(k) < 0.08
    activity = np.array([_ACTIVITY[x] for x in _STAGES])[c.stage]
    cust = rng.choice(len(c.ids), k, p=activity / activity.sum())
    when = rng.choice(len(_TASK_TIMING), k, p=list(_TASK_TIMING.values()))
    status = np.where(
        when == list(_TASK_TIMING).index("past"),
        np.where(rng.random(k) < _TASK_DONE_SHARE, "done", "cancelled"),
        "open",
    ).astype(object)
    kinds = tuple(_TASK_TITLES)
    kind = rng.integers(len(kinds), size=k)
    kind[office] = kinds.index("other")
    title = _phrases(rng, _TASK_TITLES, kinds, kind)
    title[office] = _obj(_OFFICE_TASKS)[rng.integers(len(_OFFICE_TASKS), size=office.sum())]
    since = np.where(office, day - 730, c.created.astype("datetime64[D]")[cust])
    due = np.select(
        [when == 0, when == 1],
        [
            _days_in(rng, since, day),
            day - rng.integers(1, 15, k),
        ],
        day + np.where(rng.random(k) < 0.12, 0, rng.integers(1, 31, k)),
    )
    due = np.maximum(due, since)
    owner = np.where(rng.random(k) < 0.85, c.owner[cust], rng.integers(len(OWNERS), size=k))
    order = np.argsort(due, kind="stable")
    return _frame(
        "Tasks",
        {
            "id": _ids("Tasks", k),
            "customer_id": np.where(office, None, c.ids[cust])[order],
            "due": due[order],
            "title": title[order],
            "kind": _obj(kinds)[kind][order],
            "owner": _obj(OWNERS)[owner][order],
            "status": status[order],
            "done_on": np.where(
                status == "done",
                np.minimum(np.maximum(due + rng.integers(-2, 4, k), since), day),
                _NAT,
            )[order],
        },
    )


def _frame(sheet: str, columns: dict) -> pd.DataFrame:
    """A sheet's frame in schema order and pandas types; columns not given stay empty."""
    fields = SCHEMA.sheet(sheet).fields
    unknown = set(columns) - {f.name for f in fields}
    if unknown:
        raise KeyError(f"{sheet} has no columns {sorted(unknown)}")
    n = len(next(iter(columns.values())))
    return pd.DataFrame(
        {f.name: pd.Series(columns.get(f.name, [None] * n), dtype=f.ftype.dtype) for f in fields}
    )


def _records(sheet: str, records: tuple[dict, ...]) -> pd.DataFrame:
    """A small fixed sheet from one dict per record; keys that are no column are left out."""
    return _frame(sheet, {c: [r.get(c) for r in records] for c in SCHEMA.sheet(sheet).columns})


def _ids(sheet: str, n: int) -> np.ndarray:
    ids = np.strings.mod(f"{SCHEMA.sheet(sheet).id_prefix}-%06d", np.arange(1, n + 1))
    return ids.astype(object)


def _obj(values) -> np.ndarray:
    return np.array(list(values), dtype=object)


def _ascii(text: str) -> str:
    """Email-safe ASCII: accents dropped (é -> e), spaces removed, lower case."""
    text = text.translate(str.maketrans({"ß": "ss", "ø": "o", "Ø": "O", "ł": "l"}))
    return (
        unicodedata.normalize("NFKD", text)
        .encode("ascii", "ignore")
        .decode()
        .lower()
        .replace(" ", "")
    )


def _draw(rng, probs: dict, rows: tuple[str, ...], row: np.ndarray) -> np.ndarray:
    """One column index per record from the probability row of its category (inverse CDF)."""
    p = np.array([probs[x] for x in rows], float)
    cdf = np.cumsum(p / p.sum(1, keepdims=True), axis=1)
    return np.minimum((rng.random(len(row))[:, None] > cdf[row]).sum(1), p.shape[1] - 1)


def _phrases(rng, table: dict, keys: tuple[str, ...], key: np.ndarray) -> np.ndarray:
    """A random phrase per record from the list its category has in ``table``."""
    flat = _obj(p for k in keys for p in table[k])
    size = np.array([len(table[k]) for k in keys])
    start = np.cumsum(size) - size
    return flat[start[key] + (rng.random(len(key)) * size[key]).astype(int)]


def _sometimes(rng, choices: tuple[str, ...], n: int, share: float) -> np.ndarray:
    return np.where(rng.random(n) < share, _obj(choices)[rng.integers(len(choices), size=n)], None)


def _prefix(tags: np.ndarray, tag: str, where: np.ndarray) -> np.ndarray:
    return np.where(where, np.where(tags == "", tag, tag + ", " + tags), tags)


def _product(rng, for_company: np.ndarray) -> np.ndarray:
    b2b = np.array([p[2] for p in _PRODUCTS])
    firm, private = np.flatnonzero(b2b), np.flatnonzero(~b2b)
    n = len(for_company)
    return np.where(
        for_company,
        firm[rng.integers(len(firm), size=n)],
        private[rng.integers(len(private), size=n)],
    )


def _phone(rng, city: np.ndarray) -> np.ndarray:
    """International format, e.g. +49 30 4567123, matching the city."""
    digits = rng.integers(2_000_000, 10_000_000, len(city)).astype(str).astype(object)
    return _CITY[city, 3] + " " + _CITY[city, 2] + " " + digits


def _days_in(rng, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A day in [lo, hi) for each pair; an empty range gives lo."""
    span = np.maximum((hi - lo).astype(int), 1)
    return lo + (rng.random(len(lo)) * span).astype(int)


def _office_time(rng, days: np.ndarray) -> np.ndarray:
    """Minute timestamps between 08:00 and 18:55, in steps of five minutes."""
    return days.astype("datetime64[m]") + 480 + 5 * rng.integers(0, 132, len(days))


def _years_before(days: np.ndarray, years: np.ndarray) -> np.ndarray:
    """The same month and day ``years`` earlier (a multiple of 4 keeps 29 February valid)."""
    year, month = days.astype("datetime64[Y]"), days.astype("datetime64[M]")
    shifted = (year - years).astype("datetime64[M]") + (month - year.astype("datetime64[M]"))
    return shifted.astype("datetime64[D]") + (days - month.astype("datetime64[D]"))


def build_demo_book(
    path,
    *,
    customers: int = 600,
    interactions: int | None = None,
    seed: int = 2024,
    today: dt.date,
    overwrite: bool = False,
):
    """Write the demo business into a new workbook at `path` (or a database URL) and return
    the open Book.

    A workbook is built in a temporary folder and moved in place only when complete, so a
    build cut short (Ctrl+C, a kill, a full disk) never leaves a half-built book under `path`.
    """
    from crmbook.book import create
    from crmbook.book import open as open_book

    data = generate_demo(customers, interactions, seed, today=today)
    if is_database_url(path):  # a database takes the records in one transaction per save
        return _filled(create(path, overwrite=overwrite, user="demo"), data)
    path = Path(path)
    if path.exists() and not overwrite:
        raise CrmbookError(f"{path} already exists; choose another name or delete it first")
    with tempfile.TemporaryDirectory(prefix="crmbook-demo-") as folder:
        book = _filled(create(Path(folder) / path.name, user="demo"), data)
        book.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        with Temporary(path) as staged:  # held while copied: never taken for a leftover
            shutil.copyfile(book.path, staged.path)
            os.replace(staged.path, path)
    return open_book(path, user="demo")


def _filled(book, data: DemoData):
    """The book with the demo business in it, saved."""
    book.set_list("owner", data.owners)
    for sheet in SCHEMA.reference_order():  # referenced records first
        book.table(sheet.name).add_many(data.frames[sheet.name], keep_ids=True)
    book.save(backups=0)
    return book


DEMO_SENDER = "Horizon Travel <office@horizon-travel.example>"


def demo_mail_config() -> str:
    """A crmbook.toml for the demo business: a sender and each owner's address, no SMTP server
    (so `crmbook daily --via eml` writes the digests and greetings as .eml files to look at)."""
    owners = "\n".join(
        f'"{owner}" = "{".".join(_ascii(part) for part in owner.split())}@horizon-travel.example"'
        for owner in OWNERS
    )
    return f'[mail]\nfrom = "{DEMO_SENDER}"\n\n[owners]\n{owners}\n'
