"""The owner's app: the pages of crmbook.widgets under one header with the workbook's name
and a navigation bar, as `crmbook app` serves them (through Voilà, without code cells).

A thin layer: `ShellModel` knows which workbook is open and opens, creates or builds the
demo on request (remembering the last one, crmbook/recent.py); `ShellView` lays out the
start page, the header, the navigation and the section shown. Each section is an existing
page, built the first time it is shown. Errors land in the alert under the header.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets

import crmbook
from crmbook.errors import CrmbookError
from crmbook.recent import demo_workbook, last_workbook, recent_workbooks, remember_workbook
from crmbook.storage import is_database_url
from crmbook.widgets._base import Alert, ProgressBar, heading, reported
from crmbook.widgets.charts import source_charts
from crmbook.widgets.customers import customers
from crmbook.widgets.mailing import mailing
from crmbook.widgets.overview import overview
from crmbook.widgets.pipeline import pipeline_board
from crmbook.widgets.reminders import reminders_board
from crmbook.widgets.segments import segments
from crmbook.widgets.session import NO_STEPS, Session, Steps

APP_WORKBOOK_VARIABLE = "CRMBOOK_APP_WORKBOOK"  # set by `crmbook app FILE` for its pages
APP_FOLDER_VARIABLE = "CRMBOOK_APP_FOLDER"  # where `crmbook app` was started


# The sections of the app, in the order of the navigation, and the page each one shows.
SECTIONS: dict[str, Callable[[Session], widgets.Widget]] = {
    "Today": reminders_board,
    "Customers": customers,
    "Pipeline": pipeline_board,
    "Segments": segments,
    "Sources": source_charts,
    "Mailing": mailing,
    "Workbook": overview,
}

STYLE = """<style>
body, .jp-Notebook { background: #f4f6f8 !important; }
#rendered_cells { padding: 0 !important; }
.crmbook-app { max-width: 1200px; margin: 0 auto; }
.crmbook-header { background: #1f3a5f; color: #fff; padding: 10px 18px; border-radius: 6px 6px 0 0;
  align-items: center; }
.crmbook-header .crmbook-title { font-size: 20px; font-weight: 600; color: #fff; }
.crmbook-header .crmbook-title small { font-weight: 400; color: #c9d6e8; font-size: 13px;
  margin-left: 10px; }
.crmbook-header button { background: #2d5283 !important; color: #fff !important; }
.crmbook-nav { background: #fff; padding: 6px 12px; border-bottom: 1px solid #dde3ea; }
.crmbook-nav .widget-toggle-button { background: transparent; box-shadow: none;
  font-size: 14px; color: #1f3a5f; border-bottom: 3px solid transparent; border-radius: 0; }
.crmbook-nav .widget-toggle-button.mod-active { border-bottom-color: #2e86de;
  font-weight: 600; background: #eef4fb; }
.crmbook-body { background: #fff; padding: 6px 18px 18px; border-radius: 0 0 6px 6px;
  min-height: 480px; }
</style>"""


class ShellModel:
    """The workbook the app works on (`session`; None until one is chosen) and the ones
    opened lately (`recent`).

    A path typed without its folder is taken in `folder`. `today` fixes the day the pages
    count from (tests); by default it is the real day.
    """

    def __init__(
        self,
        *,
        folder: str | os.PathLike | None = None,
        user: str | None = None,
        today: dt.date | None = None,
    ):
        self.folder = Path(folder) if folder else Path.home()
        self.user = user
        self.today = today
        self.session: Session | None = None
        self.recent = recent_workbooks()

    def open(self, location: str | os.PathLike, steps: Steps = NO_STEPS) -> Session:
        """Open the workbook file or database URL `location` and make it the app's."""
        text = str(location).strip()
        if not text:
            raise CrmbookError("Type the path of a workbook (or a database URL) first.")
        if is_database_url(text):
            return self._use(Session(text, user=self.user, today=self.today, steps=steps))
        path = self._path(text)
        if path.is_dir():
            raise CrmbookError(f"{path} is a folder: type the path of a workbook file in it.")
        if not path.exists():
            raise CrmbookError(
                f"There is no workbook at {path}. Check the path, or start a new workbook."
            )
        return self._use(Session(path, user=self.user, today=self.today, steps=steps))

    def create(self, location: str | os.PathLike, steps: Steps = NO_STEPS) -> Session:
        """Make a new, empty workbook (or crmbook database) at `location` and open it."""
        text = str(location).strip()
        if not text:
            raise CrmbookError("Type where the new workbook should go, e.g. ~/shop.xlsx.")
        if not is_database_url(text):
            path = self._path(text)
            if path.suffix.lower() != ".xlsx":
                path = path.with_name(path.name + ".xlsx")
            if not path.parent.is_dir():
                raise CrmbookError(f"There is no folder {path.parent}: create it first.")
            text = str(path)
        steps.busy(f"Creating {text}…")
        crmbook.create(text, user=self.user).close()
        return self.open(text, steps)

    def try_demo(self, steps: Steps = NO_STEPS) -> Session:
        """Build a fresh demo business (as of today) in the user's data folder and open it."""
        from crmbook.demo import build_demo_book

        path = demo_workbook()
        path.parent.mkdir(parents=True, exist_ok=True)
        steps.busy("Building the demo business (600 customers, their history and deals)…")
        today = self.today or dt.date.today()
        build_demo_book(path, today=today, overwrite=True).close()
        return self.open(path, steps)

    def _path(self, text: str) -> Path:
        path = Path(text).expanduser()
        return path if path.is_absolute() else self.folder / path

    def _use(self, session: Session) -> Session:
        if self.session is not None:
            self.session.book.close()
        self.session = session
        remember_workbook(session.location)
        self.recent = recent_workbooks()
        return session


class StartView(widgets.VBox):
    """Choose a workbook: one opened lately (`recent_buttons`), a path (`path` +
    `open_button`), a new one (`new_path` + `create_button`) or the demo (`demo_button`)."""

    def __init__(self, model: ShellModel, opened: Callable[[], None]):
        self.model = model
        self._opened = opened
        self.alert = Alert()
        self.progress = ProgressBar()
        self.recent = widgets.VBox()
        self.recent_buttons: list[widgets.Button] = []
        wide = {"width": "520px"}
        self.path = widgets.Text(
            placeholder="e.g. /home/anna/Documents/shop.xlsx or sqlite:///shop.db", layout=wide
        )
        self.open_button = widgets.Button(
            description="Open", button_style="primary", icon="folder-open"
        )
        self.new_path = widgets.Text(placeholder="e.g. ~/Documents/my-shop.xlsx", layout=wide)
        self.create_button = widgets.Button(description="Create", icon="plus")
        self.demo_button = widgets.Button(
            description="Try the demo", button_style="info", icon="play"
        )
        self.open_button.on_click(reported(self.alert, self._open))
        self.create_button.on_click(reported(self.alert, self._create))
        self.demo_button.on_click(reported(self.alert, self._demo))
        super().__init__(
            [
                heading("Open a workbook", "Your CRM workbook (.xlsx) or a crmbook database."),
                self.recent,
                widgets.HBox([self.path, self.open_button]),
                heading("Start a new workbook", "An empty CRM workbook, ready for Excel too."),
                widgets.HBox([self.new_path, self.create_button]),
                heading(
                    "Try crmbook on a demo business",
                    f"A made-up shop with customers, history, deals and tasks, in "
                    f"{demo_workbook()}: change anything, nothing of yours is touched.",
                ),
                self.demo_button,
                self.progress,
                self.alert,
            ]
        )
        self.draw()

    def draw(self) -> None:
        self.recent_buttons = []
        for location in self.model.recent:
            button = widgets.Button(
                description=_short(location), tooltip=location, layout={"width": "520px"}
            )
            button.on_click(reported(self.alert, lambda _b, at=location: self._open_at(at)))
            self.recent_buttons.append(button)
        self.recent.children = (
            [widgets.HTML("<b>Opened lately</b>"), *self.recent_buttons]
            if self.recent_buttons
            else []
        )

    def _open(self, _button=None) -> None:
        self._open_at(self.path.value)

    def _open_at(self, location: str) -> None:
        self.alert.clear()
        self._run(lambda: self.model.open(location, self.progress))

    def _create(self, _button=None) -> None:
        self.alert.clear()
        self._run(lambda: self.model.create(self.new_path.value, self.progress))

    def _demo(self, _button=None) -> None:
        self.alert.clear()
        self._run(lambda: self.model.try_demo(self.progress))

    def _run(self, job: Callable[[], Session]) -> None:
        buttons = [self.open_button, self.create_button, self.demo_button, *self.recent_buttons]
        for button in buttons:
            button.disabled = True
        try:
            job()
        finally:
            for button in buttons:
                button.disabled = False
            self.progress.done("")
        self._opened()


class ShellView(widgets.VBox):
    """The app: a header (`title`, `switch_button`), the navigation (`nav`), the alert and
    the section shown (`body`). `sections` holds the pages built so far, by name."""

    def __init__(self, model: ShellModel):
        self.model = model
        self.alert = Alert()
        self.progress = ProgressBar()
        self.title = widgets.HTML(layout={"flex": "1"})
        self.switch_button = widgets.Button(
            description="Open another workbook", icon="folder-open", layout={"width": "auto"}
        )
        self.switch_button.on_click(reported(self.alert, self._choose_workbook))
        header = widgets.HBox([self.title, self.switch_button])
        header.add_class("crmbook-header")
        self.nav = widgets.ToggleButtons(
            options=list(SECTIONS), value=None, style={"button_width": "auto"}
        )
        self.nav.add_class("crmbook-nav")
        self.nav.observe(reported(self.alert, self._navigate), names="value")
        self.body = widgets.VBox()
        self.body.add_class("crmbook-body")
        self.start = StartView(model, self._opened)
        self.sections: dict[str, widgets.Widget] = {}
        super().__init__([widgets.HTML(STYLE), header, self.nav, self.alert, self.body])
        self.add_class("crmbook-app")
        if model.session is None:
            self._choose_workbook()
        else:
            self._opened()

    def show(self, section: str) -> widgets.Widget:
        """Bring `section` forward (building its page the first time)."""
        self.nav.value = section
        return self.sections[section]

    def _opened(self) -> None:
        session = self.model.session
        self.sections = {}
        self.title.value = (
            f'<div class="crmbook-title">crmbook · {html.escape(session.name)}'
            f"<small>{html.escape(_where(session))}</small></div>"
        )
        self.switch_button.layout.display = None
        self.nav.layout.display = None
        self.alert.clear()
        if self.nav.value == "Today":
            self._navigate({"new": "Today"})
        else:
            self.nav.value = "Today"

    def _choose_workbook(self, _button=None) -> None:
        self.alert.clear()
        self.start.draw()
        self.title.value = '<div class="crmbook-title">crmbook</div>'
        self.switch_button.layout.display = "none"
        self.nav.layout.display = "none"
        self.nav.value = None
        self.body.children = [self.start]

    def _navigate(self, change) -> None:
        name = change["new"]
        if name is None:
            return
        self.alert.clear()
        if name not in self.sections:  # the page shows this while the section is built
            self.body.children = [self.progress]
            self.progress.busy(f"Opening {name}…")
            try:
                self.sections[name] = SECTIONS[name](self.model.session)
            finally:
                self.progress.done("")
        self.body.children = [self.sections[name]]


def owner_app(
    location: str | os.PathLike | None = None,
    *,
    user: str | None = None,
    today: dt.date | None = None,
) -> ShellView:
    """The app `crmbook app` serves: on `location`, else on $CRMBOOK_APP_WORKBOOK, else on
    the workbook opened last; the start page when there is none or it cannot be opened.
    Paths typed without a folder are in $CRMBOOK_APP_FOLDER (else the home folder)."""
    model = ShellModel(folder=os.environ.get(APP_FOLDER_VARIABLE), user=user, today=today)
    chosen = location or os.environ.get(APP_WORKBOOK_VARIABLE) or last_workbook()
    problem = ""
    if chosen:
        try:
            model.open(chosen)
        except CrmbookError as e:
            problem = str(e)
        except Exception as e:
            problem = f"{chosen} could not be opened: {type(e).__name__}: {e}"
    view = ShellView(model)
    if problem:
        view.start.alert.error(problem)
    return view


def _short(location: str) -> str:
    """A recent workbook as a button shows it: its name and the folder it is in."""
    if is_database_url(location):
        return location
    path = Path(location)
    return f"{path.name} — {path.parent}"


def _where(session: Session) -> str:
    """The folder of a workbook file, ~ for the home folder (a database's name already says
    where it is)."""
    if isinstance(session.location, str):
        return ""
    folder, home = session.path.parent, Path.home()
    if folder == home:
        return "~"
    return f"~/{folder.relative_to(home)}" if folder.is_relative_to(home) else str(folder)
