"""The pipeline board: one column per deal stage of the Lists sheet, a card per deal, and the
monthly forecast under it.

One click moves a deal to the next or previous stage, or to won or lost (lost asks for the
reason and the competitor); the workbook is saved at once and the move is in the Log sheet.
A column shows its top cards only, by amount or by expected close, and says how many more
there are: with thousands of open deals the page still holds a few dozen widgets.
The columns share the page's width (every stage of the demo fits the app's 780 px), the
moves are icons with tooltips; below COLUMN_MIN_WIDTH a column the board scrolls sideways.
"""

from __future__ import annotations

import html

import ipywidgets as widgets
import pandas as pd

from crmbook.analytics.pipeline import (
    CLOSED,
    DEAL_STAGES,
    board,
    deals_by_stage,
    deals_of,
    forecast,
    open_stages,
)
from crmbook.errors import CrmbookError
from crmbook.reports import forecast_figure
from crmbook.widgets._base import Alert, ProgressBar, figure_png, frame_html, heading, reported
from crmbook.widgets.session import NO_STEPS, Session, Steps

ORDERS = {"amount": "Largest amount", "expected_close": "Closing soonest"}
CARDS_SHOWN = 8
COLUMN_MIN_WIDTH = "118px"
FORECAST_MONTHS = 6
BOARD_SHEETS = ("Customers", "Deals")


class PipelineModel:
    """The board's choices (owner, order), its columns and cards, the forecast, and the moves.

    `stages` are the board's columns in order; `totals` their deals, amount and probability
    (analytics.pipeline.deals_by_stage of the owner's deals); `cards` the cards shown, the
    first `shown[stage]` of each column (analytics.pipeline.board).
    """

    def __init__(
        self,
        session: Session,
        *,
        owner: str | None = None,
        order: str = "amount",
        per_column: int = CARDS_SHOWN,
        months: int = FORECAST_MONTHS,
    ):
        self.session = session
        self.owner = owner
        self.order = order
        self.per_column = per_column
        self.months = months
        self.shown: dict[str, int] = {}
        self.stages: list[str] = []
        self.totals = pd.DataFrame()
        self.cards = pd.DataFrame()
        self.forecast = pd.DataFrame()
        self._deals = pd.DataFrame()
        session.on_change(self.refresh)
        self.refresh()

    def owners(self) -> list[str]:
        return list(self.session.book.lists.get("owner", ()))

    def competitors(self) -> list[str]:
        return sorted(self.session.book.table("Competitors").df["name"].dropna().astype(str))

    def lost_reasons(self) -> list[str]:
        return list(self.session.book.lists.get("lost_reason", ()))

    def probabilities(self) -> dict[str, float]:
        """Each stage's chance of being won, from the Lists sheet."""
        return self.session.book.numbers("deal_stage")

    def label(self, stage: str) -> str:
        """A stage as the workbook shows it (in its language)."""
        return self.session.book.words.value(stage)

    def refresh(self) -> pd.DataFrame:
        """Gather the columns, the cards and the forecast again from the workbook as it is."""
        frames = self.session.frames(*BOARD_SHEETS)
        chance = self.probabilities()
        self._deals = deals_of(frames["Deals"], frames["Customers"], self.owner)
        self.totals = deals_by_stage(self._deals, chance).set_index("stage")
        listed = list(self.session.book.lists.get("deal_stage") or DEAL_STAGES)
        typed = [s for s in self.totals.index[self.totals["deals"] > 0] if s not in listed]
        self.stages = [*listed, *typed]
        self.forecast = forecast(self._deals, self.session.today(), chance, self.months)
        return self._draw_cards(frames["Customers"])

    def column(self, stage: str) -> pd.DataFrame:
        """The cards a column shows."""
        return self.cards[self.cards["stage"] == stage]

    def total(self, stage: str) -> tuple[int, float]:
        """How many deals a stage holds and their amount."""
        if stage not in self.totals.index:
            return 0, 0.0
        row = self.totals.loc[stage]
        return int(row["deals"]), float(row["amount"])

    def show_more(self, stage: str) -> None:
        """One more page of cards in the stage's column."""
        self.shown[stage] = self.shown.get(stage, self.per_column) + self.per_column
        self._draw_cards(self.session.frames("Customers")["Customers"])

    def _draw_cards(self, customers: pd.DataFrame) -> pd.DataFrame:
        self.cards = board(
            self._deals,
            customers,
            self.session.today(),
            order=self.order,
            per_stage={s: self.shown.get(s, self.per_column) for s in self.stages},
        )
        return self.cards

    # ------------------------------------------------------------ moves

    def next_stage(self, stage: str) -> str | None:
        """The open stage after `stage` (None at the last one, and for won or lost deals)."""
        steps = open_stages(self.stages)
        if stage not in steps or steps.index(stage) == len(steps) - 1:
            return None
        return steps[steps.index(stage) + 1]

    def previous_stage(self, stage: str) -> str | None:
        """The open stage before `stage`; a won or lost deal goes back to the last open one."""
        steps = open_stages(self.stages)
        if stage in CLOSED:
            return steps[-1] if steps else None
        if stage not in steps or steps.index(stage) == 0:
            return None
        return steps[steps.index(stage) - 1]

    def forward(self, deal_id: str, steps: Steps = NO_STEPS) -> str:
        """Move the deal to the next stage and save; returns the stage."""
        stage = self.next_stage(self._stage_of(deal_id))
        if stage is None:
            raise CrmbookError(f"{deal_id} is at the last open stage: mark it won or lost")
        return self._move(deal_id, steps, stage=stage)

    def back(self, deal_id: str, steps: Steps = NO_STEPS) -> str:
        """Move the deal to the stage before and save; a won or lost deal is open again."""
        current = self._stage_of(deal_id)
        stage = self.previous_stage(current)
        if stage is None:
            raise CrmbookError(f"{deal_id} is at the first stage already")
        if current in CLOSED:
            return self._move(deal_id, steps, stage=stage, closed=None, lost_reason=None)
        return self._move(deal_id, steps, stage=stage)

    def win(self, deal_id: str, steps: Steps = NO_STEPS) -> str:
        """Mark the deal won, closed today, and save."""
        return self._move(deal_id, steps, stage="won", closed=self.session.today())

    def lose(
        self,
        deal_id: str,
        reason: str | None,
        competitor: str | None = None,
        steps: Steps = NO_STEPS,
    ) -> str:
        """Mark the deal lost, closed today, with why and to whom, and save."""
        reason = (reason or "").strip()
        if not reason:
            raise CrmbookError(f"say why {deal_id} was lost: pick or type a reason")
        return self._move(
            deal_id,
            steps,
            stage="lost",
            closed=self.session.today(),
            lost_reason=reason,
            competitor=(competitor or "").strip() or None,
        )

    def _stage_of(self, deal_id: str) -> str:
        found = self.cards.loc[self.cards["id"] == deal_id, "stage"]
        if found.empty:
            raise CrmbookError(f"{deal_id} is not on the board any more; it has been read again")
        return str(found.iloc[0])

    def _move(self, deal_id: str, steps: Steps, **values: object) -> str:
        self.session.change(lambda book: book.table("Deals").update(deal_id, **values), steps)
        return str(values["stage"])


