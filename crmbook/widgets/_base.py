"""What every crmbook widget shares; new widgets (such as widgets/mailing.py) follow it.

Model and view
    A model is plain Python (no ipywidgets): it holds the state, calls the library and
    changes the workbook only through `Session.change` (session.py), which saves at once and
    turns a refused save into a message. A view is an ipywidgets box: it builds the widgets,
    binds them to the model and shows the model's state, nothing more. Views keep their
    widgets as attributes (`view.save_button`, `view.inputs["email"]`), so a test sets
    `.value`, calls `.click()` and reads the model or the widgets, with no browser.

Errors
    Bind every handler with `reported(alert, handler)`: a CrmbookError (a bad record, a
    refused save, a bad segment rule) shows its message in the view's `Alert`; anything
    unexpected shows a one-line message there too. A traceback never lands in the cell.
    Problems with one field go next to that field (see forms.py), not only to the alert.

Output
    Tables are HTML widgets filled by `frame_html`, charts are Image widgets filled by
    `figure_png`: what the page shows is widget state that plain pytest can read. (Outside a
    kernel `with output:` captures nothing; when an Output widget is needed, write to it with
    `append_stdout` / `append_display_data`.)

Long lists
    A page never holds more than a page of rows (PAGE_ROWS), however many there are: a list
    that can grow with the business (reminders, a segment, a mailing, a history) is shown
    through a `Pager` ("rows 1–50 of 46,293", Previous / Next), as a `PagedTable` or, for
    rows with their own buttons, by drawing `pager.rows(frame)` on each turn.

Progress
    Long jobs report to a `Steps` (session.py). `ProgressBar` shows them honestly: a bar that
    moves one step per real step (opening: one per sheet read), a spinner for a job that is a
    single step (saving), and a summary line when the job is done.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import io
import logging
import math
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
import pandas as pd

from crmbook.errors import CrmbookError
from crmbook.widgets.session import Steps

_log = logging.getLogger(__name__)

_ALERT_COLORS = {  # kind: (background, text, border)
    "success": ("#d1e7dd", "#0f5132", "#a3cfbb"),
    "info": ("#cff4fc", "#055160", "#9eeaf9"),
    "warning": ("#fff3cd", "#664d03", "#ffe69c"),
    "error": ("#f8d7da", "#842029", "#f1aeb5"),
}
_SPINNER = (
    '<span style="display:inline-block;width:14px;height:14px;border:2px solid #c8d6e5;'
    "border-top-color:#2e86de;border-radius:50%;animation:crmbook-spin .8s linear infinite;"
    'vertical-align:middle"></span>'
    "<style>@keyframes crmbook-spin{to{transform:rotate(360deg)}}</style>"
)
TABLE_STYLE = (
    "<style>.crmbook-table{border-collapse:collapse;font-size:13px;margin:4px 0}"
    ".crmbook-table th{background:#f1f3f5;text-align:left;padding:3px 8px;"
    "border-bottom:1px solid #ced4da;white-space:nowrap}"
    ".crmbook-table td{padding:3px 8px;border-bottom:1px solid #e9ecef;vertical-align:top}"
    ".crmbook-note{color:#6c757d;font-size:12px}</style>"
)


class Alert(widgets.HTML):
    """The on-page message box of a view: what happened, in words, never a traceback.

    `kind` ("", success, info, warning, error) and `text` hold what is shown, for tests.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.kind = ""
        self.text = ""

    def show(self, kind: str, text: str) -> None:
        self.kind, self.text = kind, text
        background, color, border = _ALERT_COLORS[kind]
        shown = html.escape(text).replace("\n", "<br>")
        self.value = (
            f'<div role="alert" class="crmbook-alert crmbook-alert-{kind}" style="background:'
            f"{background};color:{color};border:1px solid {border};border-radius:4px;"
            f'padding:6px 10px;margin:4px 0;max-width:60em">{shown}</div>'
        )

    def success(self, text: str) -> None:
        self.show("success", text)

    def info(self, text: str) -> None:
        self.show("info", text)

    def warning(self, text: str) -> None:
        self.show("warning", text)

    def error(self, text: str) -> None:
        self.show("error", text)

    def clear(self) -> None:
        self.kind = self.text = self.value = ""


class ProgressBar(widgets.HBox, Steps):
    """Steps on the page: a bar for jobs of several steps, a spinner for one-step jobs.

    `label.value` tells what is happening now, and what happened once the job is done.
    """

    def __init__(self, **kwargs):
        self.bar = widgets.IntProgress(value=0, min=0, max=1, layout={"width": "220px"})
        self.spinner = widgets.HTML(_SPINNER)
        self.label = widgets.HTML("")
        super().__init__([self.bar, self.spinner, self.label], **kwargs)
        self._show(bar=False, spinner=False)

    def start(self, total: int, label: str) -> None:
        self.bar.max, self.bar.value = max(total, 1), 0
        self.label.value = html.escape(label)
        self._show(bar=True, spinner=False)

    def step(self, label: str) -> None:
        self.bar.value = min(self.bar.value + 1, self.bar.max)
        self.label.value = html.escape(label)

    def busy(self, label: str) -> None:
        self.label.value = html.escape(label)
        self._show(bar=False, spinner=True)

    def done(self, label: str = "") -> None:
        self.bar.value = self.bar.max
        self.label.value = f'<span class="crmbook-note">{html.escape(label)}</span>'
        self._show(bar=False, spinner=False)

    def _show(self, *, bar: bool, spinner: bool) -> None:
        self.bar.layout.display = None if bar else "none"
        self.spinner.layout.display = None if spinner else "none"


