"""The command line: thin commands that open the book, call the library and print.

Every command turns library errors into one clear line and an exit code:
0 fine, 1 the data has errors (or a record was refused), 2 the input is unusable.

The commands live in the modules of this package, one per area; importing them at the end
registers them on main.
"""

from __future__ import annotations

import os
import sys
import warnings

import click

import crmbook
from crmbook.cli.common import (
    FILE,
    OUTBOX_FOLDER,
    OUTPUT_FORMATS,
    ROWS_SHOWN,
    all_rows_option,
    emit,
    emit_report,
    emit_sections,
    handle_errors,
    output_option,
)
from crmbook.storage.cache import NO_CACHE

__all__ = [
    "FILE",
    "OUTBOX_FOLDER",
    "OUTPUT_FORMATS",
    "ROWS_SHOWN",
    "all_rows_option",
    "emit",
    "emit_report",
    "emit_sections",
    "handle_errors",
    "main",
    "output_option",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(crmbook.__version__, prog_name="crmbook")
@click.option(
    "--no-cache",
    is_flag=True,
    help="Parse the workbook's sheets afresh instead of using the parse cache "
    "(the same as CRMBOOK_NO_CACHE=1).",
)
def main(no_cache: bool) -> None:
    """crmbook: a CRM whose database is one Excel workbook (or, grown, a SQL database).

    FILE is a workbook such as shop.xlsx; every command also takes a database URL there
    (sqlite:///shop.db, postgresql://user@server/shop): see crmbook migrate.
    """
    if no_cache:
        os.environ[NO_CACHE] = "1"  # also for what the command starts (crmbook app's kernel)
    if not sys.warnoptions:  # python -W ... shows them again
        # The readers beneath warn about what they skip in a damaged or foreign file; the
        # command's own answer says what matters, in one line.
        warnings.simplefilter("ignore")


# The command modules import main from here, so they come after it.
from crmbook.cli import (  # noqa: E402, F401
    analytics,
    app,
    database,
    mailing,
    records,
    reports,
    sharing,
)
