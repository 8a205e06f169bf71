"""The CRM schema, declared once as data.

Everything else derives from these declarations: the template workbook, the column types,
Excel formats and widths, dropdowns, reading, validation messages, CLI options and widget
forms. This module imports nothing from openpyxl, pandas or ipywidgets on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCHEMA_VERSION = 3
# A birthday known without its year (phones and Google Contacts allow that) is stored in this
# year: the first leap year an Excel date can hold, so 29 February fits. No age is shown for
# it, and contact exports write it without a year again.
BIRTHDAY_WITHOUT_YEAR = 1904

# What each schema version brought. A workbook of an older version is upgraded in place on
# its next save: the sheets and columns it lacks are added, nothing is removed or renamed.
SCHEMA_HISTORY: tuple[tuple[int, str], ...] = (
    (1, "the first schema"),
    (2, "the Segments sheet (saved customer segments)"),
    (3, "the probability column of the Lists sheet (each deal stage's chance, for the forecast)"),
)


@dataclass(frozen=True)
class FieldType:
    """How one kind of value is stored in Excel and in pandas."""

    name: str
    number_format: str
    width: float
    help: str
    dtype: str = "str"  # the pandas dtype of the column in a Book's frames


TYPES: dict[str, FieldType] = {
    t.name: t
    for t in (
        FieldType("id", "@", 11, "assigned by crmbook, e.g. C-000123"),
        FieldType("text", "@", 18, "text"),
        FieldType("longtext", "@", 40, "free text"),
        FieldType("email", "@", 28, "an email address such as anna@example.com"),
        FieldType("phone", "@", 17, "a phone number, e.g. +49 30 1234567"),
        FieldType("date", "yyyy-mm-dd", 12, "a date such as 2024-03-31", "datetime64[us]"),
        FieldType(
            "datetime",
            "yyyy-mm-dd hh:mm",
            17,
            "a date and time such as 2024-03-31 14:30",
            "datetime64[us]",
        ),
        FieldType("money", "#,##0.00", 12, "an amount such as 1250.00", "float64"),
        FieldType("integer", "0", 10, "a whole number", "Int64"),
        FieldType("bool", "General", 10, "TRUE or FALSE", "bool"),
        FieldType("choice", "@", 14, "one value from the Lists sheet"),
        FieldType("tags", "@", 20, "words separated by commas"),
    )
}


@dataclass(frozen=True)
class ListNumbers:
    """A number for each value of a vocabulary, in a column of the Lists sheet beside it (on
    the value's row): the chance that a deal at each stage is won. People change them in
    Excel; a blank cell takes the default."""

    name: str
    defaults: tuple[float, ...]  # one per value of the vocabulary, in its order
    number_format: str = "0%"
    help: str = ""


@dataclass(frozen=True)
class Vocabulary:
    """A dropdown list kept on the Lists sheet, editable by the user.

    An open vocabulary (owners, tags) only warns about values it does not know;
    a closed one (stages, channels) reports them as errors.
    """

    name: str
    values: tuple[str, ...]
    open: bool = False
    help: str = ""
    numbers: ListNumbers | None = None

    def __post_init__(self) -> None:
        if self.numbers and len(self.numbers.defaults) != len(self.values):
            raise ValueError(f"{self.name}: one default {self.numbers.name} per value")

    def default_numbers(self) -> dict[str, float]:
        """Each value with its default number ({} without a numbers column)."""
        if self.numbers is None:
            return {}
        return dict(zip(self.values, self.numbers.defaults, strict=True))


@dataclass(frozen=True)
class Field:
    """One column of an entity sheet."""

    name: str
    type: str = "text"
    required: bool = False
    vocabulary: str | None = None
    ref: str | None = None
    unique: bool = False
    default: object = None
    auto: bool = False
    not_future: bool = False
    help: str = ""

    @property
    def ftype(self) -> FieldType:
        return TYPES[self.type]

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()

    @property
    def width(self) -> float:
        return max(self.ftype.width, len(self.name) + 4)


@dataclass(frozen=True)
class Sheet:
    """One entity: a sheet holding one Excel table of records."""

    name: str
    entity: str
    fields: tuple[Field, ...]
    id_prefix: str | None = None
    help: str = ""
    system: bool = False

    @property
    def key(self) -> str | None:
        """The column that identifies a record: the crmbook id, else the unique name."""
        if self.id_prefix:
            return "id"
        return "name" if self.has("name") else None

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no column {name!r}")

    def has(self, name: str) -> bool:
        return any(f.name == name for f in self.fields)


@dataclass(frozen=True)
class Schema:
    version: int
    sheets: tuple[Sheet, ...]
    vocabularies: tuple[Vocabulary, ...]
    lists_sheet: str = "Lists"
    meta_sheet: str = "_crmbook"
    dashboard_sheet: str = "Dashboard"
    _by_name: dict[str, Sheet] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for s in self.sheets:
            self._by_name[s.name] = s
            self._by_name[s.entity] = s
            self._by_name[s.name.lower()] = s

    def sheet(self, name: str) -> Sheet:
        """Look up a sheet by its sheet name ("Customers") or entity name ("customer")."""
        try:
            return self._by_name[name] if name in self._by_name else self._by_name[name.lower()]
        except KeyError:
            known = ", ".join(s.entity for s in self.sheets if not s.system)
            raise KeyError(f"no sheet or entity called {name!r}; known: {known}") from None

    def vocabulary(self, name: str) -> Vocabulary:
        for v in self.vocabularies:
            if v.name == name:
                return v
        raise KeyError(name)

    @property
    def lists_columns(self) -> list[str]:
        """The Lists sheet's columns: each vocabulary, and after one with numbers its numbers."""
        return [
            name
            for v in self.vocabularies
            for name in (v.name, *((v.numbers.name,) if v.numbers else ()))
        ]

    def reference_order(self) -> list[Sheet]:
        """Entity sheets ordered so that a sheet comes after the sheets it refers to
        (Sources before Customers before Interactions): the order to load or merge records in."""
        left = [s for s in self.entities if s.key]
        done: list[Sheet] = []
        while left:
            ready = [
                s
                for s in left
                if all(f.ref in (s.name, *(d.name for d in done)) for f in s.fields if f.ref)
            ] or left[:1]
            for s in ready:
                done.append(s)
                left.remove(s)
        return done

    @property
    def entities(self) -> tuple[Sheet, ...]:
        """The sheets people keep records in (not the change log)."""
        return tuple(s for s in self.sheets if not s.system)

    @property
    def owned_sheet_names(self) -> tuple[str, ...]:
        return (*(s.name for s in self.sheets), self.lists_sheet, self.meta_sheet)


def _id() -> Field:
    return Field("id", "id", auto=True, unique=True, help="record id, assigned by crmbook")


def _customer_ref(required: bool = True) -> Field:
    return Field(
        "customer_id",
        "id",
        required=required,
        ref="Customers",
        help="id of the customer (Customers sheet), e.g. C-000001",
    )


SCHEMA = Schema(
    version=SCHEMA_VERSION,
    vocabularies=(
        Vocabulary("kind", ("person", "company"), help="customer kinds"),
        Vocabulary(
            "stage",
            ("prospect", "potential", "customer", "repeat", "loyal", "promoter", "lost"),
            help="the loyalty ladder",
        ),
        Vocabulary("owner", (), open=True, help="people responsible for customers"),
        Vocabulary(
            "channel",
            ("call", "meeting", "email", "sms", "visit", "chat", "other"),
            help="how we were in touch",
        ),
        Vocabulary(
            "interaction_kind",
            ("inquiry", "sale", "service", "complaint", "follow-up", "refusal", "feedback"),
            help="what an interaction was about",
        ),
        Vocabulary("outcome", ("success", "neutral", "failure")),
        Vocabulary(
            "deal_stage",
            ("new", "qualified", "proposal", "negotiation", "won", "lost"),
            numbers=ListNumbers(
                "probability",
                (0.10, 0.25, 0.50, 0.75, 1.0, 0.0),
                help="the chance that a deal at this stage is won, for the forecast",
            ),
        ),
        Vocabulary(
            "lost_reason",
            ("price", "timing", "competitor", "no budget", "no response", "other"),
            open=True,
        ),
        Vocabulary(
            "task_kind", ("call", "meeting", "email", "visit", "follow-up", "other"), open=True
        ),
        Vocabulary("task_status", ("open", "done", "cancelled")),
        Vocabulary(
            "source_channel",
            (
                "search ad",
                "banner",
                "social",
                "exhibition",
                "referral",
                "email",
                "print",
                "radio",
                "website",
                "other",
            ),
            open=True,
        ),
        Vocabulary("message_channel", ("email", "sms")),
    ),
    sheets=(
        Sheet(
            "Customers",
            "customer",
            id_prefix="C",
            help="people and companies we serve",
            fields=(
                _id(),
                Field("name", required=True, help="full name, e.g. Ivanov Sergey V."),
                Field("kind", "choice", vocabulary="kind", default="person"),
                Field("company", help="company name (for a person: where they work)"),
                Field("email", "email"),
                Field("phone", "phone"),
                Field("birthday", "date", not_future=True),
                Field("city"),
                Field("country"),
                Field("source", ref="Sources", help="marketing source that brought the customer"),
                Field("stage", "choice", vocabulary="stage", default="prospect"),
                Field("owner", "choice", vocabulary="owner"),
                Field("tags", "tags"),
                Field("consent_email", "bool", default=False, help="agreed to receive emails"),
                Field("consent_sms", "bool", default=False, help="agreed to receive SMS"),
                Field("consent_date", "date", not_future=True),
                Field("referred_by", "id", ref="Customers", help="id of the customer who referred"),
                Field("contact_every_days", "integer", help="contact cadence in days"),
                Field("created", "datetime", auto=True),
                Field("updated", "datetime", auto=True),
                Field("notes", "longtext"),
            ),
        ),
        Sheet(
            "Contacts",
            "contact",
            id_prefix="P",
            help="people at a company customer",
            fields=(
                _id(),
                _customer_ref(),
                Field("name", required=True),
                Field("role"),
                Field("email", "email"),
                Field("phone", "phone"),
                Field("birthday", "date", not_future=True),
                Field("notes", "longtext"),
            ),
        ),
        Sheet(
            "Interactions",
            "interaction",
            id_prefix="I",
            help="every contact with a customer: calls, meetings, emails...",
            fields=(
                _id(),
                _customer_ref(),
                Field("when", "datetime", required=True),
                Field("channel", "choice", required=True, vocabulary="channel"),
                Field("kind", "choice", vocabulary="interaction_kind"),
                Field("outcome", "choice", vocabulary="outcome"),
                Field("owner", "choice", vocabulary="owner"),
                Field("summary", "longtext", help="what was said"),
                Field("next_step", help="what to do next"),
                Field("next_date", "date", help="when to do the next step"),
            ),
        ),
        Sheet(
            "Deals",
            "deal",
            id_prefix="D",
            help="opportunities and their outcome",
            fields=(
                _id(),
                _customer_ref(),
                Field("title", required=True),
                Field("stage", "choice", vocabulary="deal_stage", default="new"),
                Field("amount", "money"),
                Field("opened", "date"),
                Field("expected_close", "date"),
                Field("closed", "date"),
                Field("lost_reason", "choice", vocabulary="lost_reason"),
                Field(
                    "competitor", ref="Competitors", help="competitor we lost to or compete with"
                ),
                Field("owner", "choice", vocabulary="owner"),
            ),
        ),
        Sheet(
            "Sales",
            "sale",
            id_prefix="S",
            help="what customers bought",
            fields=(
                _id(),
                _customer_ref(),
                Field("date", "date", required=True),
                Field("amount", "money", required=True),
                Field("product"),
                Field("deal_id", "id", ref="Deals"),
                Field("promo_code"),
            ),
        ),
        Sheet(
            "Tasks",
            "task",
            id_prefix="T",
            help="things to do, with a due date",
            fields=(
                _id(),
                _customer_ref(required=False),
                Field("due", "date", required=True),
                Field("title", required=True),
                Field("kind", "choice", vocabulary="task_kind"),
                Field("owner", "choice", vocabulary="owner"),
                Field("status", "choice", vocabulary="task_status", default="open"),
                Field("done_on", "date"),
            ),
        ),
        Sheet(
            "Sources",
            "source",
            help="marketing sources and campaigns with their cost",
            fields=(
                Field("name", required=True, unique=True),
                Field("channel", "choice", vocabulary="source_channel"),
                Field("start", "date"),
                Field("end", "date"),
                Field("cost", "money"),
                Field("notes", "longtext"),
            ),
        ),
        Sheet(
            "Templates",
            "template",
            help="letters and SMS with {placeholders}",
            fields=(
                Field("name", required=True, unique=True),
                Field("channel", "choice", required=True, vocabulary="message_channel"),
                Field("subject"),
                Field("body", "longtext", required=True),
            ),
        ),
        Sheet(
            "Competitors",
            "competitor",
            help="who else our customers consider",
            fields=(
                Field("name", required=True, unique=True),
                Field("strengths", "longtext"),
                Field("weaknesses", "longtext"),
                Field("notes", "longtext"),
            ),
        ),
        Sheet(
            "Segments",
            "segment",
            help="saved customer segments: rules crmbook can apply again",
            fields=(
                Field("name", required=True, unique=True),
                Field(
                    "rules",
                    "longtext",
                    required=True,
                    help="filter rules, e.g. stage=loyal,promoter city=Berlin revenue>=1000",
                ),
                Field("notes", "longtext"),
            ),
        ),
        Sheet(
            "Log",
            "change",
            system=True,
            help="every change made through crmbook",
            fields=(
                Field("when", "datetime"),
                Field("who"),
                Field("sheet"),
                Field("record"),
                Field("field"),
                Field("old", "longtext"),
                Field("new", "longtext"),
            ),
        ),
    ),
)
