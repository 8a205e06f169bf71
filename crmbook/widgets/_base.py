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