class Card(widgets.VBox):
    """One deal on the board: what it is, and the buttons that move it."""

    def __init__(self, record: dict, model: PipelineModel):
        self.deal_id = record["id"]
        self.text = widgets.HTML(_card_html(record))
        stage = record["stage"]
        previous, following = model.previous_stage(stage), model.next_stage(stage)
        back = f"back to {model.label(previous)}" if previous else ""
        if stage in CLOSED:
            self.back = _button("undo", f"reopen: {back}" if previous else "")
        else:
            self.back = _button("chevron-left", back)
        self.forward = _button(
            "chevron-right", f"on to {model.label(following)}" if following else ""
        )
        self.won = _button("check", "mark won, closed today", "success")
        self.lost = _button("times", "mark lost: asks why", "danger")
        self.back.disabled, self.forward.disabled = previous is None, following is None
        self.won.disabled = self.lost.disabled = stage in CLOSED
        self.buttons = widgets.HBox(
            [self.back, self.forward, self.won, self.lost], layout={"width": "100%"}
        )
        super().__init__(
            [self.text, self.buttons],
            layout={"border": "1px solid #dee2e6", "padding": "4px", "margin": "0 0 6px 0"},
        )

    def close(self) -> None:
        """Close the card and its widgets (a board is redrawn after every move)."""
        for part in (self.text, self.back, self.forward, self.won, self.lost, self.buttons):
            part.close()
        super().close()


class StageColumn(widgets.VBox):
    """One stage: its title with the count and amount, its cards, and `more` for the rest."""

    def __init__(self, stage: str):
        self.stage = stage
        self.title = widgets.HTML()
        self.cards = widgets.VBox()
        self.more = widgets.Button(description="Show more", layout={"width": "auto"})
        super().__init__(
            [self.title, self.cards, self.more],
            layout={"flex": "1 1 0", "min_width": COLUMN_MIN_WIDTH, "margin": "0 6px 0 0"},
        )
        self.add_class("crmbook-stage")


