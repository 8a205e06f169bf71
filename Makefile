# Every target creates the virtual environment itself when it is missing.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
DEMO   ?= demo/shop.xlsx
PYTEST_ARGS ?=

.PHONY: setup system-deps demo test lab lint format template clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# LibreOffice is the independent spreadsheet application the tests open our files with.
# Installed when we can (root with apt-get); otherwise its tests are skipped with a reason.
system-deps:
	@command -v soffice >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libreoffice-calc-nogui) >/dev/null \
	      || echo "note: could not install LibreOffice; its tests will be skipped"; \
	  else echo "note: LibreOffice (soffice) not found; its tests will be skipped"; fi; }
# Chromium renders the data-entry notebook in tests/test_browser.py (Debian's package; playwright
# cannot download its own browsers here). Skipped with a reason when it cannot be installed.
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium) >/dev/null \
	      || echo "note: could not install Chromium; the browser test will be skipped"; \
	  else echo "note: Chromium not found at /usr/bin/chromium; the browser test will be skipped"; fi; }
# PostgreSQL for the SQL backend's tests (Debian's package). Only its binaries are used: the tests
# start a throwaway server of their own (tests/postgres_server.py), never Debian's cluster.
# CRMBOOK_TEST_POSTGRES=postgresql+psycopg://user:pw@host:port/postgres points them at another one.
	@{ command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql) >/dev/null \
	      || echo "note: could not install PostgreSQL; its tests will be skipped"; \
	  else echo "note: PostgreSQL (initdb) not found; its tests will be skipped"; fi; }

# Builds the demo business, then runs the daily jobs on it.
demo: setup
	@mkdir -p $(dir $(DEMO))
	$(VENV)/bin/crmbook demo $(DEMO) --force
	$(VENV)/bin/crmbook validate $(DEMO)
	$(VENV)/bin/crmbook find $(DEMO) "Ivanov S. V."
	$(VENV)/bin/crmbook card $(DEMO) C-000001
	$(VENV)/bin/crmbook reminders $(DEMO) --days 7
	$(VENV)/bin/crmbook segment $(DEMO)
	$(VENV)/bin/crmbook report sources $(DEMO)
	$(VENV)/bin/crmbook report all $(DEMO) --out $(dir $(DEMO))report.xlsx --png $(dir $(DEMO))charts
	$(VENV)/bin/crmbook daily $(DEMO) --via eml --out $(dir $(DEMO))outbox
	$(VENV)/bin/crmbook ics $(DEMO) --out $(dir $(DEMO))tasks.ics
	$(VENV)/bin/crmbook migrate $(DEMO) sqlite:///$(basename $(DEMO)).db --force
	$(VENV)/bin/crmbook report pipeline sqlite:///$(basename $(DEMO)).db
	@echo "Demo workbook: $(DEMO); report: $(dir $(DEMO))report.xlsx; charts: $(dir $(DEMO))charts/;" \
	  "owners' digests and birthday greetings: $(dir $(DEMO))outbox/; calendar: $(dir $(DEMO))tasks.ics;" \
	  "the same business as a SQLite database: sqlite:///$(basename $(DEMO)).db"
	@echo "Open it as an app in your browser: $(VENV)/bin/crmbook app $(DEMO)"

test: setup system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

# JupyterLab on notebooks/, working on the demo workbook (built first when it is missing).
LAB_ARGS ?=
lab: setup
	@test -f $(DEMO) || { mkdir -p $(dir $(DEMO)) && $(VENV)/bin/crmbook demo $(DEMO); }
	$(if $(filter-out demo/shop.xlsx,$(DEMO)),CRMBOOK_NOTEBOOK_WORKBOOK=$(abspath $(DEMO)) )$(VENV)/bin/jupyter lab \
	  --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) \
	  --ContentsManager.hide_globs=conftest.py --ContentsManager.hide_globs=__pycache__ $(LAB_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check crmbook tests benchmarks

format: setup
	$(VENV)/bin/ruff format crmbook tests
	$(VENV)/bin/ruff check --fix .

template: setup
	$(PY) -c "from crmbook.io.template import write_reference_template as w; w('workbook_templates/crmbook-template.xlsx')"

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache .hypothesis
