"""`crmbook app` run as an owner runs it: the real command in a subprocess of its own process
group, with the user's folders (config, data, Jupyter) in a temporary one, its output
collected and the address it prints caught. Used by test_cli_app.py and test_browser.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from crmbook.widgets.shell import APP_WORKBOOK_VARIABLE

CRMBOOK = Path(sys.executable).with_name("crmbook")
STARTUP_SECONDS = 90
ADDRESS = re.compile(r"running at (http://127\.0\.0\.1:(\d+)/\?token=(\S+))")


class RunningApp:
    """`crmbook app ARGS --no-browser` in its own process group, its output collected;
    a context manager that kills what is left of it at the end."""

    def __init__(self, args: list[str], home: Path):
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "JUPYTER_CONFIG_DIR": str(home / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
            "IPYTHONDIR": str(home / "ipython"),
            "CRMBOOK_USER": "app-test",
        }
        env.pop(APP_WORKBOOK_VARIABLE, None)
        self.process = subprocess.Popen(
            [str(CRMBOOK), "app", *args, "--no-browser"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.errors: list[str] = []
        self.started = threading.Event()
        self.address = ""
        threading.Thread(target=self._read, args=(self.process.stdout, self.lines)).start()
        threading.Thread(target=self._read, args=(self.process.stderr, self.errors)).start()

    def _read(self, stream, into: list[str]) -> None:
        for line in stream:
            into.append(line)
            found = ADDRESS.search(line)
            if found:
                self.address = found.group(1)
                self.started.set()
        self.started.set()  # it ended: do not wait any longer

    def wait_until_serving(self) -> str:
        assert self.started.wait(STARTUP_SECONDS), "crmbook app did not start"
        assert self.address, "".join(self.lines + self.errors)
        return self.address

    def ctrl_c(self) -> int:
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=60)

    def __enter__(self) -> RunningApp:
        return self

    def __exit__(self, *exc) -> None:
        """Whatever the test did: nothing of it left running."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
