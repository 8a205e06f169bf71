"""Entry forms generated from the schema: add or edit a customer, log an interaction (with its
next step), schedule a task, record a sale or a deal.

The fields, their order, labels, help texts, required marks and dropdown lists all come from
crmbook.schema and the workbook's Lists sheet; only the kind of widget is chosen here, by the
field's type (`input_for`). A press on Save checks the record with the library, shows each
problem next to its field, and saves the workbook at once.

Number boxes cannot be empty: a money or whole-number field left at 0 counts as not filled in.
"""

from __future__ import annotations

import datetime as dt
import html
import re

import ipywidgets as widgets
import numpy as np
import pandas as pd

from crmbook.analytics.find import AmbiguousCustomer, resolve_customer
from crmbook.errors import RecordError
from crmbook.schema import SCHEMA, Field
from crmbook.validation import Code, Issue
from crmbook.values import missing
from crmbook.widgets._base import Alert, ProgressBar, heading, reported
from crmbook.widgets.session import NO_STEPS, Session, Steps

OPTIONS_SHOWN = 20
DATETIME_FORMAT = "%Y-%m-%d %H:%M"
_OPTION = re.compile(r"^\s*([A-Za-z]+-\d+)(?:\s|$)")  # "C-000012  Anna Schmidt (Berlin)"

# The forms of the data-entry page: (title, sheet, edits an existing record).
ENTRY_FORMS = (
    ("New customer", "Customers", False),
    ("Edit customer", "Customers", True),
    ("Log an interaction", "Interactions", False),
    ("Schedule a task", "Tasks", False),
    ("Record a sale", "Sales", False),
    ("Record a deal", "Deals", False),
)


