"""The pages in a real browser, headless Chromium:
- the data-entry notebook as Voilà serves notebooks/01-data-entry.ipynb: fill the customer
  form, press Save, and the customer must be in the workbook;
- `crmbook app` (the real command) on a demo business: what an owner does there, each step
  checked in the workbook by openpyxl.
Screenshots land in test-artifacts/ (look at them: real widgets, not a blank page).

Needs Chromium at /usr/bin/chromium (`make system-deps` installs it as root) and the
playwright and voila packages (the dev extra); skipped with the reason otherwise.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from app_support import RunningApp
from widget_support import excel_rows

import crmbook
from crmbook.widgets.session import WORKBOOK_VARIABLE

pytest_plugins = ["widget_support"]  # the shop fixtures

PROJECT = Path(__file__).resolve().parent.parent
NOTEBOOK = PROJECT / "notebooks" / "01-data-entry.ipynb"
ARTIFACTS = PROJECT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
VOILA = Path(sys.executable).with_name("voila")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SAVE = re.compile(r"(^|\s)Save$")  # the accessible name may start with the icon's glyph
STARTUP_SECONDS = 60
WIDGET_MS = 45_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no Chromium at /usr/bin/chromium (make system-deps installs it as root)",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="playwright is not installed (pip install -e '.[dev]')",
    ),
    pytest.mark.skipif(
        not VOILA.exists(), reason="voila is not installed (pip install -e '.[dev]')"
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def voila(shop, tmp_path):
    """Voilà serving the data-entry notebook on the test's own copy of the shop."""
    port = _free_port()
    jupyter = tmp_path / "jupyter"
    env = {
        **os.environ,
        WORKBOOK_VARIABLE: str(shop),
        "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
        "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
        "JUPYTER_DATA_DIR": str(jupyter / "data"),
        "IPYTHONDIR": str(jupyter / "ipython"),
        "CRMBOOK_USER": "browser-test",
    }
    log = (tmp_path / "voila.log").open("wb")
    server = subprocess.Popen(
        [
            str(VOILA),
            str(NOTEBOOK),
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
            "--Voila.port_retries=0",
        ],
        cwd=NOTEBOOK.parent,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_listening(port, server, tmp_path / "voila.log")
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _wait_until_listening(port: int, server: subprocess.Popen, log: Path) -> None:
    """Until the port accepts connections (a GET would already start a kernel)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"voila exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"voila did not start in {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")


def test_a_customer_entered_in_the_browser_lands_in_the_workbook(voila, shop):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("01-data-entry*.png"):
        old.unlink()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.route("https://**/*", lambda route: route.abort())  # CDN fonts: no network
            page.goto(voila, timeout=WIDGET_MS)

            name = page.locator(".crmbook-customer-name input:visible")
            expect(name).to_be_visible(timeout=WIDGET_MS)
            name.fill("Browser Test Ünicode")
            email = page.locator(".crmbook-customer-email input:visible")
            email.fill("not-an-email")
            page.get_by_role("button", name=SAVE).click()
            expect(page.get_by_text("not an email address").first).to_be_visible(timeout=20_000)
            page.screenshot(path=str(ARTIFACTS / "01-data-entry-error.png"), full_page=True)

            email.fill("browser@example.com")
            page.get_by_role("button", name=SAVE).click()
            expect(page.get_by_text("Added customer C-")).to_be_visible(timeout=20_000)
            page.screenshot(path=str(ARTIFACTS / "01-data-entry.png"), full_page=True)
        finally:
            browser.close()

    added = crmbook.open(shop).customers.df.query("name == 'Browser Test Ünicode'")
    assert added["email"].tolist() == ["browser@example.com"]
    log = crmbook.open(shop).table("Log").df
    assert "browser-test" in set(log["who"])
    assert (ARTIFACTS / "01-data-entry.png").stat().st_size > 20_000


NEW_CUSTOMER = "Rivka Browser-Owner"
NARROW_APP = 820  # a window whose app leaves the board 780 px or less
NEXT_STEP = "Send Rivka the spring prices"


@pytest.fixture
def demo_shop(tmp_path) -> Path:
    """A small demo business as of today (the app counts from the real day)."""
    from crmbook.demo import build_demo_book

    path = tmp_path / "shop.xlsx"
    build_demo_book(path, customers=150, today=dt.date.today()).close()
    return path


def test_an_owner_works_in_crmbook_app_without_seeing_code(demo_shop, tmp_path):
    """The Done-when of `crmbook app`: the real command on a demo copy; add a customer, log
    a call with a next step, move a deal to won and see the forecast change, see the call's
    next step among today's reminders; each change checked in the workbook by openpyxl."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("app-*.png"):
        old.unlink()
    today = dt.date.today()
    with RunningApp([str(demo_shop)], tmp_path) as app, sync_playwright() as p:
        address = app.wait_until_serving()
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("https://**/*", lambda route: route.abort())  # CDN fonts: no network

            def shot(name: str) -> None:
                page.screenshot(path=str(ARTIFACTS / f"app-{name}.png"), full_page=True)

            nav = page.locator(".crmbook-nav")
            page.goto(address, timeout=WIDGET_MS)
            expect(page.get_by_text("crmbook · shop.xlsx")).to_be_visible(timeout=WIDGET_MS)
            expect(page.get_by_text("Overdue (the most recent first)")).to_be_visible()
            assert page.locator(".jp-InputArea:visible, .jp-CodeMirrorEditor:visible").count() == 0
            assert page.get_by_text("owner_app").count() == 0
            shot("today")

            nav.get_by_role("button", name="Customers").click()
            page.get_by_role("tab", name="Enter data").click()
            page.locator(".crmbook-customer-name input:visible").fill(NEW_CUSTOMER)
            page.locator(".crmbook-customer-email input:visible").fill("rivka@example.com")
            page.get_by_role("button", name=SAVE).click()
            expect(page.get_by_text("Added customer C-")).to_be_visible(timeout=20_000)
            shot("customer-added")

            page.get_by_role("tab", name="Log an interaction").click()
            page.locator(".crmbook-interaction-customer_id input:visible").fill(NEW_CUSTOMER)
            page.locator(".crmbook-interaction-channel select:visible").select_option("call")
            page.locator(".crmbook-interaction-summary textarea:visible").fill(
                "Asked about a spring trip to Lisbon"
            )
            page.locator(".crmbook-interaction-next_step input:visible").fill(NEXT_STEP)
            page.locator(".crmbook-interaction-next_date input:visible").fill(today.isoformat())
            page.get_by_role("button", name=SAVE).click()
            expect(page.get_by_text("Added interaction I-")).to_be_visible(timeout=20_000)
            shot("call-logged")

            nav.get_by_role("button", name="Pipeline").click()
            forecast = page.get_by_text(re.compile(r"Expected in the next \d+ months"))
            expect(forecast).to_be_visible(timeout=30_000)
            before = forecast.inner_text()
            for width in (1280, NARROW_APP):
                page.set_viewport_size({"width": width, "height": 900})
                _assert_the_board_fits(page, width)
            shot("pipeline-narrow")
            page.set_viewport_size({"width": 1280, "height": 900})
            page.locator("button[title='mark won, closed today']:not([disabled])").first.click()
            moved = page.get_by_text(re.compile(r"D-\d+ is now at won"))
            expect(moved).to_be_visible(timeout=20_000)
            won = re.search(r"D-\d+", moved.inner_text()).group(0)
            expect(forecast).not_to_have_text(before, timeout=20_000)
            shot("pipeline")

            nav.get_by_role("button", name="Today").click()
            expect(page.get_by_text(NEXT_STEP)).to_be_visible(timeout=20_000)
            shot("today-after")
        finally:
            browser.close()

    customers = [r for r in excel_rows(demo_shop, "Customers") if r["name"] == NEW_CUSTOMER]
    assert [r["email"] for r in customers] == ["rivka@example.com"]
    calls = [r for r in excel_rows(demo_shop, "Interactions") if r["next_step"] == NEXT_STEP]
    assert len(calls) == 1 and calls[0]["customer_id"] == customers[0]["id"]
    assert calls[0]["channel"] == "call" and calls[0]["next_date"].date() == today
    deal = next(r for r in excel_rows(demo_shop, "Deals") if r["id"] == won)
    assert deal["stage"] == "won" and deal["closed"].date() == today
    assert "app-test" in {r["who"] for r in excel_rows(demo_shop, "Log")}


def _assert_the_board_fits(page, width: int) -> None:
    """Every stage column, and every card's buttons with their icons, lie wholly inside the
    board, and the board inside the window: nothing is cut off, nothing is hidden sideways."""
    from playwright.sync_api import expect

    board = page.locator(".crmbook-board")
    expect(board).to_be_visible()
    frame = board.bounding_box()
    assert frame["x"] >= 0 and frame["x"] + frame["width"] <= width, (width, frame)
    if width == NARROW_APP:
        assert frame["width"] <= 780, frame
    columns = page.locator(".crmbook-stage")
    assert columns.count() == 6  # the demo's stages
    assert _within(columns.last.bounding_box(), frame), (width, columns.last.bounding_box())
    buttons = board.locator("button[title='mark won, closed today']")
    assert buttons.count() > 6
    for n in range(buttons.count()):
        button = buttons.nth(n).bounding_box()
        assert _within(button, frame), (width, n, button, frame)
        assert _within(buttons.nth(n).locator("i").bounding_box(), button), (width, n)


def _within(inner: dict, outer: dict) -> bool:
    return (
        inner["x"] >= outer["x"] - 0.5
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
        and inner["width"] > 0
    )
