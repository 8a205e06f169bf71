"""The start page: the workbook's headline figures and any problems found in it, so a person
knows what they are looking at before they enter or change anything.
"""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd

from crmbook.analytics.overview import overview as headline_figures
from crmbook.validation import Report
from crmbook.widgets._base import Alert, PagedTable, frame_html, heading, reported
from crmbook.widgets.session import Session

ISSUES_SHOWN = 20
ISSUE_COLUMNS = ["severity", "sheet", "row", "column", "value", "message", "fix"]


class OverviewModel:
    """The headline figures (`figures`) and the validation report (`report`) of the workbook.

    The figures follow every save; the report is made when the workbook is opened or read
    again (what crmbook itself saves was checked already, and checking costs time).
    """

    def __init__(self, session: Session):
        self.session = session
        self.figures = pd.DataFrame()
        self.report = Report()
        session.on_change(self.refresh)
        self.check()

    def refresh(self) -> None:
        self.figures = headline_figures(self.session.frames(), self.session.today())

    def check(self) -> None:
        """Figures and a fresh validation report."""
        self.refresh()
        self.report = self.session.book.validate()


class OverviewView(widgets.VBox):
    """The figures as a table, and the problems as an alert plus a table of them, a page at
    a time."""

    def __init__(self, model: OverviewModel):
        self.model = model
        self.alert = Alert()
        self.figures = widgets.HTML()
        self.issues = PagedTable(ISSUES_SHOWN, "problems")
        self.reread_button = widgets.Button(description="Read the workbook again", icon="refresh")
        self.reread_button.on_click(reported(self.alert, self._reread))
        super().__init__(
            [
                heading(
                    f"{model.session.name}",
                    f"{model.session.path} — the figures below are as of "
                    f"{model.session.today():%Y-%m-%d}.",
                ),
                self.figures,
                self.alert,
                self.issues,
                self.reread_button,
            ]
        )
        model.session.on_change(self._draw)
        self._draw()

    def _reread(self, _button=None) -> None:
        self.model.session.reload()
        self.model.check()
        self._draw()

    def _draw(self) -> None:
        self.figures.value = frame_html(self.model.figures, max_rows=100)
        report = self.model.report
        errors, warnings = len(report.errors), len(report.warnings)
        if errors:
            self.alert.error(
                f"The workbook has {errors} error(s) and {warnings} warning(s): records typed "
                "by hand that crmbook cannot read. Fix them in Excel (the table says where)."
            )
        elif warnings:
            self.alert.warning(f"The workbook is usable; {warnings} warning(s) are listed below.")
        else:
            self.alert.success("No problems found in the workbook.")
        frame = report.to_frame()
        if len(frame):  # errors first: they keep crmbook from reading records
            errors_first = frame.sort_values("severity", key=lambda s: s != "error", kind="stable")
            self.issues.show(errors_first[ISSUE_COLUMNS], keep_page=True)
        else:
            self.issues.clear()


def overview(session: Session) -> OverviewView:
    """The start page: headline figures and the problems found in the workbook."""
    return OverviewView(OverviewModel(session))
