"""Serving the owner's app (shell.py) as a local web page: Voilà runs app.ipynb, whose one
cell calls `owner_app()`, and shows only its widgets (no code, no tracebacks).

The server listens on 127.0.0.1 only, on a free port, behind a token that only the printed
address carries (another user of the computer cannot open the CRM). Every browser tab gets a
kernel of its own; Ctrl-C or SIGTERM stops the server and shuts every kernel down.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path

from traitlets.config import Config

from crmbook.widgets.shell import APP_FOLDER_VARIABLE, APP_WORKBOOK_VARIABLE

NOTEBOOK = Path(__file__).with_name("app.ipynb")
HOST = "127.0.0.1"


def free_port() -> int:
    """A port nobody listens on now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def serve(
    location: str | None,
    *,
    open_browser: bool = True,
    announce: Callable[[str, bool], None],
) -> None:
    """Serve the app on `location` (a workbook's full path or a database URL; None: the one
    opened last, or the start page) until Ctrl-C. Once the server listens, `announce` gets
    the address and whether a browser is being opened on it."""
    from tornado.ioloop import IOLoop
    from voila.app import Voila

    if location:  # the kernels inherit the server's environment
        os.environ[APP_WORKBOOK_VARIABLE] = location
    else:
        os.environ.pop(APP_WORKBOOK_VARIABLE, None)
    os.environ[APP_FOLDER_VARIABLE] = os.getcwd()  # the kernels run in the notebook's folder
    port = free_port()
    token = secrets.token_urlsafe(24)
    server = Voila(config=_config(port, token))
    server.initialize([str(NOTEBOOK)])
    address = f"http://{HOST}:{port}/?token={token}"
    browser = open_browser and has_desktop()

    def listening() -> None:
        announce(address, browser)
        if browser:
            threading.Thread(target=webbrowser.open, args=(address,), daemon=True).start()

    loop = IOLoop.current()
    loop.add_callback(listening)
    if os.name == "posix":
        loop.asyncio_loop.add_signal_handler(signal.SIGINT, _stopper(loop))
    server.start()  # returns after Ctrl-C or SIGTERM, with every kernel shut down


def _stopper(loop) -> Callable[[], None]:
    """Ctrl-C stops the server from the event loop, between its callbacks. Left to Python,
    Ctrl-C raises KeyboardInterrupt wherever the loop is: inside a kernel manager's task, the
    shutdown of the kernels then waited for that task forever (seen once in CI)."""

    def stop() -> None:
        loop.asyncio_loop.remove_signal_handler(signal.SIGINT)  # a second one interrupts
        loop.stop()

    return stop


def _config(port: int, token: str) -> Config:
    config = Config()
    config.Voila.update(
        ip=HOST,
        port=port,
        port_retries=0,
        open_browser=False,  # serve() opens it, once the server listens
        token=token,
        log_level="ERROR",  # not "the notebook is not trusted": it is ours
        # tornado warns about jupyter_server's default, a timeout longer than the ping interval
        tornado_settings={"ws_ping_timeout": 30_000},
    )
    config.VoilaConfiguration.update(
        strip_sources=True, show_tracebacks=False, template="lab", theme="light"
    )
    if os.name == "posix":
        # kernels talk to the server through files only this user can open, not TCP ports
        # that any local user could connect to
        config.KernelManager.transport = "ipc"
    return config


def has_desktop() -> bool:
    """Whether a browser can be opened here: on a machine without a desktop Python would
    start a text-mode browser in the terminal instead."""
    return sys.platform in ("win32", "darwin") or any(
        os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")
    )