def reported(alert: Alert, handler: Callable) -> Callable:
    """`handler` for on_click/observe, with every error shown in `alert` instead of the cell."""

    @functools.wraps(handler)
    def run(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except CrmbookError as e:
            alert.error(str(e))
        except Exception as e:
            _log.debug("widget handler failed", exc_info=True)
            alert.error(f"Something went wrong: {type(e).__name__}: {e}")
        return None

    return run


def frame_html(
    frame: pd.DataFrame, *, max_rows: int = 50, empty: str = "Nothing to show.", note: str = ""
) -> str:
    """A frame as an HTML table for people: dates as days, money with separators, empty
    cells blank, column names with spaces; at most `max_rows` rows, and a line saying so."""
    if frame.empty:
        return TABLE_STYLE + f'<p class="crmbook-note">{html.escape(empty)}</p>'
    shown = frame.head(max_rows)
    head = "".join(f"<th>{html.escape(str(c).replace('_', ' '))}</th>" for c in shown.columns)
    cells = [shown[c].map(_cell).tolist() for c in shown.columns]
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
        for row in zip(*cells, strict=True)
    )
    more = len(frame) - len(shown)
    lines = [note] if note else []
    if more > 0:
        lines.append(f"Showing the first {len(shown):,} of {len(frame):,} rows.")
    tail = "".join(f'<p class="crmbook-note">{html.escape(line)}</p>' for line in lines)
    return (
        f'{TABLE_STYLE}<table class="crmbook-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>{tail}"
    )


PAGE_ROWS = 50


class Pager(widgets.HBox):
    """Previous and Next over a long list, and where we are: "rows 1–50 of 46,293".

    `show(total)` starts on the first page of a new list (keep_page=True stays on the page,
    for the same list drawn again after a change); `rows(frame)` is the part of the list on
    the page; `on_turn(callback)` hears each turn. Hidden while the list fits on one page.
    """

    def __init__(self, page_rows: int = PAGE_ROWS, what: str = "rows"):
        self.page_rows = page_rows
        self.what = what
        self.total = 0
        self.page = 0
        self.previous_button = widgets.Button(
            description="Previous", icon="chevron-left", layout={"width": "110px"}
        )
        self.next_button = widgets.Button(
            description="Next", icon="chevron-right", layout={"width": "110px"}
        )
        self.label = widgets.HTML()
        self._listeners: list[Callable[[], None]] = []
        self.previous_button.on_click(lambda _button: self.turn(-1))
        self.next_button.on_click(lambda _button: self.turn(1))
        super().__init__([self.previous_button, self.label, self.next_button])
        self.show(0)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_rows))

    @property
    def start(self) -> int:
        return self.page * self.page_rows

    @property
    def stop(self) -> int:
        return min(self.start + self.page_rows, self.total)

    def show(self, total: int, *, keep_page: bool = False) -> None:
        self.total = total
        self.page = min(self.page, self.pages - 1) if keep_page else 0
        self._draw()

    def rows(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of `frame` on the page shown."""
        return frame.iloc[self.start : self.stop]

    def turn(self, pages: int) -> None:
        """Go `pages` pages on (back when negative), as far as the list goes."""
        page = min(max(self.page + pages, 0), self.pages - 1)
        if page == self.page:
            return
        self.page = page
        self._draw()
        for listener in self._listeners:
            listener()

    def on_turn(self, callback: Callable[[], None]) -> None:
        self._listeners.append(callback)

    def _draw(self) -> None:
        self.label.value = (
            f'<span class="crmbook-pager" style="padding:0 8px">{html.escape(self.what)} '
            f"{self.start + 1:,}–{self.stop:,} of {self.total:,}</span>"
        )
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= self.pages - 1
        self.layout.display = None if self.total > self.page_rows else "none"


class PagedTable(widgets.VBox):
    """A frame as an HTML table one page at a time, its Pager under it.

    `html.value` is the page shown (what a test reads), `frame` the whole list.
    """

    def __init__(self, page_rows: int = PAGE_ROWS, what: str = "rows"):
        self.html = widgets.HTML()
        self.pager = Pager(page_rows, what)
        self.frame = pd.DataFrame()
        self._empty = ""
        self._note = ""
        self.pager.on_turn(self._draw)
        super().__init__([self.html, self.pager])

    def show(
        self,
        frame: pd.DataFrame,
        *,
        empty: str = "Nothing to show.",
        note: str = "",
        keep_page: bool = False,
    ) -> None:
        self.frame, self._empty, self._note = frame, empty, note
        self.pager.show(len(frame), keep_page=keep_page)
        self._draw()

    def clear(self) -> None:
        """Show nothing at all (not even the note for an empty list)."""
        self.frame = pd.DataFrame()
        self.pager.show(0)
        self.html.value = ""

    def _draw(self) -> None:
        page = self.pager.rows(self.frame)
        self.html.value = frame_html(
            page, max_rows=self.pager.page_rows, empty=self._empty, note=self._note
        )


def figure_png(fig, dpi: int = 90) -> bytes:
    """A matplotlib Figure as PNG bytes, for an Image widget (no display needed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def heading(text: str, help_text: str = "") -> widgets.HTML:
    """A section title with an optional line of guidance under it."""
    guidance = f'<div class="crmbook-note">{html.escape(help_text)}</div>' if help_text else ""
    return widgets.HTML(
        f"{TABLE_STYLE}<h3 style='margin:8px 0 2px'>{html.escape(text)}</h3>{guidance}"
    )


def customer_count(count: int) -> str:
    """ "1 customer", "1,234 customers"."""
    return f"{count:,} customer{'' if count == 1 else 's'}"


def _cell(value: object) -> str:
    if value is None or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{value:,.2f}"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(value)
        return stamp.strftime("%Y-%m-%d" if stamp == stamp.normalize() else "%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