class FormModel:
    """One record of a sheet being entered: its values, checked by the library, saved.

    `problems` maps a column to what is wrong with it after a refused Save; `editing` is the
    key of the record being edited (None for a new one); `last_key` the key last saved.
    """

    def __init__(self, session: Session, sheet: str):
        self.session = session
        self.sheet = SCHEMA.sheet(sheet)
        self.editing: str | None = None
        self.original: dict[str, object] = {}
        self.problems: dict[str, str] = {}
        self.last_key: str | None = None

    @property
    def fields(self) -> list[Field]:
        """The fields a person fills in (ids and time stamps are crmbook's)."""
        return [f for f in self.sheet.fields if not f.auto]

    @property
    def table(self):
        return self.session.book.table(self.sheet.name)

    def choices(self, field: Field) -> list[str]:
        """The dropdown list of a field, as the workbook's Lists sheet has it now."""
        return list(self.session.book.lists.get(field.vocabulary, ()))

    def default(self, field: Field) -> object:
        """What a new record starts with: the schema's default; now for a required date."""
        if field.default is not None:
            listed = not field.vocabulary or field.default in self.choices(field)
            return field.default if listed else None
        if field.required and field.type == "date":
            return self.session.today()
        if field.required and field.type == "datetime":
            return self.session.now().strftime(DATETIME_FORMAT)
        return None

    def reference_options(self, field: Field, text: str = "") -> list[str]:
        """Records `field` may point at, as "id  label" options: those matching `text`
        (fuzzy for customers), else the newest ones."""
        target = self.session.book.table(field.ref)
        frame = target.df
        text = (text or "").strip()
        if field.ref == "Customers":
            found = self.session.customer_index().find(text, OPTIONS_SHOWN) if text else None
            rows = frame.tail(OPTIONS_SHOWN).iloc[::-1] if found is None else found
        else:
            label = _label_column(target.sheet)
            rows = frame
            if text:
                words = frame[target.sheet.key].astype("str") + " " + frame[label].astype("str")
                rows = frame[words.str.casefold().str.contains(text.casefold(), regex=False)]
            rows = rows.tail(OPTIONS_SHOWN).iloc[::-1]
        return [_option(target.sheet, record) for record in rows.to_dict("records")]

    def reference_label(self, field: Field, key: object) -> str:
        """How a stored reference is shown in its box: "C-000012  Anna Schmidt (Berlin)"."""
        if missing(key):
            return ""
        target = self.session.book.table(field.ref)
        try:
            return _option(target.sheet, target.get(str(key)))
        except KeyError:
            return str(key)

    def new(self) -> dict[str, object]:
        """Start a new record; returns the starting value of every field."""
        self.editing, self.original, self.problems = None, {}, {}
        return {f.name: self.default(f) for f in self.fields}

    def load(self, key: str) -> dict[str, object]:
        """Start editing the record `key`; returns its values as the widgets show them."""
        key = self._reference(_itself(self), key)
        record = self.table.get(key)
        values = {}
        for f in self.fields:
            value = _python(record.get(f.name))
            if f.type == "date" and value is not None:
                value = pd.Timestamp(value).date()
            elif f.type == "datetime" and value is not None:
                value = pd.Timestamp(value).strftime(DATETIME_FORMAT)
            elif f.ref and value is not None:
                value = self.reference_label(f, value)
            values[f.name] = value
        self.editing, self.problems = key, {}
        self.original = self._cleaned(values)
        return values

    def save(self, values: dict[str, object], steps: Steps = NO_STEPS) -> str | None:
        """Add the record (or change the one being edited) and save the workbook.

        Returns the record's key, or None when an edited record did not change. Raises
        RecordError, with `problems` filled in, when a value is wrong; SaveRefusedError when
        the workbook cannot be saved now. Either way nothing is written.
        """
        self.problems = {}
        try:
            cleaned = self._cleaned(values)
            if self.editing:
                key = self.editing
                changed = {k: v for k, v in cleaned.items() if not _same(v, self.original.get(k))}
                if not changed:
                    return None
                self.session.change(
                    lambda book: book.table(self.sheet.name).update(key, **changed), steps
                )
                self.original = cleaned
            else:
                given = {k: v for k, v in cleaned.items() if v is not None}
                key = self.session.change(
                    lambda book: book.table(self.sheet.name).add(**given), steps
                )
        except RecordError as e:
            self.problems = {i.column: _problem(i) for i in getattr(e, "issues", []) if i.column}
            raise
        self.last_key = key
        return key

    def describe(self, key: str) -> str:
        """A record in a few words, for messages: "customer C-000601 (Anna Petrova)"."""
        name = ""
        label = _label_column(self.sheet)
        if label and self.sheet.key != label:
            name = str(self.table.get(key).get(label) or "")
        return f"{self.sheet.entity} {key}" + (f" ({name})" if name else "")

    # ------------------------------------------------------------ helpers

    def _cleaned(self, values: dict[str, object]) -> dict[str, object]:
        """Widget values as the library takes them; a reference resolved to its key."""
        cleaned, issues = {}, []
        for f in self.fields:
            value = values.get(f.name)
            if isinstance(value, str):
                value = value.strip() or None
            if f.type in ("money", "integer") and value == 0:
                value = None
            if f.ref and value is not None:
                try:
                    value = self._reference(f, str(value))
                except RecordError as e:
                    issues.append(
                        Issue.of(
                            Code.UNKNOWN_REFERENCE,
                            self.sheet.name,
                            None,
                            f.name,
                            value,
                            message=str(e),
                            fix="pick one from the list that opens as you type",
                        )
                    )
            cleaned[f.name] = value
        if issues:
            raise RecordError(f"{self.sheet.name}: the record was not saved", issues)
        return cleaned

    def _reference(self, field: Field, text: str) -> str:
        """The key `text` names in the sheet `field` refers to: the id an option starts with,
        a customer's name (which must name one customer), or the text itself."""
        target = SCHEMA.sheet(field.ref)
        match = _OPTION.match(text)
        if match and target.id_prefix:
            return match.group(1).upper()
        if field.ref == "Customers":
            try:
                return resolve_customer(self.session.book.table("Customers").df, text)
            except AmbiguousCustomer as e:
                names = ", ".join(e.candidates["name"].astype("str").head(4))
                raise RecordError(f"several customers match {text!r} ({names})") from None
            except RecordError:
                raise RecordError(f"no customer matches {text!r}") from None
        return text.strip()


