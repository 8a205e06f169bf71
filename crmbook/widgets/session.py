"""The workbook one page of widgets shares: opened in steps, changed and saved safely.

This is model code: it imports no ipywidgets. Every change a widget makes goes through
`Session.change`, which applies it and saves at once, so the workbook on disk is always what
the page shows. When the save is refused (the file is open in Excel, or changed on disk since
it was read) nothing is written, the unsaved change is dropped by reading the workbook again,
and the message says what to do, in a form a person at the page can act on.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd

import crmbook
from crmbook.analytics.find import CustomerIndex
from crmbook.errors import SaveRefusedError
from crmbook.io.safety import FileState, lock_files
from crmbook.schema import SCHEMA
from crmbook.storage import is_database_url

WORKBOOK_VARIABLE = "CRMBOOK_NOTEBOOK_WORKBOOK"
T = TypeVar("T")


class Steps:
    """Where a long job reports its progress. This one reports nowhere (tests, scripts);
    the ProgressBar widget shows the same calls on the page."""

    def start(self, total: int, label: str) -> None:
        """A job of `total` steps begins."""

    def step(self, label: str) -> None:
        """One step begins; `label` says what it does."""

    def busy(self, label: str) -> None:
        """A job that is one step only begins (a save): no fraction to show."""

    def done(self, label: str = "") -> None:
        """The job ended; `label` sums it up."""


NO_STEPS = Steps()


class Session:
    """One open workbook shared by the widgets of a page.

    `today` fixes the day the analytics count from (tests); by default it is the real day.
    Widgets call `frames()` to read, `change()` to write, and `on_change()` to hear about
    every save or re-read so they can refresh what they show.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        user: str | None = None,
        today: dt.date | None = None,
        steps: Steps = NO_STEPS,
    ):
        self.location = path if is_database_url(path) else Path(path).absolute()
        self.user = user
        self._today = today
        self.version = 0
        self._listeners: list[Callable[[], None]] = []
        self._index: tuple[int, CustomerIndex] | None = None
        self.book = self._open(steps)

    def __repr__(self) -> str:
        return f"<Session {self.path.name}>"

    @property
    def path(self) -> Path:
        """The workbook (for a database, where the files that go with it are named after)."""
        return self.book.path

    @property
    def name(self) -> str:
        return self.book.location if self._database else self.path.name

    @property
    def _database(self) -> bool:
        return self.book.storage.kind != "workbook"

    def _file_state(self) -> FileState | None:
        """What the workbook file looks like now; a database checks its changes itself."""
        return None if self._database else FileState.of(self.path)

    def today(self) -> dt.date:
        return self._today or self.book.today()

    def now(self) -> dt.datetime:
        if self._today:
            return dt.datetime.combine(self._today, dt.time(12, 0))
        return self.book.now()

    def frames(self, *names: str) -> dict[str, pd.DataFrame]:
        """The typed frames of the named sheets (all entity sheets when none is named)."""
        names = names or tuple(s.name for s in SCHEMA.entities)
        return {name: self.book.table(name).df for name in names}

    def customer_index(self) -> CustomerIndex:
        """The customers prepared for fuzzy search, rebuilt after every change."""
        if self._index is None or self._index[0] != self.version:
            self._index = (self.version, CustomerIndex(self.book.table("Customers").df))
        return self._index[1]

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every save and every re-read of the workbook."""
        self._listeners.append(listener)

    def change(self, action: Callable[[crmbook.Book], T], steps: Steps = NO_STEPS) -> T:
        """Apply `action` to the book and save at once; all or nothing.

        A RecordError from the action, or a refused save, leaves the file untouched and the
        book as it is on disk. A refused save raises SaveRefusedError with a message for the
        page (what happened, that nothing was saved, what to do).
        """
        try:
            result = action(self.book)
            steps.busy(f"Saving {self.name}…")
            self.book.save()
        except SaveRefusedError as e:
            message = self._refusal(e)
            self.reload()
            steps.done("Not saved.")
            raise SaveRefusedError(message) from e
        except Exception:
            if self.book.changed:  # an action may fail half-way: drop what it did
                self.reload()
            steps.done("")
            raise
        self._state = self._file_state()
        steps.done(f"Saved {self.name}.")
        self._changed()
        return result

    def reload(self, steps: Steps = NO_STEPS) -> None:
        """Read the workbook again, dropping anything not saved."""
        self.book.close()
        self.book = self._open(steps)
        self._changed()

    # ------------------------------------------------------------ helpers

    def _open(self, steps: Steps) -> crmbook.Book:
        sheets = [s.name for s in SCHEMA.entities]
        shown = self.location if isinstance(self.location, str) else self.location.name
        steps.start(len(sheets) + 1, f"Opening {shown}…")
        steps.step(f"Checking {shown}…")
        book = crmbook.open(self.location, user=self.user)
        self.book = book
        self._state = self._file_state()
        sizes = {}
        for name in sheets:
            steps.step(f"Reading {name}…")
            sizes[name] = len(book.table(name).df)
        customers = sizes["Customers"]
        steps.done(f"Opened {shown}: {customers:,} customers.")
        return book

    def _changed(self) -> None:
        self.version += 1
        for listener in self._listeners:
            listener()

    def _refusal(self, error: SaveRefusedError) -> str:
        if self._database:  # the database said what changed under us
            return f"{error} It has been read again."
        held = [p for p in lock_files(self.path) if p.exists()]
        if held:
            app = "Excel" if held[0].name.startswith("~$") else "LibreOffice"
            return (
                f"{self.name} is open in {app} (lock file {held[0].name}), so nothing was "
                f"saved. Close it in {app}, then press the button again."
            )
        if self.path.exists() and FileState.of(self.path) != self._state:
            return (
                f"{self.name} was changed on disk since it was opened here (saved in Excel, "
                "or by someone else), so nothing was saved. It has been read again: check "
                "what you entered and press the button again."
            )
        return f"{error} Nothing was saved."


def workbook_path(name: str | os.PathLike) -> Path | str:
    """Where a notebook's workbook lives.

    $CRMBOOK_NOTEBOOK_WORKBOOK wins when set (the tests point it at a copy in a temporary
    folder, so running the notebooks never writes into the project). A relative name is read
    from the project folder, the one holding notebooks/, when the notebook runs inside it.
    A database URL is taken as it is.
    """
    chosen = os.environ.get(WORKBOOK_VARIABLE) or name
    if is_database_url(chosen):
        return chosen
    path = Path(chosen).expanduser()
    if path.is_absolute():
        return path
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir():
            return folder / path
    return here / path


def open_session(
    name: str | os.PathLike,
    *,
    user: str | None = None,
    today: dt.date | None = None,
    steps: Steps = NO_STEPS,
) -> Session:
    """Open the workbook `name` (see workbook_path); build the demo business if it is missing."""
    path = workbook_path(name)
    if isinstance(path, Path) and not path.exists():
        from crmbook.demo import build_demo_book

        steps.busy(f"{path.name} does not exist yet: building the demo business in it…")
        path.parent.mkdir(parents=True, exist_ok=True)
        build_demo_book(path, today=today or dt.date.today()).close()
    return Session(path, user=user, today=today, steps=steps)
