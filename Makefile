# Two commands: `make run` (the portal with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app portal
STAMP := $(VENV)/.installed

.PHONY: run test test-postgres lint audit fuzz install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(FLASK) db-upgrade
	$(FLASK) demo
	@echo ""
	@echo "Portal: http://127.0.0.1:5000   (worker running alongside; Ctrl-C stops all)"
	@echo "Sample storefront embedding the shopper area: http://localhost:5001"
	@trap 'kill 0' INT TERM EXIT; \
	  $(FLASK) worker & \
	  PORTAL_URL=http://127.0.0.1:5000 $(BIN)/flask --app examples.storefront run --host localhost --port 5001 & \
	  $(FLASK) run --host 127.0.0.1 --port 5000

test: $(STAMP)
	$(BIN)/pytest

test-postgres: $(STAMP)
	PORTAL_TEST_DATABASE=postgresql $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
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
