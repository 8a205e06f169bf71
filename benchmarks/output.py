"""Output at scale: what printing and showing long lists costs on a big book (a script).

    .venv/bin/python benchmarks/output.py [/tmp/bench/big.xlsx]

Builds the book first when it is missing (100,000 customers, 500,000 interactions). Then,
in one run:

- the command line end to end, each a fresh process with its output to a pipe:
  `crmbook reminders BOOK --days 7` as a table (50 rows), as CSV (every row), and with
  --all (every row through the table, what a table cost before it stopped at 50); fastexcel
  reading every sheet is the floor a command that opens the book cannot beat;
- the notebook pages on the loaded book (one session): how long each page takes to draw
  and to turn a page, and how much it puts into the browser (the characters of its HTML
  widgets and the options of its dropdowns). The mailing preview needs the demo's
  crmbook.toml beside the book (crmbook demo writes it).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

DEFAULT = Path("/tmp/bench/big.xlsx")


def main(path: Path = DEFAULT) -> None:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        crmbook_cli("demo", path, "--customers", "100000", "--interactions", "500000")
    today = _demo_day(path)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB), today = {today}")
    print("\ncommand line, end to end (one fresh process each)")
    floor = _seconds([sys.executable, "-c", _FASTEXCEL, str(path)])
    print(f"  {'fastexcel reads every sheet (the floor)':<48} {floor:7.1f} s")
    reminders = ["reminders", path, "--days", "7", "--today", today]
    for label, extra in (
        ("reminders --days 7 (table: 50 rows)", []),
        ("reminders --days 7 --format csv (every row)", ["--format", "csv"]),
        ("reminders --days 7 --all (every row, a table)", ["--all"]),
    ):
        took = _seconds([sys.executable, "-m", "crmbook", *map(str, reminders + extra)])
        print(f"  {label:<48} {took:7.1f} s  {took / floor:5.2f}x the floor")
    print("\nnotebook pages, on the loaded book")
    _pages(path, dt.date.fromisoformat(today))


def _pages(path: Path, today: dt.date) -> None:
    from crmbook.widgets.mailing import MailingModel, MailingView
    from crmbook.widgets.reminders import RemindersModel, RemindersView
    from crmbook.widgets.search import SearchModel, SearchView
    from crmbook.widgets.segments import SegmentModel, SegmentView
    from crmbook.widgets.session import Session

    started = time.perf_counter()
    session = Session(path, user="bench", today=today)
    session.frames()
    print(f"  {'open the session':<44} {time.perf_counter() - started:7.1f} s")
    board = _timed("reminders board", lambda: RemindersView(RemindersModel(session)))
    _timed("  next page of the overdue", lambda: _turn(board, "section_pagers", "overdue"))
    explorer = _timed("segment explorer, all", lambda: SegmentView(SegmentModel(session)))
    _timed("  next page", lambda: _turn(explorer, "table", "pager"))
    interactions = session.frames("Interactions")["Interactions"]
    busiest = interactions["customer_id"].value_counts().index[0]
    finder = SearchView(SearchModel(session))
    _timed(f"card of {busiest} (most interactions)", lambda: finder.open_card(busiest) or finder)
    _timed("  next page of its history", lambda: _turn(finder, "history_pager"))
    mailing = MailingView(MailingModel(session, config_path=path.parent / "crmbook.toml"))
    mailing.template.value = "Newsletter"
    mailing.segment.value = "Loyal with email consent"
    _timed("mailing preview, a saved segment", lambda: mailing.preview_button.click() or mailing)
    _timed("  next page of the messages", lambda: _turn(mailing, "table", "pager"))


def _turn(view, *path: str):
    """Click Next on the pager at `path` (attributes, or a key of a dict of pagers)."""
    pager = view
    for step in path:
        pager = pager[step] if isinstance(pager, dict) else getattr(pager, step, None)
        if pager is None:  # a page from before the pager: nothing to turn
            return None
    pager.next_button.click()
    return view


def _timed(label: str, draw):
    started = time.perf_counter()
    view = draw()
    took = time.perf_counter() - started
    if view is None:
        print(f"  {label:<44}       -")
        return None
    characters, options = _weight(view)
    print(f"  {label:<44} {took:7.2f} s  {characters:>12,} characters  {options:>7,} options")
    return view


def _weight(widget) -> tuple[int, int]:
    """What a page hands to the browser: characters of HTML and dropdown options."""
    import ipywidgets as widgets

    characters = len(widget.value) if isinstance(widget, widgets.HTML) else 0
    options = len(getattr(widget, "options", ()) or ())
    for child in getattr(widget, "children", ()):
        more = _weight(child)
        characters, options = characters + more[0], options + more[1]
    return characters, options


_FASTEXCEL = """
import sys, fastexcel
reader = fastexcel.read_excel(sys.argv[1])
for name in reader.sheet_names:
    reader.load_sheet(name).to_pandas()
"""


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _demo_day(path: Path) -> str:
    """The day the demo was built: its reminders are counted from there."""
    import crmbook

    return crmbook.open(path).customers.df["created"].max().date().isoformat()


def crmbook_cli(*args: object) -> None:
    subprocess.run([sys.executable, "-m", "crmbook", *map(str, args)], check=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)
