"""The segment explorer: pick stages, sources, cities, consent, a revenue range and how recent
the last contact was, and see at once how many customers match and who they are; add RFM
scores, save the choice as a named segment (Segments sheet) or export the customers to CSV.

The controls only write segment rules (crmbook.analytics.segments): the rule text is shown
under them, so what is saved can be read and edited in Excel and used by `crmbook segment`.
"""

from __future__ import annotations

import contextlib
import html
import re
from dataclasses import dataclass, replace
from pathlib import Path

import ipywidgets as widgets
import pandas as pd

from crmbook.analytics.segments import (
    Rule,
    RuleError,
    customer_facts,
    format_rules,
    parse_rules,
    rule_columns,
    segment_customers,
)
from crmbook.errors import RecordError
from crmbook.widgets._base import (
    Alert,
    PagedTable,
    ProgressBar,
    customer_count,
    frame_html,
    heading,
    reported,
)
from crmbook.widgets.session import NO_STEPS, Session, Steps

SHOWN_COLUMNS = ["id", "name", "email", "phone", "city", "stage", "source", "owner"]
RFM_COLUMNS = ["revenue", "purchases", "last_purchase", "rfm_score", "rfm_segment"]
CITIES_OFFERED = 40
SEGMENT_SHEETS = ("Customers", "Interactions", "Sales", "Segments")

CONSENT = {
    "any": ("anyone", ()),
    "email": ("agreed to emails", (Rule("consent_email", "=", "true"),)),
    "sms": ("agreed to SMS", (Rule("consent_sms", "=", "true"),)),
    "both": (
        "agreed to emails and SMS",
        (Rule("consent_email", "=", "true"), Rule("consent_sms", "=", "true")),
    ),
}
LAST_CONTACT = {
    "any": ("any time", ()),
    "30": ("in the last 30 days", (Rule("last_contact", ">=", "-30d"),)),
    "90": ("in the last 90 days", (Rule("last_contact", ">=", "-90d"),)),
    "365": ("in the last year", (Rule("last_contact", ">=", "-1y"),)),
    "quiet90": ("not for 90 days or more", (Rule("days_since_contact", ">=", "90"),)),
    "quiet180": ("not for 180 days or more", (Rule("days_since_contact", ">=", "180"),)),
    "quiet365": ("not for a year or more", (Rule("days_since_contact", ">=", "365"),)),
}


@dataclass(frozen=True)
class Filters:
    """What the controls ask for; an empty choice does not filter."""

    stages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    consent: str = "any"
    revenue_min: float | None = None
    revenue_max: float | None = None
    last_contact: str = "any"
    more: str = ""
    rfm: bool = False

    def rules(self) -> list[Rule]:
        """The filters as segment rules, in the order the controls stand."""
        rules = []
        for column, values in (
            ("stage", self.stages),
            ("source", self.sources),
            ("city", self.cities),
        ):
            if values:
                rules.append(Rule(column, "=", ",".join(values)))
        rules += CONSENT[self.consent][1]
        if self.revenue_min is not None:
            rules.append(Rule("revenue", ">=", _number(self.revenue_min)))
        if self.revenue_max is not None:
            rules.append(Rule("revenue", "<=", _number(self.revenue_max)))
        rules += LAST_CONTACT[self.last_contact][1]
        if self.more.strip():
            rules += parse_rules(self.more)
        return rules


