# Two commands on a fresh clone: `make run` (the portal with demo data) and `make test` (the whole suite). Each
# installs what it needs and nothing else: the venv for both; the npm clients and Chromium for the tests only.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app portal
STAMP := $(VENV)/.installed
# npm ci writes this file; older than package-lock.json (or missing) means node_modules must be reinstalled.
NODE_STAMP := node_modules/.package-lock.json
CHROMIUM := /usr/bin/chromium
# e.g. make test PYTEST_ARGS="tests/test_app.py -x"; empty runs every test (pyproject's testpaths).
PYTEST_ARGS ?=

.PHONY: run serve test test-postgres screenshots lint audit fuzz install clean bench-quick

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The interop tests run the official Commerce Layer Node clients (and axe-core for the browser tests).
$(NODE_STAMP): package-lock.json
	@command -v npm >/dev/null || { echo "make test needs Node.js and npm: install them (Debian: apt-get install nodejs npm), then run make test again" >&2; exit 1; }
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

# The browser tests drive Debian's Chromium (Playwright's own browser builds are not downloaded).
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "make test needs Chromium at $(CHROMIUM): install Debian's package (sudo apt-get install chromium), then run make test again" >&2; \
	  exit 1; \
	fi

run: $(STAMP)
	$(FLASK) db-upgrade
	$(FLASK) demo
	@echo ""
	@echo "Portal: http://127.0.0.1:5000   (worker running alongside; Ctrl-C stops all)"
	@echo "Sample storefront embedding the shopper area: http://localhost:5001"
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	  $(FLASK) worker & \
	  PORTAL_URL=http://127.0.0.1:5000 $(BIN)/flask --app examples.storefront run --host localhost --port 5001 & \
	  $(FLASK) run --host 127.0.0.1 --port 5000

# gunicorn as in production (gunicorn.conf.py, wsgi:app) with the worker alongside; Ctrl-C stops both.
serve: $(STAMP)
	$(FLASK) db-upgrade
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	  $(FLASK) worker & \
	  $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# pytest exits 5 when it collects nothing: make fails on it like on any other non-zero status.
test: $(STAMP) $(NODE_STAMP) $(CHROMIUM)
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(STAMP) $(NODE_STAMP) $(CHROMIUM)
	PORTAL_TEST_DATABASE=postgresql $(BIN)/pytest $(PYTEST_ARGS)

# A PNG of every page at 1280 and 390 px (shopper pages in English and Italian) in instance/screenshots/ (or DIR).
screenshots: $(STAMP) $(CHROMIUM)
	SCREENSHOTS_DIR=$(or $(DIR),instance/screenshots) $(BIN)/pytest -q -s -p no:cacheprovider tests/browser/screenshots.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -q -r portal -ll

# Known vulnerabilities in every installed package (pip-audit, PyPI's advisory data), waivers in .ci/audit-waivers.
# Where PyPI's per-release JSON is unreachable (this workplace reaches only the package index), it says so loudly.
AUDIT_PROBE := https://pypi.org/pypi/pip/$(shell $(BIN)/pip --version 2>/dev/null | cut -d' ' -f2)/json
audit: $(STAMP)
	@if curl -fsS -m 10 -o /dev/null $(AUDIT_PROBE); then \
	  $(BIN)/pip-audit --strict --skip-editable --progress-spinner off \
	    $$(sed -n 's/^\([A-Za-z0-9-]\{4,\}\).*/--ignore-vuln \1/p' .ci/audit-waivers); \
	else \
	  echo "pip-audit NOT RUN: $(AUDIT_PROBE) is unreachable from this machine, so no package can be audited"; \
	fi

# Longer fuzzing than CI's (schemathesis over the API, hypothesis over every form): EXAMPLES per operation/form.
fuzz: $(STAMP)
	PORTAL_FUZZ_EXAMPLES=$(or $(EXAMPLES),1000) $(BIN)/pytest -p no:cacheprovider \
	  tests/api/test_schemathesis.py tests/security/test_form_fuzz.py

clean:
	rm -rf $(VENV) instance .pytest_cache

# The headline performance ratios on the demo data (≤ 2 minutes): API list / single resource vs bare Flask JSON,
# shopper overview / admin customer list vs a bare Flask template page, server CPU per API list (bench/quick.py).
bench-quick: $(STAMP)
	cd bench && ../$(BIN)/python quick.py --seconds 2 --rounds 2
