"""`crmbook app` as an owner starts it: the real command in a subprocess, serving on
127.0.0.1 behind a token, showing no code, and stopping cleanly on Ctrl-C (SIGINT to its
process group, as a terminal sends it): exit 0, no traceback, every kernel gone."""

from __future__ import annotations

import json
import urllib.request

import psutil
import pytest
from app_support import RunningApp
from click.testing import CliRunner

from crmbook.cli import main

pytest_plugins = ["widget_support"]  # the shop fixtures


def test_a_missing_workbook_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(main, ["app", str(tmp_path / "shop.xlsx"), "--no-browser"])
    assert result.exit_code == 2
    assert "shop.xlsx does not exist: crmbook init" in result.output


@pytest.mark.slow
def test_the_app_serves_the_workbook_without_code_and_stops_cleanly_on_ctrl_c(shop, tmp_path):
    with RunningApp([str(shop)], tmp_path) as app:
        address = app.wait_until_serving()
        plain = address.split("?")[0]
        no_token = urllib.request.urlopen(plain, timeout=30)  # the token is the way in
        assert "/login" in no_token.url

        page = urllib.request.urlopen(address, timeout=120).read().decode()  # runs the notebook
        assert "application/vnd.jupyter.widget-view+json" in page  # the app ran
        at = page.find("owner_app")
        assert at < 0, page[at - 300 : at + 300]
        kernels = psutil.Process(app.process.pid).children(recursive=True)
        assert any("ipykernel" in " ".join(k.cmdline()) for k in kernels)
        remembered = json.loads((tmp_path / "config" / "crmbook" / "recent.json").read_text())
        assert remembered["recent"] == [str(shop)]

        assert app.ctrl_c() == 0
        _, alive = psutil.wait_procs(kernels, timeout=20)
        assert alive == []
        assert "Traceback" not in "".join(app.errors), "".join(app.errors)
        assert app.lines[-1].strip() == "crmbook app stopped."