class PipelineView(widgets.VBox):
    """The board over a model. `columns` maps a stage to its StageColumn, `cards` a deal id on
    the board to its Card; the lost form (`lost_reason`, `lost_competitor`, `lost_confirm`,
    `lost_cancel`) opens when a card's Lost is clicked."""

    def __init__(self, model: PipelineModel):
        self.model = model
        self.alert = Alert()
        self.progress = ProgressBar()
        self.owner = widgets.Dropdown(description="Owner")
        self.order = widgets.ToggleButtons(
            options=[(label, key) for key, label in ORDERS.items()],
            value=model.order,
            description="Cards by",
        )
        self.columns: dict[str, StageColumn] = {}
        self.cards: dict[str, Card] = {}
        self.board = widgets.HBox(layout={"overflow": "auto hidden", "width": "100%"})
        self.board.add_class("crmbook-board")
        self.lost_deal: str | None = None
        self.lost_title = widgets.HTML()
        self.lost_reason = widgets.Combobox(
            description="Reason", placeholder="pick or type", ensure_option=False
        )
        self.lost_competitor = widgets.Dropdown(description="Competitor")
        self.lost_confirm = widgets.Button(description="Mark lost", button_style="danger")
        self.lost_cancel = widgets.Button(description="Cancel")
        self.lost_form = widgets.VBox(
            [
                self.lost_title,
                widgets.HBox([self.lost_reason, self.lost_competitor]),
                widgets.HBox([self.lost_confirm, self.lost_cancel]),
            ],
            layout={"border": "1px solid #f1aeb5", "padding": "6px", "display": "none"},
        )
        self.forecast_image = widgets.Image(format="png")
        self.forecast_table = widgets.HTML()
        self._filling = False
        self._fill_choices()
        self.owner.observe(reported(self.alert, self._chosen), names="value")
        self.order.observe(reported(self.alert, self._chosen), names="value")
        self.lost_confirm.on_click(reported(self.alert, self._confirm_lost))
        self.lost_cancel.on_click(reported(self.alert, lambda _b: self._close_lost_form()))
        super().__init__(
            [
                heading(
                    "Pipeline",
                    "Every open deal by stage. ‹ and › move a deal one stage, ✓ marks it won "
                    "and ✕ lost (closed today), ↺ reopens it; each click is saved at once. "
                    "The stages and their probabilities are in the Lists sheet.",
                ),
                widgets.HBox([self.owner, self.order]),
                widgets.HBox([self.progress]),
                self.alert,
                self.lost_form,
                self.board,
                heading(
                    "Forecast",
                    "Expected revenue per month: each open deal's amount times its stage's "
                    "probability, in the month it is expected to close.",
                ),
                self.forecast_image,
                self.forecast_table,
            ]
        )
        model.session.on_change(self._redraw)
        self._draw()

    def _fill_choices(self) -> None:
        """The owners, reasons and competitors as the workbook has them now; changing the
        choices does not count as a choice."""
        owners = self.model.owners()
        if self.model.owner and self.model.owner not in owners:
            owners.append(self.model.owner)
        choices = (
            (self.owner, (("everyone", ""), *((o, o) for o in owners)), self.model.owner or ""),
            (self.lost_reason, tuple(self.model.lost_reasons()), None),
            (
                self.lost_competitor,
                (("(none)", ""), *((c, c) for c in self.model.competitors())),
                "",
            ),
        )
        self._filling = True
        try:
            for control, options, value in choices:
                if tuple(control.options) != options:
                    control.options = options
                    if value is not None:
                        control.value = value
        finally:
            self._filling = False

    def _chosen(self, _change=None) -> None:
        if self._filling:
            return
        self.alert.clear()
        self.model.owner = self.owner.value or None
        self.model.order = self.order.value
        self.model.shown = {}
        self.model.refresh()
        self._draw()

    def _redraw(self) -> None:
        """After a save or re-read: the lists may have changed too."""
        self._fill_choices()
        self._draw()

    def _draw(self) -> None:
        for card in self.cards.values():
            card.close()
        self.cards = {}
        columns = {}
        for stage in self.model.stages:
            column = self.columns.get(stage) or self._new_column(stage)
            count, amount = self.model.total(stage)
            chance = self.model.probabilities().get(stage)
            figures = f"{count:,} deal{'' if count == 1 else 's'} · {amount:,.0f}"
            if chance is not None and stage not in CLOSED:
                figures += f" · {chance:.0%}"
            column.title.value = (
                f"<div style='background:#f1f3f5;padding:4px 6px;margin-bottom:6px'>"
                f"<b>{html.escape(self.model.label(stage))}</b><br>"
                f"<span style='color:#6c757d;font-size:12px'>{figures}</span></div>"
            )
            shown = self.model.column(stage)
            cards = []
            for record in shown.to_dict("records"):
                card = Card(record, self.model)
                self._bind(card)
                self.cards[card.deal_id] = card
                cards.append(card)
            column.cards.children = cards
            left = count - len(shown)
            column.more.description = f"Show more ({left:,} left)"
            column.more.layout.display = None if left > 0 else "none"
            columns[stage] = column
        self.columns = columns
        self.board.children = list(columns.values())
        self._draw_forecast()

    def _new_column(self, stage: str) -> StageColumn:
        column = StageColumn(stage)
        column.more.on_click(reported(self.alert, lambda _b: self._more(stage)))
        return column

    def _more(self, stage: str) -> None:
        self.model.show_more(stage)
        self._draw()

    def _bind(self, card: Card) -> None:
        deal_id = card.deal_id
        card.back.on_click(reported(self.alert, lambda _b: self._moved(deal_id, self.model.back)))
        card.forward.on_click(
            reported(self.alert, lambda _b: self._moved(deal_id, self.model.forward))
        )
        card.won.on_click(reported(self.alert, lambda _b: self._moved(deal_id, self.model.win)))
        card.lost.on_click(reported(self.alert, lambda _b: self._open_lost_form(deal_id)))

    def _moved(self, deal_id: str, move) -> None:
        self.alert.clear()
        self._close_lost_form()
        stage = move(deal_id, self.progress)
        self.alert.success(
            f"{deal_id} is now at {self.model.label(stage)}; saved {self.model.session.name}."
        )

    def _open_lost_form(self, deal_id: str) -> None:
        self.alert.clear()
        record = self.model.cards[self.model.cards["id"] == deal_id].iloc[0]
        self.lost_deal = deal_id
        self.lost_title.value = (
            f"<b>Why was {html.escape(deal_id)} lost?</b> "
            f"{html.escape(str(record['title']))} for {html.escape(str(record['customer']))}"
        )
        self.lost_reason.value = ""
        self.lost_competitor.value = ""
        self.lost_form.layout.display = None

    def _confirm_lost(self, _button=None) -> None:
        if self.lost_deal is None:
            return
        deal_id = self.lost_deal
        self.model.lose(
            deal_id, self.lost_reason.value, self.lost_competitor.value or None, self.progress
        )
        self._close_lost_form()
        self.alert.success(f"{deal_id} is lost; saved {self.model.session.name}.")

    def _close_lost_form(self) -> None:
        self.lost_deal = None
        self.lost_form.layout.display = "none"

    def _draw_forecast(self) -> None:
        table = self.model.forecast
        shown = table.assign(month=table["month"].dt.strftime("%B %Y"))
        total = float(table["expected"].sum()) if len(table) else 0.0
        self.forecast_table.value = frame_html(
            shown,
            empty="No open deals are expected to close in the coming months.",
            note=f"Expected in the next {len(table)} months: {total:,.0f}. A deal past its "
            "expected close counts in the current month.",
        )
        has_deals = len(table) and table["deals"].sum() > 0
        self.forecast_image.value = figure_png(forecast_figure(table)) if has_deals else b""


