"""Notebook pages for the daily CRM jobs, built with ipywidgets on the crmbook library.

    from crmbook import widgets
    session = widgets.open_workbook("demo/shop.xlsx")   # a progress bar while it is read
    widgets.overview(session)                            # headline figures, problems found
    widgets.data_entry(session)                          # forms generated from the schema
    widgets.search(session)                              # live search -> customer card
    widgets.segments(session)                            # segment explorer, RFM, save, CSV
    widgets.reminders_board(session)                     # overdue / today / upcoming
    widgets.pipeline_board(session)                      # deals by stage, moves, forecast
    widgets.source_charts(session)                       # source effectiveness charts
    widgets.mailing(session)                             # template + segment: preview, send
    widgets.app("demo/shop.xlsx")                        # all of them as tabs
    widgets.owner_app("demo/shop.xlsx")                  # the app `crmbook app` serves

Each page is a view over a model (see _base.py for the conventions); all pages of one
session share the open workbook and refresh after every save.
"""

from __future__ import annotations

import datetime as dt
import os

import ipywidgets as widgets

from crmbook.widgets._base import Alert, ProgressBar, heading
from crmbook.widgets.charts import ChartsModel, ChartsView, source_charts
from crmbook.widgets.customers import CustomersView, customers, link_card_to_forms
from crmbook.widgets.forms import DataEntryView, FormModel, FormView, data_entry
from crmbook.widgets.mailing import MailingModel, MailingView, mailing
from crmbook.widgets.overview import OverviewModel, OverviewView, overview
from crmbook.widgets.pipeline import PipelineModel, PipelineView, pipeline_board
from crmbook.widgets.reminders import RemindersModel, RemindersView, reminders_board
from crmbook.widgets.search import SearchModel, SearchView, search
from crmbook.widgets.segments import SegmentModel, SegmentView, segments
from crmbook.widgets.session import Session, open_session, workbook_path
from crmbook.widgets.shell import ShellModel, ShellView, owner_app

__all__ = [
    "Alert",
    "AppView",
    "ChartsModel",
    "ChartsView",
    "CustomersView",
    "DataEntryView",
    "FormModel",
    "FormView",
    "MailingModel",
    "MailingView",
    "OverviewModel",
    "OverviewView",
    "PipelineModel",
    "PipelineView",
    "ProgressBar",
    "RemindersModel",
    "RemindersView",
    "SearchModel",
    "SearchView",
    "SegmentModel",
    "SegmentView",
    "Session",
    "ShellModel",
    "ShellView",
    "app",
    "customers",
    "data_entry",
    "mailing",
    "open_workbook",
    "overview",
    "owner_app",
    "pipeline_board",
    "reminders_board",
    "search",
    "segments",
    "source_charts",
    "workbook_path",
]


def open_workbook(
    name: str | os.PathLike | Session = "demo/shop.xlsx",
    *,
    user: str | None = None,
    today: dt.date | None = None,
) -> Session:
    """Open the workbook for the pages of a notebook, showing its progress in the cell.

    `name` is read as workbook_path reads it ($CRMBOOK_NOTEBOOK_WORKBOOK wins); a missing
    workbook is filled with the demo business first.
    """
    if isinstance(name, Session):
        return name
    progress = ProgressBar()
    _display(progress)
    return open_session(name, user=user, today=today, steps=progress)


class AppView(widgets.VBox):
    """Every page as a tab over one session; `pages` maps a tab title to its view."""

    def __init__(self, session: Session):
        self.session = session
        self.entry = data_entry(session)
        self.pages = {
            "Overview": overview(session),
            "Find a customer": search(session),
            "Enter data": self.entry,
            "Reminders": reminders_board(session),
            "Pipeline": pipeline_board(session),
            "Segments": segments(session),
            "Sources": source_charts(session),
        }
        self.tabs = widgets.Tab(children=list(self.pages.values()), titles=list(self.pages))
        link_card_to_forms(self.pages["Find a customer"], self.entry, self._show_forms)
        super().__init__([heading(f"crmbook: {session.name}", str(session.path)), self.tabs])

    def _show_forms(self) -> None:
        self.tabs.selected_index = list(self.pages).index("Enter data")


def app(
    workbook: str | os.PathLike | Session = "demo/shop.xlsx",
    *,
    user: str | None = None,
    today: dt.date | None = None,
) -> AppView:
    """All pages as tabs: overview, find, enter data, reminders, pipeline, segments and
    sources."""
    return AppView(open_workbook(workbook, user=user, today=today))


def _display(widget: widgets.Widget) -> None:
    """Show a widget now when running in a notebook kernel (not in scripts and tests)."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None and getattr(shell, "kernel", None) is not None:
        from IPython.display import display

        display(widget)
