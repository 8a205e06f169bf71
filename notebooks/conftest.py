"""Run the notebooks (nbval) on a workbook in a temporary folder, never on the project's.

The notebooks read $CRMBOOK_NOTEBOOK_WORKBOOK in their first cell (crmbook.widgets.
workbook_path); it points at a fresh folder, so the first notebook builds the demo business
there and the others reuse it. Kernels inherit the variable, since nbval starts them after
this runs.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from crmbook.widgets.session import WORKBOOK_VARIABLE


def pytest_configure(config):
    if not (config.getoption("nbval_lax", False) or config.getoption("nbval", False)):
        raise pytest.UsageError(
            "notebooks/ holds notebooks, which run only under nbval: call pytest with "
            "--nbval-lax --nbval-current-env (pyproject.toml's addopts does)"
        )
    folder = Path(tempfile.mkdtemp(prefix="crmbook-notebooks-"))
    config._crmbook_notebook_folder = folder
    os.environ[WORKBOOK_VARIABLE] = str(folder / "shop.xlsx")


def pytest_unconfigure(config):
    folder = getattr(config, "_crmbook_notebook_folder", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop(WORKBOOK_VARIABLE, None)