class SegmentModel:
    """The filters, the customers they select (`found`) and what can be done with them."""

    def __init__(self, session: Session):
        self.session = session
        self.filters = Filters()
        self.found = pd.DataFrame()
        self.problem = ""
        self._facts: tuple[int, pd.DataFrame] | None = None
        session.on_change(self._refresh)
        self.apply()

    @property
    def rule_text(self) -> str:
        return format_rules(self.filters.rules())

    def choices(self) -> dict[str, list[str]]:
        """What the stage, source and city lists offer: the Lists sheet, the Sources sheet
        and the customers' own values, the most common cities first."""
        customers = self.session.frames("Customers")["Customers"]
        sources = self.session.frames("Sources")["Sources"]["name"].dropna().astype("str")
        used = customers["source"].dropna().astype("str")
        cities = customers["city"].dropna().astype("str").str.strip()
        return {
            "stages": list(self.session.book.lists.get("stage", ())),
            "sources": sorted(set(sources) | set(used)),
            "cities": cities[cities != ""].value_counts().index[:CITIES_OFFERED].tolist(),
        }

    def revenue_ceiling(self) -> float:
        """The highest lifetime revenue of a customer: the top of the revenue range."""
        facts = self._history()
        return float(facts["revenue"].max()) if len(facts) else 0.0

    def update(self, **changes: object) -> pd.DataFrame:
        """Change some filters (see Filters) and select the customers again."""
        self.filters = replace(self.filters, **changes)
        return self.apply()

    def apply(self) -> pd.DataFrame:
        """Select the customers the filters describe; a bad rule leaves `found` empty and
        says why in `problem` (and raises RuleError)."""
        self.problem = ""
        try:
            rules = self.filters.rules()
            extra = RFM_COLUMNS if self.filters.rfm else []
            frames = self.session.frames(*SEGMENT_SHEETS)
            self.found = segment_customers(frames, rules, self.session.today(), columns=extra)
        except RuleError as e:
            self.found = pd.DataFrame(columns=SHOWN_COLUMNS)
            self.problem = str(e)
            raise
        return self.found

    @property
    def shown(self) -> pd.DataFrame:
        """The columns of `found` worth a look: contact details, what the rules use, RFM."""
        rules = self.filters.rules() if not self.problem else []
        columns = [
            *SHOWN_COLUMNS,
            *rule_columns(rules, self.found),
            *(RFM_COLUMNS if self.filters.rfm else []),
        ]
        return self.found[[c for c in dict.fromkeys(columns) if c in self.found.columns]]

    def rfm_summary(self) -> pd.DataFrame:
        """Customers of the segment per RFM segment, with their revenue (buyers only)."""
        if "rfm_segment" not in self.found or self.found.empty:
            return pd.DataFrame(columns=["rfm_segment", "customers", "revenue"])
        buyers = self.found.dropna(subset=["rfm_segment"])
        summary = buyers.groupby("rfm_segment").agg(
            customers=("id", "size"), revenue=("revenue", "sum")
        )
        return summary.sort_values("revenue", ascending=False).reset_index()

    def save(self, name: str, notes: str = "", steps: Steps = NO_STEPS) -> str:
        """Keep the rules under `name` in the Segments sheet (replacing a segment of that name)
        and save the workbook. Returns the rule text saved."""
        name = name.strip()
        if not name:
            raise RecordError("Give the segment a name first, e.g. Newsletter Berlin.")
        rules = self.rule_text
        if not rules:
            raise RuleError("Nothing to save yet: choose at least one filter.")

        def store(book) -> None:
            values = {"rules": rules, **({"notes": notes.strip()} if notes.strip() else {})}
            book.table("Segments").upsert(name, **values)

        self.session.change(store, steps)
        return rules

    def export_csv(self, path: str | Path) -> Path:
        """Write the customers of the segment, every column, to a CSV file Excel opens
        (UTF-8 with a byte-order mark). A relative path is put beside the workbook."""
        path = Path(path).expanduser()
        if not path.is_absolute():
            path = self.session.path.parent / path
        if path.suffix.lower() != ".csv":
            raise RecordError(f"{path.name}: give the file a name ending in .csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.found.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M", encoding="utf-8-sig")
        return path

    def _refresh(self) -> None:
        """After a save: the same filters on the workbook as it is now."""
        with contextlib.suppress(RuleError):  # `problem` says why; the view shows it
            self.apply()

    def _history(self) -> pd.DataFrame:
        if self._facts is None or self._facts[0] != self.session.version:
            frames = self.session.frames(*SEGMENT_SHEETS)
            facts = customer_facts(frames, self.session.today(), ["revenue"])
            self._facts = (self.session.version, facts)
        return self._facts[1]