def pipeline_board(session: Session) -> PipelineView:
    """The pipeline page: the board and the forecast."""
    return PipelineView(PipelineModel(session))


def _button(icon: str, tooltip: str, style: str = "") -> widgets.Button:
    """A move on a card: an icon, what it does in the tooltip; the card's buttons share its
    width, however narrow the column."""
    return widgets.Button(
        icon=icon,
        tooltip=tooltip,
        button_style=style,
        layout={
            "flex": "1 1 0",
            "width": "auto",
            "min_width": "0",
            "padding": "0",
            "margin": "0 1px",
        },
    )


def _card_html(record: dict) -> str:
    amount = record.get("amount")
    expected = record.get("expected_close")
    age = record.get("age_days")
    lines = [
        f"<b>{html.escape(str(record.get('customer') or record.get('customer_id') or ''))}</b>",
        html.escape(str(record.get("title") or "")),
        f"<b>{amount:,.0f}</b>" if isinstance(amount, float) and amount == amount else "",
    ]
    facts = []
    if isinstance(expected, pd.Timestamp):
        late = record.get("overdue")
        color = "#b02a37" if late else "#495057"
        facts.append(f"<span style='color:{color}'>close {expected:%Y-%m-%d}</span>")
    if age is not None and age is not pd.NA:
        facts.append(f"{int(age)} d old")
    owner = record.get("owner")
    if owner:
        facts.append(html.escape(str(owner)))
    lines.append(f"<span style='color:#6c757d;font-size:12px'>{' · '.join(facts)}</span>")
    lines.append(f"<span style='color:#adb5bd;font-size:11px'>{html.escape(record['id'])}</span>")
    shown = "<br>".join(x for x in lines if x)
    return f"<div style='line-height:1.35;overflow-wrap:anywhere'>{shown}</div>"
