"""What `crmbook app` remembers between runs: the workbooks opened lately, so the app opens
the last one again without being told, and where it builds the demo business to try.

Both live where each system expects an application's own files (platformdirs): the list in
the user's config folder (~/.config/crmbook on Linux, %APPDATA% on Windows), the demo in the
user's data folder. The list is a convenience: a missing or damaged file means "none yet",
never an error. A database URL with a password in it is not written down.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs

from crmbook.storage import is_database_url

APP_NAME = "crmbook"
RECENT_FILE = "recent.json"
KEPT = 8


def config_dir() -> Path:
    return platformdirs.user_config_path(APP_NAME, appauthor=False)


def demo_workbook() -> Path:
    """Where "try the demo" builds its workbook."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False) / "demo" / "shop.xlsx"


def recent_workbooks() -> list[str]:
    """The workbooks (and database URLs) opened lately, the last one first; files that are
    gone are left out."""
    try:
        stored = json.loads((config_dir() / RECENT_FILE).read_text(encoding="utf-8"))
        locations = [str(x) for x in stored.get("recent", []) if isinstance(x, str)]
    except (OSError, ValueError, AttributeError):
        return []
    return [x for x in locations if is_database_url(x) or Path(x).is_file()]


def last_workbook() -> str | None:
    """The workbook opened last, if it is still there."""
    recent = recent_workbooks()
    return recent[0] if recent else None


def remember_workbook(location: str | os.PathLike) -> None:
    """Put `location` first in the list (a file by its full path). A URL holding a password
    is skipped: the list is a plain file, and passwords do not belong in one."""
    if is_database_url(location):
        shown = str(location).strip()
        if urlsplit(shown).password:
            return
    else:
        shown = str(Path(location).expanduser().absolute())
    listed = [shown, *(x for x in recent_workbooks() if x != shown)][:KEPT]
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"recent": listed}, ensure_ascii=False, indent=2)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=folder, prefix=".recent-", suffix=".tmp", delete=False
    ) as tmp:
        tmp.write(text)
    os.replace(tmp.name, folder / RECENT_FILE)