class SegmentView(widgets.VBox):
    """Filter controls on the left, the live count, rules and table on the right."""

    def __init__(self, model: SegmentModel):
        self.model = model
        self.alert = Alert()
        self.progress = ProgressBar()
        choices = model.choices()
        box = {"width": "240px"}
        self.stages = widgets.SelectMultiple(options=choices["stages"], rows=7, layout=box)
        self.sources = widgets.SelectMultiple(options=choices["sources"], rows=7, layout=box)
        self.cities = widgets.SelectMultiple(options=choices["cities"], rows=7, layout=box)
        self.consent = widgets.Dropdown(
            options=[(label, key) for key, (label, _) in CONSENT.items()], layout=box
        )
        ceiling = max(model.revenue_ceiling(), 1.0)
        self.revenue = widgets.FloatRangeSlider(
            min=0,
            max=ceiling,
            value=(0, ceiling),
            step=max(round(ceiling / 200), 1),
            readout_format=",.0f",
            continuous_update=False,
            layout={"width": "360px"},
        )
        self.last_contact = widgets.Dropdown(
            options=[(label, key) for key, (label, _) in LAST_CONTACT.items()], layout=box
        )
        self.more = widgets.Text(
            placeholder="more rules, e.g. tags~ski birthday_month=may",
            continuous_update=False,
            layout={"width": "480px"},
        )
        self.rfm = widgets.Checkbox(description="add RFM scores", indent=False)
        self.count = widgets.HTML()
        self.rule_label = widgets.HTML()
        self.table = PagedTable(what="customers")
        self.rfm_table = widgets.HTML()
        self.name = widgets.Text(placeholder="segment name, e.g. Newsletter Berlin")
        self.notes = widgets.Text(placeholder="a note (optional)")
        self.save_button = widgets.Button(
            description="Save segment", icon="save", button_style="primary"
        )
        self.csv_path = widgets.Text(placeholder="file name, e.g. newsletter-berlin.csv")
        self.export_button = widgets.Button(description="Export to CSV", icon="download")
        for control in (
            self.stages,
            self.sources,
            self.cities,
            self.consent,
            self.revenue,
            self.last_contact,
            self.more,
            self.rfm,
        ):
            control.observe(reported(self.alert, self._filtered), names="value")
        self.save_button.on_click(reported(self.alert, self._save))
        self.export_button.on_click(reported(self.alert, self._export))

        def labelled(text: str, widget: widgets.Widget) -> widgets.VBox:
            return widgets.VBox([widgets.HTML(f"<b>{text}</b>"), widget])

        super().__init__(
            [
                heading(
                    "Segments",
                    "Choose what the customers have in common; hold Ctrl (Cmd on a Mac) to "
                    "pick several stages, sources or cities. The count and the list follow "
                    "at once. Save the choice under a name, or export the list to CSV.",
                ),
                widgets.HBox(
                    [
                        labelled("Stage", self.stages),
                        labelled("Source", self.sources),
                        labelled("City", self.cities),
                    ]
                ),
                widgets.HBox(
                    [
                        labelled("Consent", self.consent),
                        labelled("Last contact", self.last_contact),
                        labelled("Lifetime revenue", self.revenue),
                    ]
                ),
                widgets.HBox([self.more, self.rfm]),
                self.alert,
                self.count,
                self.rule_label,
                widgets.HBox([self.name, self.notes, self.save_button]),
                widgets.HBox([self.csv_path, self.export_button, self.progress]),
                self.rfm_table,
                self.table,
            ]
        )
        model.session.on_change(lambda: self._redraw(keep_page=True))
        self._redraw()

    def _filtered(self, _change=None) -> None:
        self.alert.clear()
        low, high = self.revenue.value
        try:
            self.model.update(
                stages=tuple(self.stages.value),
                sources=tuple(self.sources.value),
                cities=tuple(self.cities.value),
                consent=self.consent.value,
                revenue_min=low if low > self.revenue.min else None,
                revenue_max=high if high < self.revenue.max else None,
                last_contact=self.last_contact.value,
                more=self.more.value,
                rfm=self.rfm.value,
            )
        finally:
            self._redraw()

    def _redraw(self, *, keep_page: bool = False) -> None:
        found = self.model.found
        self.count.value = (
            f"<span class='crmbook-count' style='font-size:16px'><b>{len(found):,}</b> "
            f"customer{'' if len(found) == 1 else 's'}</span>"
        )
        rules = "" if self.model.problem else self.model.rule_text
        self.rule_label.value = (
            f"<span class='crmbook-note'>Rules: <code>{html.escape(rules)}</code></span>"
            if rules
            else "<span class='crmbook-note'>No filter: every customer.</span>"
        )
        self.table.show(
            self.model.shown, empty="No customer matches these filters.", keep_page=keep_page
        )
        self.rfm_table.value = (
            "<b>RFM segments in this selection</b>"
            + frame_html(self.model.rfm_summary(), empty="Nobody here has bought yet.")
            if self.model.filters.rfm
            else ""
        )

    def _save(self, _button=None) -> None:
        self.alert.clear()
        rules = self.model.save(self.name.value, self.notes.value, self.progress)
        size = customer_count(len(self.model.found))
        self.alert.success(
            f"Saved the segment {self.name.value.strip()!r} ({size} today) to the Segments "
            f"sheet: {rules}"
        )

    def _export(self, _button=None) -> None:
        self.alert.clear()
        name = self.csv_path.value.strip() or f"{_slug(self.name.value) or 'segment'}.csv"
        path = self.model.export_csv(name)
        self.alert.success(f"Wrote {customer_count(len(self.model.found))} to {path}.")


def segments(session: Session) -> SegmentView:
    """The segment explorer page."""
    return SegmentView(SegmentModel(session))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _slug(text: str) -> str:
    return re.sub(r"[^\w-]+", "-", text.strip().casefold()).strip("-")
