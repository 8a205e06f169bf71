"""Templates from the Templates sheet, rendered per customer, safely and completely.

People type `{name}` or `{first name}` in Excel; that is rewritten to Jinja2's `{{ name }}`
and rendered in a sandbox (a template typed by anyone cannot reach Python) with
StrictUndefined, so a field that does not exist or is empty for a customer is an error naming
the template and the field, never a message with a hole in it. Templates written in Jinja2
already (`{{ name }}`, `{% if city is defined %}`, `{{ city | default("you") }}`) are kept.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from crmbook.errors import CrmbookError
from crmbook.schema import BIRTHDAY_WITHOUT_YEAR, SCHEMA
from crmbook.values import missing

# Fields computed for every customer, beside the Customers columns.
DERIVED_FIELDS = ("first_name", "last_name", "owner_first_name", "age", "today")

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
# Jinja2 syntax is kept as it is; {field} (letters, digits, spaces, hyphens), optionally with
# filters ({city | default("you")}), becomes {{ field }}; anything else in single braces that
# starts like a field ({name!}, {city) is refused rather than sent as it is.
_PLACEHOLDER = re.compile(
    r"(?P<jinja>\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})"
    r"|\{\s*(?P<field>[^\W\d][\w \-]*?)\s*(?P<filters>\|[^{}\n]*?)?\s*\}"
    r"|(?P<odd>\{\s*[^\W\d][^{}\n]*\}?)",
    re.DOTALL,
)
_INITIAL = re.compile(r"^\w\.?$")
_PATRONYMIC = re.compile(r"(ович|евич|ич|овна|евна|ична|инична)$", re.IGNORECASE)
_UNDEFINED = re.compile(r"^'(.+?)' is undefined$")


class TemplateError(CrmbookError):
    """A template that cannot be rendered: unknown field, empty field, or bad syntax."""


def field_key(column: str) -> str:
    """The placeholder name of a column: "First name" and "first-name" are first_name."""
    return re.sub(r"[\s\-]+", "_", str(column).strip()).casefold()


def to_jinja(text: str) -> str:
    """Rewrite `{field}` placeholders as Jinja2's `{{ field }}`; Jinja2 syntax stays as it is.

    Braces that hold no field ({}, { 1 }, {"a": 1}) stay as text; a placeholder crmbook cannot
    read ({name!}) is a TemplateError, so it never reaches a customer as it was typed.
    """

    def replace(match: re.Match) -> str:
        if match.group("jinja"):
            return match.group("jinja")
        if match.group("odd"):
            raise TemplateError(
                f"cannot read the placeholder {match.group('odd')}; write a column name in "
                "braces, such as {name} or {first name}"
            )
        filters = f" {match.group('filters').strip()}" if match.group("filters") else ""
        return "{{ " + field_key(match.group("field")) + filters + " }}"

    return _PLACEHOLDER.sub(replace, text)


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body: str


class MessageTemplate:
    """One row of the Templates sheet, compiled and checked against the fields it may use."""

    def __init__(self, name: str, channel: str, subject: str | None, body: str):
        self.name = name
        self.channel = channel
        self.subject_text = subject or None
        self.body_text = body.replace("\r\n", "\n")
        if channel not in SCHEMA.vocabulary("message_channel").values:
            raise TemplateError(f"template {name!r}: channel {channel!r} is not email or sms")
        if channel == "email" and not self.subject_text:
            raise TemplateError(f"template {name!r} is an email but has no subject")
        self._parts = {
            part: self._compile(part, text)
            for part, text in (("subject", self.subject_text), ("body", self.body_text))
            if text
        }

    def __repr__(self) -> str:
        return f"<MessageTemplate {self.name!r} ({self.channel})>"

    @classmethod
    def from_record(cls, record: Mapping) -> MessageTemplate:
        def text(key: str) -> str | None:
            value = record.get(key)
            return None if missing(value) else str(value)

        return cls(
            str(record["name"]).strip(),
            (text("channel") or "email").strip().lower(),
            text("subject"),
            text("body") or "",
        )

    def _compile(self, part: str, text: str):
        try:
            source = to_jinja(text)
        except TemplateError as e:
            raise TemplateError(f"template {self.name!r}, {part}: {e}") from None
        try:
            return _ENV.from_string(source), meta.find_undeclared_variables(_ENV.parse(source))
        except TemplateSyntaxError as e:
            raise TemplateError(
                f"template {self.name!r}: the {part} cannot be read (line {e.lineno}: "
                f"{e.message}); write placeholders as {{name}}"
            ) from None

    @property
    def fields(self) -> set[str]:
        """The fields the subject and body use."""
        return set().union(*(names for _, names in self._parts.values()))

    def check(self, known: Iterable[str]) -> None:
        """Refuse, before anything is sent, a template using a field no customer can have."""
        known = set(known)
        for part, (_, names) in self._parts.items():
            for name in sorted(names - known):
                close = difflib.get_close_matches(name, sorted(known), n=1)
                hint = f" (did you mean {{{close[0]}}}?)" if close else ""
                raise TemplateError(
                    f"template {self.name!r}: unknown field {{{name}}} in the {part}{hint}; "
                    f"fields are: {', '.join(sorted(known))}"
                )

    def render(self, fields: Mapping[str, object], who: str = "the customer") -> Rendered:
        """The subject and body for one customer; TemplateError if a field it uses is empty."""
        out = {}
        for part, (template, _) in self._parts.items():
            try:
                out[part] = template.render(fields)
            except UndefinedError as e:
                match = _UNDEFINED.match(str(e))
                what = f"{{{match.group(1)}}} is empty" if match else str(e)
                raise TemplateError(
                    f"template {self.name!r}: {what} for {who}; fill it in or change the template"
                ) from None
            except SecurityError as e:
                raise TemplateError(f"template {self.name!r}: not allowed: {e}") from None
        return Rendered(out.get("subject"), out.get("body", ""))


def find_template(templates: pd.DataFrame, name: str) -> MessageTemplate:
    """The template called `name` (case and spaces ignored) on the Templates sheet."""
    names = templates["name"].astype("str").str.strip()
    hit = templates[names.str.casefold() == name.strip().casefold()]
    if hit.empty:
        known = ", ".join(repr(n) for n in names.dropna()) or "none yet"
        raise TemplateError(
            f"no template called {name!r} on the Templates sheet; templates: {known}"
        )
    return MessageTemplate.from_record(hit.iloc[0].to_dict())


def known_fields(columns: Iterable[str]) -> set[str]:
    """The placeholders a template may use with customers having these columns."""
    return {field_key(c) for c in columns} | set(DERIVED_FIELDS)


def customer_fields(customer: Mapping[str, object], today: dt.date) -> dict[str, object]:
    """The values a template sees for one customer; empty cells are left out (undefined)."""
    fields: dict[str, object] = {"today": today.isoformat()}
    for column, value in customer.items():
        shown = _value(value)
        if shown is not None:
            fields[field_key(column)] = shown
    name = fields.get("name")
    if isinstance(name, str):
        first, last = split_name(name, str(fields.get("kind", "person")))
        fields["first_name"] = first
        if last:
            fields["last_name"] = last
    owner = fields.get("owner")
    if isinstance(owner, str):
        fields["owner_first_name"] = split_name(owner)[0]
    birthday = customer.get("birthday")
    if not missing(birthday) and pd.Timestamp(birthday).year != BIRTHDAY_WITHOUT_YEAR:
        born = pd.Timestamp(birthday)
        fields["age"] = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return fields


def split_name(name: str, kind: str = "person") -> tuple[str, str | None]:
    """First and last name as a greeting needs them.

    "Anna Schmidt" -> Anna; "Schmidt, Anna" -> Anna; "Ivanov Sergey V." and
    "Иванов Сергей Викторович" (surname first) -> Sergey, Сергей. A company, a single word,
    or a first name that is only an initial gives the whole name.
    """
    text = " ".join(name.split())
    if kind == "company" or not text:
        return text, None
    if "," in text:
        last, rest = (p.strip() for p in text.split(",", 1))
        words = rest.split()
        first = words[0] if words else last
        return (text, last) if _INITIAL.match(first) else (first, last)
    words = text.split()
    if len(words) == 1:
        return text, None
    surname_first = _INITIAL.match(words[-1]) or (len(words) == 3 and _PATRONYMIC.search(words[2]))
    first, last = (words[1], words[0]) if surname_first else (words[0], words[-1])
    return (text, last) if _INITIAL.match(first) else (first, last)


def _value(value: object) -> object:
    if missing(value):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(value)
        return stamp.strftime("%Y-%m-%d" if stamp == stamp.normalize() else "%Y-%m-%d %H:%M")
    if isinstance(value, str):
        return value.strip() or None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