class FormView(widgets.VBox):
    """A form for one sheet, generated from the schema.

    `inputs` and `messages` map each column to its input widget and to the message shown
    next to it; `picker` and `load_button` (edit forms only) choose the record to edit.
    """

    def __init__(self, model: FormModel, *, title: str = "", edit: bool = False):
        self.model = model
        self.edit = edit
        self.alert = Alert()
        self.progress = ProgressBar()
        self.inputs: dict[str, widgets.Widget] = {}
        self.messages: dict[str, widgets.HTML] = {}
        rows = []
        for field in model.fields:
            widget = input_for(field, model)
            widget.add_class(f"crmbook-{model.sheet.entity}-{field.name}")  # a handle for CSS
            self.inputs[field.name] = widget
            self.messages[field.name] = widgets.HTML("", layout={"width": "360px"})
            label = widgets.HTML(
                f"<b>{html.escape(field.label)}</b>{' *' if field.required else ''}",
                layout={"width": "150px"},
            )
            label.tooltip = field.help or field.ftype.help
            rows.append(widgets.HBox([label, widget, self.messages[field.name]]))
        self.save_button = widgets.Button(
            description="Save changes" if edit else "Save", button_style="primary", icon="check"
        )
        self.clear_button = widgets.Button(description="Clear", icon="eraser")
        self.save_button.on_click(reported(self.alert, self._save))
        self.clear_button.on_click(reported(self.alert, self._clear))
        top = [heading(title or f"New {model.sheet.entity}", _guidance(model, edit))]
        if edit:
            self.picker = _reference_box(
                model, _itself(model), placeholder=f"type a {model.sheet.entity}'s name or id"
            )
            self.load_button = widgets.Button(description="Load", icon="folder-open")
            self.load_button.on_click(reported(self.alert, self._load))
            top.append(widgets.HBox([self.picker, self.load_button]))
        super().__init__(
            [
                *top,
                *rows,
                widgets.HBox([self.save_button, self.clear_button, self.progress]),
                self.alert,
            ]
        )
        self._fill(model.new())
        self.save_button.disabled = edit

    def _save(self, _button=None) -> None:
        self.alert.clear()
        self._show_problems({})
        values = {name: widget.value for name, widget in self.inputs.items()}
        try:
            key = self.model.save(values, self.progress)
        except RecordError as e:
            problems = self.model.problems
            self._show_problems(problems)
            if problems:
                fields = ", ".join(self.model.sheet.field(c).label for c in problems)
                self.alert.error(
                    f"Nothing was saved: please check {fields} (see the notes next to the fields)."
                )
            else:
                self.alert.error(str(e))
            return
        if key is None:
            self.alert.info("Nothing changed, so nothing was saved.")
            return
        what = self.model.describe(key)
        if self.edit:
            self.alert.success(f"Saved the changes to {what} in {self.model.session.name}.")
        else:
            self.alert.success(f"Added {what} to {self.model.session.name}.")
            self._fill(self.model.new())

    def _clear(self, _button=None) -> None:
        self.alert.clear()
        self._show_problems({})
        self._fill(self.model.new())
        if self.edit:
            self.picker.value = ""
            self.save_button.disabled = True

    def _load(self, _button=None) -> None:
        self.alert.clear()
        self._show_problems({})
        text = self.picker.value.strip()
        if not text:
            self.alert.warning(f"Type a {self.model.sheet.entity}'s name or id first.")
            return
        values = self.model.load(text)
        self._fill(values)
        self.picker.value = self.model.reference_label(_itself(self.model), self.model.editing)
        self.save_button.disabled = False
        self.alert.info(
            f"Editing {self.model.describe(self.model.editing)}: change the fields "
            "and press Save changes."
        )

    def _fill(self, values: dict[str, object]) -> None:
        for name, widget in self.inputs.items():
            set_value(widget, values.get(name))

    def _show_problems(self, problems: dict[str, str]) -> None:
        for name, message in self.messages.items():
            text = problems.get(name)
            message.value = (
                f'<div class="crmbook-field-problem" style="color:#b02a37;line-height:1.3;'
                f'font-size:12px;padding-top:4px">{html.escape(text)}</div>'
                if text
                else ""
            )


class DataEntryView(widgets.VBox):
    """Every entry form of ENTRY_FORMS on one tabbed page; `forms` maps a title to its view."""

    def __init__(self, session: Session):
        self.session = session
        self.forms = {
            title: FormView(FormModel(session, sheet), title=title, edit=edit)
            for title, sheet, edit in ENTRY_FORMS
        }
        self.tabs = widgets.Tab(children=list(self.forms.values()), titles=list(self.forms))
        super().__init__([self.tabs])

    def show(self, title: str, **values: object) -> FormView:
        """Bring the form `title` to the front with some fields filled in (e.g. customer_id)."""
        form = self.forms[title]
        self.tabs.selected_index = list(self.forms).index(title)
        for name, value in values.items():
            field = form.model.sheet.field(name)
            set_value(
                form.inputs[name], form.model.reference_label(field, value) if field.ref else value
            )
        return form


