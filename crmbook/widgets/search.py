"""Find a customer as you type and open their card: fields, people at the company, open
follow-ups and the whole history in time order, so anyone meets the customer "warm".
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as widgets
import pandas as pd

from crmbook.analytics.card import CustomerCard, customer_card
from crmbook.errors import RecordError
from crmbook.values import missing
from crmbook.widgets._base import (
    PAGE_ROWS,
    TABLE_STYLE,
    Alert,
    Pager,
    frame_html,
    heading,
    reported,
)
from crmbook.widgets.session import Session

HITS_SHOWN = 8
MIN_QUERY = 2
CARD_SHEETS = ("Customers", "Contacts", "Interactions", "Deals", "Sales", "Tasks")
_KIND_MARK = {"interaction": "💬", "deal": "🤝", "sale": "💶", "task": "☑️"}


class SearchModel:
    """The query, the customers it finds (`hits`, best first) and the card opened."""

    def __init__(self, session: Session):
        self.session = session
        self.query = ""
        self.hits = pd.DataFrame()
        self.card: CustomerCard | None = None
        session.on_change(self._refresh)

    def search(self, text: str) -> pd.DataFrame:
        """Customers matching `text` by name, company, email or phone, forgiving typos."""
        self.query = text
        if len(text.strip()) < MIN_QUERY:
            self.hits = pd.DataFrame()
        else:
            self.hits = self.session.customer_index().find(text, limit=HITS_SHOWN)
        return self.hits

    def open_card(self, customer_id: str) -> CustomerCard:
        """The card of one customer, as of the session's today."""
        frames = self.session.frames(*CARD_SHEETS)
        self.card = customer_card(frames, customer_id, self.session.today())
        return self.card

    def _refresh(self) -> None:
        """After a save: the same query and card, on the workbook as it is now."""
        if self.query:
            self.search(self.query)
        if self.card is not None:
            try:
                self.open_card(self.card.id)
            except RecordError:  # the customer was deleted meanwhile
                self.card = None


class SearchView(widgets.VBox):
    """A search box with live results (`result_buttons`) and the card of the one chosen."""

    def __init__(self, model: SearchModel):
        self.model = model
        self.alert = Alert()
        self.box = widgets.Text(
            placeholder="name, company, email or phone — typos and initials are fine",
            continuous_update=True,
            layout={"width": "480px"},
        )
        self.results = widgets.VBox()
        self.result_buttons: list[widgets.Button] = []
        self.card = widgets.HTML("")
        self.history_pager = Pager(what="entries")
        self.card_actions = widgets.HBox()
        self._actions: list[tuple[str, Callable[[str], None]]] = []
        self.box.observe(reported(self.alert, self._typed), names="value")
        self.history_pager.on_turn(reported(self.alert, self._draw_card))
        super().__init__(
            [
                heading(
                    "Find a customer",
                    "Type part of a name, a company, an email or a phone number; click a "
                    "result to open the customer's card with the whole history.",
                ),
                self.box,
                self.results,
                self.alert,
                self.card_actions,
                self.card,
                self.history_pager,
            ]
        )
        model.session.on_change(self._redraw)

    def add_action(self, description: str, action: Callable[[str], None]) -> None:
        """A button on the card that calls `action(customer_id)` (e.g. log an interaction)."""
        self._actions.append((description, action))
        self._redraw()

    def open_card(self, customer_id: str) -> None:
        self.alert.clear()
        card = self.model.open_card(customer_id)
        self.history_pager.show(len(card.timeline))
        self._draw_card()
        self._draw_actions()

    def _draw_card(self) -> None:
        """The card with one page of its history (the newest entries first)."""
        card, pager = self.model.card, self.history_pager
        self.card.value = card_html(card, pager.start, pager.stop) if card is not None else ""

    def _typed(self, change) -> None:
        self.alert.clear()
        self.model.search(change["new"])
        self._draw_results()

    def _draw_results(self) -> None:
        hits = self.model.hits
        self.result_buttons = []
        for record in hits.to_dict("records"):
            where = ", ".join(
                str(record[c]) for c in ("company", "city") if not pd.isna(record.get(c))
            )
            button = widgets.Button(
                description=f"{record['name']}" + (f" · {where}" if where else ""),
                tooltip=f"{record['id']} (match {record['score']}%)",
                layout={"width": "480px"},
            )
            button.on_click(
                reported(
                    self.alert, lambda _b, customer_id=record["id"]: self.open_card(customer_id)
                )
            )
            self.result_buttons.append(button)
        self.results.children = self.result_buttons
        if self.model.query.strip() and len(self.model.query.strip()) >= MIN_QUERY and hits.empty:
            self.alert.info(f"No customer matches {self.model.query.strip()!r}.")

    def _draw_actions(self) -> None:
        card = self.model.card
        buttons = []
        for description, action in self._actions if card is not None else ():
            button = widgets.Button(description=description)
            button.on_click(reported(self.alert, lambda _b, act=action: act(card.id)))
            buttons.append(button)
        self.card_actions.children = buttons

    def _redraw(self) -> None:
        self._draw_results()
        card = self.model.card
        self.history_pager.show(len(card.timeline) if card is not None else 0, keep_page=True)
        self._draw_card()
        self._draw_actions()


