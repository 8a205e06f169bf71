"""crmbook app: the notebook pages as a local web app, for owners who do not program."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from crmbook.cli import main
from crmbook.cli.common import Location, handle_errors
from crmbook.errors import CrmbookError


@main.command()
@click.argument("file", metavar="[FILE|URL]", type=Location(), required=False)
@click.option("--no-browser", is_flag=True, help="print the address only; open no browser")
@handle_errors
def app(file: Path | str | None, no_browser: bool) -> None:
    """Open the CRM in your browser as an app: today's reminders, customers, pipeline...

    Without FILE it opens the workbook opened last, or a page to open one, start a new one or
    try the demo. The app runs on this computer only (127.0.0.1); Ctrl-C stops it.
    """
    from crmbook.widgets.server import serve

    location = None
    if isinstance(file, Path):
        if not file.exists():
            raise CrmbookError(
                f"{file} does not exist: crmbook init {file} creates an empty workbook, "
                "or run crmbook app alone to choose one"
            )
        location = str(file.expanduser().absolute())
    elif file:
        location = file

    def announce(address: str, browser: bool) -> None:
        click.echo(f"crmbook app is running at {address}")
        click.echo(
            "Opening it in your browser. Press Ctrl-C here to stop it."
            if browser
            else "Open that address in your browser. Press Ctrl-C here to stop it."
        )

    with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C while kernels shut down
        serve(location, open_browser=not no_browser, announce=announce)
    click.echo("crmbook app stopped.")