def data_entry(session: Session) -> DataEntryView:
    """The data-entry page: new and edited customers, interactions, tasks, sales and deals."""
    return DataEntryView(session)


def input_for(field: Field, model: FormModel) -> widgets.Widget:
    """The widget a field is typed into, chosen by its type in the schema."""
    width = {"width": "320px"}
    placeholder = field.help or field.ftype.help
    if field.ref:
        return _reference_box(model, field, placeholder=f"type to search {field.ref}")
    if field.vocabulary:
        options = model.choices(field)
        if SCHEMA.vocabulary(field.vocabulary).open:  # a new owner or kind may be typed
            return widgets.Combobox(
                options=options, ensure_option=False, layout=width, placeholder="pick or type"
            )
        return widgets.Dropdown(options=["", *options], layout=width)
    if field.type == "bool":
        return widgets.Checkbox(description=field.help, indent=False, layout=width)
    if field.type == "date":
        return widgets.DatePicker(layout=width)
    if field.type == "money":
        return widgets.FloatText(layout=width, step=0.01)
    if field.type == "integer":
        return widgets.IntText(layout=width)
    if field.type == "longtext":
        return widgets.Textarea(
            layout={"width": "320px", "height": "60px"}, placeholder=placeholder
        )
    return widgets.Text(layout=width, placeholder=placeholder)


def set_value(widget: widgets.Widget, value: object) -> None:
    """Show `value` in `widget`; a value a dropdown lacks (typed in Excel) is added to it."""
    if isinstance(widget, widgets.Dropdown):
        value = "" if value is None else str(value)
        if value not in widget.options:
            widget.options = [*widget.options, value]
        widget.value = value
    elif isinstance(widget, widgets.Checkbox):
        widget.value = bool(value)
    elif isinstance(widget, widgets.FloatText | widgets.IntText):
        widget.value = 0 if value is None else value
    elif isinstance(widget, widgets.DatePicker):
        widget.value = value
    else:
        widget.value = "" if value is None else str(value)


def _reference_box(model: FormModel, field: Field, placeholder: str) -> widgets.Combobox:
    """A box that offers matching records as you type; the chosen option starts with the id."""
    box = widgets.Combobox(
        options=[], ensure_option=False, placeholder=placeholder, layout={"width": "320px"}
    )

    def suggest(change) -> None:
        text = change["new"]
        if text and text in box.options:
            return  # an option was picked
        try:
            box.options = model.reference_options(field, text)
        except Exception:  # suggestions are a help; a failure must not disturb typing
            box.options = []

    box.observe(suggest, names="value")
    return box


def _itself(model: FormModel) -> Field:
    """A reference to the form's own sheet: what the record picker of an edit form offers."""
    return Field(model.sheet.key, "id", ref=model.sheet.name)


def _guidance(model: FormModel, edit: bool) -> str:
    sheet = model.sheet
    if edit:
        return (
            f"Find the {sheet.entity} by name or id, press Load, change what you need and "
            f"press Save changes. Fields marked * are required."
        )
    return (
        f"{sheet.help.capitalize()}. Fill in what you know (fields marked * are required) "
        f"and press Save: the record goes into the {sheet.name} sheet at once."
    )


def _label_column(sheet) -> str | None:
    for name in ("name", "title"):
        if sheet.has(name):
            return name
    return sheet.key


def _option(sheet, record: dict) -> str:
    key = str(record.get(sheet.key) or "")
    label = _label_column(sheet)
    if label == sheet.key:
        return key
    text = f"{key}  {record.get(label) or ''}".rstrip()
    city = record.get("city") if sheet.name == "Customers" else None
    return f"{text} ({city})" if not missing(city) else text


def _problem(issue: Issue) -> str:
    message = issue.message.rstrip(".")
    return f"{message}: {issue.fix}." if issue.fix else f"{message}."


def _python(value: object) -> object:
    if missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _same(a: object, b: object) -> bool:
    if missing(a) or missing(b):
        return missing(a) and missing(b)
    if isinstance(a, dt.date) and isinstance(b, dt.date):
        return pd.Timestamp(a) == pd.Timestamp(b)
    return a == b