def search(session: Session) -> SearchView:
    """The search page: a box with live results that open a customer card."""
    return SearchView(SearchModel(session))


def card_html(card: CustomerCard, start: int = 0, stop: int = PAGE_ROWS) -> str:
    """The customer card as HTML: who they are, where they stand, and their history (the
    entries start:stop of it, counted from the newest)."""
    c = card.customer
    facts = {
        "stage": f"{card.stage or '-'} (the history suggests: {card.suggested_stage})",
        "last contact": _day(card.last_contact)
        + (f" ({card.days_since_contact} days ago)" if card.days_since_contact is not None else "")
        if card.last_contact is not None
        else "never",
        "revenue": f"{card.revenue:,.2f} from {card.purchases} purchase(s)",
        "referred customers": str(card.referrals),
    }
    skip = {"id", "name", "stage", "created", "updated"}
    fields = {k.replace("_", " "): _shown(v) for k, v in c.items() if k not in skip and _shown(v)}
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in {**facts, **fields}.items()
    )
    parts = [
        TABLE_STYLE,
        f'<div class="crmbook-card"><h3 style="margin:8px 0 4px">{html.escape(card.name)} '
        f'<span class="crmbook-note">{html.escape(card.id)}</span></h3>',
        f'<table class="crmbook-table">{rows}</table>',
    ]
    if not card.contacts.empty:
        parts.append("<h4>People at the company</h4>")
        parts.append(frame_html(card.contacts.drop(columns=["id"], errors="ignore")))
    if not card.follow_ups.empty:
        parts.append("<h4>Open follow-ups</h4>")
        parts.append(frame_html(card.follow_ups.drop(columns=["id"])))
    parts.append(f"<h4>History ({len(card.timeline):,} entries, newest first)</h4>")
    parts.append(_timeline_html(card.timeline.iloc[::-1].iloc[start:stop]))
    parts.append("</div>")
    return "".join(parts)


def _timeline_html(entries: pd.DataFrame) -> str:
    if entries.empty:
        return '<p class="crmbook-note">Nothing yet: no interaction, deal, sale or task.</p>'
    items = []
    for entry in entries.to_dict("records"):
        details = [entry[k] for k in ("status", "owner") if entry.get(k)]
        amount = entry.get("amount")
        if amount is not None and not pd.isna(amount):
            details.append(f"{amount:,.2f}")
        if entry.get("next"):
            details.append(f"next: {entry['next']}")
        items.append(
            "<li style='margin:2px 0'>"
            f"<b>{html.escape(_day(entry['when']))}</b> {_KIND_MARK.get(entry['kind'], '')} "
            f"{html.escape(entry['kind'])}: {html.escape(str(entry.get('what') or ''))}"
            + (
                f' <span class="crmbook-note">({html.escape("; ".join(map(str, details)))})</span>'
                if details
                else ""
            )
            + "</li>"
        )
    return f'<ul class="crmbook-timeline" style="padding-left:18px">{"".join(items)}</ul>'


def _day(value: object) -> str:
    if missing(value):
        return "no date"
    stamp = pd.Timestamp(value)
    return stamp.strftime("%Y-%m-%d" if stamp == stamp.normalize() else "%Y-%m-%d %H:%M")


def _shown(value: object) -> str:
    if missing(value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp):
        return _day(value)
    return str(value).strip()
